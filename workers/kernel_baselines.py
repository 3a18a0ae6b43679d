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

Speed: as `workers.kernel` (the 1997 net), the K nets run in chunks of ``LANES`` lanes with the lane
index innermost and contiguous in every internal array (``W_hh (G, H, LANES)``, stored states
``(T, G, LANES)`` ...), so every inner loop is a SIMD loop across nets. Three things make LLVM
actually emit SIMD code for those loops (each worth ~2-4x): every scratch array is its own malloc'd
buffer (LLVM then knows the arrays do not alias; numba's own arrays carry no such guarantee), the
SLP vectoriser (off in numba by default) is switched on while this kernel compiles (the loops have
the constant trip count LANES and get unrolled fully, which only SLP re-vectorises), and the
logistic function (and tanh(x) = 2 f(2x) - 1) is an inlined, branch-free polynomial exp, because
libm's exp does not vectorise. Multiply-adds may fuse (FMA). Lanes of a chunk run their b-th
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
    >>> train_block("gru", params, idx, val, lengths, np.ones((K, B, E, 1)), steps,
    ...             np.array([3, 0]), 0.5, out_y)
    >>> bool(params["b_o"][0, 0] > before[0, 0]), bool(params["b_o"][1, 0] == before[1, 0])
    (True, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba import carray, njit, types
from numba.core import cgutils
from numba.core import config as _numba_config
from numba.extending import intrinsic, overload

from models.baselines import GATE_BLOCKS, PARAM_NAMES

LANES = 16
"""Nets per SIMD chunk (a compile-time constant: one AVX-512 register of float32)."""

KIND_CODES: dict[str, int] = {"elman": 0, "gru": 1, "lstm_forget": 2}
"""The kernel's integer code of each baseline kind."""

INPUT_MODES = {"auto": 0, "dense": 1, "sparse": 2}
"""How inputs enter the SIMD loops: scattered into dense columns (small I) or gathered per lane."""

DENSE_MAX_PER_PAIR = 16
"""``inputs="auto"`` goes dense when ``I <= DENSE_MAX_PER_PAIR * A`` (A = active pairs per step)."""


# ----------------------------------------------------------------------------------------------
# Vectorisable logistic and tanh (the construction of `workers.kernel`). exp(x) = 2^n exp(r),
# |r| <= ln2/2, exp(r) by its Taylor polynomial (degree 13 in float64, 7 in float32), 2^n from bits.
# Branch-free (clamps by np.minimum/np.maximum, which keep NaN) and inlined at numba IR level:
# LLVM vectorises the lane loops only if no call is left in them.


def _bits_as_f64_typing(typingctx: Any, x: Any) -> Any:
    sig = types.float64(types.int64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return sig, codegen


_bits_as_f64: Any = intrinsic(_bits_as_f64_typing)


def _bits_as_f32_typing(typingctx: Any, x: Any) -> Any:
    sig = types.float32(types.int32)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], context.get_value_type(types.float32))

    return sig, codegen


_bits_as_f32: Any = intrinsic(_bits_as_f32_typing)


@njit(inline="always", error_model="numpy", fastmath={"contract"})  # type: ignore[misc]
def _logistic64(x: Any) -> Any:
    z = np.minimum(np.maximum(-x, -708.0), 708.0)  # NaN passes through and stays NaN
    nf = np.floor(z * 1.4426950408889634 + 0.5)
    r = (z - nf * 0.693145751953125) - nf * 1.4286068203094173e-06
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    n = np.fmax(nf, -1100.0)  # never convert NaN to an integer (its p is NaN anyway)
    return 1.0 / (1.0 + p * _bits_as_f64((np.int64(n) + 1023) << 52))


@njit(inline="always", error_model="numpy", fastmath={"contract"})  # type: ignore[misc]
def _tanh64(x: Any) -> Any:
    return 2.0 * _logistic64(2.0 * x) - 1.0


_F = np.float32
_C32 = (_F(1 / 5040), _F(1 / 720), _F(1 / 120), _F(1 / 24), _F(1 / 6), _F(0.5), _F(1.0))
_Q7, _Q6, _Q5, _Q4, _Q3, _Q2, _ONE32 = _C32
_LOG2E32, _HALF32, _TWO32, _NAN_N32 = _F(1.4426950408889634), _F(0.5), _F(2.0), _F(-200.0)
_LN2HI32, _LN2LO32 = _F(0.693359375), _F(-2.12194440e-4)
_HI32, _LO32 = _F(87.0), _F(-87.0)


@njit(inline="always", error_model="numpy", fastmath={"contract"})  # type: ignore[misc]
def _logistic32(x: Any) -> Any:
    z = np.minimum(np.maximum(-x, _LO32), _HI32)
    nf = np.floor(z * _LOG2E32 + _HALF32)
    r = (z - nf * _LN2HI32) - nf * _LN2LO32
    p = _Q7
    p = p * r + _Q6
    p = p * r + _Q5
    p = p * r + _Q4
    p = p * r + _Q3
    p = p * r + _Q2
    p = p * r + _ONE32
    p = p * r + _ONE32
    n = np.fmax(nf, _NAN_N32)
    return _ONE32 / (_ONE32 + p * _bits_as_f32((np.int32(n) + np.int32(127)) << np.int32(23)))


@njit(inline="always", error_model="numpy", fastmath={"contract"})  # type: ignore[misc]
def _tanh32(x: Any) -> Any:
    return _TWO32 * _logistic32(_TWO32 * x) - _ONE32


def _sig(x: float) -> float:
    """f(x) = 1 / (1 + exp(-x)) in the precision of x (numba only)."""
    raise NotImplementedError


def _th(x: float) -> float:
    """tanh(x) = 2 f(2x) - 1 in the precision of x (numba only)."""
    raise NotImplementedError


@overload(_sig, inline="always")
def _sig_overload(x):  # numba compares this signature with the implementations
    if isinstance(x, types.Float) and x.bitwidth == 32:
        return lambda x: _logistic32(x)
    return lambda x: _logistic64(x)


@overload(_th, inline="always")
def _th_overload(x):  # numba compares this signature with the implementations
    if isinstance(x, types.Float) and x.bitwidth == 32:
        return lambda x: _tanh32(x)
    return lambda x: _tanh64(x)


# ----------------------------------------------------------------------------------------------
# Scratch buffers straight from libc malloc. LLVM knows that a malloc'd buffer aliases no other
# memory, so loops storing into one can be vectorised (numba's own arrays get no such guarantee,
# and every SIMD loop over the lanes would stay scalar).


def _malloc_typing(typingctx: Any, n: Any, like: Any) -> Any:
    """Uninitialised buffer of ``n`` elements of ``like``'s dtype; free it with `_free`."""
    dt = like.dtype

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        ty = context.get_value_type(dt)
        fnty = ir.FunctionType(ir.IntType(8).as_pointer(), [ir.IntType(64)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "malloc")
        fn.return_value.add_attribute("noalias")
        size = context.get_constant(types.intp, context.get_abi_sizeof(ty))
        n = builder.add(args[0], context.get_constant(types.intp, 1))  # never malloc(0)
        raw = builder.call(fn, [builder.mul(n, size)])
        return builder.bitcast(raw, ty.as_pointer())

    return types.CPointer(dt)(types.intp, like), codegen


_malloc: Any = intrinsic(_malloc_typing)


def _free_typing(typingctx: Any, ptr: Any) -> Any:
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "free")
        builder.call(fn, [builder.bitcast(args[0], ir.IntType(8).as_pointer())])
        return context.get_dummy_value()

    return types.void(ptr), codegen


_free: Any = intrinsic(_free_typing)


# ----------------------------------------------------------------------------------------------
# The kernel: one compiled function for the three kinds (a branch per gate loop, outside the SIMD
# loops), one variant per weight dtype.


@njit(cache=True, error_model="numpy", fastmath={"contract"})  # type: ignore[misc]
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
    K, G, I = W_ih.shape
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

    # Lanes that run at all (n_seq > 0), packed into chunks.
    lanes = np.empty(K, np.int64)
    n_act = 0
    for k in range(K):
        if n_seq[k] > 0:
            lanes[n_act] = k
            n_act += 1

    # Every float scratch array lives in its own malloc'd buffer (freed at the end): LLVM knows
    # those alias nothing else, so it can vectorise the loops that store into them.
    Ti = max(T, 1)
    Id = I if dense else 1
    Ai = max(A, 1)
    p_Wi = _malloc(G * I * L, W_hh)
    p_Wh = _malloc(G * H * L, W_hh)
    p_bi = _malloc(G * L, W_hh)
    p_bh = _malloc(G * L, W_hh)
    p_Wo = _malloc(O * H * L, W_hh)
    p_bo = _malloc(O * L, W_hh)
    p_gWi = _malloc(G * Id * L, W_hh)
    p_gWh = _malloc(G * H * L, W_hh)
    p_gbi = _malloc(G * L, W_hh)
    p_gbh = _malloc(G * L, W_hh)
    p_gWo = _malloc(O * H * L, W_hh)
    p_gbo = _malloc(O * L, W_hh)
    p_xs = _malloc(Ti * Id * L, W_hh)
    p_hs = _malloc((Ti + 1) * H * L, W_hh)
    p_cs = _malloc((Ti + 1) * H * L, W_hh)
    p_gt = _malloc(Ti * G * L, W_hh)
    p_aux = _malloc(Ti * H * L, W_hh)
    p_dho = _malloc(Ti * H * L, W_hh)
    p_xp = _malloc(G * L, W_hh)
    p_hp = _malloc(G * L, W_hh)
    p_dxp = _malloc(G * L, W_hh)
    p_dhp = _malloc(G * L, W_hh)
    p_dh = _malloc(H * L, W_hh)
    p_dhr = _malloc(H * L, W_hh)
    p_dc = _malloc(H * L, W_hh)
    p_y = _malloc(O * L, W_hh)
    p_tg = _malloc(O * L, W_hh)
    p_dl = _malloc(O * L, W_hh)
    p_on = _malloc(L, W_hh)
    p_em = _malloc(L, W_hh)
    p_sv = _malloc(Ti * Ai * L, W_hh)
    Wi = carray(p_Wi, (G, I, L))  # weights of the chunk, lane innermost
    Wh = carray(p_Wh, (G, H, L))
    bi = carray(p_bi, (G, L))
    bh = carray(p_bh, (G, L))
    Wo = carray(p_Wo, (O, H, L))
    bo = carray(p_bo, (O, L))
    gWi = carray(p_gWi, (G, Id, L))  # gradient of the current sequence (W_ih: dense mode only)
    gWh = carray(p_gWh, (G, H, L))
    gbi = carray(p_gbi, (G, L))
    gbh = carray(p_gbh, (G, L))
    gWo = carray(p_gWo, (O, H, L))
    gbo = carray(p_gbo, (O, L))
    xs = carray(p_xs, (Ti, Id, L))  # dense inputs of every step
    hs = carray(p_hs, (Ti + 1, H, L))  # h(t - 1) at index t; h(-1) = 0
    cs = carray(p_cs, (Ti + 1, H, L))  # LSTM: c(t - 1) at index t
    gt = carray(p_gt, (Ti, G, L))  # gate activations (GRU r z n, LSTM i f g o)
    aux = carray(p_aux, (Ti, H, L))  # GRU: hp_n = W_hn h + b_hn; LSTM: tanh(c)
    dho = carray(p_dho, (Ti, H, L))  # dE/dh(t) through the output at step t
    xp = carray(p_xp, (G, L))
    hp = carray(p_hp, (G, L))
    dxp = carray(p_dxp, (G, L))
    dhp = carray(p_dhp, (G, L))
    dh = carray(p_dh, (H, L))
    dhr = carray(p_dhr, (H, L))  # dE/dh(t) through step t + 1
    dc = carray(p_dc, (H, L))  # LSTM: dE/dc(t) through step t + 1
    y = carray(p_y, (O, L))
    tg = carray(p_tg, (O, L))
    dl = carray(p_dl, (O, L))
    on = carray(p_on, L)  # 1: lane trains (or evaluates) its b-th sequence
    em = carray(p_em, L)  # 1: lane has an error slot now
    sval = carray(p_sv, (Ti, Ai, L))  # sparse mode: input values of the current sequence
    for a2 in (Wi, Wh, gWi, gWh, gWo, xs, hs, cs, gt, aux, dho, sval):
        a2[:] = zero
    for a1 in (bi, bh, bo, gbi, gbh, gbo, xp, hp, dxp, dhp, dh, dhr, dc, y, tg, dl):
        a1[:] = zero
    on[:] = zero
    em[:] = zero
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
                n_slot[kk] = 0
                ptr[kk] = 0
                if on[kk] == zero:
                    continue
                kg = lane[kk]
                for e in range(E):
                    st = target_steps[kg, b, e]
                    if st < 0 or st >= ln[kk]:
                        for o in range(O):
                            out_y[kg, b, e, o] = 0.0
                        continue
                    q = n_slot[kk]  # insertion sort, stable; O(E) for increasing steps
                    while q > 0 and slot_t[kk, q - 1] > st:
                        slot_t[kk, q] = slot_t[kk, q - 1]
                        slot_e[kk, q] = slot_e[kk, q - 1]
                        q -= 1
                    slot_t[kk, q] = st
                    slot_e[kk, q] = e
                    n_slot[kk] += 1
                    any_err[st] = True

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

    for p in (p_Wi, p_Wh, p_bi, p_bh, p_Wo, p_bo, p_gWi, p_gWh, p_gbi, p_gbh, p_gWo, p_gbo, p_xs,
              p_hs, p_cs, p_gt, p_aux, p_dho, p_xp, p_hp, p_dxp, p_dhp, p_dh, p_dhr, p_dc, p_y,
              p_tg, p_dl, p_on, p_em, p_sv):  # fmt: skip
        _free(p)


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
    if inputs not in INPUT_MODES:
        raise ValueError(f"inputs must be one of {sorted(INPUT_MODES)}, got {inputs!r}")
    W_ih, W_hh, b_ih, b_hh, W_o, b_o = weights
    dt = W_hh.dtype
    if dt not in (np.float32, np.float64):
        raise TypeError(f"weights must be float32 or float64, got {dt}")
    for name, a in (*zip(PARAM_NAMES, weights, strict=True), ("out_y", out_y)):
        if a.dtype != dt:
            raise TypeError(f"{name} must have the weights' dtype {dt}, got {a.dtype}")
        if not a.flags.c_contiguous or ((name == "out_y" or train) and not a.flags.writeable):
            raise ValueError(f"{name} must be C-contiguous (and writeable where written)")
    K, G, I = W_ih.shape
    H = W_hh.shape[2]
    O = W_o.shape[1]
    if W_ih.shape[1] != GATE_BLOCKS[kind] * H:
        raise ValueError(f"{kind}: W_ih has {G} rows, expected {GATE_BLOCKS[kind]} x H = {H}")
    B, T, A = idx.shape[1:]
    E = target_steps.shape[-1]
    expect = {
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
    for name, (got, want) in expect.items():
        if tuple(got) != want:
            raise ValueError(f"{name} has shape {tuple(got)}, expected {want}")
    if idx.size and (idx.min() < 0 or idx.max() >= I):
        raise ValueError(f"input indices must lie in [0, {I})")
    if lengths.size and lengths.max() > T:
        raise ValueError(f"lengths exceed the padded length T={T}")
    mode = INPUT_MODES[inputs]
    dense = mode == 1 or (mode == 0 and W_ih.shape[2] <= DENSE_MAX_PER_PAIR * max(A, 1))
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


def _train(
    kind: str,
    weights: tuple[np.ndarray, ...],
    idx: np.ndarray,
    val: np.ndarray,
    lengths: np.ndarray,
    targets: np.ndarray,
    target_steps: np.ndarray,
    n_seq: np.ndarray,
    lr: float,
    out_y: np.ndarray,
    inputs: str,
) -> None:
    idx, val, lengths, steps, n_seq, dense = _prepare(
        kind, weights, idx, val, lengths, target_steps, n_seq, out_y, inputs, True
    )
    tg = np.ascontiguousarray(targets, dtype=out_y.dtype)
    if tg.shape != out_y.shape:
        raise ValueError(f"targets has shape {tg.shape}, expected {out_y.shape}")
    code = KIND_CODES[kind]
    _call_run(code, *weights, idx, val, lengths, tg, steps, n_seq, float(lr), dense, True, out_y)


def _forward(
    kind: str,
    weights: tuple[np.ndarray, ...],
    idx: np.ndarray,
    val: np.ndarray,
    lengths: np.ndarray,
    target_steps: np.ndarray,
    n_seq: np.ndarray,
    out_y: np.ndarray,
    inputs: str,
) -> None:
    idx, val, lengths, steps, n_seq, dense = _prepare(
        kind, weights, idx, val, lengths, target_steps, n_seq, out_y, inputs, False
    )
    tg = np.zeros((1, 1, 1, 1), dtype=out_y.dtype)
    code = KIND_CODES[kind]
    _call_run(code, *weights, idx, val, lengths, tg, steps, n_seq, 0.0, dense, False, out_y)


_TRAIN_DOC = """Train K {name} nets on-line, one sequence per update, with full BPTT.

    Lane k trains on ``n_seq[k]`` of its B sequences, in order; ``n_seq[k] == 0`` freezes it (its
    weights and its ``out_y`` rows are not touched).

    Args:
        W_ih, W_hh, b_ih, b_hh, W_o, b_o: the K nets' parameters as in `models.baselines`
            ((K, G, I), (K, G, H), (K, G), (K, G), (K, O, H), (K, O); G = {blocks} H), all
            float32 or all float64, C-contiguous, updated in place.
        idx: (K, B, T, A) int: active input units per step (`SequenceBatch.idx` per lane).
        val: (K, B, T, A) float: their values (duplicate indices add up).
        lengths: (K, B) int: steps ``t >= lengths`` are padding.
        targets: (K, B, E, O) float: targets at the error slots.
        target_steps: (K, B, E) int: step of each error slot, -1 = unused (slots at or past the
            sequence's length are ignored as well).
        n_seq: (K,) int: sequences lane k trains on (a prefix of its B).
        lr: learning rate; ``W -= lr * dE/dW`` with ``E = 1/2 sum (y - target)^2`` over the used
            slots of one sequence, after that sequence.
        out_y: (K, B, E, O), weights' dtype: receives the outputs at the error slots from the
            forward pass of each trained sequence, before its update; 0 at unused slots; rows
            ``b >= n_seq[k]`` are not written.
        inputs: "auto", "dense" or "sparse" (a speed choice; results agree to rounding).
    """

_FORWARD_DOC = """Outputs of K {name} nets at the error slots, without learning.

    Same arrays as `train_block_{kind}` without ``targets`` and ``lr``; the weights are only
    read. ``out_y[k, b]`` is written for ``b < n_seq[k]`` (pass ``np.full(K, B)`` for all).
    """


def train_block_elman(
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
    out_y: np.ndarray,
    inputs: str = "auto",
) -> None:
    w = (W_ih, W_hh, b_ih, b_hh, W_o, b_o)
    _train("elman", w, idx, val, lengths, targets, target_steps, n_seq, lr, out_y, inputs)


def train_block_gru(
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
    out_y: np.ndarray,
    inputs: str = "auto",
) -> None:
    w = (W_ih, W_hh, b_ih, b_hh, W_o, b_o)
    _train("gru", w, idx, val, lengths, targets, target_steps, n_seq, lr, out_y, inputs)


def train_block_lstm_forget(
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
    out_y: np.ndarray,
    inputs: str = "auto",
) -> None:
    w = (W_ih, W_hh, b_ih, b_hh, W_o, b_o)
    _train("lstm_forget", w, idx, val, lengths, targets, target_steps, n_seq, lr, out_y, inputs)


def forward_block_elman(
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray,
    b_hh: np.ndarray,
    W_o: np.ndarray,
    b_o: np.ndarray,
    idx: np.ndarray,
    val: np.ndarray,
    lengths: np.ndarray,
    target_steps: np.ndarray,
    n_seq: np.ndarray,
    out_y: np.ndarray,
    inputs: str = "auto",
) -> None:
    w = (W_ih, W_hh, b_ih, b_hh, W_o, b_o)
    _forward("elman", w, idx, val, lengths, target_steps, n_seq, out_y, inputs)


def forward_block_gru(
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray,
    b_hh: np.ndarray,
    W_o: np.ndarray,
    b_o: np.ndarray,
    idx: np.ndarray,
    val: np.ndarray,
    lengths: np.ndarray,
    target_steps: np.ndarray,
    n_seq: np.ndarray,
    out_y: np.ndarray,
    inputs: str = "auto",
) -> None:
    w = (W_ih, W_hh, b_ih, b_hh, W_o, b_o)
    _forward("gru", w, idx, val, lengths, target_steps, n_seq, out_y, inputs)


def forward_block_lstm_forget(
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray,
    b_hh: np.ndarray,
    W_o: np.ndarray,
    b_o: np.ndarray,
    idx: np.ndarray,
    val: np.ndarray,
    lengths: np.ndarray,
    target_steps: np.ndarray,
    n_seq: np.ndarray,
    out_y: np.ndarray,
    inputs: str = "auto",
) -> None:
    w = (W_ih, W_hh, b_ih, b_hh, W_o, b_o)
    _forward("lstm_forget", w, idx, val, lengths, target_steps, n_seq, out_y, inputs)


_NAMES = {"elman": "Elman", "gru": "GRU", "lstm_forget": "LstmForget"}
for _kind, _train_fn in (
    ("elman", train_block_elman),
    ("gru", train_block_gru),
    ("lstm_forget", train_block_lstm_forget),
):
    _train_fn.__doc__ = _TRAIN_DOC.format(name=_NAMES[_kind], blocks=GATE_BLOCKS[_kind])
for _kind, _forward_fn in (
    ("elman", forward_block_elman),
    ("gru", forward_block_gru),
    ("lstm_forget", forward_block_lstm_forget),
):
    _forward_fn.__doc__ = _FORWARD_DOC.format(name=_NAMES[_kind], kind=_kind)


def _weights(params: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    missing = [n for n in PARAM_NAMES if n not in params]
    if missing:
        raise KeyError(f"params lacks {missing}")
    return tuple(params[n] for n in PARAM_NAMES)


def train_block(
    kind: str,
    params: dict[str, np.ndarray],
    idx: np.ndarray,
    val: np.ndarray,
    lengths: np.ndarray,
    targets: np.ndarray,
    target_steps: np.ndarray,
    n_seq: np.ndarray,
    lr: float,
    out_y: np.ndarray,
    inputs: str = "auto",
) -> None:
    """`train_block_<kind>` with the parameters as a dict (`models.baselines.PARAM_NAMES`, each
    ``(K, ...)``, all float32 or all float64, C-contiguous), updated in place."""
    w = _weights(params)
    _train(kind, w, idx, val, lengths, targets, target_steps, n_seq, lr, out_y, inputs)


def forward_block(
    kind: str,
    params: dict[str, np.ndarray],
    idx: np.ndarray,
    val: np.ndarray,
    lengths: np.ndarray,
    target_steps: np.ndarray,
    n_seq: np.ndarray,
    out_y: np.ndarray,
    inputs: str = "auto",
) -> None:
    """`forward_block_<kind>` with the parameters as a dict (only read)."""
    _forward(kind, _weights(params), idx, val, lengths, target_steps, n_seq, out_y, inputs)
