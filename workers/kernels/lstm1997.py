"""Compiled on-line SGD for K independent 1997 LSTM nets: the paper's truncated gradient on SIMD.

The readable reference is `models.lstm1997.Lstm1997` with ``gradient="truncated"``; this kernel
computes the same weights (to rounding) orders of magnitude faster. Weight layout and unit order:
exactly `models.layout.Lstm1997Layout` (``Wh (Hn, U)`` over ``u = [x(t) | y_hidden(t-1) | 1]``;
``Wo (O, Uo)`` over ``v = [y_c(t) | x(t) | 1]``), handed to the kernel in :class:`KernelConfig`.

Learning rule (paper Sec. 4 and App. A.1; truncated RTRL/BPTT hybrid). Every recurrent input
``u(t)`` is a constant for the gradient; error reaches the past only through the CEC ``s``. So the
partials of the cell states are accumulated forward in time (paper eqs. 25 and 27)::

    P_c[jv, m]  += g'(net_c_jv) y_in_j u_m(t)                 # ds_jv / dw_c_jv,m
    P_in[jv, m] += g(net_c_jv) f'(net_in_j) u_m(t)            # ds_jv / dw_in_j,m

and at every error slot (gradient of 1/2 SSE, one-step backprop for output units and output gates)::

    d_k        = (y_k - t_k) f'(net_k)                        ;  grad Wo[k, :]     += d_k v
                 (``output_fprime=False``: d_k = y_k - t_k)
    e_jv       = sum_k Wo[k, jv] d_k
    d_out_j    = f'(net_out_j) sum_v e_jv h(s_jv)             ;  grad Wh[out_j, :] += d_out_j u
    ds_jv      = e_jv y_out_j h'(s_jv)                        ;  grad Wh[c_jv, :]  += ds_jv P_c[jv]
                                                              ;  grad Wh[in_j, :]  += ds_jv P_in[jv]

The summed gradient of a sequence is applied at its end (on-line, one sequence per update):
``W -= lr * grad`` on the existing weights only (mask 1). With ``per_step=True`` the gradient of
each step's error slots is applied right after that step instead (RTRL's real-time update): the
later steps of the sequence then run on the changed weights, and the partials P_c, P_in carry
their terms computed with the weights of their own step. With error only at the sequence end
(Exp. 2c-6) the two moments give the same weights. Cost and memory per step do not depend on
the sequence length. No forget gate (the trainer uses torch for that variant).

The compiled loop (`_run`) is an orchestrator of inlined stages named after these steps
(`lstm1997_stages`): per step `forward_step`, `accumulate_partials` (eqs. 25, 27), at an error slot
`backprop_slot`, per sequence (or after each step with a slot) `update`. Speed: the K nets run in
chunks of up to ``LANES`` lanes, one net per lane, the lane index innermost in every internal
array (`workers.kernels.simd`); the lane loops have a run-time trip count, which LLVM's loop
vectoriser turns into SIMD code. (The baselines' kernel fixes its chunk at a constant 16 lanes
instead, for LLVM's SLP vectoriser: their loops are short, a few hidden units each. Here a chunk is
``min(K, 64)`` lanes, so K=1 computes one lane, not 64, and at K=64 the loops run close to the
ceiling of their load-FMA-store pattern, `benchmarks.roofline`.) Inputs
arrive as sparse (index, value) pairs: with few input units (``I <= 8 A``) each step's pairs
become dense SIMD columns ("dense"), otherwise each lane gathers its A columns ("sparse").

Lanes of a chunk run their b-th sequences in lock step up to the longest; a lane past its own end
computes on zero input but nothing it computes there is used (its error slots all lie before its
end and its state is reset before its next sequence). No arithmetic mixes lanes and no control flow
depends on a lane's values, so a diverged (NaN) lane cannot affect another lane, and a lane's
results do not depend on which other lanes share its chunk (bitwise, on this machine).

Example:
    >>> from models.layout import Lstm1997Layout
    >>> lay = Lstm1997Layout(n_inputs=2, n_outputs=1)
    >>> cfg = kernel_config(lay)
    >>> K, B, T, A, E = 2, 3, 5, 2, 1
    >>> Wh = np.zeros((K, lay.n_hidden, lay.U)); Wo = np.zeros((K, 1, lay.Uo))
    >>> idx = np.zeros((K, B, T, A), np.int32); val = np.zeros((K, B, T, A))
    >>> lengths = np.full((K, B), T, np.int32); steps = np.full((K, B, E), T - 1, np.int32)
    >>> out_y = np.zeros((K, B, E, 1))
    >>> nets = Nets(Wh, Wo, lay.mask_h, lay.mask_o, cfg)
    >>> block = Block(idx, val, lengths, np.ones((K, B, E, 1)), steps)
    >>> train_block(nets, block, np.array([3, 0]), 0.5, out_y)
    >>> float(out_y[0, 0, 0, 0]), bool(Wo[0, 0, -1] > 0), bool((Wo[1] == 0).all())
    (0.5, True, True)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from models.layout import Lstm1997Layout
from workers.kernels import Block, simd
from workers.kernels.lstm1997_stages import (
    Consts,
    Fwd,
    Grad,
    Net,
    accumulate_partials,
    backprop_slot,
    carry_hidden,
    clear_gradient,
    collect_slots,
    columns,
    forward_step,
    load_chunk,
    start_sequence,
    store_chunk,
    update,
)

LANES = 64
"""Most nets per chunk (lanes run in lock step within a chunk, chunks one after another)."""

G_KINDS = {"g2": 0, "g1": 1}
"""Cell-input squashing: g2 = 4f - 2 in [-2, 2], g1 = f in [0, 1]."""
H_KINDS = {"h1": 0, "id": 1}
"""Cell-output squashing: h1 = 2f - 1 in [-1, 1], id = identity."""

DENSE_MAX_PER_PAIR = 8
"""``inputs="auto"`` goes dense when ``I <= DENSE_MAX_PER_PAIR * A`` (A = active pairs per step)."""


class KernelConfig(NamedTuple):
    """What the kernel needs to know of a net besides its weights (made by :func:`kernel_config`).

    A plain named tuple: numba passes it to the compiled code field by field.
    """

    n_inputs: int
    """I: input units (the first I columns of u and the I columns after the cells in v)."""
    cells_per_block: int
    """S: cells per block."""
    in_gate: np.ndarray
    """(C,) int64: hidden row of each block's input gate, -1 if absent (`Lstm1997Layout`)."""
    out_gate: np.ndarray
    """(C,) int64: hidden row of each block's output gate, -1 if absent."""
    cell: np.ndarray
    """(C*S,) int64: hidden row of every cell, block-major."""
    g2: bool
    """Cell input squashing g2 (4f - 2); else g1 (f)."""
    h1: bool
    """Cell output squashing h1 (2f - 1); else the identity."""
    inputs: int
    """`simd.INPUT_MODES` code; "auto" is resolved per call from I and A."""
    output_fprime: bool = True
    """Output delta ``(y - t) f'(net)`` (the paper's); False: ``y - t``, the gradient of the
    logistic outputs' cross-entropy (a measured variant, ``output_delta = "no_fprime"``)."""
    forget: np.ndarray = np.full(0, -1, np.int64)
    """(C,) int64: hidden row of each block's forget gate (Gers et al. 2000), -1 if absent;
    empty: none. Only `workers.kernels.lstm1997_bptt` computes a forget gate; this kernel
    refuses a config that has one."""


