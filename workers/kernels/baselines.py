"""Compiled on-line SGD with full BPTT for K independent baseline nets (Elman, GRU, LstmForget).

The readable reference is `models.baselines` trained by `workers.backends.TorchBackend`: per lane
k and per sequence b < n_seq[k], a forward pass from a zero state, the outputs at the error slots,
``E = 1/2 sum (y - target)^2`` over the used slots, the full BPTT gradient through every step and
``W -= lr * dE/dW`` (one update per sequence). This kernel computes the same weights (to rounding,
~1e-15 relative in float64) one to two orders of magnitude faster.

Parameters per lane, exactly those of the torch modules (G = gate blocks x H; torch's gate order,
GRU r, z, n and LSTM i, f, g, o)::

    W_ih (K, G, I)   W_hh (K, G, H)   b_ih (K, G)   b_hh (K, G)   W_o (K, O, H)   b_o (K, O)

Equations (f = logistic; xp = W_ih x_t + b_ih, hp = W_hh h_{t-1} + b_hh, split into gate blocks)::

    Elman:       h = tanh(xp + hp)
    GRU:         r = f(xp_r + hp_r), z = f(xp_z + hp_z), n = tanh(xp_n + r * hp_n)
                 h = (1 - z) n + z h_{t-1}
    LstmForget:  i, f_, o = f(xp + hp), g = tanh(xp_g + hp_g)
                 c = f_ c_{t-1} + i g,  h = o tanh(c)
    output:      y = f(W_o h + b_o)   (only at error slots)

BPTT: the forward pass stores each step's gate activations and states; the error of an output at
a slot enters as ``dh_out[t] = W_o^T d`` with ``d = (y - target) y (1 - y)``; the backward pass
walks the steps in reverse carrying ``dh`` (and ``dc`` for the LSTM), and every step contributes
``dxp`` (gradient of the input-side pre-activations: W_ih, b_ih) and ``dhp`` (hidden side: W_hh,
b_hh; equal to dxp except GRU's n block, ``dhp_n = dxp_n * r``), and
``dh_{t-1} = W_hh^T dhp + (GRU: z dh)``.

The compiled loop (`_run`) is an orchestrator of stages named after these steps: per chunk of
nets `load_chunk` and `store_chunk`; per sequence `start_sequence` (lanes, lengths, sorted error
slots), `load_inputs`, `clear_sequence`; per step forward `input_side` (xp), `hidden_side` (hp),
then the kind's `elman_step`, `gru_step` or `lstm_step`, and at an error slot `outputs`,
`collect_slots`, `output_delta` (`workers.kernels.baselines_stages`); per step backward the kind's
`elman_back`, `gru_back` or `lstm_back`, then `weight_gradients`, and per sequence `update`
(`workers.kernels.baselines_bptt`). The chunk's state lives in named tuples of lane arrays (`Net`,
`Grad`, `Seq`, `Bwd`, `Slots`). The stages are inlined at numba's typed-IR level, so splitting
the loop costs nothing at run time (`benchmarks.kernel_ab` against the one-function loop it
replaced: bitwise the same weights, the same speed).

Speed: as `workers.kernels.lstm1997` (the 1997 net), the K nets run in chunks of ``LANES`` lanes
with the lane index innermost and contiguous in every internal array (``W_hh (G, H, LANES)``,
stored states ``(T, G, LANES)`` ...), so every inner loop is a SIMD loop across nets. Three things
make LLVM actually emit SIMD code for those loops (each worth ~2-4x): every scratch array is its
own calloc'd buffer (`workers.kernels.simd.zeros`: LLVM then knows the arrays do not alias), the
SLP vectoriser (off in numba by default) is switched on while this kernel compiles (the loops have
the constant trip count LANES and get unrolled fully, which only SLP re-vectorises; the price:
a chunk of fewer than LANES nets still computes LANES lanes), and the
logistic function (and tanh(x) = 2 f(2x) - 1) is the shared branch-free polynomial of `simd`,
because libm's exp does not vectorise. Multiply-adds may fuse (FMA). Lanes of a chunk run their b-th
sequences in lock step up to the longest; a lane past its own end computes on padding, but its
error there is exactly zero, so nothing it computes there reaches its weights.
No arithmetic mixes lanes and no control flow depends on a lane's values, so a diverged (NaN) lane
cannot affect another one, and a lane's results do not depend on which lanes share its chunk.

Inputs are sparse (A (index, value) pairs per step, duplicates add up). With few input units
(``I <= 16 A``) they are scattered into dense SIMD columns ("dense" mode); otherwise each lane
gathers its A columns of W_ih ("sparse" mode) and, since W_ih is never read in the backward pass,
its gradient is applied in place step by step (rounding differs from the summed update by ~T ulp).

Differences from `TorchBackend` (none affects training): slots at or past a sequence's length are
ignored (torch would read an output computed on padding), ``out_y`` is 0 at unused slots (torch
writes the output at step 0) and rows ``b >= n_seq[k]`` of ``out_y`` are not written.

Example:
    >>> from models.baselines import init_baseline
    >>> K, B, T, A, E, H = 2, 3, 5, 2, 1, 4
    >>> rng = np.random.default_rng(0)
    >>> per = [init_baseline("gru", H, 2, 1, rng, 0.1) for _ in range(K)]
    >>> params = {n: np.stack([p[n] for p in per]) for n in per[0]}
    >>> idx = np.zeros((K, B, T, A), np.int32); idx[..., 1] = 1
    >>> val = np.ones((K, B, T, A)); lengths = np.full((K, B), T, np.int32)
    >>> steps = np.full((K, B, E), T - 1, np.int32); out_y = np.zeros((K, B, E, 1))
    >>> before = params["b_o"].copy()
    >>> block = Block(idx, val, lengths, np.ones((K, B, E, 1)), steps)
    >>> train_block(Nets("gru", params), block, np.array([3, 0]), 0.5, out_y)
    >>> bool(params["b_o"][0, 0] > before[0, 0]), bool(params["b_o"][1, 0] == before[1, 0])
    (True, True)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numba import njit
from numba.core import config as _numba_config

from models.baselines import GATE_BLOCKS, PARAM_NAMES
from workers.kernels import Block, simd
from workers.kernels.baselines_bptt import (
    clear_backward,
    elman_back,
    gru_back,
    lstm_back,
    update,
    weight_gradients,
)
from workers.kernels.baselines_stages import (
    LANES,
    Bwd,
    Consts,
    Grad,
    Net,
    Seq,
    Slots,
    clear_sequence,
    collect_slots,
    elman_step,
    gru_step,
    hidden_side,
    input_side,
    load_chunk,
    load_inputs,
    lstm_step,
    output_delta,
    outputs,
    start_sequence,
    store_chunk,
)

KIND_CODES: dict[str, int] = {"elman": 0, "gru": 1, "lstm_forget": 2}
"""The kernel's integer code of each baseline kind."""

