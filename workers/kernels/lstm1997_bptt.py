"""Compiled on-line SGD for K 1997 LSTM nets by BPTT: the full gradient, and any forget-gate net.

The readable reference is `models.lstm1997.Lstm1997`: ``gradient="full"`` is plain autograd
through every recurrent input; ``gradient="truncated"`` detaches y(t-1) and keeps s(t-1).
`workers.kernels.lstm1997` computes the truncated gradient of the 1997 cell forward in time (SIMD
over lanes, per-step updates too); this kernel computes both rules backward in time, one update
per sequence, and has the forget gate (Gers et al. 2000: ``s(t) = y_fg s(t-1) + y_in g``) the
other lacks. The paper mentions a few runs with the non-truncated gradient ("no significant
difference") and the robustness studies sweep truncated vs full and the forget gate: this kernel
makes those trials a kernel's speed rather than a per-step autograd loop's.

Weight layout and unit order are `models.layout.Lstm1997Layout`'s, as in the truncated kernel
(``Wh (Hn, U)`` over ``u(t) = [x(t) | y_hidden(t-1) | 1]``; ``Wo (O, Uo)`` over
``v(t) = [y_c(t) | x(t) | 1]``; masked weights read as 0 and never change). Per sequence, on the
weights of its start: a forward pass stores every step's u, net inputs, gate activations, cell
inputs g(net_c) and states s; the error slots give the output deltas
``d_k = (y_k - t_k) f'(net_k)`` (or ``y_k - t_k`` without f'); then backward in time::

    dy_c(t)     = sum_k Wo[k, c] d_k(t) + r_c(t)             # r(t): error from net(t+1)
    dy_out_j(t) = sum_{c in j} dy_c h(s_c) + r_out_j(t)
    ds_c(t)     = dy_c y_out_j h'(s_c) + ds_c(t+1) y_fg_j(t+1)   # the CEC (y_fg = 1 without)
    dy_in_j(t)  = sum_{c in j} ds_c g(net_c) + r_in_j(t)
    dy_fg_j(t)  = sum_{c in j} ds_c s_c(t-1) + r_fg_j(t)
    dnet_c      = ds_c y_in_j g'(net_c);  dnet_gate = dy_gate f'(net_gate)
    grad Wh    += dnet(t) u(t)^T;        grad Wo += d(t) v(t)^T
    r(t-1)      = Wh[:, I:I+Hn]^T dnet(t)   (full);   0 (truncated: the paper's rule)

and the sequence's summed gradient is applied at its end (``W -= lr * grad * mask``); the
per-step update is the SIMD kernel's (truncated, no forget gate) or the torch oracle's. Memory
per lane O(T (U + Hn)), time O(T W) per sequence.

Lanes are independent nets computed one after another (no arithmetic mixes lanes), each with
scalar loops over its units: the nets this kernel serves are small, and a lane's result does not
depend on the others (a diverged lane cannot touch another). Inputs arrive as the sparse
(index, value) pairs of `SequenceBatch`; the inputs' columns of a step are read and updated
through those pairs alone.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from workers.kernels import Block
from workers.kernels.lstm1997 import KernelConfig, _prepare


class BpttNets(NamedTuple):
    """K 1997 nets as this kernel trains them (the fields of `workers.kernels.lstm1997.Nets`,
    and the rule)."""

    Wh: np.ndarray
    """(K, Hn, U) hidden weights, float32/float64, updated in place (C-contiguous)."""
    Wo: np.ndarray
    """(K, O, Uo) output weights, same dtype, updated in place."""
    mask_h: np.ndarray
    """(Hn, U) 0/1 existing hidden weights."""
    mask_o: np.ndarray
    """(O, Uo) 0/1 existing output weights."""
    cfg: KernelConfig
    """`workers.kernels.lstm1997.kernel_config` (a forget gate included)."""
    full: bool = True
    """The full gradient; False: the paper's truncated one (no error through y(t-1))."""
    per_step: bool = False
    """Must stay False: one update per sequence."""


