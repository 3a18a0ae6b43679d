"""Exp. 6a/6b: sequence layout and the class mapping of the temporal order task."""

from __future__ import annotations

import numpy as np
import pytest

from workers.tasks import TemporalOrder6a, TemporalOrder6b
from workers.tasks.temporal_order_6a import SYMBOLS

# The paper's mapping, written out.
CLASSES_6A = {"XX": "Q", "XY": "R", "YX": "S", "YY": "U"}
CLASSES_6B = {
    "XXX": "Q",
    "XXY": "R",
    "XYX": "S",
    "XYY": "U",
    "YXX": "V",
    "YXY": "A",
    "YYX": "B",
    "YYY": "C",
}


@pytest.mark.parametrize(
    ("task", "mapping", "order", "windows"),
    [
        (TemporalOrder6a(), CLASSES_6A, "QRSU", [(10, 20), (50, 60)]),
        (TemporalOrder6b(), CLASSES_6B, "QRSUVABC", [(10, 20), (33, 43), (66, 76)]),
    ],
)
def test_layout_and_class_mapping(task, mapping, order, windows) -> None:
    b = task.sample(np.random.default_rng(0), 3000)
    sym = b.idx[:, :, 0]
    rows = np.arange(b.n)
    assert b.lengths.min() == 100 and b.lengths.max() == 110
    assert (sym[:, 0] == SYMBOLS.index("E")).all()
    assert (sym[rows, b.lengths - 1] == SYMBOLS.index("B")).all()
    for i in range(200):
        s = "".join(SYMBOLS[k] for k in sym[i, : b.lengths[i]])
        rel = [(t + 1, c) for t, c in enumerate(s) if c in "XY"]  # 1-based positions
        assert len(rel) == len(windows)
        assert set(s[1:-1]) <= set("abcdXY")
        for (pos, _), (lo, hi) in zip(rel, windows, strict=True):
            assert lo <= pos <= hi
        label = mapping["".join(c for _, c in rel)]
        assert b.targets[i, 0].argmax() == order.index(label)
        assert b.targets[i, 0].sum() == 1.0
    # all windows' positions and all classes occur
    pos = b.info["positions"] + 1
    for k, (lo, hi) in enumerate(windows):
        assert set(np.unique(pos[:, k])) == set(range(lo, hi + 1))
    assert set(np.unique(b.targets[:, 0].argmax(axis=1))) == set(range(len(order)))


def test_lags_and_criterion() -> None:
    a, b6 = TemporalOrder6a(), TemporalOrder6b()
    assert a.lag == 40 and b6.lag == 24
    assert a.n_outputs == 4 and b6.n_outputs == 8 and a.n_inputs == b6.n_inputs == 8
    b = a.sample(np.random.default_rng(1), 20)
    out = b.targets * 0.75 + 0.2  # on-unit 0.95, off-units 0.2: within 0.3
    assert a.correct(out, b).all()
    out[3, 0, 0] += 0.11 if b.targets[3, 0, 0] == 0 else -0.26  # one unit now 0.31 off
    assert a.correct(out, b).sum() == 19 and not a.correct(out, b)[3]
    assert a.stop.kind == "st3" and a.stop.beta == 0.1