DENSE_MAX_PER_PAIR = 16
"""``inputs="auto"`` goes dense when ``I <= DENSE_MAX_PER_PAIR * A`` (A = active pairs per step)."""


# ----------------------------------------------------------------------------------------------
# The kernel: one compiled loop of stages for the three kinds (a branch on the kind per step,
# outside the SIMD loops), one variant per weight dtype.


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})  # type: ignore[misc]
def _run(
    kind: int,
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray,
    b_hh: np.ndarray,
    W_o: np.ndarray,
    b_o: np.ndarray,
    idx: np.ndarray,
    val: np.ndarray,
    lengths: np.ndarray,
    targets: np.ndarray,
    target_steps: np.ndarray,
    n_seq: np.ndarray,
    lr: float,
    dense: bool,
    train: bool,
    out_y: np.ndarray,
) -> None:
    G, I = W_ih.shape[1], W_ih.shape[2]
    H = W_hh.shape[2]
    O = W_o.shape[1]
    B, T, A = idx.shape[1], idx.shape[2], idx.shape[3]
    E = target_steps.shape[2]
    L = LANES
    cst = np.empty(3, W_hh.dtype)  # constants in the weights' precision (a literal is float64)
    cst[0], cst[1], cst[2] = 0.0, 1.0, lr
    num = Consts(cst[0], cst[1], cst[2])

    lanes, n_act = simd.active_lanes(n_seq)  # lanes that run at all, packed into chunks

    # Every float scratch array is its own calloc'd buffer (`simd.zeros`), freed at the end.
    Ti, Id, Ai = max(T, 1), I if dense else 1, max(A, 1)
    z, w = simd.zeros, W_hh
    net = Net(z((G, I, L), w), z((G, H, L), w), z((G, L), w), z((G, L), w), z((O, H, L), w),
              z((O, L), w))  # fmt: skip
    grad = Grad(z((G, Id, L), w), z((G, H, L), w), z((G, L), w), z((G, L), w),
                z((O, H, L), w), z((O, L), w))  # fmt: skip
    seq = Seq(
        z((Ti, Id, L), w), z((Ti, Ai, L), w), z((Ti + 1, H, L), w), z((Ti + 1, H, L), w),
        z((Ti, G, L), w), z((Ti, H, L), w), z((Ti, H, L), w), z((G, L), w), z((G, L), w),
        z((O, L), w), z((O, L), w), z((O, L), w), z((L,), w), z((L,), w),
    )  # fmt: skip
    bwd = Bwd(z((G, L), w), z((G, L), w), z((H, L), w), z((H, L), w), z((H, L), w))
    Ei = max(E, 1)
    sl = Slots(
        np.zeros(L, np.int64), np.zeros(L, np.int64), np.zeros(L, np.int64),
        np.zeros((L, Ei), np.int64), np.zeros((L, Ei), np.int64), np.zeros(Ti, np.bool_),
        np.zeros((Ti, Ai, L), np.int64),
    )  # fmt: skip

    for c0 in range(0, n_act, L):
        nl = min(L, n_act - c0)
        lane = lanes[c0 : c0 + nl]
        nb = load_chunk(lane, nl, n_seq, B, W_ih, W_hh, b_ih, b_hh, W_o, b_o, net, num)
        for b in range(nb):
            Tb = start_sequence(b, lane, nl, T, n_seq, lengths, target_steps, out_y, seq, sl,
                                num)  # fmt: skip
            load_inputs(b, lane, nl, Tb, idx, val, dense, seq, sl, num)
            clear_sequence(Tb, dense, train, seq, grad, num)
            for t in range(Tb):  # forward
                input_side(t, nl, A, dense, net, seq, sl)
                hidden_side(t, net, seq)
                if kind == 0:
                    elman_step(t, seq)
                elif kind == 1:
                    gru_step(t, seq, num)
                else:
                    lstm_step(t, seq)
                if sl.any_err[t]:
                    outputs(t, net, seq)
                    while True:
                        n_err = collect_slots(t, b, lane, nl, targets, out_y, train, seq, sl, num)
                        if n_err == 0:
                            break
                        if train:
                            output_delta(t, net, seq, grad, num)
            if not train:
                continue
            clear_backward(bwd, num)
            for t in range(Tb - 1, -1, -1):  # backward
                if kind == 0:
                    elman_back(t, seq, bwd, num)
                elif kind == 1:
                    gru_back(t, seq, bwd, num)
                else:
                    lstm_back(t, seq, bwd, num)
                weight_gradients(t, nl, A, dense, net, seq, bwd, grad, sl, num)
            update(dense, net, grad, seq.on, num)
        if train:
            store_chunk(lane, nl, W_ih, W_hh, b_ih, b_hh, W_o, b_o, net)

    simd.release(net)
    simd.release(grad)
    simd.release(seq)
    simd.release(bwd)


