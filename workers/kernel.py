"""Compiled on-line SGD for K independent 1997 LSTM nets: the paper's truncated gradient on SIMD.

The readable reference is `models.lstm1997.Lstm1997` with ``gradient="truncated"``; this kernel
computes the same weights (to rounding) orders of magnitude faster. Weight layout: exactly
`models.layout.Lstm1997Layout` (hidden units block by block ``[in_j][out_j] c_j1 .. c_jS``;
``Wh (Hn, U)`` over ``u = [x(t) | y_hidden(t-1) | 1]``; ``Wo (O, Uo)`` over
``v = [y_c(t) | x(t) | 1]``).

Learning rule (paper Sec. 4 and App. A.1; truncated RTRL/BPTT hybrid). Every recurrent input
``u(t)`` is a constant for the gradient; error reaches the past only through the CEC ``s``. So the
partials of the cell states are accumulated forward in time (paper eqs. 25 and 27)::

    P_c[jv, m]  += g'(net_c_jv) y_in_j u_m(t)                 # ds_jv / dw_c_jv,m
    P_in[jv, m] += g(net_c_jv) f'(net_in_j) u_m(t)            # ds_jv / dw_in_j,m

and at every error slot (gradient of 1/2 SSE, one-step backprop for output units and output gates)::

    d_k        = (y_k - t_k) f'(net_k)                        ;  grad Wo[k, :]     += d_k v
    e_jv       = sum_k Wo[k, jv] d_k
    d_out_j    = f'(net_out_j) sum_v e_jv h(s_jv)             ;  grad Wh[out_j, :] += d_out_j u
    ds_jv      = e_jv y_out_j h'(s_jv)                        ;  grad Wh[c_jv, :]  += ds_jv P_c[jv]
                                                              ;  grad Wh[in_j, :]  += ds_jv P_in[jv]

The summed gradient of a sequence is applied at its end (on-line, one sequence per update):
``W -= lr * grad`` on the existing weights only (mask 1). Cost and memory per step do not depend on
the sequence length. No forget gate (the trainer uses torch for that variant).

Speed: the K nets run in chunks of up to ``LANES`` lanes, one net per lane, the lane index
innermost and contiguous in every internal array (``W (Hn, U, lanes)``, ``P_c (CS, U, lanes)``
...), so every inner loop is a SIMD loop across nets (frozen lanes, ``n_seq == 0``, are left out of
the chunks). Three things make LLVM emit that SIMD code: the lane loops have a run-time trip count
(numba leaves LLVM's SLP vectoriser off, so a constant count would be unrolled into scalar code),
the scratch arrays are calloc'd buffers that LLVM knows alias nothing, and the logistic function
uses an inlined polynomial ``exp`` (1 ulp in float64) because libm's ``exp`` does not vectorise.
Inputs arrive as sparse (index, value) pairs: with few input units (``I <= 8 A``) each step's pairs
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
    >>> train_block(Wh, Wo, lay.mask_h, lay.mask_o, idx, val, lengths, np.ones((K, B, E, 1)),
    ...             steps, np.array([3, 0]), 0.5, cfg, out_y)
    >>> float(out_y[0, 0, 0, 0]), bool(Wo[0, 0, -1] > 0), bool((Wo[1] == 0).all())
    (0.5, True, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba import carray, njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from models.layout import Lstm1997Layout

LANES = 64
"""Most nets per chunk (lanes run in lock step within a chunk, chunks one after another)."""


CFG_FIELDS = (
    "n_inputs",
    "n_hidden",
    "blocks",
    "cells_per_block",
    "has_input_gate",
    "has_output_gate",
    "g",
    "h",
    "inputs",
)
"""Meaning of the entries of the int64 ``cfg`` array made by :func:`kernel_config`."""

G_KINDS = {"g2": 0, "g1": 1}
"""Cell-input squashing codes: g2 = 4f - 2 in [-2, 2], g1 = f in [0, 1]."""
H_KINDS = {"h1": 0, "id": 1}
"""Cell-output squashing codes: h1 = 2f - 1 in [-1, 1], id = identity."""
INPUT_MODES = {"auto": 0, "dense": 1, "sparse": 2}
"""How inputs enter the SIMD loops: scattered into dense columns (small I) or gathered per lane."""

DENSE_MAX_PER_PAIR = 8
"""``inputs="auto"`` goes dense when ``I <= DENSE_MAX_PER_PAIR * A`` (A = active pairs per step)."""


def kernel_config(
    layout: Lstm1997Layout, g: str = "g2", h: str = "h1", inputs: str = "auto"
) -> np.ndarray:
    """The kernel's ``cfg`` (int64 array, fields `CFG_FIELDS`) for a layout and squashing pair.

    Args:
        layout: the net's units and connectivity; its masks are passed to the kernel separately.
        g: cell-input squashing, "g2" or "g1".
        h: cell-output squashing, "h1" or "id".
        inputs: "auto", "dense" or "sparse" (a speed choice; results agree to rounding).

    Raises:
        ValueError: for a forget gate (not in the 1997 cell; use the torch model) or unknown kinds.
    """
    if layout.forget_gate:
        raise ValueError("the compiled kernel has no forget gate; train that variant with torch")
    for name, kind, kinds in (
        ("g", g, G_KINDS),
        ("h", h, H_KINDS),
        ("inputs", inputs, INPUT_MODES),
    ):
        if kind not in kinds:
            raise ValueError(f"{name} must be one of {sorted(kinds)}, got {kind!r}")
    return np.array(
        [
            layout.n_inputs,
            layout.n_hidden,
            layout.blocks,
            layout.cells_per_block,
            int(layout.has_input_gate),
            int(layout.has_output_gate),
            G_KINDS[g],
            H_KINDS[h],
            INPUT_MODES[inputs],
        ],
        dtype=np.int64,
    )


# ----------------------------------------------------------------------------------------------
# A vectorisable logistic function. exp(x) = 2^n exp(r), |r| <= ln2/2, exp(r) by its Taylor
# polynomial (degree 13 in float64: < 1e-17 truncation; degree 7 in float32), 2^n built from bits.


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


@njit(error_model="numpy")  # type: ignore[misc]
def _logistic64(x: Any) -> Any:
    z = -x
    z = 708.0 if z > 708.0 else z  # NaN passes through both clamps and stays NaN
    z = -708.0 if z < -708.0 else z
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
    n = nf if nf == nf else 0.0  # never convert NaN to an integer
    return 1.0 / (1.0 + p * _bits_as_f64((np.int64(n) + 1023) << 52))


_F = np.float32
_C32 = (_F(1 / 5040), _F(1 / 720), _F(1 / 120), _F(1 / 24), _F(1 / 6), _F(0.5), _F(1.0))
_Q7, _Q6, _Q5, _Q4, _Q3, _Q2, _ONE32 = _C32
_LOG2E32, _HALF32, _ZERO32 = _F(1.4426950408889634), _F(0.5), _F(0.0)
_LN2HI32, _LN2LO32 = _F(0.693359375), _F(-2.12194440e-4)
_HI32, _LO32 = _F(87.0), _F(-87.0)


@njit(error_model="numpy")  # type: ignore[misc]
def _logistic32(x: Any) -> Any:
    z = -x
    z = _HI32 if z > _HI32 else z
    z = _LO32 if z < _LO32 else z
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
    n = nf if nf == nf else _ZERO32
    return _ONE32 / (_ONE32 + p * _bits_as_f32((np.int32(n) + np.int32(127)) << np.int32(23)))


def _logistic(x: float) -> float:
    """f(x) = 1 / (1 + exp(-x)) in the precision of x (numba only)."""
    raise NotImplementedError


@overload(_logistic)
def _logistic_overload(x):  # numba compares this signature with the implementations
    if isinstance(x, types.Float) and x.bitwidth == 32:
        return lambda x: _logistic32(x)
    return lambda x: _logistic64(x)


# ----------------------------------------------------------------------------------------------
# Scratch buffers straight from libc calloc, whose result LLVM knows to alias no other memory.


def _calloc_typing(typingctx: Any, n: Any, like: Any) -> Any:
    """Zeroed buffer of ``n`` elements of ``like``'s dtype; release it with `_free`."""
    dt = like.dtype

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        ty = context.get_value_type(dt)
        fnty = ir.FunctionType(ir.IntType(8).as_pointer(), [ir.IntType(64), ir.IntType(64)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "calloc")
        fn.return_value.add_attribute("noalias")
        size = context.get_constant(types.intp, context.get_abi_sizeof(ty))
        n = builder.add(args[0], context.get_constant(types.intp, 1))  # never calloc(0)
        return builder.bitcast(builder.call(fn, [n, size]), ty.as_pointer())

    return types.CPointer(dt)(types.intp, like), codegen


_calloc: Any = intrinsic(_calloc_typing)


def _free_typing(typingctx: Any, ptr: Any) -> Any:
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "free")
        builder.call(fn, [builder.bitcast(args[0], ir.IntType(8).as_pointer())])
        return context.get_dummy_value()

    return types.void(ptr), codegen


