"""The compiled 1997 kernel against its oracle, the torch model with the truncated gradient.

Oracle: `models.lstm1997.Lstm1997(gradient="truncated")` in float64, one sequence per update,
loss 1/2 sum over the used error slots of (y - target)^2, ``W -= lr * grad * mask``; for the
per-step update (``per_step=True``) `models.lstm1997.train_per_step`, autograd over weights of
their own at every step. The kernel
must give the same weights (rtol 1e-9) and the same outputs at the error slots, for every layout
it supports; lanes must not influence each other.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.layout import Lstm1997Layout, init_weights
from models.lstm1997 import Lstm1997, output_loss, train_per_step
from workers.kernels import Block
from workers.kernels.lstm1997 import Nets, forward_block, kernel_config, train_block

Data = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def make_weights(lay: Lstm1997Layout, K: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pairs = [init_weights(lay, rng, 0.5, (-1.0, -2.0), (-1.0, -2.0)) for _ in range(K)]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def make_data(lay: Lstm1997Layout, K: int, B: int, T: int, A: int, slots: str, seed: int) -> Data:
    """Random sparse sequences of variable length (padding: index 0, value 0).

    ``slots``: "end" (E=1, error at the last step), "end+" (plus an unused slot, E=2) or "step"
    (a slot per step, a third of them unused).
    """
    rng = np.random.default_rng(seed)
    I, O = lay.n_inputs, lay.n_outputs
    lengths = rng.integers(T // 2, T + 1, size=(K, B)).astype(np.int32)
    live = (np.arange(T)[None, None, :] < lengths[:, :, None])[..., None]  # (K, B, T, 1)
    idx = rng.integers(0, I, size=(K, B, T, A)).astype(np.int32) * live
    if A > 1:
        idx[:, :, ::3, 1] = idx[:, :, ::3, 0] * live[:, :, ::3, 0]  # duplicate indices add up
    val = rng.normal(size=(K, B, T, A)) * live
    if slots == "step":  # as in next-symbol prediction (Exp. 1, 2a, 2b)
        steps = np.where(live[..., 0], np.arange(T)[None, None, :], -1)
        steps = np.where(rng.random(steps.shape) < 0.3, -1, steps).astype(np.int32)
    elif slots == "end+":
        steps = np.stack([lengths - 1, np.full_like(lengths, -1)], axis=2).astype(np.int32)
    else:
        steps = (lengths - 1)[..., None].astype(np.int32)
    targets = rng.random((K, B, steps.shape[2], O))
    return idx.astype(np.int32), val, lengths, targets, steps


def torch_oracle(
    lay: Lstm1997Layout,
    gh: tuple[str, str],
    Wh: np.ndarray,
    Wo: np.ndarray,
    data: Data,
    n_seq: np.ndarray,
    lr: float,
    train: bool = True,
    per_step: bool = False,
    loss: str = "squared",
    gradient: str = "truncated",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights after on-line training and the outputs at the slots before each update."""
    idx, val, lengths, targets, steps = data
    K, B, T, A = idx.shape
    E, O = steps.shape[2], lay.n_outputs
    net = Lstm1997(lay, K=K, g=gh[0], h=gh[1], gradient=gradient)  # type: ignore[arg-type]
    net.load(Wh, Wo)
    out_y = np.zeros((K, B, E, O))
    for b in range(B):
        x = np.zeros((K, T, lay.n_inputs))
        for k in range(K):
            for a in range(A):
                np.add.at(x[k], (np.arange(T), idx[k, b, :, a]), val[k, b, :, a])
        if per_step:
            on = torch.tensor([b < n_seq[k] for k in range(K)])
            y_s = train_per_step(
                net, torch.tensor(x), torch.tensor(lengths[:, b]), torch.tensor(steps[:, b]),
                torch.tensor(targets[:, b]), lr, on, loss,
            )  # fmt: skip
            out_y[:, b] = y_s.numpy()
            continue
        y = net(torch.tensor(x))
        total = torch.zeros((), dtype=torch.float64)
        for k in range(K):
            for e in range(E):
                st = steps[k, b, e]
                if b < n_seq[k] and 0 <= st < lengths[k, b]:
                    out_y[k, b, e] = y[k, st].detach().numpy()
                    tk = torch.tensor(targets[k, b, e])
                    total = total + output_loss(y[k, st], tk, loss).sum()
        if not train:
            continue
        net.zero_grad()
        total.backward()
        with torch.no_grad():
            on = torch.tensor([float(b < n_seq[k]) for k in range(K)], dtype=torch.float64)
            for W, mask in ((net.Wh, net.mask_h), (net.Wo, net.mask_o)):
                assert W.grad is not None
                W.sub_(lr * W.grad * mask * on[:, None, None])
    Wh_t, Wo_t = net.weights()
    return Wh_t, Wo_t, out_y