# ----------------------------------------------------------------------------------------------
# Python entry points: validate, normalise dtypes (one compiled variant per weight dtype), run.


def _prepare(
    kind: str,
    weights: tuple[np.ndarray, ...],
    idx: np.ndarray,
    val: np.ndarray,
    lengths: np.ndarray,
    target_steps: np.ndarray,
    n_seq: np.ndarray,
    out_y: np.ndarray,
    inputs: str,
    train: bool,
) -> tuple[Any, ...]:
    if kind not in KIND_CODES:
        raise ValueError(f"unknown baseline {kind!r}; known: {sorted(KIND_CODES)}")
    W_ih, W_hh, b_ih, b_hh, W_o, b_o = weights
    dt = W_hh.dtype
    if dt not in (np.float32, np.float64):
        raise TypeError(f"weights must be float32 or float64, got {dt}")
    arrays = {**dict(zip(PARAM_NAMES, weights, strict=True)), "out_y": out_y}
    for name, a in arrays.items():
        if a.dtype != dt:
            raise TypeError(f"{name} must have the weights' dtype {dt}, got {a.dtype}")
    simd.check_writable(arrays, set(arrays) if train else {"out_y"})
    K, G, I = W_ih.shape
    H = W_hh.shape[2]
    O = W_o.shape[1]
    if W_ih.shape[1] != GATE_BLOCKS[kind] * H:
        raise ValueError(f"{kind}: W_ih has {G} rows, expected {GATE_BLOCKS[kind]} x H = {H}")
    B, T, A = idx.shape[1:]
    E = target_steps.shape[-1]
    simd.check_shapes(
        {
            "idx": (idx.shape, (K, B, T, A)),
            "W_hh": (W_hh.shape, (K, G, H)),
            "b_ih": (b_ih.shape, (K, G)),
            "b_hh": (b_hh.shape, (K, G)),
            "W_o": (W_o.shape, (K, O, H)),
            "b_o": (b_o.shape, (K, O)),
            "val": (val.shape, (K, B, T, A)),
            "lengths": (lengths.shape, (K, B)),
            "target_steps": (target_steps.shape, (K, B, E)),
            "n_seq": (np.shape(n_seq), (K,)),
            "out_y": (out_y.shape, (K, B, E, O)),
        }
    )
    simd.check_sequences(idx, lengths, I)
    dense = simd.dense_inputs(inputs, I, A, DENSE_MAX_PER_PAIR)
    return (
        np.ascontiguousarray(idx, dtype=np.int32),
        np.ascontiguousarray(val, dtype=dt),
        np.ascontiguousarray(lengths, dtype=np.int32),
        np.ascontiguousarray(target_steps, dtype=np.int32),
        np.ascontiguousarray(n_seq, dtype=np.int64),
        dense,
    )


