"""Labelled multichannel recordings: splits, normalisation, and the batches the trainer reads.

The real-data tasks (`workers.tasks.real`, `workers.tasks.user_csv`) all reduce to a
:class:`Recordings` set per split: a list of (length, channels) float arrays, ragged lengths
allowed, and an integer class per recording. :func:`prepare` turns a train and a test split into
what a task serves:

* a **validation** split carved from train (stratified, seeded, ``val_frac`` of each class that
  has at least two training recordings), used only by the stopping rule;
* the remaining **fit** split, the only data training ever sees;
* **per-channel normalisation** (mean 0, standard deviation 1) computed from the fit split alone
  and applied to every split, so nothing about validation or test data reaches training;
* for the long-lag variant, the **filler** statistics (per-channel lag-1 autocorrelation of the
  fit split, for the sensor-like AR(1) noise).

:func:`to_batch` lays recordings out in the sparse ``SequenceBatch`` format (one ``(channel,
value)`` pair per channel and step, plus a "recording on" flag unit), padded to the longest
sequence of the batch with ``lengths`` marking the real steps: ragged data needs nothing else,
since every backend stops each sequence at its own length and reads the label at its last step.
After the recording come ``lag`` steps of filler (flag 0) and then the label is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.signal import lfilter

from workers.tasks._common import end_batch, one_hot
from workers.tasks.base import SequenceBatch

Filler = Literal["noise", "segments"]
FILLERS: tuple[Filler, ...] = ("noise", "segments")


@dataclass(frozen=True)
class Recordings:
    """Labelled recordings of one split: ``X[i]`` is (length_i, C) float64, ``y[i]`` its class."""

    X: tuple[np.ndarray, ...]
    y: np.ndarray
    """(n,) int64 class indices into the task's class names."""

    @property
    def n(self) -> int:
        return len(self.X)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([x.shape[0] for x in self.X], dtype=np.int64)

    def take(self, rows: np.ndarray) -> Recordings:
        return Recordings(tuple(self.X[int(i)] for i in rows), self.y[rows])

    def padded(self) -> np.ndarray:
        """(n, longest, C) with zeros after each recording's end."""
        C = self.X[0].shape[1]
        out = np.zeros((self.n, int(self.lengths.max()), C))
        for i, x in enumerate(self.X):
            out[i, : x.shape[0]] = x
        return out

    def stream(self) -> np.ndarray:
        """All recordings end to end, (sum of lengths, C): the source of "segments" filler."""
        return np.concatenate(self.X, axis=0)


@dataclass(frozen=True)
class Prepared:
    """What a real-data task serves: normalised splits and the fit split's statistics."""

    fit: Recordings
    validation: Recordings
    test: Recordings
    mean: np.ndarray
    """(C,) per-channel mean of the fit split (before normalisation)."""
    std: np.ndarray
    """(C,) per-channel standard deviation of the fit split (1.0 where a channel is constant)."""
    phi: np.ndarray
    """(C,) lag-1 autocorrelation of each normalised channel over the fit split, in [0, 0.999]."""
    n_classes: int


def stratified_split(
    y: np.ndarray, frac: float, rng: np.random.Generator, min_keep: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held-out) row indices: ``round(frac * n_c)`` rows of each class held out (at least
    one when frac > 0), never leaving fewer than ``min_keep`` of a class kept; sorted."""
    keep, held = [], []
    for c in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == c))
        k = 0 if frac <= 0 else max(1, round(frac * len(rows)))
        k = min(k, len(rows) - min_keep)
        k = max(k, 0)
        held.extend(rows[:k].tolist())
        keep.extend(rows[k:].tolist())
    return np.array(sorted(keep), dtype=np.int64), np.array(sorted(held), dtype=np.int64)


def channel_stats(rec: Recordings) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation over every step of every recording."""
    s = rec.stream()
    mean, std = s.mean(axis=0), s.std(axis=0)
    return mean, np.where(std > 1e-12, std, 1.0)


def normalise(rec: Recordings, mean: np.ndarray, std: np.ndarray) -> Recordings:
    return Recordings(tuple((x - mean) / std for x in rec.X), rec.y)


def lag1_autocorrelation(rec: Recordings) -> np.ndarray:
    """(C,) lag-1 autocorrelation of each channel, pooled over recordings, clipped to [0, 0.999]."""
    num = sum((x[1:] * x[:-1]).sum(axis=0) for x in rec.X if x.shape[0] > 1)
    den = sum((x * x).sum(axis=0) for x in rec.X)
    phi = np.asarray(num, dtype=np.float64) / np.maximum(np.asarray(den, dtype=np.float64), 1e-12)
    return np.clip(phi, 0.0, 0.999)


