"""The backward stages of the baselines' kernel (`workers.kernels.baselines`): BPTT through one
step per kind, the weight gradients, and the on-line update at the end of a sequence.

Stages, named tuples and conventions as in `workers.kernels.baselines_stages` (the set-up, forward
and error-slot stages): lane index innermost, ``for k in range(L)`` a fully unrolled SIMD loop
across the chunk's ``LANES`` nets. Per step t, in reverse: ``dh = dhr + dho[t]`` (through step
t + 1 and through the output at t), the kind's gradients ``dxp``, ``dhp`` of the pre-activations
(and its direct paths to step t - 1), then `weight_gradients` and ``dhr = W_hh^T dhp``.
"""

from __future__ import annotations

from workers.kernels.baselines_stages import LANES, stage


@stage
def clear_backward(bwd, num):  # type: ignore[no-untyped-def]
    """Nothing flows back into the last step."""
    bwd.dhr[:] = num.zero
    bwd.dc[:] = num.zero


@stage
def elman_back(t, seq, bwd, num):  # type: ignore[no-untyped-def]
    """Elman: dxp = dhp = dh (1 - h^2)."""
    L = LANES
    H = seq.hs.shape[1]
    hs, dho, dh, dxp, dhp, dhr = seq.hs, seq.dho, bwd.dh, bwd.dxp, bwd.dhp, bwd.dhr
    zero, one = num.zero, num.one
    for j in range(H):
        for k in range(L):
            dh[j, k] = dhr[j, k] + dho[t, j, k]
    for j in range(H):
        for k in range(L):
            h = hs[t + 1, j, k]
            d = dh[j, k] * (one - h * h)
            dxp[j, k] = d
            dhp[j, k] = d
            dhr[j, k] = zero


@stage
def gru_back(t, seq, bwd, num):  # type: ignore[no-untyped-def]
    """GRU: dxp, dhp of r, z, n (dhp_n = dxp_n r), and the direct path dh(t - 1) = z dh."""
    L = LANES
    H = seq.hs.shape[1]
    H2 = 2 * H
    one = num.one
    hs, gt, aux, dho = seq.hs, seq.gt, seq.aux, seq.dho
    dh, dxp, dhp, dhr = bwd.dh, bwd.dxp, bwd.dhp, bwd.dhr
    for j in range(H):
        for k in range(L):
            dh[j, k] = dhr[j, k] + dho[t, j, k]
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


@stage
def lstm_back(t, seq, bwd, num):  # type: ignore[no-untyped-def]
    """LstmForget: dc(t) = dc + dh o (1 - tanh^2 c), dxp = dhp of i, f, g, o, and the direct
    path dc(t - 1) = dc(t) f."""
    L = LANES
    H = seq.hs.shape[1]
    H2, H3 = 2 * H, 3 * H
    zero, one = num.zero, num.one
    cs, gt, aux, dho = seq.cs, seq.gt, seq.aux, seq.dho
    dh, dxp, dhp, dhr, dc = bwd.dh, bwd.dxp, bwd.dhp, bwd.dhr, bwd.dc
    for j in range(H):
        for k in range(L):
            dh[j, k] = dhr[j, k] + dho[t, j, k]
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


@stage
def weight_gradients(t, nl, A, dense, net, seq, bwd, grad, sl, num):  # type: ignore[no-untyped-def]
    """Gradients of b_ih, b_hh, W_hh and dh(t - 1) += W_hh^T dhp; W_ih's (dense), or its
    update in place (sparse: W_ih is not read in the backward pass)."""
    L = LANES
    G, I, H = net.Wi.shape[0], net.Wi.shape[1], net.Wh.shape[1]
    Wi, Wh, hs, xs, sval, on, sidx = net.Wi, net.Wh, seq.hs, seq.xs, seq.sval, seq.on, sl.sidx
    gWi, gWh, gbi, gbh = grad.gWi, grad.gWh, grad.gbi, grad.gbh
    dxp, dhp, dhr = bwd.dxp, bwd.dhp, bwd.dhr
    zero, lr_ = num.zero, num.lr
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
    else:
        for kk in range(nl):
            if on[kk] != zero:
                for a in range(A):
                    m = sidx[t, a, kk]
                    x = lr_ * sval[t, a, kk]
                    for g in range(G):
                        Wi[g, m, kk] -= x * dxp[g, kk]


@stage
def update(dense, net, grad, on, num):  # type: ignore[no-untyped-def]
    """On-line SGD at the end of the sequence, ``W -= lr * grad``, lanes in ``on`` only."""
    L = LANES
    G, I, H, O = net.Wi.shape[0], net.Wi.shape[1], net.Wh.shape[1], net.Wo.shape[0]
    Wi, Wh, bi, bh, Wo, bo = net
    gWi, gWh, gbi, gbh, gWo, gbo = grad
    lr_, zero = num.lr, num.zero
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
