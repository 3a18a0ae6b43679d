"""The stages of the 1997 kernel (`workers.kernels.lstm1997`), one per step of the paper's rule.

Each stage is inlined into the compiled loop (numba ``inline="always"``), so splitting the loop
costs nothing at run time. All work on one chunk of ``nl`` lanes, lane index innermost: every
``for k in range(nl)`` is a SIMD loop across nets. Equations: see the kernel's docstring; the
names follow the paper (net inputs ``net``, gate activations ``y_in``/``y_out``, CEC ``s``,
``g``/``h`` squashing, partials ``P_c``/``P_in`` of eqs. 25 and 27).

The state of a chunk is held in named tuples of lane arrays (all calloc'd, see `simd.zeros`):
`Net` the weights, `Fwd` the forward quantities of the current step, `Grad` the partials and the
gradient of the current sequence. `Cols` lists the existing weights (mask 1) of every row, so the
loops skip absent connections. `update` applies a gradient and can be called after any step
(`clear_gradient` then starts the next step's).

Size note: ~480 lines, over the usual ~400, because the forward step and the error-slot backprop
each carry both input modes (dense SIMD columns, sparse per-lane gathers) side by side; splitting
them across files would separate a stage's two variants.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np
from numba import njit

from workers.kernels.simd import logistic, sort_slots

Consts = namedtuple("Consts", "zero one two four lr")
"""Constants in the weights' precision (a float literal would promote float32 to float64)."""

Net = namedtuple("Net", "W Wv")
"""Lane weights: W (Hn, U, nl) over u; Wv (O, Uo, nl) over v. Absent weights are 0."""

Fwd = namedtuple("Fwd", "u v net act y_in y_out s g gp h hp net_o y xv")
"""Forward quantities, (units, nl): u = [x(t) | y_hidden(t-1) | 1], v = [y_c(t) | x(t) | 1],
net inputs and activations of the hidden units, gates (1 where absent), CEC s, g(net_c) and
g'(net_c), h(s) and h'(s), output net inputs and outputs; xv (T, A, nl) the chunk's input values."""

Grad = namedtuple("Grad", "gW gWv P_c P_in cc ci tg d_o ec ds d_out")
"""Learning quantities: the sequence's gradient (like Net), partials P_c, P_in (CS, U, nl), their
factors cc = g' y_in and ci = g f'(net_in) (CS, nl), targets and output deltas (O, nl), the
error e_jv reaching each cell (CS, nl), and one block's ds and d_out (nl,)."""

Cols = namedtuple("Cols", "h n_all_h n_loop_h hu n_hu fuse_p o n_all_o n_loop_o ou n_ou o_reads_x")
"""Existing weights per row: ``h[i, :n_all_h[i]]`` the columns of hidden row i, the SIMD-loop
columns first (``n_loop_h``; in sparse mode the input columns are gathered per lane and come
after); ``hu[:n_hu]`` the union over rows (net inputs); ``fuse_p[c]`` cell c and its input gate
read the same columns (one pass for P_c and P_in); the same for the output rows (``o``...),
``o_reads_x`` the outputs read the inputs (connectivity "B")."""

stage: Any = njit(inline="always", error_model="numpy", fastmath={"contract"})
"""Decorator of a stage: compiled into the caller (numba IR inlining), FMA contraction allowed."""


