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

Speed: as `workers.kernels.lstm1997` (the 1997 net), the K nets run in chunks of ``LANES`` lanes
with the lane index innermost and contiguous in every internal array (``W_hh (G, H, LANES)``,
stored states ``(T, G, LANES)`` ...), so every inner loop is a SIMD loop across nets. Three things
make LLVM actually emit SIMD code for those loops (each worth ~2-4x): every scratch array is its
own calloc'd buffer (`workers.kernels.simd.zeros`: LLVM then knows the arrays do not alias), the
SLP vectoriser (off in numba by default) is switched on while this kernel compiles (the loops have
the constant trip count LANES and get unrolled fully, which only SLP re-vectorises), and the
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

Size note: ~640 lines, over the usual ~400: the compiled loop `_run` is one function for the
three kinds (forward, backward, update inline). Splitting it into named stages like
`workers.kernels.lstm1997_stages` was tried and measured (numba 0.68.1): with the stages inlined at
numba IR level (``inline="always"``) their writes into the chunk's named tuples of lane arrays
were lost (no output was ever written); as plain compiled calls they gave bitwise the same weights
but ran 2.3-4.0x slower (Elman, GRU, forget-gate LSTM, K=16, T=100, both precisions), because
LLVM no longer knows that the lane arrays do not alias and stops vectorising. So the loop stays
whole until the inlining works.

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
from workers.kernels.simd import logistic_inlined as _sig
from workers.kernels.simd import tanh_inlined as _th

LANES = 16
"""Nets per SIMD chunk (a compile-time constant: one AVX-512 register of float32)."""

KIND_CODES: dict[str, int] = {"elman": 0, "gru": 1, "lstm_forget": 2}
"""The kernel's integer code of each baseline kind."""

DENSE_MAX_PER_PAIR = 16
"""``inputs="auto"`` goes dense when ``I <= DENSE_MAX_PER_PAIR * A`` (A = active pairs per step)."""


