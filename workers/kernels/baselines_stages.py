"""The stages of the baselines' kernel (`workers.kernels.baselines`), one per step of full BPTT.

Each stage is compiled into the kernel's loop at numba's typed-IR level (a stub function with an
``@overload(inline="always")`` implementation, see :func:`stage`), so splitting the loop costs
nothing at run time. All work on one chunk of ``LANES`` lanes, lane index innermost: every
``for k in range(L)`` is a SIMD loop across nets with a constant trip count, which LLVM unrolls
fully and the SLP vectoriser turns into SIMD code. Equations: see the kernel's docstring (xp, hp
the input- and hidden-side pre-activations, dxp, dhp their gradients).

The state of a chunk is held in named tuples of lane arrays (all calloc'd, see `simd.zeros`):
`Net` the weights, `Seq` the current sequence's inputs and forward quantities, `Bwd` the backward
pass's carried gradients, `Grad` the sequence's weight gradient (like `Net`); `Slots` (numba's own
arrays) says which lanes run the sequence and where their error slots are.

Stores into those arrays survive only through one extra rule of numba's alias analysis that
importing this module registers (`_tuple_field_aliases`): after inlining overloads, numba 0.68.1
runs dead-code elimination over the kernel, which drops a store into an array that is neither
live afterwards nor a known alias of a live variable, and it did not count ``seq.xs`` (a field
taken by attribute or by unpacking) as an alias of ``seq``. Without the rule the stores through
fields fetched inside a loop vanished (`load_inputs` wrote no input, the state was not cleared
between sequences); most likely the "lost stores" of an earlier attempt with
``njit(inline="always")`` stages had the same cause. The rule only makes that pass keep more.

The backward stages are in `workers.kernels.baselines_bptt`.
"""

from __future__ import annotations

import functools
from collections import namedtuple
from typing import Any

from numba import types
from numba.core import ir, ir_utils
from numba.extending import overload

from workers.kernels.simd import logistic_inlined as _sig
from workers.kernels.simd import sort_slots
from workers.kernels.simd import tanh_inlined as _th

LANES = 16
"""Nets per SIMD chunk (a compile-time constant: one AVX-512 register of float32)."""

Consts = namedtuple("Consts", "zero one lr")
"""Constants in the weights' precision (a float literal would promote float32 to float64)."""

Net = namedtuple("Net", "Wi Wh bi bh Wo bo")
"""The chunk's weights, lane innermost: W_ih (G, I, L), W_hh (G, H, L), b_ih, b_hh (G, L),
W_o (O, H, L), b_o (O, L)."""

Grad = namedtuple("Grad", "gWi gWh gbi gbh gWo gbo")
"""The gradient of the current sequence, like `Net` (gWi (G, 1, L) in sparse mode: W_ih is updated
in place there)."""

Seq = namedtuple("Seq", "xs sval hs cs gt aux dho xp hp y tg dl on em")
"""The current sequence: dense inputs xs (T, I, L) or sparse input values sval (T, A, L); per step
h(t - 1) and (LSTM) c(t - 1) at index t of hs, cs (T + 1, H, L); gate activations gt (T, G, L)
(GRU r z n, LSTM i f g o); aux (T, H, L) (GRU hp_n, LSTM tanh(c)); dho (T, H, L) dE/dh(t) through
the output at step t; xp, hp (G, L) the step's pre-activations; outputs y, targets tg and output
net inputs / deltas dl (O, L); on (L,) 1 where the lane runs the sequence, em (L,) 1 where it has
an error slot now."""

Bwd = namedtuple("Bwd", "dxp dhp dh dhr dc")
"""Backward pass: dxp, dhp (G, L) the step's pre-activation gradients, dh (H, L) dE/dh(t), dhr
(H, L) dE/dh(t) through step t + 1, dc (H, L) (LSTM) dE/dc(t) through step t + 1."""

Slots = namedtuple("Slots", "ln n_slot ptr slot_t slot_e any_err sidx")
"""Per lane: sequence length, used error slots sorted by step (slot_t, slot_e (L, E)), the next
one (ptr); any_err (T,) some lane has a slot at step t; sidx (T, A, L) sparse input indices."""

_JIT: Any = {"error_model": "numpy", "fastmath": {"contract"}}


def _tuple_field_aliases(instr: Any, args: Any, typemap: Any, func_ir: Any, alias_map: Any,
                         arg_aliases: Any) -> None:  # fmt: skip
    """numba alias analysis, one rule more: an array taken from a tuple (``seq.hs``, or by
    unpacking) aliases the tuple, as ``tup[i]`` already does (see the module docstring)."""
    if _OTHER_ASSIGN_RULE is not None:
        _OTHER_ASSIGN_RULE(instr, args, typemap, func_ir, alias_map, arg_aliases)
    value = instr.value
    if (
        typemap is not None
        and isinstance(value, ir.Expr)
        and value.op in ("getattr", "exhaust_iter")
        and isinstance(typemap.get(value.value.name), types.BaseTuple)
        and not ir_utils.is_immutable_type(instr.target.name, typemap)
    ):
        ir_utils._add_alias(instr.target.name, value.value.name, alias_map, arg_aliases)


