"""Experiment 2b: no local regularities (Sec. 5.2).

The paper's definition
----------------------
As Exp. 2a (:mod:`workers.tasks.noise_free_2a`), but the middle of each sequence is random::

    (y, a_{i_1}, ..., a_{i_{p-1}}, y)      and      (x, a_{i_1}, ..., a_{i_{p-1}}, x)

with every ``i_k`` uniform in 1..p-1, drawn afresh for every sequence, and the class (x or y) drawn
with probability 0.5 (selection t2). Every next symbol is to be predicted, but only the final x/y
is predictable. Success: ABS(0.25) *at the sequence end* over 10,000 successive random sequences.

Worked example (p = 4)
----------------------
Units: a_1 = 0, a_2 = 1, a_3 = 2, x = 3, y = 4. A y-sequence ``(y, a3, a1, a3, y)``::

    step   0  1  2  3  4
    input  4  2  0  2  4        idx[0, :, 0], val = 1.0
    target 2  0  2  4  -        one-hot over 5 outputs; slot 4 unused
    judged          ^           correct() looks at slot 3 only (the prediction of the final y)

Ambiguities we resolved
-----------------------
* Training error at every step (the paper: "every next symbol must be predicted"), with the
  one-hot of the actual next symbol as target; the unpredictable middle steps just push the
  outputs towards symbol frequencies. ``correct`` judges only the final prediction (slot p-1).
* Input layout, test set and budget as in 2a.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from workers.tasks.base import PaperSetup, SequenceBatch
from workers.tasks.noise_free_2a import NoiseFree2a


@dataclass(frozen=True)
class NoiseFree2b(NoiseFree2a):
    """Exp. 2b: as 2a with a random middle; only the final x/y is judged."""

    name = "noise_free_2b"
    paper_ref = "Exp. 2b, Sec. 5.2"

    def _middle(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.integers(0, self.p - 1, size=(n, self.p - 1))

    def correct(self, outputs: np.ndarray, batch: SequenceBatch) -> np.ndarray:
        """ABS(0.25) on every output unit at the last used slot (the final x/y prediction)."""
        rows = np.arange(batch.n)
        last = batch.lengths - 2  # slot predicting the final symbol
        err = np.abs(batch.targets[rows, last] - outputs[rows, last])  # (n, O)
        return np.asarray((err < self.beta).all(axis=1))

    @property
    def paper(self) -> PaperSetup:
        # Same setup as 2a; LSTM always succeeded at p = 100, after 5,680 sequences (mean of 18).
        return replace(super().paper, paper_sequences=5680 if self.p == 100 else None)
