"""Experiment 2c: very long lags, no local regularities, many distractors (Sec. 5.2, Table 3).

The paper's definition
----------------------
Symbols: p distractors ``a_1 .. a_p``, the trigger ``e``, the start ``b`` and the classes ``x``,
``y``, coded locally over p+4 inputs; 2 outputs. A sequence is::

    (b, x|y, a_{i_1}, ..., a_{i_{q+k}}, e, x|y)      with the last symbol equal to the second

generated as: a prefix of length q+2 (``b``, the class symbol, q random distractors); then
repeatedly a random distractor (probability 9/10) or ``e`` (1/10), stopping at ``e``; then the
class symbol again. Distractor indices are uniform in 1..p (the paper's "1 <= i <= q" is a typo:
Table 3 has p < q). Error is given only at the end: after seeing ``e`` the net must output the
class, stored for at least q+1 steps. Success: the error of both output units on the final
element below 0.2 (ABS(0.2)) for 10,000 successive random sequences.

Worked example (q = 2, p = 3)
-----------------------------
Units: a_1..a_3 = 0..2, e = 3, b = 4, x = 5, y = 6. The paper's sequence
``(b, y, a2, a3, a1, a1, e, y)`` (k = 2) becomes 7 input steps and one target::

    step   0  1  2  3  4  5  6
    input  4  6  1  2  0  0  3      idx[0, :, 0], val = 1.0; lengths[0] = 7
    target                   [0 1]  targets[0, 0] (x -> [1, 0], y -> [0, 1]); target_steps = 6

Ambiguities we resolved
-----------------------
* The final class symbol is the *target*, not an input: the fed sequence ends with ``e`` and the
  target is given at the step where ``e`` is input (``lengths = q + k + 3``).
* The 2 outputs code the class one-hot: x -> (1, 0), y -> (0, 1).
* ``k`` (distractors after the prefix) is geometric on {0, 1, ...} with P(k) = 0.9^k * 0.1: the
  minimum paper length is q+4 as stated; the mean paper length is then q+13 (the paper says q+14,
  one more than its own procedure gives).
* ``p`` defaults to ``q`` (Table 3's first five rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workers.tasks._common import check_int, end_batch, one_hot, one_hot_inputs
from workers.tasks.base import PaperSetup, SequenceBatch, StopRule, Task, abs_correct

# Table 3: mean training sequences to success for (q, p), 20 trials each.
_PAPER_SEQUENCES = {
    (50, 50): 30_000,
    (100, 100): 31_000,
    (200, 200): 33_000,
    (500, 500): 38_000,
    (1000, 1000): 49_000,
    (1000, 500): 49_000,
    (1000, 200): 75_000,
    (1000, 100): 135_000,
    (1000, 50): 203_000,
}
P_TRIGGER = 0.1
"""Probability of appending ``e`` (instead of a distractor) after the prefix."""


@dataclass(frozen=True)
class LongLag2c(Task):
    """Exp. 2c: remember the class symbol over q+k distractors until the trigger ``e``."""

    q: int = 100
    """Minimal number of distractors between the class symbol and ``e`` (the lag); q >= 1."""
    p: int | None = None
    """Number of distinct distractor symbols; defaults to q; p >= 1."""
    n_inputs: int = field(init=False, repr=False, compare=False)

    name = "long_lag_2c"
    paper_ref = "Exp. 2c, Sec. 5.2, Table 3"
    n_outputs = 2
    error_at_end = True
    test_size = 10000
    test_max_wrong_frac = 0.0
    beta = 0.2
    """ABS(0.2)."""

    def __post_init__(self) -> None:
        q = check_int(self.name, "q", self.q, 1)
        p = q if self.p is None else check_int(self.name, "p", self.p, 1)
        object.__setattr__(self, "q", q)
        object.__setattr__(self, "p", p)
        object.__setattr__(self, "n_inputs", p + 4)

    @property
    def _p(self) -> int:
        assert self.p is not None  # set in __post_init__
        return self.p

    @property
    def max_length(self) -> int:
        """q + 3 plus the geometric tail: P(k > 130) = 0.9^131 ~ 1e-6."""
        return self.q + 3 + int(np.ceil(np.log(1e-6) / np.log(1 - P_TRIGGER)))

    def sample(self, rng: np.random.Generator, n: int) -> SequenceBatch:
        q, p = self.q, self._p
        e, b, x = p, p + 1, p + 2
        k = rng.geometric(P_TRIGGER, size=n) - 1  # distractors after the prefix, >= 0
        cls = rng.integers(0, 2, size=n)  # 0: x, 1: y
        lengths = q + k + 3  # b, class, q + k distractors, e
        T = int(lengths.max())
        sym = rng.integers(0, p, size=(n, T))  # (n, T) distractors everywhere, then overwrite
        sym[:, 0] = b
        sym[:, 1] = x + cls
        sym[np.arange(n), lengths - 1] = e
        idx, val = one_hot_inputs(sym, lengths)
        return end_batch(
            idx, val, lengths, one_hot(cls, 2), self.n_inputs, info={"cls": cls, "k": k}
        )

    def correct(self, outputs: np.ndarray, batch: SequenceBatch) -> np.ndarray:
        """ABS(0.2) on both outputs at the trigger step."""
        return abs_correct(outputs, batch, self.beta)

    @property
    def stop(self) -> StopRule:
        return StopRule(kind="budget", test_size=10000)

    @property
    def paper(self) -> PaperSetup:
        # Table 10 rows 2c: 2 blocks of 1 cell, no biases at all, W = 6p + 64.
        seqs = _PAPER_SEQUENCES.get((self.q, self._p))
        return PaperSetup(
            blocks=2,
            cells_per_block=1,
            lr=0.01,
            init_range=0.2,
            bias="none",
            weights=6 * self._p + 64,
            paper_sequences=seqs,
            paper_success=None if seqs is None else 1.0,
        )

    @property
    def lag(self) -> float:
        return float(self.q)

    def params(self) -> dict[str, int]:
        return {"q": self.q, "p": self._p}