# ----------------------------------------------------------------------------------------------
# The kernel: one compiled function for the three kinds (a branch per gate loop, outside the SIMD
# loops), one variant per weight dtype.


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
    H2 = 2 * H
    H3 = 3 * H

    # Constants in the weights' precision (a float literal would promote float32 to float64).
    cst = np.empty(3, W_hh.dtype)
    cst[0], cst[1], cst[2] = 0.0, 1.0, lr
    zero, one, lr_ = cst[0], cst[1], cst[2]

    lanes, n_act = simd.active_lanes(n_seq)  # lanes that run at all, packed into chunks

    # Every float scratch array is its own calloc'd buffer (`simd.zeros`), freed at the end.
    Ti = max(T, 1)
    Id = I if dense else 1
    Ai = max(A, 1)
    z = simd.zeros
    Wi = z((G, I, L), W_hh)  # weights of the chunk, lane innermost
    Wh = z((G, H, L), W_hh)
    bi = z((G, L), W_hh)
    bh = z((G, L), W_hh)
    Wo = z((O, H, L), W_hh)
    bo = z((O, L), W_hh)
    gWi = z((G, Id, L), W_hh)  # gradient of the current sequence (W_ih: dense mode only)
    gWh = z((G, H, L), W_hh)
    gbi = z((G, L), W_hh)
    gbh = z((G, L), W_hh)
    gWo = z((O, H, L), W_hh)
    gbo = z((O, L), W_hh)
    xs = z((Ti, Id, L), W_hh)  # dense inputs of every step
    hs = z((Ti + 1, H, L), W_hh)  # h(t - 1) at index t; h(-1) = 0
    cs = z((Ti + 1, H, L), W_hh)  # LSTM: c(t - 1) at index t
    gt = z((Ti, G, L), W_hh)  # gate activations (GRU r z n, LSTM i f g o)
    aux = z((Ti, H, L), W_hh)  # GRU: hp_n = W_hn h + b_hn; LSTM: tanh(c)
    dho = z((Ti, H, L), W_hh)  # dE/dh(t) through the output at step t
    xp = z((G, L), W_hh)
    hp = z((G, L), W_hh)
    dxp = z((G, L), W_hh)
    dhp = z((G, L), W_hh)
    dh = z((H, L), W_hh)
    dhr = z((H, L), W_hh)  # dE/dh(t) through step t + 1
    dc = z((H, L), W_hh)  # LSTM: dE/dc(t) through step t + 1
    y = z((O, L), W_hh)
    tg = z((O, L), W_hh)
    dl = z((O, L), W_hh)
    on = z((L,), W_hh)  # 1: lane trains (or evaluates) its b-th sequence
    em = z((L,), W_hh)  # 1: lane has an error slot now
    sval = z((Ti, Ai, L), W_hh)  # sparse mode: input values of the current sequence
    ln = np.zeros(L, np.int64)
    n_slot = np.zeros(L, np.int64)
    ptr = np.zeros(L, np.int64)
    slot_t = np.zeros((L, max(E, 1)), np.int64)  # used slots of each lane sorted by step
    slot_e = np.zeros((L, max(E, 1)), np.int64)
    any_err = np.zeros(Ti, np.bool_)
    sidx = np.zeros((Ti, Ai, L), np.int64)  # sparse mode: inputs of the current sequence

    for c0 in range(0, n_act, L):
        nl = min(L, n_act - c0)
        lane = lanes[c0 : c0 + nl]
        Wi[:] = zero
        Wh[:] = zero
        bi[:] = zero
        bh[:] = zero
        Wo[:] = zero
        bo[:] = zero
        nb = 0
        for kk in range(nl):
            kg = lane[kk]
            nb = max(nb, min(n_seq[kg], B))
            for g in range(G):
                for m in range(I):
                    Wi[g, m, kk] = W_ih[kg, g, m]
                for j in range(H):
                    Wh[g, j, kk] = W_hh[kg, g, j]
                bi[g, kk] = b_ih[kg, g]
                bh[g, kk] = b_hh[kg, g]
            for o in range(O):
                for j in range(H):
                    Wo[o, j, kk] = W_o[kg, o, j]
                bo[o, kk] = b_o[kg, o]

        for b in range(nb):
            # Which lanes run sequence b, how long, and their error slots sorted by step.
            Tb = 0
            for kk in range(L):
                run = kk < nl and b < n_seq[lane[kk]]
                on[kk] = one if run else zero
                ln[kk] = min(max(lengths[lane[kk], b], 0), T) if run else 0
                Tb = max(Tb, ln[kk])
            any_err[:Tb] = False
            for kk in range(nl):
                ptr[kk] = 0
                n_slot[kk] = 0
                if on[kk] != zero:
                    n_slot[kk] = simd.sort_slots(
                        kk, lane[kk], b, ln[kk], target_steps, out_y, slot_t, slot_e, any_err
                    )

            # Inputs of sequence b, lane innermost; dense mode scatters them into columns.
            if dense:
                xs[:Tb] = zero
            else:
                sidx[:Tb] = 0
                sval[:Tb] = zero
            for kk in range(nl):
                if on[kk] == zero:
                    continue
                ib = idx[lane[kk], b]
                vb = val[lane[kk], b]
                if dense:
                    for t in range(ln[kk]):
                        for a in range(A):
                            xs[t, ib[t, a], kk] += vb[t, a]
                else:
                    for t in range(ln[kk]):
                        for a in range(A):
                            sidx[t, a, kk] = ib[t, a]
                            sval[t, a, kk] = vb[t, a]

            # The state starts at 0 for each sequence.
            hs[0, :, :] = zero
            cs[0, :, :] = zero
            if train:
                dho[:Tb] = zero
                gWh[:] = zero
                gbi[:] = zero
                gbh[:] = zero
                gWo[:] = zero
                gbo[:] = zero
                if dense:
                    gWi[:] = zero

            # ---------------------------------------------------------------- forward
            for t in range(Tb):
                # 1. Input side xp = W_ih x(t) + b_ih.
                if dense:
                    for g in range(G):
                        for k in range(L):
                            xp[g, k] = bi[g, k]
                        for m in range(I):
                            for k in range(L):
                                xp[g, k] += Wi[g, m, k] * xs[t, m, k]
                else:
                    for g in range(G):
                        for k in range(L):
                            xp[g, k] = bi[g, k]
                    for kk in range(nl):
                        for a in range(A):
                            m = sidx[t, a, kk]
                            x = sval[t, a, kk]
                            for g in range(G):
                                xp[g, kk] += Wi[g, m, kk] * x
                # 2. Hidden side hp = W_hh h(t - 1) + b_hh.
                for g in range(G):
                    for k in range(L):
                        hp[g, k] = bh[g, k]
                    for j in range(H):
                        for k in range(L):
                            hp[g, k] += Wh[g, j, k] * hs[t, j, k]
                # 3. Gates and state.
                if kind == 0:
                    for j in range(H):
                        for k in range(L):
                            hs[t + 1, j, k] = _th(xp[j, k] + hp[j, k])
                elif kind == 1:
                    # One nonlinearity per loop: LLVM vectorises such simple lane loops only.
                    for g in range(H2):
                        for k in range(L):
                            gt[t, g, k] = _sig(xp[g, k] + hp[g, k])  # r, z
                    for j in range(H):
                        for k in range(L):
                            hn = hp[H2 + j, k]
                            aux[t, j, k] = hn
                            gt[t, H2 + j, k] = _th(xp[H2 + j, k] + gt[t, j, k] * hn)  # n
                    for j in range(H):
                        for k in range(L):
                            z = gt[t, H + j, k]
                            hs[t + 1, j, k] = (one - z) * gt[t, H2 + j, k] + z * hs[t, j, k]
                else:
                    for g in range(G):
                        if H2 <= g < H3:
                            for k in range(L):
                                gt[t, g, k] = _th(xp[g, k] + hp[g, k])  # g
                        else:
                            for k in range(L):
                                gt[t, g, k] = _sig(xp[g, k] + hp[g, k])  # i, f, o
                    for j in range(H):
                        for k in range(L):
                            cs[t + 1, j, k] = (
                                gt[t, H + j, k] * cs[t, j, k] + gt[t, j, k] * gt[t, H2 + j, k]
                            )
                    for j in range(H):
                        for k in range(L):
                            tc = _th(cs[t + 1, j, k])
                            aux[t, j, k] = tc
                            hs[t + 1, j, k] = gt[t, H3 + j, k] * tc
                # 4. Error slots at step t: outputs, their error and its way into h(t).
                if not any_err[t]:
                    continue
                for o in range(O):
                    for k in range(L):
                        dl[o, k] = bo[o, k]
                    for j in range(H):
                        for k in range(L):
                            dl[o, k] += Wo[o, j, k] * hs[t + 1, j, k]
                    for k in range(L):
                        y[o, k] = _sig(dl[o, k])
                while True:
                    n_err = 0
                    for kk in range(L):
                        em[kk] = zero
                        if kk < nl and ptr[kk] < n_slot[kk] and slot_t[kk, ptr[kk]] == t:
                            em[kk] = one
                            n_err += 1
                            kg = lane[kk]
                            e = slot_e[kk, ptr[kk]]
                            ptr[kk] += 1
                            for o in range(O):
                                out_y[kg, b, e, o] = y[o, kk]
                                if train:
                                    tg[o, kk] = targets[kg, b, e, o]
                    if n_err == 0:
                        break
                    if not train:
                        continue
                    for o in range(O):
                        for k in range(L):
                            yk = y[o, k]
                            dl[o, k] = (yk - tg[o, k]) * yk * (one - yk) if em[k] != zero else zero
                            gbo[o, k] += dl[o, k]
                        for j in range(H):
                            for k in range(L):
                                gWo[o, j, k] += dl[o, k] * hs[t + 1, j, k]
                                dho[t, j, k] += Wo[o, j, k] * dl[o, k]

            if not train:
                continue

            # ---------------------------------------------------------------- backward
            dhr[:] = zero
            dc[:] = zero
            for t in range(Tb - 1, -1, -1):
                for j in range(H):
                    for k in range(L):
                        dh[j, k] = dhr[j, k] + dho[t, j, k]
                # 1. Gradients of the pre-activations, and the direct paths to step t - 1.
                if kind == 0:
                    for j in range(H):
                        for k in range(L):
                            h = hs[t + 1, j, k]
                            d = dh[j, k] * (one - h * h)
                            dxp[j, k] = d
                            dhp[j, k] = d
                            dhr[j, k] = zero
                elif kind == 1:
                    for j in range(H):
                        for k in range(L):
                            r = gt[t, j, k]
                            z = gt[t, H + j, k]
                            n = gt[t, H2 + j, k]
                            dhj = dh[j, k]
                            dan = dhj * (one - z) * (one - n * n)
                            dxp[H2 + j, k] = dan
                            dhp[H2 + j, k] = dan * r
                            dr = dan * aux[t, j, k] * r * (one - r)
                            dxp[j, k] = dr
                            dhp[j, k] = dr
                            dz = dhj * (hs[t, j, k] - n) * z * (one - z)
                            dxp[H + j, k] = dz
                            dhp[H + j, k] = dz
                            dhr[j, k] = dhj * z
                else:
                    for j in range(H):
                        for k in range(L):
                            gi = gt[t, j, k]
                            gf = gt[t, H + j, k]
                            gg = gt[t, H2 + j, k]
                            go = gt[t, H3 + j, k]
                            tc = aux[t, j, k]
                            dhj = dh[j, k]
                            dct = dc[j, k] + dhj * go * (one - tc * tc)
                            di = dct * gg * gi * (one - gi)
                            df = dct * cs[t, j, k] * gf * (one - gf)
                            dg = dct * gi * (one - gg * gg)
                            do = dhj * tc * go * (one - go)
                            dxp[j, k] = di
                            dhp[j, k] = di
                            dxp[H + j, k] = df
                            dhp[H + j, k] = df
                            dxp[H2 + j, k] = dg
                            dhp[H2 + j, k] = dg
                            dxp[H3 + j, k] = do
                            dhp[H3 + j, k] = do
                            dc[j, k] = dct * gf
                            dhr[j, k] = zero
                # 2. Weight gradients; dE/dh(t - 1) through W_hh.
                for g in range(G):
                    for k in range(L):
                        gbi[g, k] += dxp[g, k]
                        gbh[g, k] += dhp[g, k]
                    if t > 0:  # h(-1) = 0: no W_hh gradient, no earlier step
                        for j in range(H):
                            for k in range(L):
                                gWh[g, j, k] += dhp[g, k] * hs[t, j, k]
                                dhr[j, k] += Wh[g, j, k] * dhp[g, k]
                if dense:
                    for g in range(G):
                        for m in range(I):
                            for k in range(L):
                                gWi[g, m, k] += dxp[g, k] * xs[t, m, k]
                else:  # W_ih is not read backward: update it in place
                    for kk in range(nl):
                        if on[kk] != zero:
                            for a in range(A):
                                m = sidx[t, a, kk]
                                x = lr_ * sval[t, a, kk]
                                for g in range(G):
                                    Wi[g, m, kk] -= x * dxp[g, kk]

            # On-line update at the end of the sequence, lanes that trained it only.
            for g in range(G):
                if dense:
                    for m in range(I):
                        for k in range(L):
                            w = Wi[g, m, k]
                            Wi[g, m, k] = w - lr_ * gWi[g, m, k] if on[k] != zero else w
                for j in range(H):
                    for k in range(L):
                        w = Wh[g, j, k]
                        Wh[g, j, k] = w - lr_ * gWh[g, j, k] if on[k] != zero else w
                for k in range(L):
                    w = bi[g, k]
                    bi[g, k] = w - lr_ * gbi[g, k] if on[k] != zero else w
                    w = bh[g, k]
                    bh[g, k] = w - lr_ * gbh[g, k] if on[k] != zero else w
            for o in range(O):
                for j in range(H):
                    for k in range(L):
                        w = Wo[o, j, k]
                        Wo[o, j, k] = w - lr_ * gWo[o, j, k] if on[k] != zero else w
                for k in range(L):
                    w = bo[o, k]
                    bo[o, k] = w - lr_ * gbo[o, k] if on[k] != zero else w

        if train:
            for kk in range(nl):
                kg = lane[kk]
                for g in range(G):
                    for m in range(I):
                        W_ih[kg, g, m] = Wi[g, m, kk]
                    for j in range(H):
                        W_hh[kg, g, j] = Wh[g, j, kk]
                    b_ih[kg, g] = bi[g, kk]
                    b_hh[kg, g] = bh[g, kk]
                for o in range(O):
                    for j in range(H):
                        W_o[kg, o, j] = Wo[o, j, kk]
                    b_o[kg, o] = bo[o, kk]

    simd.release((Wi, Wh, bi, bh, Wo, bo, gWi, gWh, gbi, gbh, gWo, gbo, xs, hs, cs, gt, aux, dho,
                  xp, hp, dxp, dhp, dh, dhr, dc, y, tg, dl, on, em, sval))  # fmt: skip


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
