"""Exp. 3a-3c: the 2-sequence problem's inputs, noise levels, targets and criteria."""

from __future__ import annotations

import numpy as np

from workers.tasks import TwoSequence3a, TwoSequence3b, TwoSequence3c


def values(b) -> np.ndarray:
    return b.val[:, :, 0]


def test_3a_layout_and_targets() -> None:
    t = TwoSequence3a(T=100, N=3)
    b = t.sample(np.random.default_rng(0), 4000)
    x = values(b)
    assert b.lengths.min() == 100 and b.lengths.max() == 110
    assert set(np.unique(b.lengths)) == set(range(100, 111))
    sign = x[:, 0]
    assert set(np.unique(x[:, :3])) == {-1.0, 1.0}
    assert (x[:, :3] == sign[:, None]).all()
    np.testing.assert_array_equal(b.targets[:, 0, 0], np.where(sign > 0, 1.0, 0.0))
    noise = x[:, 3:100]
    assert abs(noise.var() - 0.2) < 0.005 and abs(noise.mean()) < 0.005
    assert abs((sign > 0).mean() - 0.5) < 0.03
    assert (b.idx == 0).all() and t.lag == 100


def test_3b_noisy_information() -> None:
    b = TwoSequence3b(T=50, N=3).sample(np.random.default_rng(1), 4000)
    x = values(b)
    cls = b.info["cls"]
    info = x[:, :3] - np.where(cls == 0, 1.0, -1.0)[:, None]
    assert abs(info.var() - 0.2) < 0.01 and abs(info.mean()) < 0.01
    np.testing.assert_array_equal(b.targets[:, 0, 0], cls == 0)
    # same seed: 3a and 3b share lengths, classes and the noise after the first N elements
    a = TwoSequence3a(T=50, N=3).sample(np.random.default_rng(1), 4000)
    np.testing.assert_array_equal(values(a)[:, 3:], x[:, 3:])


def test_3c_noisy_targets_and_clean_criterion() -> None:
    t = TwoSequence3c(T=50, N=1)
    b = t.sample(np.random.default_rng(2), 8000)
    assert b.clean_targets is not None
    clean = b.clean_targets[:, 0, 0]
    cls = b.info["cls"]
    np.testing.assert_array_equal(clean, np.where(cls == 0, 0.2, 0.8))
    noise = b.targets[:, 0, 0] - clean
    assert abs(noise.var() - 0.1) < 0.006 and abs(noise.mean()) < 0.01
    np.testing.assert_array_equal(values(b)[:, 0], np.where(cls == 0, 1.0, -1.0))
    out = b.clean_targets.copy()
    out[0] += 0.0999  # within 0.1: correct
    out[1] -= 0.1001
    ok = t.correct(out, b)
    assert ok[0] and not ok[1] and ok[2:].all()
    assert t.correct(b.targets, b).mean() < 0.3  # the noisy targets are mostly > 0.1 away


def test_3a_abs_criterion_and_stop_rules() -> None:
    t = TwoSequence3a(T=20)
    b = t.sample(np.random.default_rng(3), 10)
    np.testing.assert_array_equal(t.correct(b.targets + 0.19, b), True)
    np.testing.assert_array_equal(t.correct(b.targets - 0.21, b), False)
    assert (t.stop.kind, t.stop.max_wrong, t.stop.beta, t.stop.test_size) == ("test", 0, 0.01, 256)
    s3b = TwoSequence3b().stop
    assert (s3b.max_wrong, s3b.beta) == (5, 0.04)
    s3c = TwoSequence3c().stop
    assert (s3c.max_wrong, s3c.beta) == (0, 0.015)