def kernel_config(
    layout: Lstm1997Layout, g: str = "g2", h: str = "h1", inputs: str = "auto",
    output_fprime: bool = True,
) -> KernelConfig:  # fmt: skip
    """The kernel's :class:`KernelConfig` for a layout and squashing pair.

    Args:
        layout: the net's units and connectivity; its masks are passed to the kernel separately.
        g: cell-input squashing, "g2" or "g1".
        h: cell-output squashing, "h1" or "id".
        inputs: "auto", "dense" or "sparse" (a speed choice; results agree to rounding).
        output_fprime: keep f' in the output delta (the paper); False drops it.

    Raises:
        ValueError: for unknown kinds. (A forget gate is recorded in ``forget``: the BPTT kernel,
        `workers.kernels.lstm1997_bptt`, computes it; this module's kernel refuses it.)
    """
    for name, kind, kinds in (
        ("g", g, G_KINDS),
        ("h", h, H_KINDS),
        ("inputs", inputs, simd.INPUT_MODES),
    ):
        if kind not in kinds:
            raise ValueError(f"{name} must be one of {sorted(kinds)}, got {kind!r}")
    return KernelConfig(
        n_inputs=layout.n_inputs,
        cells_per_block=layout.cells_per_block,
        in_gate=layout.in_gate.copy(),
        out_gate=layout.out_gate.copy(),
        cell=layout.cell.copy(),
        g2=g == "g2",
        h1=h == "h1",
        inputs=simd.INPUT_MODES[inputs],
        output_fprime=bool(output_fprime),
        forget=layout.forget.astype(np.int64),
    )


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})  # type: ignore[misc]
def _run(Wh, Wo, mask_h, mask_o, idx, val, lengths, targets, target_steps, n_seq, lr, cfg,
         train, per_step, out_y):  # type: ignore[no-untyped-def]  # fmt: skip
    Hn, U = Wh.shape[1], Wh.shape[2]
    O, Uo = Wo.shape[1], Wo.shape[2]
    B, T, A = idx.shape[1], idx.shape[2], idx.shape[3]
    E = target_steps.shape[2]
    I, C, S = cfg.n_inputs, cfg.in_gate.shape[0], cfg.cells_per_block
    CS = C * S
    dense = cfg.inputs == 1
    cst = np.empty(5, Wh.dtype)  # constants in the weights' precision (a literal is float64)
    cst[0], cst[1], cst[2], cst[3], cst[4] = 0.0, 1.0, 2.0, 4.0, lr
    num = Consts(cst[0], cst[1], cst[2], cst[3], cst[4])
    cols = columns(mask_h, mask_o, cfg, dense)

    lanes, n_act = simd.active_lanes(n_seq)
    nk = max(min(LANES, n_act), 1)
    z = simd.zeros
    net = Net(z((Hn, U, nk), Wh), z((O, Uo, nk), Wh))
    fwd = Fwd(
        z((U, nk), Wh), z((Uo, nk), Wh), z((Hn, nk), Wh), z((Hn, nk), Wh), z((C, nk), Wh),
        z((C, nk), Wh), z((CS, nk), Wh), z((CS, nk), Wh), z((CS, nk), Wh), z((CS, nk), Wh),
        z((CS, nk), Wh), z((O, nk), Wh), z((O, nk), Wh), z((T, A, nk), Wh),
    )  # fmt: skip
    grad = Grad(
        z((Hn, U, nk), Wh), z((O, Uo, nk), Wh), z((CS, U, nk), Wh), z((CS, U, nk), Wh),
        z((CS, nk), Wh), z((CS, nk), Wh), z((O, nk), Wh), z((O, nk), Wh), z((CS, nk), Wh),
        z((nk,), Wh), z((nk,), Wh),
    )  # fmt: skip
    on = np.zeros(nk, np.bool_)  # lane trains (or evaluates) its b-th sequence
    em = np.zeros(nk, np.bool_)  # lane has an error slot now
    ln = np.zeros(nk, np.int64)
    n_slot = np.zeros(nk, np.int64)
    ptr = np.zeros(nk, np.int64)
    slot_t = np.zeros((nk, max(E, 1)), np.int64)  # used slots of each lane sorted by step
    slot_e = np.zeros((nk, max(E, 1)), np.int64)
    any_err = np.zeros(max(T, 1), np.bool_)
    xi = np.zeros((T, A, nk), np.int64)  # inputs of the chunk's current sequences, lane innermost
    fwd.y_in[:] = num.one  # 1 where the gate is absent
    fwd.y_out[:] = num.one
    fwd.hp[:] = num.one
    fwd.u[U - 1] = num.one  # the bias columns
    fwd.v[Uo - 1] = num.one

    for c0 in range(0, n_act, nk):
        nl = min(nk, n_act - c0)
        lane = lanes[c0 : c0 + nl]
        nb = load_chunk(lane, nl, n_seq, B, Wh, Wo, cols, net, xi, fwd.xv, num)
        for b in range(nb):
            Tb = start_sequence(
                b, lane, nl, n_seq, lengths, target_steps, idx, val, out_y, on, ln, n_slot,
                ptr, slot_t, slot_e, any_err, xi, I, Hn, train, fwd, grad, num,
            )  # fmt: skip
            for t in range(Tb):
                forward_step(t, nl, dense, cfg, cols, net, fwd, xi, num)
                if train:
                    accumulate_partials(t, nl, dense, cfg, cols, fwd, grad, xi, num)
                while any_err[t]:
                    n_err = collect_slots(
                        t, b, lane, nl, ptr, n_slot, slot_t, slot_e, em, fwd.y, grad.tg,
                        targets, out_y, train,
                    )  # fmt: skip
                    if n_err == 0:
                        break
                    if train:
                        backprop_slot(t, nl, dense, cfg, cols, net, fwd, grad, xi, em, num)
                if train and per_step and any_err[t]:  # lanes without a slot at t add 0
                    update(nl, on, cols, net, grad, num)
                    clear_gradient(nl, cols, grad, num)
                carry_hidden(nl, I, Hn, fwd)
            if train and not per_step:
                update(nl, on, cols, net, grad, num)
        if train:
            store_chunk(lane, nl, Wh, Wo, cols, net)

    simd.release(net)
    simd.release(fwd)
    simd.release(grad)