@njit(cache=True, inline="always")  # type: ignore[misc]
def _sig(x):  # type: ignore[no-untyped-def]
    return 1.0 / (1.0 + math.exp(-x))


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})  # type: ignore[misc]
def _run(Wh, Wo, mask_h, mask_o, idx, val, lengths, targets, target_steps, n_seq, lr,
         in_gate, out_gate, forget, cell, S, g2, h1, output_fprime, full, train, out_y):  # type: ignore[no-untyped-def]  # fmt: skip
    K, Hn, U = Wh.shape
    O, Uo = Wo.shape[1], Wo.shape[2]
    T, A = idx.shape[2], idx.shape[3]
    E = target_steps.shape[2]
    CS, C = cell.shape[0], in_gate.shape[0]
    I = U - Hn - 1
    dt = Wh.dtype
    Wm = np.zeros((Hn, U), dt)
    Wom = np.zeros((O, Uo), dt)
    gWh = np.zeros((Hn, U), dt)
    gWo = np.zeros((O, Uo), dt)
    rec = np.zeros((T, Hn), dt)  # y_hidden(t-1), the recurrent part of u(t)
    net = np.zeros((T, Hn), dt)
    yin = np.ones((T, C), dt)  # 1 where the gate is absent
    yout = np.ones((T, C), dt)
    yfg = np.ones((T, C), dt)  # 1 without a forget gate: the 1997 CEC
    gz = np.zeros((T, CS), dt)  # g(net_c)
    s = np.zeros((T, CS), dt)
    yc = np.zeros((T, CS), dt)
    dy = np.zeros((T, O), dt)  # output deltas of the step's slots
    r = np.zeros(Hn, dt)
    r_prev = np.zeros(Hn, dt)
    dnet = np.zeros(Hn, dt)
    ds = np.zeros(CS, dt)
    dgi = np.zeros(C, dt)
    dgo = np.zeros(C, dt)
    dgf = np.zeros(C, dt)
    yh = np.zeros(Hn, dt)
    for k in range(K):
        if n_seq[k] == 0:
            continue
        for h in range(Hn):
            for m in range(U):
                Wm[h, m] = Wh[k, h, m] * mask_h[h, m]
        for o in range(O):
            for m in range(Uo):
                Wom[o, m] = Wo[k, o, m] * mask_o[o, m]
        for b in range(n_seq[k]):
            L = lengths[k, b]
            # ---- forward, storing what the backward pass reads
            for h in range(Hn):
                yh[h] = 0.0
            for t in range(L):
                for h in range(Hn):
                    rec[t, h] = yh[h]
                for h in range(Hn):
                    a = Wm[h, U - 1]
                    for q in range(A):
                        a += Wm[h, idx[k, b, t, q]] * val[k, b, t, q]
                    for m in range(Hn):
                        a += Wm[h, I + m] * rec[t, m]
                    net[t, h] = a
                for j in range(C):
                    if in_gate[j] >= 0:
                        yin[t, j] = _sig(net[t, in_gate[j]])
                        yh[in_gate[j]] = yin[t, j]
                    if out_gate[j] >= 0:
                        yout[t, j] = _sig(net[t, out_gate[j]])
                        yh[out_gate[j]] = yout[t, j]
                    if forget[j] >= 0:
                        yfg[t, j] = _sig(net[t, forget[j]])
                        yh[forget[j]] = yfg[t, j]
                for c in range(CS):
                    j = c // S
                    f = _sig(net[t, cell[c]])
                    gz[t, c] = 4.0 * f - 2.0 if g2 else f
                    prev = s[t - 1, c] if t > 0 else 0.0
                    s[t, c] = yfg[t, j] * prev + yin[t, j] * gz[t, c]
                    hs = 2.0 * _sig(s[t, c]) - 1.0 if h1 else s[t, c]
                    yc[t, c] = yout[t, j] * hs
                    yh[cell[c]] = yc[t, c]
                for o in range(O):
                    dy[t, o] = 0.0
            # ---- outputs at the error slots (the only steps whose outputs anything reads)
            for e in range(E):
                t = target_steps[k, b, e]
                if t < 0 or t >= L:
                    for o in range(O):
                        out_y[k, b, e, o] = 0.0
                    continue
                for o in range(O):
                    a = Wom[o, Uo - 1]
                    for c in range(CS):
                        a += Wom[o, c] * yc[t, c]
                    for q in range(A):
                        a += Wom[o, CS + idx[k, b, t, q]] * val[k, b, t, q]
                    y = _sig(a)
                    out_y[k, b, e, o] = y
                    if train:
                        d = y - targets[k, b, e, o]
                        dy[t, o] += d * y * (1.0 - y) if output_fprime else d
            if not train:
                continue
            # ---- backward through time
            for h in range(Hn):
                r[h] = 0.0
            for c in range(CS):
                ds[c] = 0.0
            for t in range(L - 1, -1, -1):
                for o in range(O):
                    d = dy[t, o]
                    if d == 0.0:
                        continue
                    gWo[o, Uo - 1] += d
                    for c in range(CS):
                        gWo[o, c] += d * yc[t, c]
                    for q in range(A):
                        gWo[o, CS + idx[k, b, t, q]] += d * val[k, b, t, q]
                for j in range(C):
                    dgi[j] = r[in_gate[j]] if in_gate[j] >= 0 else 0.0
                    dgo[j] = r[out_gate[j]] if out_gate[j] >= 0 else 0.0
                    dgf[j] = r[forget[j]] if forget[j] >= 0 else 0.0
                for c in range(CS):
                    j = c // S
                    dyc = r[cell[c]]
                    for o in range(O):
                        dyc += Wom[o, c] * dy[t, o]
                    if h1:
                        f = _sig(s[t, c])
                        hs, hp = 2.0 * f - 1.0, 2.0 * f * (1.0 - f)
                    else:
                        hs, hp = s[t, c], 1.0
                    dgo[j] += dyc * hs
                    ds[c] += dyc * yout[t, j] * hp  # plus ds(t+1), already in ds[c]
                    dgi[j] += ds[c] * gz[t, c]
                    f = _sig(net[t, cell[c]])
                    gp = 4.0 * f * (1.0 - f) if g2 else f * (1.0 - f)
                    dnet[cell[c]] = ds[c] * yin[t, j] * gp
                    if t > 0:
                        dgf[j] += ds[c] * s[t - 1, c]
                    ds[c] *= yfg[t, j]  # what s(t-1) receives: ds(t) ds(t)/ds(t-1)
                for j in range(C):
                    if in_gate[j] >= 0:
                        dnet[in_gate[j]] = dgi[j] * yin[t, j] * (1.0 - yin[t, j])
                    if out_gate[j] >= 0:
                        dnet[out_gate[j]] = dgo[j] * yout[t, j] * (1.0 - yout[t, j])
                    if forget[j] >= 0:
                        dnet[forget[j]] = dgf[j] * yfg[t, j] * (1.0 - yfg[t, j])
                for m in range(Hn):
                    r_prev[m] = 0.0
                for h in range(Hn):
                    d = dnet[h]
                    gWh[h, U - 1] += d
                    for q in range(A):
                        gWh[h, idx[k, b, t, q]] += d * val[k, b, t, q]
                    for m in range(Hn):
                        gWh[h, I + m] += d * rec[t, m]
                        r_prev[m] += Wm[h, I + m] * d
                for m in range(Hn):  # truncated: no error reaches y(t-1) but through s(t-1)
                    r[m] = r_prev[m] if full else 0.0
            # ---- the sequence's update, on existing weights only
            for h in range(Hn):
                for m in range(U):
                    if mask_h[h, m] != 0.0:
                        Wh[k, h, m] -= lr * gWh[h, m]
                        Wm[h, m] = Wh[k, h, m]
                    gWh[h, m] = 0.0
            for o in range(O):
                for m in range(Uo):
                    if mask_o[o, m] != 0.0:
                        Wo[k, o, m] -= lr * gWo[o, m]
                        Wom[o, m] = Wo[k, o, m]
                    gWo[o, m] = 0.0