def run_kernel(
    lay: Lstm1997Layout,
    cfg: np.ndarray,
    Wh: np.ndarray,
    Wo: np.ndarray,
    data: Data,
    n_seq: np.ndarray,
    lr: float,
    dtype: type = np.float64,
    per_step: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    idx, val, lengths, targets, steps = data
    Wh_k: np.ndarray = Wh.astype(dtype)
    Wo_k: np.ndarray = Wo.astype(dtype)
    out_y = np.full((*steps.shape, lay.n_outputs), -7.0, dtype=dtype)
    nets = Nets(Wh_k, Wo_k, lay.mask_h, lay.mask_o, cfg, per_step)
    train_block(nets, Block(idx, val, lengths, targets, steps), n_seq, lr, out_y)
    return Wh_k, Wo_k, out_y


# (gates, connectivity, bias, (g, h), blocks, cells per block, inputs I, outputs O, pairs A,
#  error slots, input mode)
CASES = [
    ("both", "F", "all", ("g2", "h1"), 2, 2, 2, 1, 2, "end", "auto"),  # the adding net
    ("both", "F", "all", ("g2", "h1"), 2, 2, 3, 2, 2, "step", "sparse"),
    ("both", "F", "gates", ("g2", "h1"), 3, 1, 5, 3, 1, "step", "dense"),
    ("input", "B", "none", ("g1", "id"), 1, 1, 6, 6, 1, "step", "dense"),  # Exp. 2a/2b style
    ("input", "B", "none", ("g1", "id"), 1, 2, 6, 6, 1, "step", "sparse"),
    ("output", "F", "hidden", ("g2", "h1"), 2, 3, 4, 2, 3, "end+", "dense"),
    ("none", "B", "all", ("g1", "h1"), 2, 2, 4, 2, 2, "end+", "sparse"),
    ("none", "F", "none", ("g2", "id"), 1, 3, 3, 1, 2, "step", "auto"),
]


@pytest.mark.parametrize("per_step", [False, True], ids=["per-sequence", "per-step"])
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}-{c[10]}" for c in CASES])
def test_training_matches_torch_oracle(case: tuple, per_step: bool) -> None:  # type: ignore[type-arg]
    gates, conn, bias, gh, C, S, I, O, A, slots, mode = case
    lay = Lstm1997Layout(I, O, C, S, gates=gates, connectivity=conn, bias=bias)
    K, B, T, lr = 3, 4, 11, 0.8
    Wh, Wo = make_weights(lay, K, seed=1)
    Wh[0][lay.mask_h == 0] = 0.3  # junk where no weight exists: read as 0, never changed
    data = make_data(lay, K, B, T, A, slots, seed=2)
    n_seq = np.array([B, 2, B])
    Wh_t, Wo_t, y_t = torch_oracle(lay, gh, Wh, Wo, data, n_seq, lr, per_step=per_step)
    Wh_k, Wo_k, y_k = run_kernel(
        lay, kernel_config(lay, gh[0], gh[1], inputs=mode), Wh, Wo, data, n_seq, lr,
        per_step=per_step,
    )  # fmt: skip
    assert np.abs(Wh_k - Wh).max() > 1e-3  # it did learn
    np.testing.assert_allclose(Wh_k, Wh_t, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(Wo_k, Wo_t, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(y_k[0], y_t[0], rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(y_k[1, :2], y_t[1, :2], rtol=1e-9, atol=1e-13)
    assert (y_k[1, 2:] == -7.0).all()  # rows b >= n_seq are not written
    unused = (data[4] < 0)[..., None] & (
        np.arange(B)[None, :, None, None] < n_seq[:, None, None, None]
    )
    assert (y_k[np.broadcast_to(unused, y_k.shape)] == 0).all()


@pytest.mark.parametrize(
    ("gradient", "forget", "fprime"),
    [
        ("full", False, True),
        ("full", False, False),
        ("full", True, True),
        ("truncated", True, True),
        ("truncated", False, False),
    ],
    ids=["full", "full-no-fprime", "full-forget", "truncated-forget", "truncated-no-fprime"],
)
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}-{c[10]}" for c in CASES])
def test_bptt_kernel_matches_the_autograd_oracle(
    case: tuple,  # type: ignore[type-arg]
    gradient: str,
    forget: bool,
    fprime: bool,
) -> None:
    """`workers.kernels.lstm1997_bptt` against autograd through the torch model, one update per
    sequence: the full gradient (through every recurrent input) and the truncated one, with and
    without a forget gate; without one the truncated rule also equals the forward kernel's, and
    the full one differs from it wherever the hidden layer is recurrent."""
    from workers.kernels import lstm1997_bptt

    gates, conn, bias, gh, C, S, I, O, A, slots, _ = case
    lay = Lstm1997Layout(I, O, C, S, gates=gates, connectivity=conn, bias=bias, forget_gate=forget)
    K, B, T, lr = 3, 4, 11, 0.8
    Wh, Wo = make_weights(lay, K, seed=31)
    Wh[0][lay.mask_h == 0] = 0.3  # junk where no weight exists: read as 0, never changed
    data = make_data(lay, K, B, T, A, slots, seed=32)
    n_seq = np.array([B, 2, B])
    loss = "squared" if fprime else "logistic"
    Wh_t, Wo_t, y_t = torch_oracle(lay, gh, Wh, Wo, data, n_seq, lr, loss=loss, gradient=gradient)
    Wh_k, Wo_k = Wh.copy(), Wo.copy()
    y_k = np.full((*data[4].shape, O), -7.0)
    cfg = kernel_config(lay, gh[0], gh[1], output_fprime=fprime)
    nets = lstm1997_bptt.BpttNets(Wh_k, Wo_k, lay.mask_h, lay.mask_o, cfg, gradient == "full")
    lstm1997_bptt.train_block(nets, Block(*data), n_seq, lr, y_k)
    assert np.abs(Wh_k - Wh).max() > 1e-3  # it did learn
    np.testing.assert_allclose(Wh_k, Wh_t, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(Wo_k, Wo_t, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(y_k[0], y_t[0], rtol=1e-9, atol=1e-13)
    assert (y_k[1, 2:] == -7.0).all()  # rows b >= n_seq are not written
    y_f = np.zeros_like(y_k)
    lstm1997_bptt.forward_block(nets, Block(*data), np.full(K, B), y_f)
    _, _, y_o = torch_oracle(lay, gh, Wh_k, Wo_k, data, np.full(K, B), 0.0, train=False)
    np.testing.assert_allclose(y_f, y_o, rtol=1e-12, atol=1e-15)
    if not forget:
        fwd = run_kernel(lay, cfg, Wh, Wo, data, n_seq, lr)
        recurrent = lay.mask_h[:, I : I + lay.n_hidden].any()
        if gradient == "truncated":
            np.testing.assert_allclose(Wh_k, fwd[0], rtol=1e-9, atol=1e-13)
        else:
            assert not recurrent or np.abs(fwd[0] - Wh_k).max() > 1e-9  # the rules differ
    with pytest.raises(ValueError, match="once per sequence"):
        lstm1997_bptt.train_block(nets._replace(per_step=True), Block(*data), n_seq, lr, y_k)


@pytest.mark.parametrize("per_step", [False, True], ids=["per-sequence", "per-step"])
@pytest.mark.parametrize("case", [CASES[1], CASES[3]], ids=["sparse", "dense-2a"])
def test_output_delta_without_fprime_matches_the_logistic_loss_oracle(
    case: tuple,  # type: ignore[type-arg]
    per_step: bool,
) -> None:
    """``output_fprime=False`` (delta y - t) is the gradient of the outputs' cross-entropy."""
    gates, conn, bias, gh, C, S, I, O, A, slots, mode = case
    lay = Lstm1997Layout(I, O, C, S, gates=gates, connectivity=conn, bias=bias)
    K, B, T, lr = 3, 4, 11, 0.8
    Wh, Wo = make_weights(lay, K, seed=21)
    data = make_data(lay, K, B, T, A, slots, seed=22)
    n_seq = np.array([B, 2, B])
    cfg = kernel_config(lay, gh[0], gh[1], inputs=mode, output_fprime=False)
    Wh_t, Wo_t, y_t = torch_oracle(lay, gh, Wh, Wo, data, n_seq, lr, per_step=per_step,
                                   loss="logistic")  # fmt: skip
    Wh_k, Wo_k, y_k = run_kernel(lay, cfg, Wh, Wo, data, n_seq, lr, per_step=per_step)
    np.testing.assert_allclose(Wh_k, Wh_t, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(Wo_k, Wo_t, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(y_k[0], y_t[0], rtol=1e-9, atol=1e-12)
    paper = run_kernel(lay, kernel_config(lay, gh[0], gh[1], inputs=mode), Wh, Wo, data, n_seq,
                       lr, per_step=per_step)  # fmt: skip
    assert np.abs(paper[0] - Wh_k).max() > 1e-6  # the paper's delta trains differently


ADDING = Lstm1997Layout(n_inputs=2, n_outputs=1)


def test_update_moment_matters_only_with_error_before_the_end() -> None:
    """Error at the end only: per step and per sequence give the same weights, bitwise; error
    at every step: they differ (the later steps of a sequence see the changed weights)."""
    K, B = 3, 5
    Wh, Wo = make_weights(ADDING, K, seed=13)
    cfg = kernel_config(ADDING)
    n_seq = np.full(K, B)
    end = make_data(ADDING, K, B, 20, 2, "end+", seed=14)
    for a, b in zip(
        run_kernel(ADDING, cfg, Wh, Wo, end, n_seq, 0.5),
        run_kernel(ADDING, cfg, Wh, Wo, end, n_seq, 0.5, per_step=True),
        strict=True,
    ):
        assert np.array_equal(a, b)
    every = make_data(ADDING, K, B, 20, 2, "step", seed=14)
    seq = run_kernel(ADDING, cfg, Wh, Wo, every, n_seq, 0.5)
    step = run_kernel(ADDING, cfg, Wh, Wo, every, n_seq, 0.5, per_step=True)
    assert np.abs(seq[0] - step[0]).max() > 1e-6


def test_lanes_are_independent() -> None:
    """A lane trained beside others equals it trained alone (and every lane in any position)."""
    K, B = 3, 5
    Wh, Wo = make_weights(ADDING, K, seed=3)
    data = make_data(ADDING, K, B, 20, 2, "end", seed=4)
    cfg = kernel_config(ADDING)
    n_seq = np.array([5, 3, 4])
    Wh_k, Wo_k, y_k = run_kernel(ADDING, cfg, Wh, Wo, data, n_seq, 0.5)
    for k in range(K):
        sel = slice(k, k + 1)
        one: Data = (data[0][sel], data[1][sel], data[2][sel], data[3][sel], data[4][sel])
        Wh_1, Wo_1, y_1 = run_kernel(ADDING, cfg, Wh[sel], Wo[sel], one, n_seq[sel], 0.5)
        np.testing.assert_allclose(Wh_1[0], Wh_k[k], rtol=0, atol=1e-12)
        np.testing.assert_allclose(Wo_1[0], Wo_k[k], rtol=0, atol=1e-12)
        np.testing.assert_allclose(y_1[0], y_k[k], rtol=0, atol=1e-12)


def test_frozen_lanes_and_partial_blocks() -> None:
    K, B = 3, 6
    Wh, Wo = make_weights(ADDING, K, seed=5)
    Wh[1][ADDING.mask_h == 0] = 0.25
    data = make_data(ADDING, K, B, 15, 2, "step", seed=6)
    cfg = kernel_config(ADDING)
    Wh_k, Wo_k, y_k = run_kernel(ADDING, cfg, Wh, Wo, data, np.array([6, 0, 2]), 0.5)
    assert np.array_equal(Wh_k[1], Wh[1]) and np.array_equal(Wo_k[1], Wo[1])  # frozen: untouched
    assert (y_k[1] == -7.0).all()
    # n_seq = 2 of 6 trains exactly the first two sequences.
    first2: Data = (data[0][2:3, :2], data[1][2:3, :2], data[2][2:3, :2], data[3][2:3, :2],
                    data[4][2:3, :2])  # fmt: skip
    Wh_2, Wo_2, y_2 = run_kernel(ADDING, cfg, Wh[2:3], Wo[2:3], first2, np.array([2]), 0.5)
    np.testing.assert_allclose(Wh_2[0], Wh_k[2], rtol=0, atol=1e-12)
    np.testing.assert_allclose(Wo_2[0], Wo_k[2], rtol=0, atol=1e-12)
    np.testing.assert_allclose(y_2[0], y_k[2, :2], rtol=0, atol=1e-12)
    # All lanes frozen: nothing happens.
    Wh_0, Wo_0, _ = run_kernel(ADDING, cfg, Wh, Wo, data, np.zeros(K, np.int64), 0.5)
    assert np.array_equal(Wh_0, Wh) and np.array_equal(Wo_0, Wo)


@pytest.mark.parametrize("mode", ["dense", "sparse"])
def test_forward_block_matches_torch(mode: str) -> None:
    lay = Lstm1997Layout(4, 2, 2, 2, connectivity="B", bias="gates")
    K, B = 3, 4
    Wh, Wo = make_weights(lay, K, seed=7)
    data = make_data(lay, K, B, 13, 2, "step", seed=8)
    n_seq = np.array([4, 4, 1])
    _, _, y_t = torch_oracle(lay, ("g2", "h1"), Wh, Wo, data, n_seq, 0.0, train=False)
    Wh_c, Wo_c = Wh.copy(), Wo.copy()
    out_y = np.zeros_like(y_t)
    cfg = kernel_config(lay, inputs=mode)
    forward_block(Nets(Wh_c, Wo_c, lay.mask_h, lay.mask_o, cfg), Block(*data), n_seq, out_y)
    np.testing.assert_allclose(out_y, y_t, rtol=1e-12, atol=1e-15)
    assert np.array_equal(Wh_c, Wh) and np.array_equal(Wo_c, Wo)


def test_nan_lane_leaves_other_lanes_alone() -> None:
    K, B = 3, 4
    Wh, Wo = make_weights(ADDING, K, seed=9)
    data = make_data(ADDING, K, B, 20, 2, "step", seed=10)
    cfg = kernel_config(ADDING)
    n_seq = np.full(K, B)
    ref = run_kernel(ADDING, cfg, Wh, Wo, data, n_seq, 0.5)
    Wh_nan = Wh.copy()
    Wh_nan[1, 3, 4] = np.nan
    got = run_kernel(ADDING, cfg, Wh_nan, Wo, data, n_seq, 0.5)
    for a, b in zip(ref, got, strict=True):
        assert np.array_equal(a[[0, 2]], b[[0, 2]])
    assert not np.isfinite(got[0][1]).all()  # the diverged lane stays visibly diverged


def test_float32_follows_float64() -> None:
    K, B = 4, 8
    Wh, Wo = make_weights(ADDING, K, seed=11)
    data = make_data(ADDING, K, B, 30, 2, "end", seed=12)
    cfg = kernel_config(ADDING)
    n_seq = np.full(K, B)
    r64 = run_kernel(ADDING, cfg, Wh, Wo, data, n_seq, 0.5)
    r32 = run_kernel(ADDING, cfg, Wh, Wo, data, n_seq, 0.5, dtype=np.float32)
    assert r32[0].dtype == np.float32
    for a, b in zip(r64, r32, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


def test_rejects_what_it_cannot_do() -> None:
    fg = Lstm1997Layout(2, 1, forget_gate=True)
    Wf, Wfo = make_weights(fg, 1, seed=0)
    with pytest.raises(ValueError, match="no forget gate"):
        fdata = make_data(fg, 1, 1, 5, 2, "end", seed=0)
        train_block(Nets(Wf, Wfo, fg.mask_h, fg.mask_o, kernel_config(fg)), Block(*fdata),
                    np.ones(1, np.int64), 0.1, np.zeros((1, 1, 1, 1)))  # fmt: skip
    with pytest.raises(ValueError, match="g must be"):
        kernel_config(ADDING, g="g3")
    Wh, Wo = make_weights(ADDING, 1, seed=0)
    idx, val, lengths, targets, steps = make_data(ADDING, 1, 1, 5, 2, "end", seed=0)
    out_y = np.zeros((1, 1, 1, 1))
    cfg = kernel_config(ADDING)
    args = (np.ones(1, np.int64), 0.1, out_y)
    with pytest.raises(ValueError, match="input indices"):
        nets = Nets(Wh, Wo, ADDING.mask_h, ADDING.mask_o, cfg)
        train_block(nets, Block(idx + 2, val, lengths, targets, steps), *args)
    with pytest.raises(TypeError, match="float32 or float64"):
        nets = Nets(Wh.astype(np.float16), Wo, ADDING.mask_h, ADDING.mask_o, cfg)
        train_block(nets, Block(idx, val, lengths, targets, steps), *args)
