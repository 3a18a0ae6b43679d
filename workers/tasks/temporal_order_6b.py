"""Experiment 6b: temporal order, three relevant symbols (Sec. 5.6, Table 9).

The paper's definition
----------------------
As Exp. 6a (:mod:`workers.tasks.temporal_order_6a`) with three relevant positions t1 in 10..20,
t2 in 33..43 and t3 in 66..76 (length 100..110) and 8 classes: XXX -> Q, XXY -> R, XYX -> S,
XYY -> U, YXX -> V, YXY -> A, YYX -> B, YYY -> C. One-hot targets over 8 outputs at the end,
ABS(0.3), ST3(0.1). Minimal lag 24 (from t3 <= 76 to the end at >= 100).

Worked example
--------------
Units a, b, c, d, X, Y, E, B = 0..7; classes Q R S U V A B C = 0..7. ``X`` at position 15,
``Y`` at 40 and ``Y`` at 70 (1-based; steps 14, 39, 69) is XYY -> U = class 3::

    step   0  ...  14 ...  39 ...  69 ...  L-1
    symbol E  ...  X  ...  Y  ...  Y  ...  B
    target                                 [0 0 0 1 0 0 0 0]

Ambiguities we resolved
-----------------------
As in 6a (1-based positions, binary class index with X = 0, Y = 1, first symbol most significant,
which reproduces the paper's class order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from workers.tasks.base import PaperSetup
from workers.tasks.temporal_order_6a import TemporalOrder6a


@dataclass(frozen=True)
class TemporalOrder6b(TemporalOrder6a):
    """Exp. 6b: classify the order of X/Y at three positions (8 classes)."""

    name = "temporal_order_6b"
    paper_ref = "Exp. 6b, Sec. 5.6, Table 9"
    n_outputs = 8
    windows: ClassVar[tuple[tuple[int, int], ...]] = ((10, 20), (33, 43), (66, 76))

    @property
    def paper(self) -> PaperSetup:
        # Table 10 row 6b: 3 blocks of 2 cells, input gates -2, -4, -6, lr 0.1.
        return PaperSetup(
            blocks=3,
            cells_per_block=2,
            lr=0.1,
            init_range=0.1,
            bias="all",
            input_gate_bias=(-2.0, -4.0, -6.0),
            output_gate_bias=None,
            weights=308,
            paper_sequences=571_100,
            paper_success=1.0,
        )