@njit(error_model="numpy")  # type: ignore[misc]
def columns(mask_h, mask_o, cfg, dense):  # type: ignore[no-untyped-def]
    """The `Cols` of a net's masks (setup; masked weights are stored as 0)."""
    Hn, U = mask_h.shape
    O, Uo = mask_o.shape
    I, S = cfg.n_inputs, cfg.cells_per_block
    CS = cfg.cell.shape[0]
    has_in = cfg.in_gate[0] >= 0
    first = 0 if dense else I
    h = np.empty((Hn, U), np.int64)
    n_all_h = np.zeros(Hn, np.int64)
    n_loop_h = np.zeros(Hn, np.int64)
    hu = np.empty(U, np.int64)
    n_hu = 0
    for m in range(first, U):
        used = False
        for i in range(Hn):
            if mask_h[i, m] != 0:
                h[i, n_all_h[i]] = m
                n_all_h[i] += 1
                used = True
        if used:
            hu[n_hu] = m
            n_hu += 1
    for i in range(Hn):
        n_loop_h[i] = n_all_h[i]
        for m in range(first):
            if mask_h[i, m] != 0:
                h[i, n_all_h[i]] = m
                n_all_h[i] += 1
    fuse_p = np.zeros(CS, np.bool_)
    for c in range(CS):
        rc, ri = cfg.cell[c], cfg.in_gate[c // S]
        if has_in and n_loop_h[rc] == n_loop_h[ri]:
            fuse_p[c] = True
            for jj in range(n_loop_h[rc]):
                fuse_p[c] = fuse_p[c] and h[rc, jj] == h[ri, jj]
    o = np.empty((O, Uo), np.int64)
    n_all_o = np.zeros(O, np.int64)
    n_loop_o = np.zeros(O, np.int64)
    ou = np.empty(Uo, np.int64)
    n_ou = 0
    o_reads_x = False
    for m in range(Uo):
        is_x = CS <= m < CS + I
        used = False
        for r in range(O):
            if mask_o[r, m] != 0:
                used = True
                if dense or not is_x:
                    o[r, n_all_o[r]] = m
                    n_all_o[r] += 1
        o_reads_x = o_reads_x or (used and is_x)
        if used and (dense or not is_x):
            ou[n_ou] = m
            n_ou += 1
    for r in range(O):
        n_loop_o[r] = n_all_o[r]
        if not dense:
            for m in range(CS, CS + I):
                if mask_o[r, m] != 0:
                    o[r, n_all_o[r]] = m
                    n_all_o[r] += 1
    return Cols(h, n_all_h, n_loop_h, hu, n_hu, fuse_p, o, n_all_o, n_loop_o, ou, n_ou, o_reads_x)


@stage
def load_chunk(lane, nl, n_seq, B, Wh, Wo, cols, net, xi, xv, num):  # type: ignore[no-untyped-def]
    """Copy the chunk's existing weights into lane-innermost arrays; return its sequence count."""
    net.W[:] = num.zero
    net.Wv[:] = num.zero
    xi[:] = 0
    xv[:] = num.zero
    nb = 0
    for kk in range(nl):
        kg = lane[kk]
        nb = max(nb, min(n_seq[kg], B))
        for i in range(Wh.shape[1]):
            for jj in range(cols.n_all_h[i]):
                m = cols.h[i, jj]
                net.W[i, m, kk] = Wh[kg, i, m]
        for r in range(Wo.shape[1]):
            for jj in range(cols.n_all_o[r]):
                m = cols.o[r, jj]
                net.Wv[r, m, kk] = Wo[kg, r, m]
    return nb


@stage
def store_chunk(lane, nl, Wh, Wo, cols, net):  # type: ignore[no-untyped-def]
    """Write the chunk's trained weights back (existing weights only)."""
    for kk in range(nl):
        kg = lane[kk]
        for i in range(Wh.shape[1]):
            for jj in range(cols.n_all_h[i]):
                m = cols.h[i, jj]
                Wh[kg, i, m] = net.W[i, m, kk]
        for r in range(Wo.shape[1]):
            for jj in range(cols.n_all_o[r]):
                m = cols.o[r, jj]
                Wo[kg, r, m] = net.Wv[r, m, kk]


@stage
def start_sequence(b, lane, nl, n_seq, lengths, target_steps, idx, val, out_y, on, ln, n_slot,
                   ptr, slot_t, slot_e, any_err, xi, I, Hn, train, fwd, grad, num):  # type: ignore[no-untyped-def]  # fmt: skip
    """Sequence b of every lane: which lanes run it, their sorted error slots, their inputs
    (lane innermost, padding steps as zero input), and a zero state (paper Sec. 5). Returns
    the chunk's step count, the longest of its lanes' sequences."""
    T, A = idx.shape[2], idx.shape[3]
    Tb = 0
    for kk in range(nl):
        on[kk] = b < n_seq[lane[kk]]
        ln[kk] = min(max(lengths[lane[kk], b], 0), T) if on[kk] else 0
        Tb = max(Tb, ln[kk])
    any_err[:Tb] = False
    for kk in range(nl):
        ptr[kk] = 0
        n_slot[kk] = 0
        if on[kk]:
            n_slot[kk] = sort_slots(kk, lane[kk], b, ln[kk], target_steps, out_y, slot_t,
                                    slot_e, any_err)  # fmt: skip
    for kk in range(nl):
        if on[kk]:
            kg = lane[kk]
            for t in range(Tb):
                for a in range(A):
                    if t < ln[kk]:
                        xi[t, a, kk] = idx[kg, b, t, a]
                        fwd.xv[t, a, kk] = val[kg, b, t, a]
                    else:
                        xi[t, a, kk] = 0
                        fwd.xv[t, a, kk] = num.zero
    for i in range(I, I + Hn):
        for k in range(nl):
            fwd.u[i, k] = num.zero
    fwd.s[:] = num.zero
    if train:
        grad.P_c[:] = num.zero
        grad.P_in[:] = num.zero
        grad.gW[:] = num.zero
        grad.gWv[:] = num.zero
    return Tb


@stage
def forward_step(t, nl, dense, cfg, cols, net, fwd, xi, num):  # type: ignore[no-untyped-def]
    """One time step forward: x(t) into u, net inputs, gates, CEC, cell and output units."""
    I, S = cfg.n_inputs, cfg.cells_per_block
    C, CS = cfg.in_gate.shape[0], cfg.cell.shape[0]
    Hn, A, O = fwd.net.shape[0], fwd.xv.shape[1], fwd.y.shape[0]
    has_in, has_out = cfg.in_gate[0] >= 0, cfg.out_gate[0] >= 0
    zero, one, two, four = num.zero, num.one, num.two, num.four
    W, Wv, u, v, xv = net.W, net.Wv, fwd.u, fwd.v, fwd.xv
    n_h, act = fwd.net, fwd.act  # net inputs and activations of the hidden units
    # Inputs x(t): dense mode scatters the (index, value) pairs into columns.
    if dense:
        for i in range(I):
            for k in range(nl):
                u[i, k] = zero
            for a in range(A):
                for k in range(nl):
                    u[i, k] += xv[t, a, k] if xi[t, a, k] == i else zero
    # Net inputs of all hidden units from u(t); column-major so that successive updates of one
    # row are independent.
    for i in range(Hn):
        for k in range(nl):
            n_h[i, k] = zero
    for jj in range(cols.n_hu):
        m = cols.hu[jj]
        for i in range(Hn):
            for k in range(nl):
                n_h[i, k] += W[i, m, k] * u[m, k]
    if not dense:
        for kk in range(nl):
            for a in range(A):
                m = xi[t, a, kk]
                x = xv[t, a, kk]
                for i in range(Hn):
                    n_h[i, kk] += W[i, m, kk] * x
    # Gates y_in = f(net_in), y_out = f(net_out).
    for j in range(C):
        if has_in:
            r = cfg.in_gate[j]
            for k in range(nl):
                f = logistic(n_h[r, k])
                act[r, k] = f
                fwd.y_in[j, k] = f
        if has_out:
            r = cfg.out_gate[j]
            for k in range(nl):
                f = logistic(n_h[r, k])
                act[r, k] = f
                fwd.y_out[j, k] = f
    # Cells: g(net_c), the CEC s += y_in g, y_c = y_out h(s).
    for c in range(CS):
        j = c // S
        r = cfg.cell[c]
        if cfg.g2:
            for k in range(nl):
                f = logistic(n_h[r, k])
                fwd.g[c, k] = four * f - two
                fwd.gp[c, k] = four * f * (one - f)
        else:
            for k in range(nl):
                f = logistic(n_h[r, k])
                fwd.g[c, k] = f
                fwd.gp[c, k] = f * (one - f)
        for k in range(nl):
            fwd.s[c, k] += fwd.y_in[j, k] * fwd.g[c, k]  # the CEC
        if cfg.h1:
            for k in range(nl):
                f = logistic(fwd.s[c, k])
                fwd.h[c, k] = two * f - one
                fwd.hp[c, k] = two * f * (one - f)
        else:
            for k in range(nl):
                fwd.h[c, k] = fwd.s[c, k]
        for k in range(nl):
            yc = fwd.y_out[j, k] * fwd.h[c, k]
            act[r, k] = yc
            v[c, k] = yc
    # Output units from v(t) = [y_c(t) | x(t) | 1].
    net_o = fwd.net_o
    if dense and cols.o_reads_x:
        for i in range(I):
            for k in range(nl):
                v[CS + i, k] = u[i, k]
    for r in range(O):
        for k in range(nl):
            net_o[r, k] = zero
    for jj in range(cols.n_ou):
        m = cols.ou[jj]
        for r in range(O):
            for k in range(nl):
                net_o[r, k] += Wv[r, m, k] * v[m, k]
    if not dense and cols.o_reads_x:
        for kk in range(nl):
            for a in range(A):
                m = CS + xi[t, a, kk]
                x = xv[t, a, kk]
                for r in range(O):
                    net_o[r, kk] += Wv[r, m, kk] * x
    for r in range(O):
        for k in range(nl):
            fwd.y[r, k] = logistic(net_o[r, k])


@stage
def accumulate_partials(t, nl, dense, cfg, cols, fwd, grad, xi, num):  # type: ignore[no-untyped-def]
    """Eqs. 25 and 27: P_c += g'(net_c) y_in u(t), P_in += g(net_c) f'(net_in) u(t)."""
    S, CS, A = cfg.cells_per_block, cfg.cell.shape[0], fwd.xv.shape[1]
    has_in = cfg.in_gate[0] >= 0
    u, xv, P_c, P_in, cc, ci = fwd.u, fwd.xv, grad.P_c, grad.P_in, grad.cc, grad.ci
    for c in range(CS):
        j = c // S
        for k in range(nl):
            yi = fwd.y_in[j, k]
            cc[c, k] = fwd.gp[c, k] * yi
            ci[c, k] = fwd.g[c, k] * yi * (num.one - yi)
        r = cfg.cell[c]
        if cols.fuse_p[c]:  # cell and input gate read the same columns: one pass
            for jj in range(cols.n_loop_h[r]):
                m = cols.h[r, jj]
                for k in range(nl):
                    um = u[m, k]
                    P_c[c, m, k] += cc[c, k] * um
                    P_in[c, m, k] += ci[c, k] * um
            continue
        for jj in range(cols.n_loop_h[r]):
            m = cols.h[r, jj]
            for k in range(nl):
                P_c[c, m, k] += cc[c, k] * u[m, k]
        if has_in:
            r = cfg.in_gate[j]
            for jj in range(cols.n_loop_h[r]):
                m = cols.h[r, jj]
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


@stage
def collect_slots(t, b, lane, nl, ptr, n_slot, slot_t, slot_e, em, y, tg, targets, out_y,
                  train):  # type: ignore[no-untyped-def]  # fmt: skip
    """Lanes with an error slot at step t (their next one): mark them in ``em``, record their
    outputs, load their targets. Returns how many lanes had one (0: the step's slots are done)."""
    n_err = 0
    for kk in range(nl):
        em[kk] = False
        if ptr[kk] < n_slot[kk] and slot_t[kk, ptr[kk]] == t:
            em[kk] = True
            n_err += 1
            kg = lane[kk]
            e = slot_e[kk, ptr[kk]]
            ptr[kk] += 1
            for r in range(y.shape[0]):
                out_y[kg, b, e, r] = y[r, kk]
                if train:
                    tg[r, kk] = targets[kg, b, e, r]
    return n_err


@stage
def backprop_slot(t, nl, dense, cfg, cols, net, fwd, grad, xi, em, num):  # type: ignore[no-untyped-def]
    """The error at a slot into the gradient: output deltas, one step back to the output gates,
    through the partials to the cells' and input gates' weights (lanes in ``em`` only)."""
    S, C, CS = cfg.cells_per_block, cfg.in_gate.shape[0], cfg.cell.shape[0]
    O, A = fwd.y.shape[0], fwd.xv.shape[1]
    has_in, has_out = cfg.in_gate[0] >= 0, cfg.out_gate[0] >= 0
    zero, one = num.zero, num.one
    u, v, xv, gW, gWv, d_o, ec = fwd.u, fwd.v, fwd.xv, grad.gW, grad.gWv, grad.d_o, grad.ec
    # Output units: d_k = (y_k - t_k) f'(net_k) (or y_k - t_k without f'); grad Wo[k] += d_k v.
    for r in range(O):
        if cfg.output_fprime:
            for k in range(nl):
                yk = fwd.y[r, k]
                d_o[r, k] = (yk - grad.tg[r, k]) * yk * (one - yk) if em[k] else zero
        else:
            for k in range(nl):
                d_o[r, k] = fwd.y[r, k] - grad.tg[r, k] if em[k] else zero
        for jj in range(cols.n_loop_o[r]):
            m = cols.o[r, jj]
            for k in range(nl):
                gWv[r, m, k] += d_o[r, k] * v[m, k]
    if not dense and cols.o_reads_x:
        for kk in range(nl):
            if em[kk]:
                for a in range(A):
                    m = CS + xi[t, a, kk]
                    x = xv[t, a, kk]
                    for r in range(O):
                        gWv[r, m, kk] += d_o[r, kk] * x
    # e_jv = sum_k Wo[k, jv] d_k: the error reaching each cell's output.
    for c in range(CS):
        for k in range(nl):
            ec[c, k] = zero
        for r in range(O):
            for k in range(nl):
                ec[c, k] += net.Wv[r, c, k] * d_o[r, k]
    for j in range(C):
        # Output gate: d_out = f'(net_out) sum_v e_jv h(s_jv); grad Wh[out] += d_out u.
        if has_out:
            r = cfg.out_gate[j]
            d_out = grad.d_out
            for k in range(nl):
                d_out[k] = zero
            for vv in range(S):
                c = j * S + vv
                for k in range(nl):
                    d_out[k] += ec[c, k] * fwd.h[c, k]
            for k in range(nl):
                d_out[k] *= fwd.y_out[j, k] * (one - fwd.y_out[j, k])
            for jj in range(cols.n_loop_h[r]):
                m = cols.h[r, jj]
                for k in range(nl):
                    gW[r, m, k] += d_out[k] * u[m, k]
            if not dense:
                for kk in range(nl):
                    if em[kk]:
                        for a in range(A):
                            m = xi[t, a, kk]
                            gW[r, m, kk] += d_out[kk] * xv[t, a, kk]
        # Cells and input gate: ds = e y_out h'(s); grad += ds P_c, ds P_in.
        for vv in range(S):
            c = j * S + vv
            ds = grad.ds
            for k in range(nl):
                ds[k] = ec[c, k] * fwd.y_out[j, k] * fwd.hp[c, k]
            r = cfg.cell[c]
            for jj in range(cols.n_all_h[r]):
                m = cols.h[r, jj]
                for k in range(nl):
                    gW[r, m, k] += ds[k] * grad.P_c[c, m, k]
            if has_in:
                r = cfg.in_gate[j]
                for jj in range(cols.n_all_h[r]):
                    m = cols.h[r, jj]
                    for k in range(nl):
                        gW[r, m, k] += ds[k] * grad.P_in[c, m, k]


@stage
def carry_hidden(nl, I, Hn, fwd):  # type: ignore[no-untyped-def]
    """y_hidden(t) becomes the recurrent input of step t + 1."""
    for i in range(Hn):
        for k in range(nl):
            fwd.u[I + i, k] = fwd.act[i, k]


@stage
def update(nl, on, cols, net, grad, num):  # type: ignore[no-untyped-def]
    """On-line SGD, ``W -= lr * grad`` on the existing weights of the lanes in ``on``."""
    W, Wv, gW, gWv, lr = net.W, net.Wv, grad.gW, grad.gWv, num.lr
    for i in range(W.shape[0]):
        for jj in range(cols.n_all_h[i]):
            m = cols.h[i, jj]
            for k in range(nl):
                W[i, m, k] = W[i, m, k] - lr * gW[i, m, k] if on[k] else W[i, m, k]
    for r in range(Wv.shape[0]):
        for jj in range(cols.n_all_o[r]):
            m = cols.o[r, jj]
            for k in range(nl):
                Wv[r, m, k] = Wv[r, m, k] - lr * gWv[r, m, k] if on[k] else Wv[r, m, k]


@stage
def clear_gradient(nl, cols, grad, num):  # type: ignore[no-untyped-def]
    """Zero the gradient of the existing weights after a per-step update."""
    gW, gWv = grad.gW, grad.gWv
    for i in range(gW.shape[0]):
        for jj in range(cols.n_all_h[i]):
            m = cols.h[i, jj]
            for k in range(nl):
                gW[i, m, k] = num.zero
    for r in range(gWv.shape[0]):
        for jj in range(cols.n_all_o[r]):
            m = cols.o[r, jj]
            for k in range(nl):
                gWv[r, m, k] = num.zero
