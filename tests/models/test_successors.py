"""TCN and Transformer: shapes, weight counts, causality, padding, lanes independent, sizing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as fn

from models.registry import build_model, describe
from models.tcn import TCN, grouped_conv, receptive_field, tap_conv, tcn_weights
from models.transformer import Transformer
from workers.config import ModelSpec
from workers.tasks.base import PaperSetup

EXP4 = PaperSetup(blocks=2, cells_per_block=2, lr=0.5, init_range=0.1, input_gate_bias=(-3.0, -6.0))
SPECS = {
    "tcn": ModelSpec(name="tcn", channels=5, levels=3, kernel_size=3),
    "tcn-dropout": ModelSpec(name="tcn", channels=4, levels=2, kernel_size=2, dropout=0.3),
    # wide enough that training K > 1 lanes takes grouped conv1d (`models.tcn.uses_taps`) at
    # level 1 (14 x 14 x 3 weights) and strided taps at level 0 for one sequence (14 x 3 x 3)
    "tcn-wide": ModelSpec(name="tcn", channels=14, levels=2, kernel_size=3),
    "transformer": ModelSpec(name="transformer", width=8, heads=2, layers=2),
    "transformer-full": ModelSpec(
        name="transformer", width=6, heads=3, attention="full", positions="learned"
    ),
}


def _build(spec: ModelSpec, seeds: tuple[int, ...]) -> torch.nn.Module:
    """K = len(seeds) nets of 3 inputs, 2 outputs."""
    rngs = [np.random.default_rng(s) for s in seeds]
    return build_model(spec, EXP4, 3, 2, rngs, 0.3, seq_len=16)


@pytest.mark.parametrize("key", sorted(SPECS))
def test_shapes_and_weight_counts(key: str) -> None:
    net = _build(SPECS[key], (1, 2, 3, 4))
    assert isinstance(net, TCN | Transformer)
    y = net(torch.zeros(4, 16, 3, dtype=torch.float64))
    assert y.shape == (4, 16, 2) and torch.all((y > 0) & (y < 1))
    yb = net.forward_batch(torch.randn(4, 5, 11, 3, dtype=torch.float64))
    assert yb.shape == (4, 5, 11, 2)
    total = sum(p.numel() for p in net.parameters())
    assert total == 4 * net.n_weights == 4 * describe(SPECS[key], EXP4, 3, 2, 16)["weights"]


def test_tcn_weight_formula_and_receptive_field() -> None:
    # level 0: conv 4*2*3+4, conv 4*4*3+4, 1x1 4*2+4; level 1: 2*(4*4*3+4); out 1*4+1
    assert tcn_weights(2, 1, 4, 2, 3) == 28 + 52 + 12 + 104 + 5
    assert receptive_field(3, 3) == 1 + 2 * 2 * 7
    assert describe(ModelSpec(name="tcn", kernel_size=3), EXP4, 2, 1, seq_len=110)["levels"] == 5


@pytest.mark.parametrize("key", ["tcn", "tcn-dropout", "transformer"])
def test_causal_output_never_depends_on_a_later_input(key: str) -> None:
    """d y_t / d x_s == 0 for every s > t (the TCN's left padding, causal attention)."""
    net = _build(SPECS[key], (7,))
    net.eval()
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(1, 12, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    y = net(x)
    # several sequences at once: for one input a ReLU path can be dead, so that output t depends
    # on no input at all there; over 16 inputs some path to an earlier input is alive
    xb = torch.randn(1, 16, 12, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    yb = net.forward_batch(xb)
    for t in range(12):
        (g,) = torch.autograd.grad(yb[0, :, t].sum(), xb, retain_graph=True)
        assert torch.all(g[0, :, t + 1 :] == 0), f"output {t} depends on a later input"
        assert torch.any(g[0, :, : t + 1] != 0), f"output {t} depends on no earlier input"
    # and a change after t leaves outputs up to t bit for bit the same
    x2 = x.detach().clone()
    x2[0, 6:] += 1.0
    assert torch.equal(net(x2)[0, :6], y.detach()[0, :6])


def test_full_attention_sees_the_future_but_not_padding() -> None:
    """The causality test can fail: full attention does look ahead; padding never counts."""
    net = _build(SPECS["transformer-full"], (7,))
    x = torch.randn(1, 1, 10, 3, dtype=torch.float64)
    lengths = torch.tensor([[7]])
    y = net.forward_batch(x, lengths)
    x2 = x.clone()
    x2[0, 0, 5] += 1.0  # inside the sequence, after step 2
    assert not torch.allclose(net.forward_batch(x2, lengths)[0, 0, 2], y[0, 0, 2])
    x3 = x.clone()
    x3[0, 0, 7:] = 99.0  # padding
    torch.testing.assert_close(net.forward_batch(x3, lengths)[0, 0, :7], y[0, 0, :7])


@pytest.mark.parametrize("key", ["transformer", "transformer-full"])
def test_transformer_outputs_at_the_slots_alone_equal_the_full_pass(key: str) -> None:
    """``at``: the last layer attends from the error slots only; outputs and gradients are the
    full pass's at those steps (causal and full attention, with padding, an unused slot -1)."""
    net = _build(SPECS[key], (4, 5))
    gen = torch.Generator().manual_seed(8)
    x = torch.randn(2, 3, 10, 3, dtype=torch.float64, generator=gen)
    lengths = torch.tensor([[10, 7, 4], [9, 10, 6]])
    at = torch.tensor([[[9, 2], [6, 0], [3, -1]], [[8, 8], [9, 4], [5, 1]]])  # (K, M, E)
    full = net.forward_batch(x, lengths)
    want = torch.gather(full, 2, at.clamp(min=0)[..., None].expand(2, 3, 2, full.shape[3]))
    got = net.forward_batch(x, lengths, at=at)
    assert got.shape == (2, 3, 2, 2)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-13)
    used = (at >= 0)[..., None]
    g_want = torch.autograd.grad((want * used).sum(), list(net.parameters()))
    g_got = torch.autograd.grad((got * used).sum(), list(net.parameters()))
    for (n, _), a, b in zip(net.named_parameters(), g_got, g_want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12, msg=n)


def test_tcn_receptive_field_is_exact() -> None:
    net = _build(ModelSpec(name="tcn", channels=3, levels=2, kernel_size=2), (1,))
    rf = receptive_field(2, 2)  # 7
    with torch.no_grad():  # positive weights and inputs: every ReLU passes, no gradient is 0
        for p in net.parameters():
            p.abs_()
    x = torch.rand(1, 20, 3, dtype=torch.float64).add(0.1).requires_grad_(True)
    (g,) = torch.autograd.grad(net(x)[0, 15].sum(), x)
    seen = torch.nonzero(g[0].abs().sum(1)).flatten().tolist()
    assert seen == list(range(15 - rf + 1, 16))


@pytest.mark.parametrize("M", [1, 4])
@pytest.mark.parametrize("key", sorted(SPECS))
def test_vectorised_lanes_equal_one_net_at_a_time(key: str, M: int) -> None:
    """Lane k of a K=3 module: same init, outputs and gradients as a K=1 module of seed k (in
    training mode: the TCN's dropout masks are the lane's own), for one sequence per lane (the
    paper's on-line SGD) and for mini-batches of 4: the lanes take `tap_conv` or
    `grouped_conv` by size, a lone net by its own threshold (`models.tcn.uses_taps`)."""
    seeds = (11, 12, 13)
    batched = _build(SPECS[key], seeds)
    batched.train()
    x = torch.randn(3, M, 14, 3, dtype=torch.float64)
    lengths = torch.tensor([[14, 12, 9, 14][:M]] * 3)
    steps = torch.tensor([5, 0, 9])
    y = batched.forward_batch(x, lengths, steps)
    grads = torch.autograd.grad(y.sum(), list(batched.parameters()))
    for k, seed in enumerate(seeds):
        alone = _build(SPECS[key], (seed,))
        alone.train()
        y1 = alone.forward_batch(x[k : k + 1], lengths[k : k + 1], steps[k : k + 1])
        g1 = torch.autograd.grad(y1.sum(), list(alone.parameters()))
        torch.testing.assert_close(y[k], y1[0], rtol=1e-10, atol=1e-12)
        for (n, p), p1, g, gg in zip(
            batched.named_parameters(), alone.parameters(), grads, g1, strict=True
        ):
            assert torch.equal(p[k], p1[0]), n
            torch.testing.assert_close(g[k], gg[0], rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize(
    ("K", "C", "c_in", "k", "M", "d"), [(1, 1, 1, 2, 1, 1), (3, 2, 5, 3, 1, 4), (4, 3, 1, 3, 6, 2)]
)
def test_tap_and_grouped_convolutions_equal_each_lanes_own_conv1d(
    K: int, C: int, c_in: int, k: int, M: int, d: int
) -> None:
    """Both convolution paths: lane k's outputs and gradients are torch's causal ``conv1d`` of
    lane k's weights alone (left padding (k - 1) d), whichever path `uses_taps` picks."""
    gen = torch.Generator().manual_seed(K * 100 + M)
    x = torch.randn(K, c_in, M, 13, dtype=torch.float64, generator=gen, requires_grad=True)
    w = torch.randn(K, C, c_in, k, dtype=torch.float64, generator=gen, requires_grad=True)
    b = torch.randn(K, C, dtype=torch.float64, generator=gen, requires_grad=True)
    up = torch.randn(K, C, M, 13, dtype=torch.float64, generator=gen)
    ref = torch.stack(
        [
            fn.conv1d(fn.pad(x[i].transpose(0, 1), ((k - 1) * d, 0)), w[i], b[i], dilation=d)
            for i in range(K)
        ]
    ).transpose(1, 2)  # (K, C, M, T)
    g_ref = torch.autograd.grad((ref * up).sum(), (x, w, b))
    for conv in (tap_conv, grouped_conv):
        y = conv(x, w, b, d)
        torch.testing.assert_close(y, ref, rtol=1e-12, atol=1e-12)
        for g, gr in zip(torch.autograd.grad((y * up).sum(), (x, w, b)), g_ref, strict=True):
            torch.testing.assert_close(g, gr, rtol=1e-12, atol=1e-12)


def test_dropout_masks_follow_the_update_counter() -> None:
    net = _build(SPECS["tcn-dropout"], (1, 2))
    net.train()
    x = torch.randn(2, 1, 10, 3, dtype=torch.float64)
    a = net.forward_batch(x, None, torch.tensor([0, 0]))
    b = net.forward_batch(x, None, torch.tensor([0, 1]))
    assert torch.equal(a[0], b[0]) and not torch.equal(a[1], b[1])
    net.eval()
    assert torch.equal(net.forward_batch(x), net.forward_batch(x))


@pytest.mark.parametrize("name", ["tcn", "transformer"])
def test_sized_to_match_the_1997_net(name: str) -> None:
    """Unset width: the closest count to the 1997 net's 93 weights (or ``match_weights``)."""
    d = describe(ModelSpec(name=name), EXP4, 2, 1, seq_len=22)
    assert d["matched_to"] == 93
    key, step = ("channels", 1) if name == "tcn" else ("width", d["heads"])
    gaps = []
    for w in (d[key] - step, d[key], d[key] + step):
        if w < step:
            continue
        spec = ModelSpec(name=name, **{key: w}, levels=d.get("levels"))  # type: ignore[arg-type]
        gaps.append((abs(describe(spec, EXP4, 2, 1, seq_len=22)["weights"] - 93), w))
    assert min(gaps)[1] == d[key]
    big = describe(ModelSpec(name=name, match_weights=2000), EXP4, 2, 1, seq_len=22)
    assert abs(big["weights"] - 2000) < abs(d["weights"] - 2000)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        (ModelSpec(name="tcn", kernel_size=1), "kernel_size"),
        (ModelSpec(name="tcn", dropout=1.0), "dropout"),
        (ModelSpec(name="tcn", channels=0), "channels"),
        (ModelSpec(name="transformer", width=7, heads=2), "multiple of heads"),
        (ModelSpec(name="transformer", attention="sparse"), "attention"),
        (ModelSpec(name="transformer", positions="rotary"), "positions"),
    ],
)
def test_invalid_successor_specs(spec: ModelSpec, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        describe(spec, EXP4, 2, 1, seq_len=20)