# ----------------------------------------------------------------------------------------------
# Python entry points: validate, normalise dtypes (one compiled variant per weight dtype), run.


def _prepare(
    Wh: np.ndarray,
    Wo: np.ndarray,
    mask_h: np.ndarray,
    mask_o: np.ndarray,
    idx: np.ndarray,
    val: np.ndarray,
    lengths: np.ndarray,
    target_steps: np.ndarray,
    n_seq: np.ndarray,
    cfg: KernelConfig,
    out_y: np.ndarray,
    train: bool,
) -> tuple[np.ndarray | KernelConfig, ...]:
    if Wh.dtype not in (np.float32, np.float64) or Wo.dtype != Wh.dtype:
        raise TypeError(f"Wh and Wo must share float32 or float64, got {Wh.dtype}, {Wo.dtype}")
    if out_y.dtype != Wh.dtype:
        raise TypeError(f"out_y must have the weights' dtype {Wh.dtype}, got {out_y.dtype}")
    simd.check_writable({"Wh": Wh, "Wo": Wo, "out_y": out_y}, {"Wh", "Wo", "out_y"} if train
                        else {"out_y"})  # fmt: skip
    if not isinstance(cfg, KernelConfig):
        raise ValueError("cfg must be kernel_config(...)")
    I, S, C = cfg.n_inputs, cfg.cells_per_block, len(cfg.in_gate)
    Hn = C * S + sum(int((g >= 0).sum()) for g in (cfg.in_gate, cfg.out_gate, cfg.forget))
    K, B, T, A = idx.shape
    E = target_steps.shape[-1]
    O = Wo.shape[1]
    simd.check_shapes(
        {
            "Wh": (Wh.shape, (K, Hn, I + Hn + 1)),
            "Wo": (Wo.shape, (K, O, C * S + I + 1)),
            "mask_h": (mask_h.shape, (Hn, I + Hn + 1)),
            "mask_o": (mask_o.shape, (O, C * S + I + 1)),
            "val": (val.shape, (K, B, T, A)),
            "lengths": (lengths.shape, (K, B)),
            "target_steps": (target_steps.shape, (K, B, E)),
            "n_seq": (np.shape(n_seq), (K,)),
            "out_y": (out_y.shape, (K, B, E, O)),
        }
    )
    simd.check_sequences(idx, lengths, I)
    for name, m in (("mask_h", mask_h), ("mask_o", mask_o)):
        if not np.all((m == 0) | (m == 1)):
            raise ValueError(f"{name} must be 0/1")
    mode = next(n for n, c in simd.INPUT_MODES.items() if c == cfg.inputs)
    dense = simd.dense_inputs(mode, I, A, DENSE_MAX_PER_PAIR)
    cfg = cfg._replace(inputs=simd.INPUT_MODES["dense" if dense else "sparse"])
    return (
        np.ascontiguousarray(mask_h, dtype=np.float64),
        np.ascontiguousarray(mask_o, dtype=np.float64),
        np.ascontiguousarray(idx, dtype=np.int32),
        np.ascontiguousarray(val, dtype=np.float64),
        np.ascontiguousarray(lengths, dtype=np.int32),
        np.ascontiguousarray(target_steps, dtype=np.int32),
        np.ascontiguousarray(n_seq, dtype=np.int64),
        cfg,
    )


