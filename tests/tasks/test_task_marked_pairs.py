"""Exp. 4 and 5: the adding and multiplication problems' marker layout and targets."""

from __future__ import annotations

import numpy as np
import pytest

from workers.tasks import Adding, Multiplication


def pairs(b) -> tuple[np.ndarray, np.ndarray]:
    d = b.dense()  # (n, T, 2)
    return d[:, :, 0], d[:, :, 1]


@pytest.mark.parametrize("T", [12, 100, 1000])
def test_adding_layout(T: int) -> None:
    b = Adding(T=T).sample(np.random.default_rng(T), 3000)
    value, marker = pairs(b)
    rows = np.arange(b.n)
    L = b.lengths
    assert L.min() >= T and L.max() <= T + T // 10
    real = np.arange(value.shape[1])[None, :] < L[:, None]
    assert (np.abs(value[real]) <= 1.0).all() and (value[~real] == 0).all()
    assert ((marker == 1.0).sum(axis=1) == 2).all()
    x1, x2 = b.info["x1_pos"], b.info["x2_pos"]
    assert (x1 < 10).all() and (x2 <= T // 2 - 2).all() and (x1 != x2).all()
    assert (marker[rows, x1] == 1.0).all() and (marker[rows, x2] == 1.0).all()
    # first / last markers -1 unless marked, all others 0
    first_marked = (x1 == 0) | (x2 == 0)
    np.testing.assert_array_equal(marker[:, 0], np.where(first_marked, 1.0, -1.0))
    assert (marker[rows, L - 1] == -1.0).all()
    others = real.copy()
    others[rows, 0] = others[rows, L - 1] = others[rows, x1] = others[rows, x2] = False
    assert (marker[others] == 0.0).all()
    assert (value[first_marked, 0] == 0.0).all()
    # the target from the inputs alone: 0.5 + (sum of marked values) / 4
    marked_sum = (value * (marker == 1.0)).sum(axis=1)
    np.testing.assert_allclose(b.targets[:, 0, 0], 0.5 + marked_sum / 4)


def test_adding_marker_positions_cover_the_paper_ranges() -> None:
    b = Adding(T=100).sample(np.random.default_rng(0), 20000)
    x1, x2 = b.info["x1_pos"], b.info["x2_pos"]
    assert set(np.unique(x1)) == set(range(10))
    assert set(np.unique(x2)) == set(range(49))  # steps 0..T/2-2
    assert (x2 < x1).any()  # X2 may precede X1
    assert abs((x1 == 0).mean() - 0.1) < 0.01


def test_adding_hand_checked_targets_and_criterion() -> None:
    task = Adding(T=12)
    b = task.sample(np.random.default_rng(5), 200)
    value, _ = pairs(b)
    i = int(np.nonzero(b.info["x1_pos"] > 0)[0][0])
    p1, p2 = b.info["x1_pos"][i], b.info["x2_pos"][i]
    expect = 0.5 + (value[i, p1] + value[i, p2]) / 4.0
    assert b.targets[i, 0, 0] == pytest.approx(expect)
    assert task.lag == 6 and Adding().lag == 50
    out = b.targets.copy()
    out[0] += 0.039
    out[1] -= 0.041
    ok = task.correct(out, b)
    assert ok[0] and not ok[1] and ok[2:].all()
    assert task.stop.kind == "st3" and task.stop.beta == 0.01 and task.stop.window == 2000


def test_multiplication_layout_and_targets() -> None:
    b = Multiplication(T=100).sample(np.random.default_rng(1), 5000)
    value, marker = pairs(b)
    rows = np.arange(b.n)
    assert value.min() >= 0.0 and value.max() <= 1.0
    assert ((marker == 1.0).sum(axis=1) == 2).all()
    x1, x2 = b.info["x1_pos"], b.info["x2_pos"]
    first_marked = (x1 == 0) | (x2 == 0)
    assert first_marked.any() and (value[first_marked, 0] == 1.0).all()
    np.testing.assert_allclose(b.targets[:, 0, 0], value[rows, x1] * value[rows, x2])


def test_multiplication_stop_rule_and_test_tolerance() -> None:
    t140, t13 = Multiplication(), Multiplication(n_seq=13)
    assert (t140.stop.kind, t140.stop.max_wrong, t140.stop.window) == ("window_wrong", 140, 2000)
    assert t13.stop.max_wrong == 13
    assert t140.test_max_wrong_frac == 0.07 and t13.test_max_wrong_frac == 0.007
    assert t140.lag == 50 and t140.paper.lr == 0.1 and t140.paper.input_gate_bias is None
