"""Experiment 3a: Bengio et al.'s 2-sequence problem, noise and signal on one channel (Sec. 5.3).

The paper's definition
----------------------
Two classes, each with probability 0.5, on one real-valued input line. The sequence length is a
random integer in [T, T + T/10]. The first N elements are +1.0 (class 1) or -1.0 (class 2); all
later elements are Gaussian noise with mean 0 and variance 0.2. The target at the sequence end is
1.0 for class 1 and 0.0 for class 2; a sequence is correct when the absolute output error at the
end is below 0.2 (ABS(0.2)). Cases N = 1 and N = 3, T = 100 and 1000.

Stopping (ST2, Table 4): every so often a fresh set of 256 test sequences is evaluated; stop when
none is misclassified (ST1) *and* the mean absolute test error is below 0.01. Then a further 2560
test sequences give the fraction misclassified.

Worked example (T = 10, N = 3)
------------------------------
Lengths are drawn from {10, 11}. A class-1 sequence of length 10 (A = 1 input pair per step)::

    step   0    1    2    3      4     5     ...  9
    input  1.0  1.0  1.0  0.31  -0.52  0.07  ... -0.40   idx = 0, val = the value
    target                                      1.0     targets[0, 0, 0], target_steps[0, 0] = 9

Ambiguities we resolved
-----------------------
* "T + T/10" is ``T + T // 10`` (integer lengths), both ends inclusive.
* The 1-based "t <= N" information elements are 0-based steps 0..N-1.
* ``lag`` is T (Table 10's minimal lag for p = T = 100), not T - N.
* How often ST1/ST2 tests: every ``StopRule.test_every`` (1000) training sequences (the paper is
  silent). A stopped seed is judged on 2560 fresh sequences with at most 1 % wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from workers.tasks._common import check_int, end_batch, step_mask
from workers.tasks.base import PaperSetup, SequenceBatch, StopRule, Task, abs_correct

NOISE_VAR = 0.2
"""Variance of the Gaussian noise on the input line."""


@dataclass(frozen=True)
class TwoSequence3a(Task):
    """Exp. 3a: classify by the first N elements of a long noisy real-valued sequence."""

    T: int = 100
    """Minimal sequence length; lengths are uniform in [T, T + T // 10]; T > N."""
    N: int = 3
    """Number of information-carrying elements at the start (paper: 1 or 3); N >= 1."""

    name = "two_sequence_3a"
    paper_ref = "Exp. 3a, Sec. 5.3, Table 4"
    n_inputs = 1
    n_outputs = 1
    error_at_end = True
    test_size = 2560
    test_max_wrong_frac = 0.01
    beta = 0.2
    """ABS(0.2)."""
    # Table 4 (ST2 column), keyed by (T, N).
    _paper_sequences: ClassVar[dict[tuple[int, int], int]] = {
        (100, 3): 39_850,
        (100, 1): 64_330,
        (1000, 3): 452_460,
    }
    _lr = 1.0

    def __post_init__(self) -> None:
        N = check_int(self.name, "N", self.N, 1)
        T = check_int(self.name, "T", self.T, N + 1)
        object.__setattr__(self, "N", N)
        object.__setattr__(self, "T", T)

    def _values(
        self, rng: np.random.Generator, n: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lengths (n,), class (n,) with 0 = class 1, values (n, T_max) unpadded)."""
        T, N = self.T, self.N
        lengths = rng.integers(T, T + T // 10 + 1, size=n)
        cls = rng.integers(0, 2, size=n)
        x = rng.normal(0.0, np.sqrt(NOISE_VAR), size=(n, int(lengths.max())))
        x[:, :N] = self._info(x[:, :N], np.where(cls == 0, 1.0, -1.0)[:, None])
        return lengths, cls, x

    def _info(self, noise: np.ndarray, sign: np.ndarray) -> np.ndarray:
        """The information-carrying elements: 3a drops the noise there."""
        return np.broadcast_to(sign, noise.shape)

    @staticmethod
    def _batch(
        lengths: np.ndarray,
        x: np.ndarray,
        targets: np.ndarray,
        info: dict[str, Any],
        clean: np.ndarray | None = None,
    ) -> SequenceBatch:
        """Pad ``x`` (n, T) with zeros beyond each length; ``targets``/``clean`` are (n,)."""
        val = np.where(step_mask(lengths, x.shape[1]), x, 0.0)[:, :, None]  # (n, T, 1)
        idx = np.zeros(val.shape, dtype=np.int32)
        cl = None if clean is None else clean[:, None]
        return end_batch(idx, val, lengths, targets[:, None], 1, clean_targets=cl, info=info)

    @property
    def max_length(self) -> int:
        return self.T + self.T // 10

    def sample(self, rng: np.random.Generator, n: int) -> SequenceBatch:
        lengths, cls, x = self._values(rng, n)
        return self._batch(lengths, x, np.where(cls == 0, 1.0, 0.0), {"cls": cls})

    def correct(self, outputs: np.ndarray, batch: SequenceBatch) -> np.ndarray:
        """ABS(0.2) at the sequence end."""
        return abs_correct(outputs, batch, self.beta)

    @property
    def stop(self) -> StopRule:
        # ST2: no test sequence of 256 wrong and mean absolute test error below 0.01.
        return StopRule(kind="test", beta=0.01, max_wrong=0, test_size=256)

    @property
    def paper(self) -> PaperSetup:
        # Table 10 rows 3a-3c: 3 blocks of 1 cell, all hidden units biased ("b1"), the output
        # unit not; staggered negative gate biases.
        seqs = self._paper_sequences.get((self.T, self.N))
        return PaperSetup(
            blocks=3,
            cells_per_block=1,
            lr=self._lr,
            init_range=0.1,
            bias="hidden",
            input_gate_bias=(-1.0, -3.0, -5.0),
            output_gate_bias=(-2.0, -4.0, -6.0),
            weights=102,
            paper_sequences=seqs,
            paper_success=None if seqs is None else 1.0,
        )

    @property
    def lag(self) -> float:
        return float(self.T)

    def params(self) -> dict[str, int]:
        return {"T": self.T, "N": self.N}
