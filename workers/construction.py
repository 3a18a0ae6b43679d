"""Sequential construction: the paper's way of adding the memory cell in Exp. 2a and 2b.

Sec. 4 of the paper lists remedies for the "abuse problem" (a cell used as a bias-like constant
early in training); remedy 1 is sequential network construction, and in Exp. 2a/2b "the cell and
its input gate are added once the error stops decreasing". Without it the cell of those nets
(g in [0, 1], h the identity, no output gate, no biases) integrates a positive input at every one
of the p = 100 steps, its state reaches tens, and the first updates of the output weights it
feeds drive all 101 logistic outputs into saturation, where their f' is ~0 and nothing learns
again (measured: `benchmarks/results/paper.md`, the 2a/2b variants).

How carousel does it (`TrialConfig.construction = "sequential"`, the default of the tasks whose
`PaperSetup.construction` says so):

* The weights from the cells to the output units are held at zero until the cells are added.
  A cell that feeds nothing gets no error signal, so its own incoming weights keep their
  initial values: holding it is the same as not yet having it. Its initial output weights are
  kept aside and put in when it is added, so the added cell starts from the seed's own random
  weights, as a newly added unit would.
* "Once the error stops decreasing" is read as: a lane's window training error
  (`workers.readings`) fell by less than `MIN_GAIN` (1%) of its whole fall so far during the
  last `PATIENCE` (1000) sequences (`Plateau`). The K seeds of a trial share their topology
  masks, so the cells are added to all of them when every lane still training has plateaued
  (they learn the direct input->output part of the task at nearly the same pace).
* Only the compiled 1997 kernel implements it; the trial records when the cells were added
  (``trained["cells_added_at"]``, sequences per seed) and the construction it used.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

PATIENCE = 1000
"""Sequences over which the error's recent decrease is measured."""
MIN_GAIN = 0.01
"""The error has stopped decreasing when its decrease over the last `PATIENCE` sequences is
below this share of its whole decrease so far (the learning curve has flattened to about 1% of
its average slope)."""


class Plateau:
    """Tracks, per lane, whether its window training error has stopped decreasing: over the last
    ``patience`` sequences it fell by less than ``min_gain`` of its fall since the first block.
    A relative-to-itself rule, because the logistic outputs approach their 0/1 targets ever more
    slowly: the error never strictly stops falling.

    Example:
        >>> p = Plateau(1, patience=500)
        >>> n = np.array([250])
        >>> [bool(p.update(np.array([e]), n)[0]) for e in (1.0, 0.5, 0.2, 0.199, 0.1989)]
        [False, False, False, False, True]
    """

    def __init__(self, K: int, patience: int = PATIENCE, min_gain: float = MIN_GAIN) -> None:
        self.patience = patience
        self.min_gain = min_gain
        self.first = [math.nan] * K
        """Per lane: the window error at its first block's end."""
        self.recent: list[deque[tuple[int, float]]] = [deque() for _ in range(K)]
        """Per lane: (sequences seen, window error) at block ends, back to the last one at
        least ``patience`` sequences old (bounded: a lane held for its whole budget stays cheap)."""

    def update(self, window_error: np.ndarray, n_seq: np.ndarray) -> np.ndarray:
        """(K,) bool: the lanes whose error has stopped decreasing, after a block of ``n_seq``
        sequences each ending at ``window_error``."""
        flat = np.zeros(len(self.recent), dtype=bool)
        for k, hist in enumerate(self.recent):
            err, n = float(window_error[k]), int(n_seq[k])
            if n == 0 or not np.isfinite(err):
                continue
            seen = (hist[-1][0] if hist else 0) + n
            if not hist:
                self.first[k] = err
            hist.append((seen, err))
            while len(hist) > 1 and hist[1][0] <= seen - self.patience:
                hist.popleft()  # hist[0] stays the latest point at least `patience` back
            if hist[0][0] > seen - self.patience:
                continue
            fallen = self.first[k] - err
            flat[k] = fallen > 0 and hist[0][1] - err < self.min_gain * fallen
        return flat


def resolve(construction: str | None, paper_default: str, lstm1997: bool, kernel: bool) -> str:
    """The construction a trial uses: the asked one (None: the paper setup's), ``at_once`` for a
    model other than the 1997 net (a baseline is not built cell by cell).

    Raises:
        ValueError: ``sequential`` asked explicitly of another model or another backend than
            the compiled 1997 kernel.

    Example:
        >>> resolve(None, "sequential", True, True), resolve(None, "sequential", False, True)
        ('sequential', 'at_once')
    """
    if construction == "sequential" and not (lstm1997 and kernel):
        raise ValueError(
            "construction 'sequential' adds the 1997 net's cells during training; it needs"
            " lstm1997 with the truncated gradient on the compiled kernel (backend auto or kernel)"
        )
    if construction is not None:
        return construction
    return paper_default if lstm1997 and kernel else "at_once"
