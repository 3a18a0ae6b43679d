"""Success readings over the window of most recent training sequences, vectorised per lane.

The paper stops training when a criterion on the most recent training sequences holds
(Table 11; e.g. ST3(0.01): average training error below 0.01 AND the 2000 most recent sequences
processed correctly). How literally that is read moves results by ~5x, so every seed records when
each of three readings *first* held:

* ``literal``: the task's own stopping rule (``st3`` / ``window_wrong``); for ``test`` rules it is
  decided by periodic test-set evaluation in the trainer, for ``budget`` rules never early;
* ``mae``: mean absolute error over the window below the task's ABS bound;
* ``frac99``: at least 99% of the window correct.

Every reading needs a full window (``window`` sequences seen), so none holds trivially at the
start. Each block of B sequences per lane is checked at every sequence with cumulative sums: no
Python loop over sequences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workers.tasks.base import StopRule


@dataclass
class BlockReadings:
    """First index in the block (0-based, -1 = never) at which each reading held, per lane."""

    literal: np.ndarray
    mae: np.ndarray
    frac99: np.ndarray
    window_error: np.ndarray
    """(K,) mean training error over the window at the end of the lane's block."""
    window_correct: np.ndarray
    """(K,) fraction correct over the window at the end of the lane's block."""


class WindowTracker:
    """Keeps the last ``window`` (error, abs error, correct) values of each of K lanes."""

    def __init__(self, K: int, rule: StopRule, abs_bound: float) -> None:
        self.K, self.rule, self.abs_bound = K, rule, abs_bound
        self.W = rule.window
        self.err = np.zeros((K, self.W))
        self.abs = np.zeros((K, self.W))
        self.ok = np.zeros((K, self.W))
        self.seen = np.zeros(K, dtype=np.int64)

    def update(
        self, err: np.ndarray, abs_err: np.ndarray, correct: np.ndarray, n_seq: np.ndarray
    ) -> BlockReadings:
        """Add a block: arrays (K, B); lane k contributed its first ``n_seq[k]`` sequences."""
        K, B = err.shape
        W = self.W
        valid = np.arange(B)[None, :] < n_seq[:, None]  # (K, B)
        e = np.concatenate([self.err, np.where(valid, err, 0.0)], axis=1)  # (K, W+B)
        a = np.concatenate([self.abs, np.where(valid, abs_err, 0.0)], axis=1)
        c = np.concatenate([self.ok, np.where(valid, correct, 0.0)], axis=1)

        def window_sum(x: np.ndarray) -> np.ndarray:
            cs = np.cumsum(x, axis=1)
            # window ending at block position i: entries (i+1) .. (i+W) of the concatenation
            return cs[:, W:] - cs[:, :B]  # (K, B)

        se, sa, sc = window_sum(e), window_sum(a), window_sum(c)
        full = (self.seen[:, None] + np.arange(1, B + 1)[None, :] >= W) & valid
        mean_e, mean_a, frac = se / W, sa / W, sc / W
        rule = self.rule
        if rule.kind == "st3":
            lit = full & (mean_e < (rule.beta or 0.0)) & (sc >= W - 0.5)
        elif rule.kind == "window_wrong":
            lit = full & ((W - sc) < rule.max_wrong - 0.5)
        else:  # "test" and "budget" rules are not decided on the training window
            lit = np.zeros_like(full)
        mae = full & (mean_a < self.abs_bound)
        f99 = full & (frac >= 0.99)

        last = np.maximum(n_seq - 1, 0)
        rows = np.arange(K)
        out = BlockReadings(
            literal=_first(lit),
            mae=_first(mae),
            frac99=_first(f99),
            window_error=se[rows, last] / np.maximum(np.minimum(self.seen + n_seq, W), 1),
            window_correct=sc[rows, last] / np.maximum(np.minimum(self.seen + n_seq, W), 1),
        )
        # keep the last W valid entries of each lane
        for arr, new in ((self.err, e), (self.abs, a), (self.ok, c)):
            arr[:] = _last_window(new, n_seq, W)
        self.seen += n_seq
        return out


def _first(mask: np.ndarray) -> np.ndarray:
    """(K,) index of the first True per row, -1 where none."""
    any_ = mask.any(axis=1)
    return np.where(any_, mask.argmax(axis=1), -1)


def _last_window(x: np.ndarray, n_seq: np.ndarray, W: int) -> np.ndarray:
    """Rows of x (K, W+B) hold W old + n_seq[k] new valid entries: return the last W of them."""
    K = x.shape[0]
    cols = (n_seq[:, None] + np.arange(W)[None, :]).astype(np.int64)  # (K, W)
    return x[np.arange(K)[:, None], cols]
