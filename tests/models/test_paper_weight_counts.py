"""Every configuration of the paper's Table 10 has exactly the paper's number of weights.

The count is the strongest check we have that `Lstm1997Layout` wires the paper's connectivity
(units, recurrent connections, which units carry a bias). Paper Sec. 5 and Table 10.
"""

from __future__ import annotations

import pytest

from models.layout import Lstm1997Layout

# (label, layout kwargs, Table 10 weight count)
TABLE10: list[tuple[str, dict[str, object], int]] = [
    ("1-1", dict(n_inputs=7, n_outputs=7, blocks=4, cells_per_block=1, bias="gates"), 264),
    ("1-2", dict(n_inputs=7, n_outputs=7, blocks=3, cells_per_block=2, bias="gates"), 276),
    (
        "2a/2b",
        dict(
            n_inputs=101,
            n_outputs=101,
            blocks=1,
            cells_per_block=1,
            gates="input",
            connectivity="B",
            bias="none",
        ),
        10504,
    ),
    # 2c-1..5: p = q distractors, p + 4 inputs, 2 blocks of 1 cell, no biases: 6p + 64.
    *[
        (
            f"2c p={p}",
            dict(n_inputs=p + 4, n_outputs=2, blocks=2, cells_per_block=1, bias="none"),
            w,
        )
        for p, w in [(50, 364), (100, 664), (200, 1264), (500, 3064), (1000, 6064)]
    ],
    # 2c-6..9: q = 1000 with 500, 200, 100, 50 distractors (504, 204, 104, 54 inputs).
    *[
        (
            f"2c-{row} inputs={i}",
            dict(n_inputs=i, n_outputs=2, blocks=2, cells_per_block=1, bias="none"),
            w,
        )
        for row, i, w in [(6, 504, 3064), (7, 204, 1264), (8, 104, 664), (9, 54, 364)]
    ],
    ("3a-3c", dict(n_inputs=1, n_outputs=1, blocks=3, cells_per_block=1, bias="hidden"), 102),
    ("4, 5", dict(n_inputs=2, n_outputs=1, blocks=2, cells_per_block=2, bias="all"), 93),
    ("6a", dict(n_inputs=8, n_outputs=4, blocks=2, cells_per_block=2, bias="all"), 156),
    ("6b", dict(n_inputs=8, n_outputs=8, blocks=3, cells_per_block=2, bias="all"), 308),
]


@pytest.mark.parametrize(("label", "kwargs", "weights"), TABLE10, ids=[r[0] for r in TABLE10])
def test_table10_weight_count(label: str, kwargs: dict[str, object], weights: int) -> None:
    lay = Lstm1997Layout(**kwargs)  # type: ignore[arg-type]
    assert lay.n_weights == weights


def test_2c_weight_formula() -> None:
    """Sec. 5.2c: 6p + 64 for every p, not only the tabulated ones."""
    for p in (3, 17, 333):
        lay = Lstm1997Layout(n_inputs=p + 4, n_outputs=2, blocks=2, cells_per_block=1, bias="none")
        assert lay.n_weights == 6 * p + 64


def test_2a_has_no_recurrent_weights() -> None:
    """Exp. 2a: 'B' connectivity, so the only recurrence is the CEC's fixed self-weight."""
    lay = Lstm1997Layout(
        n_inputs=101,
        n_outputs=101,
        blocks=1,
        cells_per_block=1,
        gates="input",
        connectivity="B",
        bias="none",
    )
    I, Hn = lay.n_inputs, lay.n_hidden
    assert lay.mask_h[:, I : I + Hn].sum() == 0
    assert lay.mask_o[:, lay.n_cells : lay.n_cells + I].sum() == 101 * 101  # input -> output
