"""Exp. 1: the embedded Reber grammar generator, its legal sets, criterion and fixed sets."""

from __future__ import annotations

import numpy as np

from workers.tasks import EmbeddedReber, fixed_sets, is_embedded_reber
from workers.tasks.embedded_reber import SYMBOLS, decode, strings_batch


def batch_of(*strings: str):
    L = max(len(s) for s in strings)
    sym = np.zeros((len(strings), L), dtype=np.int64)
    for i, s in enumerate(strings):
        sym[i, : len(s)] = [SYMBOLS.index(c) for c in s]
    return strings_batch(sym, np.array([len(s) for s in strings]))


def test_grammar_checker() -> None:
    assert is_embedded_reber("BTBTXSETE")
    assert is_embedded_reber("BPBPVVEPE")
    assert is_embedded_reber("BTBPTTVPXTVPSETE")
    assert not is_embedded_reber("BTBTXSEPE")  # closing symbol differs from the second
    assert not is_embedded_reber("BTBTXSET")  # no final E
    assert not is_embedded_reber("BTBTSXETE")  # S X E is not a Reber ending
    assert not is_embedded_reber("BTTXSETE")  # inner string lacks its B


def test_generated_strings_are_grammatical() -> None:
    b = EmbeddedReber().sample(np.random.default_rng(0), 2000)
    strings = decode(b)
    assert all(is_embedded_reber(s) for s in strings)
    assert min(len(s) for s in strings) == 9 == b.lengths.min()
    assert all(s[1] == s[-2] for s in strings)
    assert {s[1] for s in strings} == {"T", "P"}
    assert {s[2:4] for s in strings} == {"BT", "BP"}
    assert np.array_equal(b.lengths, [len(s) for s in strings])
    assert max(len(s) for s in strings) > 15  # the S and T loops do get taken


def test_worked_example_targets_and_legal_sets() -> None:
    b = batch_of("BTBTXSETE")
    np.testing.assert_array_equal(b.idx[0, :, 0], [0, 1, 0, 1, 4, 3, 6, 1, 6])
    np.testing.assert_array_equal(b.targets[0, :8].argmax(axis=1), [1, 0, 1, 4, 3, 6, 1, 6])
    assert b.targets[0, 8].sum() == 0 and b.target_steps[0, 8] == -1
    assert b.legal is not None
    legal = ["".join(SYMBOLS[k] for k in np.nonzero(row)[0]) for row in b.legal[0]]
    assert legal == ["TP", "B", "TP", "SX", "SX", "E", "T", "E", ""]


def test_actual_successor_is_always_legal() -> None:
    b = EmbeddedReber().sample(np.random.default_rng(1), 500)
    assert b.legal is not None
    used = b.target_steps >= 0
    assert (b.legal[b.targets == 1.0]).all()
    n_legal = b.legal.sum(axis=2)
    assert set(np.unique(n_legal[used])) == {1, 2} and (n_legal[~used] == 0).all()
    # the symbol before last is predictable only from the second symbol
    rows = np.arange(b.n)
    np.testing.assert_array_equal(b.legal[rows, b.lengths - 3].argmax(axis=1), b.idx[:, 1, 0])


def test_correct_on_hand_made_outputs() -> None:
    task = EmbeddedReber()
    b = batch_of("BTBTXSETE", "BPBPVVEPE")
    assert b.legal is not None
    out = b.legal * 0.6 + 0.1  # legal 0.7, illegal 0.1
    assert task.correct(out, b).all()
    out2 = out.copy()
    out2[0, 6, 2] = 0.8  # P beats the legal T before the last symbol of string 0
    np.testing.assert_array_equal(task.correct(out2, b), [False, True])
    out3 = out.copy()
    out3[1, 0, 3] = 0.7  # an illegal S ties with the legal T/P: not "more active"
    np.testing.assert_array_equal(task.correct(out3, b), [True, False])
    out4 = out.copy()
    out4[0, 8] = 5.0  # the unused slot after the final E is ignored
    assert task.correct(out4, b).all()


def test_fixed_sets_are_disjoint() -> None:
    train, test = fixed_sets(np.random.default_rng(3))
    assert train.n == 256 and test.n == 256
    tr, te = decode(train), decode(test)
    assert not set(tr) & set(te)
    assert all(is_embedded_reber(s) for s in tr + te)
    assert test.legal is not None and test.legal.shape == test.targets.shape
    again, again_test = fixed_sets(np.random.default_rng(3))
    assert decode(again) == tr and decode(again_test) == te