_OTHER_ASSIGN_RULE: Any = ir_utils.alias_analysis_extensions.get(ir.Assign)
if getattr(_OTHER_ASSIGN_RULE, "__name__", "") == _tuple_field_aliases.__name__:
    _OTHER_ASSIGN_RULE = None  # this module imported again: do not chain the rule to itself
ir_utils.alias_analysis_extensions[ir.Assign] = _tuple_field_aliases


def stage(impl: Any) -> Any:
    """A stage: a stub whose numba implementation is ``impl``, inlined at typed-IR level.

    Typed-IR inlining (``overload(..., inline="always")``) is the pass that also inlines the
    squashing functions (`simd.logistic_inlined`) the stages call; plain compiled calls instead
    run 2-4x slower (LLVM loses the lane arrays' no-alias knowledge). Call a stage with
    positional arguments only; from Python it raises.
    """

    def stub(*args: Any) -> Any:
        raise NotImplementedError(f"{impl.__name__} runs inside the compiled kernel only")

    functools.update_wrapper(stub, impl)
    overload(stub, inline="always", strict=False, jit_options=_JIT)(lambda *args: impl)
    return stub


# ----------------------------------------------------------------------------------------------
# Chunk and sequence set-up.


@stage
def load_chunk(lane, nl, n_seq, B, W_ih, W_hh, b_ih, b_hh, W_o, b_o, net,
               num):  # type: ignore[no-untyped-def]  # fmt: skip
    """Copy the chunk's weights into lane-innermost arrays (0 in unused lanes); return its
    sequence count, the most of its lanes'."""
    G, I, H, O = W_ih.shape[1], W_ih.shape[2], W_hh.shape[2], W_o.shape[1]
    Wi, Wh, bi, bh, Wo, bo = net
    zero = num.zero
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
    return nb


@stage
def store_chunk(lane, nl, W_ih, W_hh, b_ih, b_hh, W_o, b_o, net):  # type: ignore[no-untyped-def]
    """Write the chunk's trained weights back."""
    G, I, H, O = W_ih.shape[1], W_ih.shape[2], W_hh.shape[2], W_o.shape[1]
    Wi, Wh, bi, bh, Wo, bo = net
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


@stage
def start_sequence(b, lane, nl, T, n_seq, lengths, target_steps, out_y, seq, sl,
                   num):  # type: ignore[no-untyped-def]  # fmt: skip
    """Which lanes run sequence b (``on``), how long, and their error slots sorted by step.
    Returns the chunk's step count, the longest of its lanes' sequences."""
    L = LANES
    on, ln, n_slot, ptr = seq.on, sl.ln, sl.n_slot, sl.ptr
    slot_t, slot_e, any_err = sl.slot_t, sl.slot_e, sl.any_err
    zero, one = num.zero, num.one
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
            n_slot[kk] = sort_slots(kk, lane[kk], b, ln[kk], target_steps, out_y, slot_t, slot_e,
                                    any_err)  # fmt: skip
    return Tb


@stage
def load_inputs(b, lane, nl, Tb, idx, val, dense, seq, sl, num):  # type: ignore[no-untyped-def]
    """The inputs of sequence b, lane innermost; dense mode scatters the (index, value) pairs
    into columns (duplicates add up), sparse mode keeps them per lane."""
    A = idx.shape[3]
    zero = num.zero
    xs, sval, on, sidx, ln = seq.xs, seq.sval, seq.on, sl.sidx, sl.ln
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


@stage
def clear_sequence(Tb, dense, train, seq, grad, num):  # type: ignore[no-untyped-def]
    """A zero state h(-1) = c(-1) = 0, and (training) a zero gradient for the sequence."""
    zero = num.zero
    seq.hs[0, :, :] = zero
    seq.cs[0, :, :] = zero
    if train:
        seq.dho[:Tb] = zero
        grad.gWh[:] = zero
        grad.gbi[:] = zero
        grad.gbh[:] = zero
        grad.gWo[:] = zero
        grad.gbo[:] = zero
        if dense:
            grad.gWi[:] = zero


# ----------------------------------------------------------------------------------------------
# Forward step t: pre-activations, then the gates and state of one kind.


@stage
def input_side(t, nl, A, dense, net, seq, sl):  # type: ignore[no-untyped-def]
    """xp = W_ih x(t) + b_ih (dense: SIMD columns; sparse: each lane gathers its A columns)."""
    L = LANES
    G, I = net.Wi.shape[0], net.Wi.shape[1]
    Wi, bi, xs, xp, sval, sidx = net.Wi, net.bi, seq.xs, seq.xp, seq.sval, sl.sidx
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


