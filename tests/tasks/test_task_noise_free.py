"""Exp. 2a, 2b and 2c: symbol layouts, targets and the distractor statistics."""

from __future__ import annotations

import numpy as np
import pytest

from workers.tasks import LongLag2c, NoiseFree2a, NoiseFree2b


def test_2a_sequences_are_the_two_paper_sequences() -> None:
    t = NoiseFree2a(p=4)
    b = t.sample(np.random.default_rng(0), 50)
    seqs = {tuple(row) for row in b.idx[:, :, 0]}
    assert seqs == {(3, 0, 1, 2, 3), (4, 0, 1, 2, 4)}  # (x, a1, a2, a3, x) and (y, ..., y)
    np.testing.assert_array_equal(b.lengths, 5)
    np.testing.assert_array_equal(b.targets[:, :4].argmax(axis=2), b.idx[:, 1:, 0])
    assert t.n_inputs == t.n_outputs == 5 and t.lag == 4


def test_2b_middle_is_random_and_only_the_end_is_judged() -> None:
    t = NoiseFree2b(p=10)
    b = t.sample(np.random.default_rng(1), 2000)
    sym = b.idx[:, :, 0]
    assert ((sym[:, 1:10] >= 0) & (sym[:, 1:10] <= 8)).all()
    assert len(np.unique(sym[:, 1:10])) == 9
    np.testing.assert_array_equal(sym[:, 0], sym[:, 10])
    assert set(np.unique(sym[:, 0])) == {9, 10}
    assert abs((sym[:, 0] == 10).mean() - 0.5) < 0.05
    out = b.targets.copy()
    out[:, 3] = 0.5  # middle predictions are not judged
    assert t.correct(out, b).all()
    out[0, 9, sym[0, 0]] = 0.76  # final prediction off by 0.24: still correct
    assert t.correct(out, b)[0]
    out[0, 9, sym[0, 0]] = 0.74  # off by 0.26: wrong
    assert not t.correct(out, b)[0]
    assert NoiseFree2a(p=10).correct(b.targets + 0.26 * (np.arange(11) == 3), b).sum() == 0


def test_2b_error_at_the_end_alone_keeps_the_inputs_and_the_judged_slot() -> None:
    """``train_error = "end"`` (a measured variant): one error slot, the final x/y prediction;
    the same sequences as the default from the same stream, judged the same way."""
    every, end = NoiseFree2b(p=10), NoiseFree2b(p=10, train_error="end")
    assert not every.error_at_end and end.error_at_end
    b, e = every.sample(np.random.default_rng(3), 500), end.sample(np.random.default_rng(3), 500)
    np.testing.assert_array_equal(b.idx, e.idx)
    assert e.targets.shape == (500, 1, 11)
    np.testing.assert_array_equal(e.target_steps[:, 0], 9)
    np.testing.assert_array_equal(e.targets[:, 0], b.targets[:, 9])
    out = e.targets.copy()
    out[0, 0, e.idx[0, 0, 0]] = 0.74
    assert end.correct(out, e).sum() == 499 and not end.correct(out, e)[0]
    assert end.params() == {"p": 10, "train_error": "end"}
    with pytest.raises(ValueError, match="train_error must be one of every, end"):
        NoiseFree2b(p=10, train_error="middle")


@pytest.fixture(scope="module")
def batch_2c():
    t = LongLag2c(q=30, p=5)
    return t, t.sample(np.random.default_rng(2), 20000)


def test_2c_layout(batch_2c) -> None:
    t, b = batch_2c
    p, q = 5, 30
    sym = b.idx[:, :, 0]
    rows = np.arange(b.n)
    assert t.n_inputs == p + 4 and t.n_outputs == 2
    assert (sym[:, 0] == p + 1).all()  # b
    assert np.isin(sym[:, 1], [p + 2, p + 3]).all()  # x or y
    assert (sym[rows, b.lengths - 1] == p).all()  # e is the last input
    inner = np.arange(sym.shape[1])[None, :]
    middle = (inner >= 2) & (inner < b.lengths[:, None] - 1)
    assert (sym[middle] < p).all()  # only distractors in between
    assert set(np.unique(sym[middle])) == set(range(p))
    k = b.lengths - 3 - q  # distractors beyond q
    assert k.min() == 0
    np.testing.assert_array_equal(k, b.info["k"])
    # the target: x -> (1, 0), y -> (0, 1), at the trigger step
    np.testing.assert_array_equal(b.targets[:, 0, 1], sym[:, 1] == p + 3)
    np.testing.assert_array_equal(b.targets[:, 0].sum(axis=1), 1.0)
    np.testing.assert_array_equal(b.target_steps[:, 0], b.lengths - 1)


def test_2c_geometric_tail(batch_2c) -> None:
    _, b = batch_2c
    k = b.info["k"]
    assert abs(k.mean() - 9.0) < 0.3  # E[k] = 0.9 / 0.1
    assert abs((k == 0).mean() - 0.1) < 0.01
    assert abs((k >= 10).mean() - 0.9**10) < 0.02  # P(k >= 10) = 0.9^10


def test_2c_default_p_and_weights() -> None:
    t = LongLag2c(q=200)
    assert t.p == 200 and t.n_inputs == 204 and t.paper.weights == 6 * 200 + 64
    assert t.lag == 200 and t.paper.paper_sequences == 33000
    assert LongLag2c(q=1000, p=100).paper.weights == 664
