"""Experiment 3c: the 2-sequence problem with noisy real-valued targets (Sec. 5.3, Table 6).

The paper's definition
----------------------
As Exp. 3a (:mod:`workers.tasks.two_sequence_3a`), but the targets are 0.2 (class 1) and 0.8
(class 2) *plus Gaussian target noise* with mean 0 and variance 0.1 (sd 0.316): the net has to
learn the conditional expectation. A sequence is misclassified when |output - noise-free target|
> 0.1. Stop when none of 256 test sequences is misclassified and the mean |output - noise-free
target| is below 0.015. Learning rate 0.1 (3a/3b: 1.0).

Worked example (T = 10, N = 3)
------------------------------
A class-1 sequence of length 10::

    step   0    1    2    3     ...  9
    input  1.0  1.0  1.0  0.31  ... -0.40      as in 3a
    target                           0.2 + 0.13 = 0.33   targets[0, 0, 0] (noisy, for training)
    clean                            0.2                 clean_targets[0, 0, 0] (for correct())

Ambiguities we resolved
-----------------------
* Noisy targets are not clipped to [0, 1]; the logistic output cannot follow the excursions, but
  the conditional expectation it must learn stays 0.2 / 0.8.
* Correct means |output - clean| <= 0.1 (the paper defines the *misclassified* ones by "> 0.1").
* The target noise is drawn after the inputs, so the inputs equal 3a's for the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from workers.tasks.base import SequenceBatch, StopRule
from workers.tasks.two_sequence_3a import TwoSequence3a

TARGET_NOISE_VAR = 0.1
"""Variance of the Gaussian noise on the training targets."""


@dataclass(frozen=True)
class TwoSequence3c(TwoSequence3a):
    """Exp. 3c: as 3a with targets 0.2 / 0.8 plus Gaussian target noise."""

    name = "two_sequence_3c"
    paper_ref = "Exp. 3c, Sec. 5.3, Table 6"
    beta = 0.1
    """Tolerance around the noise-free target (inclusive)."""
    _paper_sequences: ClassVar[dict[tuple[int, int], int]] = {(100, 3): 269_650, (100, 1): 565_640}
    _lr = 0.1

    def sample(self, rng: np.random.Generator, n: int) -> SequenceBatch:
        lengths, cls, x = self._values(rng, n)
        clean = np.where(cls == 0, 0.2, 0.8)
        noisy = clean + rng.normal(0.0, np.sqrt(TARGET_NOISE_VAR), size=n)
        return self._batch(lengths, x, noisy, {"cls": cls}, clean=clean)

    def correct(self, outputs: np.ndarray, batch: SequenceBatch) -> np.ndarray:
        """|output - noise-free target| <= 0.1 at the sequence end."""
        assert batch.clean_targets is not None, "a 3c batch carries its noise-free targets"
        err = np.abs(batch.clean_targets - outputs)  # (n, 1, 1)
        return np.asarray(
            ((err <= self.beta) | (batch.target_steps < 0)[:, :, None]).all(axis=(1, 2))
        )

    @property
    def stop(self) -> StopRule:
        # None of 256 wrong and mean |output - clean target| below 0.015.
        return StopRule(kind="test", beta=0.015, max_wrong=0, test_size=256)