def _call(nets: BpttNets, block: Block, n_seq: np.ndarray, lr: float, out_y: np.ndarray,
          train: bool) -> None:  # fmt: skip
    if nets.per_step:
        raise ValueError("the BPTT kernel updates once per sequence (per_step=False)")
    Wh, Wo = nets.Wh, nets.Wo
    mh, mo, idx, val, lengths, steps, n_seq, cfg = _prepare(  # type: ignore[assignment]
        Wh, Wo, nets.mask_h, nets.mask_o, block.idx, block.val, block.lengths,
        block.target_steps, n_seq, nets.cfg, out_y, train,
    )  # fmt: skip
    assert isinstance(cfg, KernelConfig)
    C = len(cfg.in_gate)
    forget = cfg.forget if len(cfg.forget) == C else np.full(C, -1, np.int64)
    tg = np.ascontiguousarray(block.targets, dtype=np.float64)
    if train and tg.shape != out_y.shape:
        raise ValueError(f"targets has shape {tg.shape}, expected {out_y.shape}")
    _run(Wh, Wo, mh, mo, idx, val, lengths, tg, steps, n_seq, Wh.dtype.type(lr),
         cfg.in_gate, cfg.out_gate, forget, cfg.cell, cfg.cells_per_block, cfg.g2, cfg.h1,
         cfg.output_fprime, nets.full, train, out_y)  # fmt: skip


def train_block(
    nets: BpttNets, block: Block, n_seq: np.ndarray, lr: float, out_y: np.ndarray
) -> None:
    """Train K nets on-line by BPTT, one update per sequence: the full gradient, or with
    ``nets.full = False`` the paper's truncated one (the only form here of a net with a forget
    gate under the truncated rule).

    Same arguments, checks and output contract as `workers.kernels.lstm1997.train_block`.
    """
    _call(nets, block, n_seq, lr, out_y, True)


def forward_block(nets: BpttNets, block: Block, n_seq: np.ndarray, out_y: np.ndarray) -> None:
    """Outputs at the error slots without learning; as `workers.kernels.lstm1997.forward_block`
    (this kernel's forward pass, so also for nets with a forget gate)."""
    _call(nets, block, n_seq, 0.0, out_y, False)