_READY: set[str] = set()


def _call_run(*args: Any) -> None:
    """Run `_run`, enabling LLVM's SLP vectoriser while it compiles (or loads from the cache).

    numba turns the SLP vectoriser off by default (``NUMBA_SLP_VECTORIZE``); the lane loops have
    the constant trip count ``LANES``, LLVM unrolls them fully, and only SLP turns the unrolled
    bodies into SIMD code (~4x faster). The setting is read when a module is optimised, so it is
    switched on only around this kernel's first call per dtype.
    """
    key = str(args[1].dtype)
    if key in _READY:
        _run(*args)
        return
    cfg: Any = _numba_config
    old = cfg.SLP_VECTORIZE
    cfg.SLP_VECTORIZE = 1
    try:
        _run(*args)
    finally:
        cfg.SLP_VECTORIZE = old
    _READY.add(key)


def _weights(params: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    missing = [n for n in PARAM_NAMES if n not in params]
    if missing:
        raise KeyError(f"params lacks {missing}")
    return tuple(params[n] for n in PARAM_NAMES)


class Nets(NamedTuple):
    """K baseline nets of one kind as the kernel trains them: the first argument of
    :func:`train_block` and :func:`forward_block` (the 1997 net's
    `workers.kernels.lstm1997.Nets` plays the same part)."""

    kind: str
    """"elman", "gru" or "lstm_forget" (`KIND_CODES`)."""
    params: dict[str, np.ndarray]
    """The K nets' parameters by `models.baselines.PARAM_NAMES`: W_ih (K, G, I), W_hh (K, G, H),
    b_ih (K, G), b_hh (K, G), W_o (K, O, H), b_o (K, O), G = gate blocks x H; all float32 or
    all float64, C-contiguous, updated in place."""
    inputs: str = "auto"
    """"auto", "dense" or "sparse" (a speed choice; results agree to rounding)."""


def train_block(nets: Nets, block: Block, n_seq: np.ndarray, lr: float, out_y: np.ndarray) -> None:
    """Train K nets of one baseline kind on-line, one sequence per update, with full BPTT.

    Lane k trains on ``n_seq[k]`` of its B sequences of ``block``, in order; ``n_seq[k] == 0``
    freezes it (its weights and its ``out_y`` rows are not touched).

    Args:
        nets: the kind, its parameters (updated in place) and the input mode.
        block: the K lanes' sequences (`Block`).
        n_seq: (K,) int: sequences lane k trains on (a prefix of its B).
        lr: learning rate; ``W -= lr * dE/dW`` with ``E = 1/2 sum (y - target)^2`` over the used
            slots of one sequence, after that sequence.
        out_y: (K, B, E, O), weights' dtype: receives the outputs at the error slots from the
            forward pass of each trained sequence, before its update; 0 at unused slots; rows
            ``b >= n_seq[k]`` are not written.
    """
    kind, w = nets.kind, _weights(nets.params)
    idx, val, lengths, steps, n_seq, dense = _prepare(
        kind, w, block.idx, block.val, block.lengths, block.target_steps, n_seq, out_y,
        nets.inputs, True,
    )  # fmt: skip
    tg = np.ascontiguousarray(block.targets, dtype=out_y.dtype)
    if tg.shape != out_y.shape:
        raise ValueError(f"targets has shape {tg.shape}, expected {out_y.shape}")
    code = KIND_CODES[kind]
    _call_run(code, *w, idx, val, lengths, tg, steps, n_seq, float(lr), dense, True, out_y)


def forward_block(nets: Nets, block: Block, n_seq: np.ndarray, out_y: np.ndarray) -> None:
    """Outputs of K baseline nets at the error slots, without learning.

    Same arguments as :func:`train_block` without ``lr``; the weights are only read and
    ``block.targets`` is not. ``out_y[k, b]`` is written for ``b < n_seq[k]`` (pass
    ``np.full(K, B)`` for all).
    """
    kind, w = nets.kind, _weights(nets.params)
    idx, val, lengths, steps, n_seq, dense = _prepare(
        kind, w, block.idx, block.val, block.lengths, block.target_steps, n_seq, out_y,
        nets.inputs, False,
    )  # fmt: skip
    tg = np.zeros((1, 1, 1, 1), dtype=out_y.dtype)
    code = KIND_CODES[kind]
    _call_run(code, *w, idx, val, lengths, tg, steps, n_seq, 0.0, dense, False, out_y)