def _no_forget_gate(cfg: KernelConfig) -> None:
    if (np.asarray(cfg.forget) >= 0).any():
        raise ValueError(
            "this kernel has no forget gate; workers.kernels.lstm1997_bptt trains that variant"
        )


class Nets(NamedTuple):
    """K 1997 nets as the kernel trains them: the first argument of :func:`train_block` and
    :func:`forward_block` (the baselines' `workers.kernels.baselines.Nets` plays the same part)."""

    Wh: np.ndarray
    """(K, Hn, U) float32/float64 hidden weights, updated in place (C-contiguous)."""
    Wo: np.ndarray
    """(K, O, Uo) output weights, same dtype, updated in place."""
    mask_h: np.ndarray
    """(Hn, U) 0/1 existing hidden weights (``layout.mask_h``); masked weights are read as 0
    and never change."""
    mask_o: np.ndarray
    """(O, Uo) 0/1 existing output weights (``layout.mask_o``)."""
    cfg: KernelConfig
    """`kernel_config(layout, g, h)`."""
    per_step: bool = False
    """Apply each step's gradient after that step (RTRL's real-time update, ``update =
    "step"``) instead of the sequence's summed gradient at its end."""


def train_block(nets: Nets, block: Block, n_seq: np.ndarray, lr: float, out_y: np.ndarray) -> None:
    """Train K nets on-line with the paper's truncated gradient, one update per sequence (or
    per step with an error slot: ``nets.per_step``).

    Lane k trains on ``n_seq[k]`` of its B sequences of ``block``, in order; ``n_seq[k] == 0``
    freezes it (its weights and its ``out_y`` rows are not touched).

    Args:
        nets: the weights (updated in place), masks and config.
        block: the K lanes' sequences (`Block`).
        n_seq: (K,) int: sequences lane k trains on (a prefix of its B).
        lr: learning rate; ``W -= lr * dE/dW`` with ``E = 1/2 sum (y - target)^2`` over the used
            slots of one sequence.
        out_y: (K, B, E, O), weights' dtype: receives the outputs at the error slots from the
            forward pass of each trained sequence, before that sequence's update (per step:
            before that step's update); 0 at unused slots; rows ``b >= n_seq[k]`` are not
            written.

    The kernel reads idx/lengths/target_steps as int32 and val/targets as float64 (the dtypes of
    `SequenceBatch`: no copy); other dtypes are converted first. One compiled variant per weight
    dtype, cached on disk (numba ``cache=True``). The compiled loop releases the GIL.
    """
    _no_forget_gate(nets.cfg)
    Wh, Wo = nets.Wh, nets.Wo
    mh, mo, idx, val, lengths, steps, n_seq, cfg = _prepare(  # type: ignore[assignment]
        Wh, Wo, nets.mask_h, nets.mask_o, block.idx, block.val, block.lengths,
        block.target_steps, n_seq, nets.cfg, out_y, True,
    )  # fmt: skip
    tg = np.ascontiguousarray(block.targets, dtype=np.float64)
    if tg.shape != out_y.shape:
        raise ValueError(f"targets has shape {tg.shape}, expected {out_y.shape}")
    _run(Wh, Wo, mh, mo, idx, val, lengths, tg, steps, n_seq, float(lr), cfg, True,
         bool(nets.per_step), out_y)  # fmt: skip


def forward_block(nets: Nets, block: Block, n_seq: np.ndarray, out_y: np.ndarray) -> None:
    """Outputs at the error slots without learning (test-set evaluation).

    Same arguments as :func:`train_block` without ``lr``; the weights are only read and
    ``block.targets`` is not. ``out_y[k, b]`` is written for ``b < n_seq[k]`` (pass
    ``np.full(K, B)`` for everything).
    """
    _no_forget_gate(nets.cfg)
    Wh, Wo = nets.Wh, nets.Wo
    mh, mo, idx, val, lengths, steps, n_seq, cfg = _prepare(  # type: ignore[assignment]
        Wh, Wo, nets.mask_h, nets.mask_o, block.idx, block.val, block.lengths,
        block.target_steps, n_seq, nets.cfg, out_y, False,
    )  # fmt: skip
    tg = np.zeros((1, 1, 1, 1))
    _run(Wh, Wo, mh, mo, idx, val, lengths, tg, steps, n_seq, 0.0, cfg, False, False, out_y)