def prepare(
    train: Recordings, test: Recordings, n_classes: int, val_frac: float, split_seed: int
) -> Prepared:
    """Carve validation from train, then normalise every split with the fit split's statistics."""
    rng = np.random.default_rng([split_seed, 0x7A11])
    fit_rows, val_rows = stratified_split(train.y, val_frac, rng)
    fit_raw, val_raw = train.take(fit_rows), train.take(val_rows)
    mean, std = channel_stats(fit_raw)
    fit = normalise(fit_raw, mean, std)
    return Prepared(
        fit=fit,
        validation=normalise(val_raw, mean, std),
        test=normalise(test, mean, std),
        mean=mean,
        std=std,
        phi=lag1_autocorrelation(fit),
        n_classes=n_classes,
    )


def ar1_noise(rng: np.random.Generator, n: int, steps: int, phi: np.ndarray) -> np.ndarray:
    """(n, steps, C) stationary AR(1) noise of unit variance per channel, correlation ``phi``:
    x_t = phi x_{t-1} + sqrt(1 - phi^2) e_t, started from the stationary distribution."""
    C = phi.shape[0]
    e = rng.standard_normal((n, steps, C))
    out = np.empty_like(e)
    for c in range(C):
        p = float(phi[c])
        drive = e[:, :, c] * np.sqrt(1.0 - p * p)
        drive[:, 0] = e[:, 0, c]  # x_0 ~ N(0, 1), the stationary law
        out[:, :, c] = lfilter([1.0], [1.0, -p], drive, axis=1)
    return out


def segments(rng: np.random.Generator, n: int, steps: int, stream: np.ndarray) -> np.ndarray:
    """(n, steps, C) windows of ``stream`` (recordings end to end) at random offsets, wrapping."""
    start = rng.integers(0, stream.shape[0], size=n)
    at = (start[:, None] + np.arange(steps)[None, :]) % stream.shape[0]
    return stream[at]


def to_batch(
    rec: Recordings,
    n_classes: int,
    lag: int = 0,
    filler: np.ndarray | None = None,
    info: dict[str, object] | None = None,
) -> SequenceBatch:
    """Recordings as an end-of-sequence classification batch.

    Input units 0..C-1 carry the channels, unit C the flag (1.0 during the recording, 0.0 during
    the lag). Sequence i is its recording (``lengths_i`` steps), then ``lag`` steps of ``filler[i]``
    (n, lag, C); the one-hot label is the target at its last step, ``lengths_i + lag - 1``.
    """
    n = rec.n
    C = rec.X[0].shape[1]
    L = rec.lengths
    total = L + lag
    Tm = int(total.max())
    val = np.zeros((n, Tm, C + 1))
    rec_mask = np.arange(Tm)[None, :] < L[:, None]  # (n, Tm)
    val[:, : int(L.max()), :C] = rec.padded()
    val[:, :, C] = rec_mask
    if lag:
        assert filler is not None and filler.shape[:2] == (n, lag)
        rows = np.arange(n)[:, None]
        cols = L[:, None] + np.arange(lag)[None, :]
        val[rows, cols, :C] = filler
    mask = np.arange(Tm)[None, :] < total[:, None]
    idx = np.where(mask[:, :, None], np.arange(C + 1, dtype=np.int32)[None, None, :], 0)
    val = np.where(mask[:, :, None], val, 0.0)
    meta: dict[str, object] = {"label": rec.y.copy(), "recording_length": L.copy()}
    meta.update(info or {})
    return end_batch(
        idx.astype(np.int32), val, total, one_hot(rec.y, n_classes), C + 1, info=dict(meta)
    )


def confusion(pred: np.ndarray, true: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts: row = true class, column = predicted class."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (true, pred), 1)
    return m


def macro_f1(m: np.ndarray) -> float:
    """Unweighted mean of the per-class F1 scores of a confusion matrix (classes absent from both
    truth and prediction are left out)."""
    tp = np.diag(m).astype(np.float64)
    support, predicted = m.sum(axis=1), m.sum(axis=0)
    present = (support + predicted) > 0
    f1 = 2 * tp / np.maximum(support + predicted, 1)
    return float(f1[present].mean()) if present.any() else 0.0
