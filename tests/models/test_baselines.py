"""Baseline nets: control tests against torch.nn, K lanes independent, weight counts, sizing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.baselines import (
    BASELINES,
    GRU,
    Baseline,
    Elman,
    LstmForget,
    baseline_weights,
    hidden_for_weights,
    init_baseline,
    stored_weights,
)

I, O, H, K, T = 3, 2, 5, 3, 9


def _loaded(cls: type[Baseline], seeds: list[int], init_range: float = 0.5) -> Baseline:
    net = cls(I, O, H, K=len(seeds))
    net.load_seeds(
        [init_baseline(cls.kind, H, I, O, np.random.default_rng(s), init_range) for s in seeds]
    )
    return net


def _native(cls: type[Baseline]) -> torch.nn.RNNBase:
    if cls is Elman:
        return torch.nn.RNN(I, H, nonlinearity="tanh", batch_first=True, dtype=torch.float64)
    if cls is GRU:
        return torch.nn.GRU(I, H, batch_first=True, dtype=torch.float64)
    return torch.nn.LSTM(I, H, batch_first=True, dtype=torch.float64)


@pytest.mark.parametrize("cls", [Elman, GRU, LstmForget])
def test_control_against_torch_nn(cls: type[Baseline]) -> None:
    """Copy lane k's weights into torch.nn.RNN/GRU/LSTM: same outputs and input gradients."""
    net = _loaded(cls, [11, 12, 13])
    x = torch.tensor(np.random.default_rng(0).normal(size=(K, T, I)), requires_grad=True)
    y = net(x)  # (K, T, O)
    (gx,) = torch.autograd.grad(y.sum(), x)
    w = net.weights()
    for k in range(K):
        ref = _native(cls)
        with torch.no_grad():
            for ours, theirs in (
                ("W_ih", "weight_ih_l0"),
                ("W_hh", "weight_hh_l0"),
                ("b_ih", "bias_ih_l0"),
                ("b_hh", "bias_hh_l0"),
            ):
                getattr(ref, theirs).copy_(torch.tensor(w[ours][k]))
        xk = x[k : k + 1].detach().clone().requires_grad_(True)
        hs, _ = ref(xk)  # (1, T, H)
        yk = torch.sigmoid(hs @ torch.tensor(w["W_o"][k]).T + torch.tensor(w["b_o"][k]))
        (gxk,) = torch.autograd.grad(yk.sum(), xk)
        torch.testing.assert_close(y[k], yk[0], rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(gx[k], gxk[0], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls", [Elman, GRU, LstmForget])
def test_n_weights_counts_effective_parameters(cls: type[Baseline]) -> None:
    """Stored: torch's two bias vectors. Counted: one bias per unit where only their sum enters
    the equations (all but GRU's b_hn, which sits inside the reset product)."""
    net = cls(I, O, H, K=4)
    total = sum(p.numel() for p in net.parameters() if p.requires_grad)
    assert total // 4 == stored_weights(cls.kind, H, I, O)
    assert total // 4 == sum(p.numel() for p in _native(cls).parameters()) + O * (H + 1)
    redundant = (2 if cls is GRU else net.b_hh.shape[1] // H) * H  # b_hh's summed-away blocks
    assert net.n_weights == total // 4 - redundant == baseline_weights(cls.kind, H, I, O)


def test_weight_formulas_count_one_bias_per_unit() -> None:
    """Fails on the old count, which had G H (I + H + 2): torch's b_ih and b_hh both."""
    assert baseline_weights("elman", 4, 2, 1) == 4 * (2 + 4 + 1) + 1 * (4 + 1)
    assert baseline_weights("gru", 4, 2, 1) == 3 * 4 * (2 + 4 + 1) + 4 + 5
    assert baseline_weights("lstm_forget", 4, 2, 1) == 4 * 4 * (2 + 4 + 1) + 5
    assert stored_weights("elman", 4, 2, 1) == 4 * (2 + 4 + 2) + 5


def test_only_the_bias_sum_matters() -> None:
    """Why the count is effective: moving bias from b_hh to b_ih (Elman, LSTM; GRU's r, z)
    leaves the outputs unchanged, so the pair is one parameter per unit."""
    for cls in (Elman, GRU, LstmForget):
        net = _loaded(cls, [3])
        x = torch.tensor(np.random.default_rng(0).normal(size=(1, T, I)))
        y = net(x)
        w = net.weights()
        movable = slice(0, 2 * H) if cls is GRU else slice(None)
        w["b_ih"][:, movable] += w["b_hh"][:, movable]
        w["b_hh"][:, movable] = 0.0
        net.load(w)
        torch.testing.assert_close(net(x), y, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", sorted(BASELINES))
@pytest.mark.parametrize("target", [1, 17, 93, 102, 264, 308, 1264, 10504])
def test_hidden_for_weights_is_closest(kind: str, target: int) -> None:
    h = hidden_for_weights(kind, 101 if target == 10504 else 2, 1, target)
    n_in = 101 if target == 10504 else 2
    best = min(abs(baseline_weights(kind, c, n_in, 1) - target) for c in range(1, 400))
    assert h >= 1
    assert abs(baseline_weights(kind, h, n_in, 1) - target) == best
    # ties go to the smaller net
    assert all(abs(baseline_weights(kind, c, n_in, 1) - target) > best for c in range(1, h))


def test_hidden_for_weights_examples_and_errors() -> None:
    assert hidden_for_weights("elman", 2, 1, 93) == 8  # 97 vs 78 effective weights
    with pytest.raises(ValueError, match="unknown baseline"):
        hidden_for_weights("lstm1997", 2, 1, 93)
    with pytest.raises(ValueError, match="target_weights"):
        hidden_for_weights("gru", 2, 1, 0)


def test_init_is_uniform_in_range_and_deterministic() -> None:
    a = init_baseline("gru", H, I, O, np.random.default_rng(1), 0.1)
    b = init_baseline("gru", H, I, O, np.random.default_rng(1), 0.1)
    c = init_baseline("gru", H, I, O, np.random.default_rng(2), 0.1)
    for name in a:
        assert np.array_equal(a[name], b[name])
        assert not np.array_equal(a[name], c[name])
        assert np.abs(a[name]).max() <= 0.1
    assert a["W_ih"].shape == (3 * H, I) and a["b_o"].shape == (O,)


def test_forget_bias_override() -> None:
    plain = init_baseline("lstm_forget", H, I, O, np.random.default_rng(1), 0.1)
    fb = init_baseline("lstm_forget", H, I, O, np.random.default_rng(1), 0.1, forget_bias=1.0)
    assert np.all(fb["b_ih"][H : 2 * H] == 1.0) and np.all(fb["b_hh"][H : 2 * H] == 0.0)
    # only the forget block changes; every other draw is the same
    keep = np.r_[0:H, 2 * H : 4 * H]
    assert np.array_equal(fb["b_ih"][keep], plain["b_ih"][keep])
    assert np.array_equal(fb["W_hh"], plain["W_hh"])
    with pytest.raises(ValueError, match="lstm_forget only"):
        init_baseline("gru", H, I, O, np.random.default_rng(1), 0.1, forget_bias=1.0)


def test_load_rejects_wrong_shapes_and_counts() -> None:
    net = Elman(I, O, H, K=2)
    one = init_baseline("elman", H, I, O, np.random.default_rng(1), 0.1)
    with pytest.raises(ValueError, match="expected 2 per-seed dicts"):
        net.load_seeds([one])
    with pytest.raises(ValueError, match="W_ih"):
        net.load({n: v[None] for n, v in one.items()})  # K=1 arrays into a K=2 module


def test_weights_round_trip() -> None:
    net = _loaded(GRU, [1, 2])
    other = GRU(I, O, H, K=2)
    other.load(net.weights())
    x = torch.tensor(np.random.default_rng(0).normal(size=(2, T, I)))
    torch.testing.assert_close(net(x), other(x), rtol=0, atol=0)


def test_float32_forward() -> None:
    net = LstmForget(I, O, H, K=2, dtype=torch.float32)
    net.load_seeds([init_baseline("lstm_forget", H, I, O, np.random.default_rng(1), 0.1)] * 2)
    y = net(torch.zeros(2, T, I, dtype=torch.float32))
    assert y.dtype == torch.float32 and y.shape == (2, T, O)
    assert torch.all((y > 0) & (y < 1))