@stage
def hidden_side(t, net, seq):  # type: ignore[no-untyped-def]
    """hp = W_hh h(t - 1) + b_hh."""
    L = LANES
    G, H = net.Wh.shape[0], net.Wh.shape[1]
    Wh, bh, hs, hp = net.Wh, net.bh, seq.hs, seq.hp
    for g in range(G):
        for k in range(L):
            hp[g, k] = bh[g, k]
        for j in range(H):
            for k in range(L):
                hp[g, k] += Wh[g, j, k] * hs[t, j, k]


@stage
def elman_step(t, seq):  # type: ignore[no-untyped-def]
    """Elman: h = tanh(xp + hp)."""
    L = LANES
    H = seq.hs.shape[1]
    xp, hp, hs = seq.xp, seq.hp, seq.hs
    for j in range(H):
        for k in range(L):
            hs[t + 1, j, k] = _th(xp[j, k] + hp[j, k])


@stage
def gru_step(t, seq, num):  # type: ignore[no-untyped-def]
    """GRU: r, z = f(xp + hp), n = tanh(xp_n + r hp_n), h = (1 - z) n + z h(t - 1)."""
    L = LANES
    H = seq.hs.shape[1]
    H2 = 2 * H
    xp, hp, hs, gt, aux = seq.xp, seq.hp, seq.hs, seq.gt, seq.aux
    one = num.one
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


@stage
def lstm_step(t, seq):  # type: ignore[no-untyped-def]
    """LstmForget: i, f, o = f(xp + hp), g = tanh(xp_g + hp_g), c = f c(t - 1) + i g,
    h = o tanh(c)."""
    L = LANES
    H = seq.hs.shape[1]
    H2, H3, G = 2 * H, 3 * H, 4 * H
    xp, hp, hs, cs, gt, aux = seq.xp, seq.hp, seq.hs, seq.cs, seq.gt, seq.aux
    for g in range(G):
        if H2 <= g < H3:
            for k in range(L):
                gt[t, g, k] = _th(xp[g, k] + hp[g, k])  # g
        else:
            for k in range(L):
                gt[t, g, k] = _sig(xp[g, k] + hp[g, k])  # i, f, o
    for j in range(H):
        for k in range(L):
            cs[t + 1, j, k] = gt[t, H + j, k] * cs[t, j, k] + gt[t, j, k] * gt[t, H2 + j, k]
    for j in range(H):
        for k in range(L):
            tc = _th(cs[t + 1, j, k])
            aux[t, j, k] = tc
            hs[t + 1, j, k] = gt[t, H3 + j, k] * tc


# ----------------------------------------------------------------------------------------------
# Error slots at step t: outputs, their error and its way into h(t).


@stage
def outputs(t, net, seq):  # type: ignore[no-untyped-def]
    """y = f(W_o h(t) + b_o) (net inputs in ``dl``)."""
    L = LANES
    O, H = net.Wo.shape[0], net.Wo.shape[1]
    Wo, bo, hs, dl, y = net.Wo, net.bo, seq.hs, seq.dl, seq.y
    for o in range(O):
        for k in range(L):
            dl[o, k] = bo[o, k]
        for j in range(H):
            for k in range(L):
                dl[o, k] += Wo[o, j, k] * hs[t + 1, j, k]
        for k in range(L):
            y[o, k] = _sig(dl[o, k])


@stage
def collect_slots(t, b, lane, nl, targets, out_y, train, seq,
                  sl, num):  # type: ignore[no-untyped-def]  # fmt: skip
    """Lanes with an error slot at step t (their next one): mark them in ``em``, record their
    outputs, load their targets. Returns how many lanes had one (0: the step's slots are done)."""
    L, O = LANES, seq.y.shape[0]
    em, y, tg = seq.em, seq.y, seq.tg
    ptr, n_slot, slot_t, slot_e = sl.ptr, sl.n_slot, sl.slot_t, sl.slot_e
    zero, one = num.zero, num.one
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
    return n_err


@stage
def output_delta(t, net, seq, grad, num):  # type: ignore[no-untyped-def]
    """d = (y - target) y (1 - y) (lanes in ``em``): the gradient of W_o and b_o, and
    dh_out(t) += W_o^T d."""
    L = LANES
    O, H = net.Wo.shape[0], net.Wo.shape[1]
    Wo, hs, y, tg, dl, em, dho = net.Wo, seq.hs, seq.y, seq.tg, seq.dl, seq.em, seq.dho
    gWo, gbo = grad.gWo, grad.gbo
    zero, one = num.zero, num.one
    for o in range(O):
        for k in range(L):
            yk = y[o, k]
            dl[o, k] = (yk - tg[o, k]) * yk * (one - yk) if em[k] != zero else zero
            gbo[o, k] += dl[o, k]
        for j in range(H):
            for k in range(L):
                gWo[o, j, k] += dl[o, k] * hs[t + 1, j, k]
                dho[t, j, k] += Wo[o, j, k] * dl[o, k]
