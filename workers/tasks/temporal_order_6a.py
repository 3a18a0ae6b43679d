"""Experiment 6a: temporal order, two relevant symbols (Sec. 5.6, Table 9).

The paper's definition
----------------------
Eight symbols ``a b c d X Y E B`` coded locally. A sequence starts with ``E`` and ends with the
trigger ``B``; all other elements are random symbols from {a, b, c, d}, except at positions t1 and
t2, which hold ``X`` or ``Y``. The length is uniform in 100..110, t1 uniform in 10..20 and t2
uniform in 50..60. The class is the temporal order of the two: XX -> Q, XY -> R, YX -> S, YY -> U.
Targets are one-hot over the 4 classes, given only at the end; a sequence is correct when the
final absolute error of *all* output units is below 0.3 (ABS(0.3)). Minimal lag 40 (from t2 <= 60
to the end at >= 100). Training stops at ST3(0.1).

Worked example
--------------
Units a, b, c, d, X, Y, E, B = 0..7; classes Q, R, S, U = 0..3. A length-100 sequence with
``Y`` at position 12 and ``X`` at position 55 (1-based, i.e. steps 11 and 54) is class S::

    step   0  1  ...  11 ...  54 ...  99
    symbol E  c  ...  Y  ...  X  ...  B       idx[i, :, 0] = [6 2 ... 5 ... 4 ... 7], val = 1.0
    target                            [0 0 1 0]  (S = YX), at step 99

Ambiguities we resolved
-----------------------
* Positions are 1-based as printed (position 1 holds ``E``), so t1 in 10..20 is 0-based step
  t1 - 1 in 9..19. The lag is unchanged (Table 10: 40 for 6a, 24 for 6b).
* Class index = binary number of the relevant symbols with X = 0, Y = 1, first one most
  significant (Q R S U for 6a; Q R S U V A B C for 6b, the paper's order).
* The paper's fixed length and windows are kept; the task has no parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from workers.tasks._common import end_batch, one_hot, one_hot_inputs
from workers.tasks.base import PaperSetup, SequenceBatch, StopRule, Task, abs_correct

SYMBOLS = "abcdXYEB"
"""The local code: symbol ``SYMBOLS[i]`` is input unit ``i``."""
X_UNIT, E_UNIT, B_UNIT = 4, 6, 7
LENGTH = (100, 110)
"""Inclusive range of the sequence length."""


def temporal_order_batch(
    rng: np.random.Generator, n: int, windows: tuple[tuple[int, int], ...]
) -> SequenceBatch:
    """Sequences with one X/Y at a random 1-based position inside each inclusive window."""
    K = len(windows)
    rows = np.arange(n)
    lengths = rng.integers(LENGTH[0], LENGTH[1] + 1, size=n)
    sym = rng.integers(0, 4, size=(n, int(lengths.max())))  # (n, T) a..d everywhere
    sym[:, 0] = E_UNIT
    sym[rows, lengths - 1] = B_UNIT
    pos = np.stack([rng.integers(lo, hi + 1, size=n) - 1 for lo, hi in windows], axis=1)  # (n, K)
    bits = rng.integers(0, 2, size=(n, K))  # 0: X, 1: Y
    sym[rows[:, None], pos] = X_UNIT + bits
    cls = bits @ (1 << np.arange(K - 1, -1, -1))  # first relevant symbol most significant
    idx, val = one_hot_inputs(sym, lengths)
    info = {"positions": pos, "bits": bits, "cls": cls}
    return end_batch(idx, val, lengths, one_hot(cls, 1 << K), 8, info=info)


@dataclass(frozen=True)
class TemporalOrder6a(Task):
    """Exp. 6a: classify the order of X/Y at t1 in 10..20 and t2 in 50..60 (4 classes)."""

    name = "temporal_order_6a"
    paper_ref = "Exp. 6a, Sec. 5.6, Table 9"
    n_inputs = 8
    n_outputs = 4
    error_at_end = True
    test_size = 2560
    test_max_wrong_frac = 0.01
    beta = 0.3
    """ABS(0.3)."""
    windows: ClassVar[tuple[tuple[int, int], ...]] = ((10, 20), (50, 60))
    """Inclusive 1-based windows of the relevant positions."""

    def sample(self, rng: np.random.Generator, n: int) -> SequenceBatch:
        return temporal_order_batch(rng, n, self.windows)

    def correct(self, outputs: np.ndarray, batch: SequenceBatch) -> np.ndarray:
        """ABS(0.3) on all output units at the sequence end."""
        return abs_correct(outputs, batch, self.beta)

    @property
    def stop(self) -> StopRule:
        return StopRule(kind="st3", beta=0.1, window=2000)

    @property
    def paper(self) -> PaperSetup:
        # Table 10 row 6a: 2 blocks of 2 cells, all non-input units biased, input gates -2, -4.
        return PaperSetup(
            blocks=2,
            cells_per_block=2,
            lr=0.5,
            init_range=0.1,
            bias="all",
            input_gate_bias=(-2.0, -4.0),
            output_gate_bias=None,
            weights=156,
            paper_sequences=31_390,
            paper_success=1.0,
        )

    @property
    def lag(self) -> float:
        return float(LENGTH[0] - self.windows[-1][1])