_free: Any = intrinsic(_free_typing)


# ----------------------------------------------------------------------------------------------
# The kernel. Every innermost loop runs over the nl lanes of a chunk, a run-time count: LLVM
# vectorises such loops (a constant trip count would be unrolled into scalar code, numba leaving
# the SLP vectoriser off). Multiply-adds may fuse (FMA).


@njit(cache=True, error_model="numpy", fastmath={"contract"})  # type: ignore[misc]
def _run(
    Wh: np.ndarray,
    Wo: np.ndarray,
    mask_h: np.ndarray,
    mask_o: np.ndarray,
    idx: np.ndarray,
    val: np.ndarray,
    lengths: np.ndarray,
    targets: np.ndarray,
    target_steps: np.ndarray,
    n_seq: np.ndarray,
    lr: float,
    cfg: np.ndarray,
    train: bool,
    out_y: np.ndarray,
) -> None:
    K, Hn, U = Wh.shape
    O, Uo = Wo.shape[1], Wo.shape[2]
    B, T, A = idx.shape[1], idx.shape[2], idx.shape[3]
    E = target_steps.shape[2]
    I, C, S = cfg[0], cfg[2], cfg[3]
    has_in, has_out = cfg[4] != 0, cfg[5] != 0
    g2, h1, dense = cfg[6] == 0, cfg[7] == 0, cfg[8] == 1
    CS = C * S
    per = S + cfg[4] + cfg[5]

    # Constants in the weights' precision (a float literal would promote float32 to float64).
    cst = np.empty(5, Wh.dtype)
    cst[0], cst[1], cst[2], cst[3], cst[4] = 0.0, 1.0, 2.0, 4.0, lr
    zero, one, two, four, lr_ = cst[0], cst[1], cst[2], cst[3], cst[4]

    # Hidden unit (row) of every gate and cell; -1 for absent gates.
    in_row = np.full(C, -1, np.int64)
    out_row = np.full(C, -1, np.int64)
    cell_row = np.empty(CS, np.int64)
    for j in range(C):
        if has_in:
            in_row[j] = j * per
        if has_out:
            out_row[j] = j * per + cfg[4]
        for vv in range(S):
            cell_row[j * S + vv] = j * per + cfg[4] + cfg[5] + vv

    # Existing weights (mask != 0) as column lists per row, the "loop" columns first (the SIMD
    # loops; in sparse mode the input columns are gathered per lane instead), then the rest.
    # Net inputs use the union of the rows' loop columns (masked weights are stored as 0).
    first = 0 if dense else I
    cols_h = np.empty((Hn, U), np.int64)
    n_all_h = np.zeros(Hn, np.int64)
    n_loop_h = np.zeros(Hn, np.int64)
    cols_hu = np.empty(U, np.int64)
    n_hu = 0
    for m in range(first, U):
        used = False
        for i in range(Hn):
            if mask_h[i, m] != 0:
                cols_h[i, n_all_h[i]] = m
                n_all_h[i] += 1
                used = True
        if used:
            cols_hu[n_hu] = m
            n_hu += 1
    for i in range(Hn):
        n_loop_h[i] = n_all_h[i]
        for m in range(first):
            if mask_h[i, m] != 0:
                cols_h[i, n_all_h[i]] = m
                n_all_h[i] += 1
    fuse_p = np.zeros(CS, np.bool_)
    for c in range(CS):
        rc, ri = cell_row[c], in_row[c // S]
        if has_in and n_loop_h[rc] == n_loop_h[ri]:
            fuse_p[c] = True
            for jj in range(n_loop_h[rc]):
                fuse_p[c] = fuse_p[c] and cols_h[rc, jj] == cols_h[ri, jj]
    cols_o = np.empty((O, Uo), np.int64)
    n_all_o = np.zeros(O, np.int64)
    n_loop_o = np.zeros(O, np.int64)
    cols_ou = np.empty(Uo, np.int64)
    n_ou = 0
    o_reads_x = False
    for m in range(Uo):
        is_x = CS <= m < CS + I
        used = False
        for o in range(O):
            if mask_o[o, m] != 0:
                used = True
                if dense or not is_x:
                    cols_o[o, n_all_o[o]] = m
                    n_all_o[o] += 1
        o_reads_x = o_reads_x or (used and is_x)
        if used and (dense or not is_x):
            cols_ou[n_ou] = m
            n_ou += 1
    for o in range(O):
        n_loop_o[o] = n_all_o[o]
        if not dense:
            for m in range(CS, CS + I):
                if mask_o[o, m] != 0:
                    cols_o[o, n_all_o[o]] = m
                    n_all_o[o] += 1

    # Lanes that run at all (n_seq > 0), packed into chunks of nk SIMD lanes.
    lanes = np.empty(K, np.int64)
    n_act = 0
    for k in range(K):
        if n_seq[k] > 0:
            lanes[n_act] = k
            n_act += 1
    nk = max(min(LANES, n_act), 1)

    # Every float scratch array is its own calloc'd buffer (freed at the end): LLVM then knows that
    # they alias nothing else and vectorises the lane loops without run-time overlap checks
    # (numba's own arrays carry no such guarantee: ~10-30% here).
    p_W = _calloc(Hn * U * nk, Wh)
    W = carray(p_W, (Hn, U, nk))  # masked weights, lane innermost
    p_Wv = _calloc(O * Uo * nk, Wh)
    Wv = carray(p_Wv, (O, Uo, nk))
    p_gW = _calloc(Hn * U * nk, Wh)
    gW = carray(p_gW, (Hn, U, nk))  # gradient of the current sequence
    p_gWv = _calloc(O * Uo * nk, Wh)
    gWv = carray(p_gWv, (O, Uo, nk))
    p_u = _calloc(U * nk, Wh)
    u = carray(p_u, (U, nk))  # [x(t) | y_hidden(t-1) | 1]
    p_v = _calloc(Uo * nk, Wh)
    v = carray(p_v, (Uo, nk))  # [y_c(t) | x(t) | 1]
    p_net = _calloc(Hn * nk, Wh)
    net = carray(p_net, (Hn, nk))
    p_act = _calloc(Hn * nk, Wh)
    act = carray(p_act, (Hn, nk))  # y_hidden(t): gate activations and cell outputs
    p_y_in = _calloc(C * nk, Wh)
    y_in = carray(p_y_in, (C, nk))  # 1 where the gate is absent
    y_in[:] = one
    p_y_out = _calloc(C * nk, Wh)
    y_out = carray(p_y_out, (C, nk))
    y_out[:] = one
    p_s = _calloc(CS * nk, Wh)
    s = carray(p_s, (CS, nk))
    p_z = _calloc(CS * nk, Wh)
    z = carray(p_z, (CS, nk))  # g(net_c)
    p_gz = _calloc(CS * nk, Wh)
    gz = carray(p_gz, (CS, nk))  # g'(net_c)
    p_hs = _calloc(CS * nk, Wh)
    hs = carray(p_hs, (CS, nk))  # h(s)
    p_hp = _calloc(CS * nk, Wh)
    hp = carray(p_hp, (CS, nk))  # h'(s)
    hp[:] = one
    p_cc = _calloc(CS * nk, Wh)
    cc = carray(p_cc, (CS, nk))  # g'(net_c) y_in
    p_ci = _calloc(CS * nk, Wh)
    ci = carray(p_ci, (CS, nk))  # g(net_c) f'(net_in)
    p_P_c = _calloc(CS * U * nk, Wh)
    P_c = carray(p_P_c, (CS, U, nk))  # ds/dw_c
    p_P_in = _calloc(CS * U * nk, Wh)
    P_in = carray(p_P_in, (CS, U, nk))  # ds/dw_in
    p_y = _calloc(O * nk, Wh)
    y = carray(p_y, (O, nk))
    p_tg = _calloc(O * nk, Wh)
    tg = carray(p_tg, (O, nk))
    p_dl = _calloc(O * nk, Wh)
    dl = carray(p_dl, (O, nk))
    p_ec = _calloc(CS * nk, Wh)
    ec = carray(p_ec, (CS, nk))
    p_dsv = _calloc(nk, Wh)
    dsv = carray(p_dsv, (nk,))
    p_dout = _calloc(nk, Wh)
    dout = carray(p_dout, (nk,))
    on = np.zeros(nk, np.bool_)  # lane trains (or evaluates) its b-th sequence
    em = np.zeros(nk, np.bool_)  # lane has an error slot now
    ln = np.zeros(nk, np.int64)
    n_slot = np.zeros(nk, np.int64)
    ptr = np.zeros(nk, np.int64)
    slot_t = np.zeros((nk, max(E, 1)), np.int64)  # used slots of each lane sorted by step
    slot_e = np.zeros((nk, max(E, 1)), np.int64)
    any_err = np.zeros(max(T, 1), np.bool_)
    xi = np.zeros((T, A, nk), np.int64)  # inputs of the chunk's current sequences, lane innermost
    p_xv = _calloc(T * A * nk, Wh)
    xv = carray(p_xv, (T, A, nk))
    for k in range(nk):
        u[U - 1, k] = one
        v[Uo - 1, k] = one

    for c0 in range(0, n_act, nk):
        nl = min(nk, n_act - c0)
        lane = lanes[c0 : c0 + nl]
        W[:] = zero
        Wv[:] = zero
        xi[:] = 0
        xv[:] = zero
        nb = 0
        for kk in range(nl):
            kg = lane[kk]
            nb = max(nb, min(n_seq[kg], B))
            for i in range(Hn):
                for jj in range(n_all_h[i]):
                    m = cols_h[i, jj]
                    W[i, m, kk] = Wh[kg, i, m]
            for o in range(O):
                for jj in range(n_all_o[o]):
                    m = cols_o[o, jj]
                    Wv[o, m, kk] = Wo[kg, o, m]

        for b in range(nb):
            # Which lanes run sequence b, how long, and their error slots sorted by step.
            Tb = 0
            for kk in range(nl):
                on[kk] = b < n_seq[lane[kk]]
                ln[kk] = min(max(lengths[lane[kk], b], 0), T) if on[kk] else 0
                Tb = max(Tb, ln[kk])
            any_err[:Tb] = False
            for kk in range(nl):
                n_slot[kk] = 0
                ptr[kk] = 0
                if not on[kk]:
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
            # The inputs, transposed to lane-innermost (padding steps read as zero input).
            for kk in range(nl):
                if on[kk]:
                    kg = lane[kk]
                    for t in range(Tb):
                        for a in range(A):
                            if t < ln[kk]:
                                xi[t, a, kk] = idx[kg, b, t, a]
                                xv[t, a, kk] = val[kg, b, t, a]
                            else:
                                xi[t, a, kk] = 0
                                xv[t, a, kk] = zero

            # All activations start at 0 for each sequence (paper Sec. 5).
            for i in range(I, I + Hn):
                for k in range(nl):
                    u[i, k] = zero
            s[:] = zero
            if train:
                P_c[:] = zero
                P_in[:] = zero
                gW[:] = zero
                gWv[:] = zero

            for t in range(Tb):
                # 1. Inputs x(t).
                if dense:
                    for i in range(I):
                        for k in range(nl):
                            u[i, k] = zero
                        for a in range(A):
                            for k in range(nl):
                                u[i, k] += xv[t, a, k] if xi[t, a, k] == i else zero
                # 2. Net inputs of all hidden units from u(t); column-major so that successive
                #    updates of one row are independent.
                for i in range(Hn):
                    for k in range(nl):
                        net[i, k] = zero
                for jj in range(n_hu):
                    m = cols_hu[jj]
                    for i in range(Hn):
                        for k in range(nl):
                            net[i, k] += W[i, m, k] * u[m, k]
                if not dense:
                    for kk in range(nl):
                        for a in range(A):
                            m = xi[t, a, kk]
                            x = xv[t, a, kk]
                            for i in range(Hn):
                                net[i, kk] += W[i, m, kk] * x
                # 3. Gates, CEC, cell outputs.
                for j in range(C):
                    if has_in:
                        r = in_row[j]
                        for k in range(nl):
                            f = _logistic(net[r, k])
                            act[r, k] = f
                            y_in[j, k] = f
                    if has_out:
                        r = out_row[j]
                        for k in range(nl):
                            f = _logistic(net[r, k])
                            act[r, k] = f
                            y_out[j, k] = f
                for c in range(CS):
                    j = c // S
                    r = cell_row[c]
                    if g2:
                        for k in range(nl):
                            f = _logistic(net[r, k])
                            z[c, k] = four * f - two
                            gz[c, k] = four * f * (one - f)
                    else:
                        for k in range(nl):
                            f = _logistic(net[r, k])
                            z[c, k] = f
                            gz[c, k] = f * (one - f)
                    for k in range(nl):
                        s[c, k] += y_in[j, k] * z[c, k]  # the CEC
                    if h1:
                        for k in range(nl):
                            f = _logistic(s[c, k])
                            hs[c, k] = two * f - one
                            hp[c, k] = two * f * (one - f)
                    else:
                        for k in range(nl):
                            hs[c, k] = s[c, k]
                    for k in range(nl):
                        yc = y_out[j, k] * hs[c, k]
                        act[r, k] = yc
                        v[c, k] = yc
                # 4. Forward accumulation of ds/dw (eqs. 25, 27) over the existing weights.
                if train:
                    for c in range(CS):
                        j = c // S
                        for k in range(nl):
                            yi = y_in[j, k]
                            cc[c, k] = gz[c, k] * yi
                            ci[c, k] = z[c, k] * yi * (one - yi)
                        r = cell_row[c]
                        if fuse_p[c]:  # cell and input gate read the same columns: one pass
                            for jj in range(n_loop_h[r]):
                                m = cols_h[r, jj]
                                for k in range(nl):
                                    um = u[m, k]
                                    P_c[c, m, k] += cc[c, k] * um
                                    P_in[c, m, k] += ci[c, k] * um
                            continue
                        for jj in range(n_loop_h[r]):
                            m = cols_h[r, jj]
                            for k in range(nl):
                                P_c[c, m, k] += cc[c, k] * u[m, k]
                        if has_in:
                            r = in_row[j]
                            for jj in range(n_loop_h[r]):
                                m = cols_h[r, jj]
                                for k in range(nl):
                                    P_in[c, m, k] += ci[c, k] * u[m, k]
                    if not dense:
                        for kk in range(nl):
                            for a in range(A):
                                m = xi[t, a, kk]
                                x = xv[t, a, kk]
                                for c in range(CS):
                                    P_c[c, m, kk] += cc[c, kk] * x
                                    if has_in:
                                        P_in[c, m, kk] += ci[c, kk] * x
                # 5. Output units from v(t) = [y_c(t) | x(t) | 1].
                if dense and o_reads_x:
                    for i in range(I):
                        for k in range(nl):
                            v[CS + i, k] = u[i, k]
                for o in range(O):
                    for k in range(nl):
                        dl[o, k] = zero
                for jj in range(n_ou):
                    m = cols_ou[jj]
                    for o in range(O):
                        for k in range(nl):
                            dl[o, k] += Wv[o, m, k] * v[m, k]
                if not dense and o_reads_x:
                    for kk in range(nl):
                        for a in range(A):
                            m = CS + xi[t, a, kk]
                            x = xv[t, a, kk]
                            for o in range(O):
                                dl[o, kk] += Wv[o, m, kk] * x
                for o in range(O):
                    for k in range(nl):
                        y[o, k] = _logistic(dl[o, k])
                # 6. Error slots at step t: record outputs, accumulate the gradient.
                while any_err[t]:
                    n_err = 0
                    for kk in range(nl):
                        em[kk] = False
                        if ptr[kk] < n_slot[kk] and slot_t[kk, ptr[kk]] == t:
                            em[kk] = True
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
                        for k in range(nl):
                            yk = y[o, k]
                            dl[o, k] = (yk - tg[o, k]) * yk * (one - yk) if em[k] else zero
                        for jj in range(n_loop_o[o]):
                            m = cols_o[o, jj]
                            for k in range(nl):
                                gWv[o, m, k] += dl[o, k] * v[m, k]
                    if not dense and o_reads_x:
                        for kk in range(nl):
                            if em[kk]:
                                for a in range(A):
                                    m = CS + xi[t, a, kk]
                                    x = xv[t, a, kk]
                                    for o in range(O):
                                        gWv[o, m, kk] += dl[o, kk] * x
                    for c in range(CS):
                        for k in range(nl):
                            ec[c, k] = zero
                        for o in range(O):
                            for k in range(nl):
                                ec[c, k] += Wv[o, c, k] * dl[o, k]
                    for j in range(C):
                        if has_out:
                            r = out_row[j]
                            for k in range(nl):
                                dout[k] = zero
                            for vv in range(S):
                                c = j * S + vv
                                for k in range(nl):
                                    dout[k] += ec[c, k] * hs[c, k]
                            for k in range(nl):
                                dout[k] *= y_out[j, k] * (one - y_out[j, k])
                            for jj in range(n_loop_h[r]):
                                m = cols_h[r, jj]
                                for k in range(nl):
                                    gW[r, m, k] += dout[k] * u[m, k]
                            if not dense:
                                for kk in range(nl):
                                    if em[kk]:
                                        for a in range(A):
                                            m = xi[t, a, kk]
                                            gW[r, m, kk] += dout[kk] * xv[t, a, kk]
                        for vv in range(S):
                            c = j * S + vv
                            for k in range(nl):
                                dsv[k] = ec[c, k] * y_out[j, k] * hp[c, k]
                            r = cell_row[c]
                            for jj in range(n_all_h[r]):
                                m = cols_h[r, jj]
                                for k in range(nl):
                                    gW[r, m, k] += dsv[k] * P_c[c, m, k]
                            if has_in:
                                r = in_row[j]
                                for jj in range(n_all_h[r]):
                                    m = cols_h[r, jj]
                                    for k in range(nl):
                                        gW[r, m, k] += dsv[k] * P_in[c, m, k]
                # 7. y_hidden(t) becomes the recurrent input of step t + 1.
                for i in range(Hn):
                    for k in range(nl):
                        u[I + i, k] = act[i, k]

            # On-line update at the end of the sequence, lanes that trained it only.
            if train:
                for i in range(Hn):
                    for jj in range(n_all_h[i]):
                        m = cols_h[i, jj]
                        for k in range(nl):
                            W[i, m, k] = W[i, m, k] - lr_ * gW[i, m, k] if on[k] else W[i, m, k]
                for o in range(O):
                    for jj in range(n_all_o[o]):
                        m = cols_o[o, jj]
                        for k in range(nl):
                            Wv[o, m, k] = Wv[o, m, k] - lr_ * gWv[o, m, k] if on[k] else Wv[o, m, k]

        if train:
            for kk in range(nl):
                kg = lane[kk]
                for i in range(Hn):
                    for jj in range(n_all_h[i]):
                        m = cols_h[i, jj]
                        Wh[kg, i, m] = W[i, m, kk]
                for o in range(O):
                    for jj in range(n_all_o[o]):
                        m = cols_o[o, jj]
                        Wo[kg, o, m] = Wv[o, m, kk]

    _free(p_W)
    _free(p_Wv)
    _free(p_gW)
    _free(p_gWv)
    _free(p_u)
    _free(p_v)
    _free(p_net)
    _free(p_act)
    _free(p_y_in)
    _free(p_y_out)
    _free(p_s)
    _free(p_z)
    _free(p_gz)
    _free(p_hs)
    _free(p_hp)
    _free(p_cc)
    _free(p_ci)
    _free(p_P_c)
    _free(p_P_in)
    _free(p_y)
    _free(p_tg)
    _free(p_dl)
    _free(p_ec)
    _free(p_dsv)
    _free(p_dout)
    _free(p_xv)


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
    cfg: np.ndarray,
    out_y: np.ndarray,
    train: bool,
) -> tuple[np.ndarray, ...]:
    if Wh.dtype not in (np.float32, np.float64) or Wo.dtype != Wh.dtype:
        raise TypeError(f"Wh and Wo must share float32 or float64, got {Wh.dtype}, {Wo.dtype}")
    if out_y.dtype != Wh.dtype:
        raise TypeError(f"out_y must have the weights' dtype {Wh.dtype}, got {out_y.dtype}")
    for name, a in (("Wh", Wh), ("Wo", Wo), ("out_y", out_y)):
        if not a.flags.c_contiguous or ((name == "out_y" or train) and not a.flags.writeable):
            raise ValueError(f"{name} must be C-contiguous (and writeable where written)")
    cfg = np.ascontiguousarray(cfg, dtype=np.int64)
    if cfg.shape != (len(CFG_FIELDS),):
        raise ValueError(f"cfg must be kernel_config(...) ({len(CFG_FIELDS)} ints)")
    I, Hn, C, S, has_in, has_out = (int(x) for x in cfg[:6])
    if Hn != C * (S + has_in + has_out):
        raise ValueError("cfg: n_hidden does not match blocks, cells and gates")
    K, B, T, A = idx.shape
    E = target_steps.shape[-1]
    O = Wo.shape[1]
    expect = {
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
    for name, (got, want) in expect.items():
        if tuple(got) != want:
            raise ValueError(f"{name} has shape {tuple(got)}, expected {want}")
    if idx.size and (idx.min() < 0 or idx.max() >= I):
        raise ValueError(f"input indices must lie in [0, {I})")
    if lengths.size and lengths.max() > T:
        raise ValueError(f"lengths exceed the padded length T={T}")
    for name, m in (("mask_h", mask_h), ("mask_o", mask_o)):
        if not np.all((m == 0) | (m == 1)):
            raise ValueError(f"{name} must be 0/1")
    if cfg[8] == INPUT_MODES["auto"]:
        cfg = cfg.copy()
        dense = I / max(A, 1) <= DENSE_MAX_PER_PAIR
        cfg[8] = INPUT_MODES["dense"] if dense else INPUT_MODES["sparse"]
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


def train_block(
    Wh: np.ndarray,
    Wo: np.ndarray,
    mask_h: np.ndarray,
    mask_o: np.ndarray,
    idx: np.ndarray,
    val: np.ndarray,
    lengths: np.ndarray,
    targets: np.ndarray,
    target_steps: np.ndarray,
    n_seq: np.ndarray,
    lr: float,
    cfg: np.ndarray,
    out_y: np.ndarray,
) -> None:
    """Train K nets on-line, one sequence per update, with the paper's truncated gradient.

    Lane k trains on ``n_seq[k]`` of its B sequences, in order; ``n_seq[k] == 0`` freezes it (its
    weights and its ``out_y`` rows are not touched).

    Args:
        Wh: (K, Hn, U) float32/float64 hidden weights, updated in place (C-contiguous).
        Wo: (K, O, Uo) output weights, same dtype, updated in place.
        mask_h: (Hn, U) 0/1 existing hidden weights (``layout.mask_h``); masked weights are read
            as 0 and never change.
        mask_o: (O, Uo) 0/1 existing output weights (``layout.mask_o``).
        idx: (K, B, T, A) int: active input units per step (`SequenceBatch.idx` per lane).
        val: (K, B, T, A) float: their values (duplicate indices add up).
        lengths: (K, B) int: steps ``t >= lengths`` are padding.
        targets: (K, B, E, O) float: targets at the error slots.
        target_steps: (K, B, E) int: step of each error slot, -1 = unused (slots at or past the
            sequence's length are ignored as well).
        n_seq: (K,) int: sequences lane k trains on (a prefix of its B).
        lr: learning rate; ``W -= lr * dE/dW`` with ``E = 1/2 sum (y - target)^2`` over the used
            slots of one sequence.
        cfg: `kernel_config(layout, g, h)`.
        out_y: (K, B, E, O), weights' dtype: receives the outputs at the error slots from the
            forward pass of each trained sequence, before that sequence's update; 0 at unused
            slots; rows ``b >= n_seq[k]`` are not written.

    The kernel reads idx/lengths/target_steps as int32 and val/targets as float64 (the dtypes of
    `SequenceBatch`: no copy); other dtypes are converted first. One compiled variant per weight
    dtype, cached on disk (numba ``cache=True``).
    """
    mh, mo, idx, val, lengths, steps, n_seq, cfg = _prepare(
        Wh, Wo, mask_h, mask_o, idx, val, lengths, target_steps, n_seq, cfg, out_y, True
    )
    tg = np.ascontiguousarray(targets, dtype=np.float64)
    if tg.shape != out_y.shape:
        raise ValueError(f"targets has shape {tg.shape}, expected {out_y.shape}")
    _run(Wh, Wo, mh, mo, idx, val, lengths, tg, steps, n_seq, float(lr), cfg, True, out_y)


def forward_block(
    Wh: np.ndarray,
    Wo: np.ndarray,
    mask_h: np.ndarray,
    mask_o: np.ndarray,
    idx: np.ndarray,
    val: np.ndarray,
    lengths: np.ndarray,
    target_steps: np.ndarray,
    n_seq: np.ndarray,
    cfg: np.ndarray,
    out_y: np.ndarray,
) -> None:
    """Outputs at the error slots without learning (test-set evaluation).

    Same arrays as :func:`train_block` without ``targets`` and ``lr``; the weights are only read.
    ``out_y[k, b]`` is written for ``b < n_seq[k]`` (pass ``np.full(K, B)`` for everything).
    """
    mh, mo, idx, val, lengths, steps, n_seq, cfg = _prepare(
        Wh, Wo, mask_h, mask_o, idx, val, lengths, target_steps, n_seq, cfg, out_y, False
    )
    tg = np.zeros((1, 1, 1, 1))
    _run(Wh, Wo, mh, mo, idx, val, lengths, tg, steps, n_seq, 0.0, cfg, False, out_y)
