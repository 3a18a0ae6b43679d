"""Real sensor recordings as long-lag classification tasks, beside the paper's generators.

The paper tests only artificial problems; these tasks put the same nets, trainer and maps on
recorded signals. Data comes from copies of the UEA/UCR archive's own files shipped inside this
package (`workers.tasks.archive`), so a fresh offline machine has it: nothing is downloaded at
run time.

* ``basic_motions``: BasicMotions, a smartwatch's 3-axis accelerometer and gyroscope
  (6 channels), 4 activities, length 100, 40 train / 40 test; solved at test accuracy >= 0.95.
* ``pickup_gesture_wiimote_z``: PickupGestureWiimoteZ, a Wii remote's z acceleration
  (1 channel), 10 gestures, lengths 29-361, 50 / 50; solved at >= 0.70.
* ``japanese_vowels``: JapaneseVowels, 12 LPC cepstrum coefficients, 9 speakers, lengths 7-29,
  270 / 370; solved at >= 0.95.

The protocol, shared with the ``csv`` task (`workers.tasks.user_csv`):

* **Splits**: the archive's train/test split is kept. A validation split (``val_frac`` of each
  class with at least two training recordings, seeded by ``split_seed``) is carved from train;
  only the rest (the *fit* split) is trained on. Every channel is normalised to mean 0 and
  standard deviation 1 with the fit split's statistics alone.
* **Training data**: on-line SGD as in the paper, one sequence per update, each drawn uniformly
  with replacement from the fit split by the seed's own data stream.
* **Inputs**: one input unit per channel plus a flag unit (1.0 during the recording, 0.0 after).
  **Long-lag variant** (``lag`` > 0): the recording is followed by ``lag`` steps of filler before
  the label is asked for: ``filler = "noise"``, stationary AR(1) noise of unit variance with each
  channel's lag-1 autocorrelation measured on the fit split (sensor-like), or ``"segments"``,
  windows of other recordings of the same split played end to end (real signals of any class,
  distractors). ``lag`` is the minimal time lag between the last informative input and the
  label, the axis a lag curve sweeps (``[space.task] lag = [0, 100, 400]``).
* **Outputs**: one unit per class, label read at the last step. ``output = "logistic"`` (the
  default): the paper's logistic output units trained on squared error against the one-hot
  label, which every backend runs (the compiled kernels included); ``output = "softmax"``:
  softmax cross-entropy over the output units' net inputs (recovered as logit(y) from the
  logistic outputs, so every model works unchanged), torch backend only. The predicted class is
  the largest output either way; a recording is correct when it is the label.
* **Stopping and success**: every ``check_every`` (100) training sequences the validation split is
  classified; a seed stops when its validation accuracy reaches the dataset's threshold and so
  does its accuracy over the 200 most recent training sequences (else at the budget). It is
  *solved* when its accuracy on the test split reaches the threshold, so
  success rates and maps read as on the paper's tasks. Each seed also stores its test
  accuracy, macro-F1 and confusion matrix (``Task.metrics``), shown on Trial detail.
* **Ragged lengths**: a batch is padded to its longest sequence and carries each length; every
  backend stops a sequence at its own length and reads the label at its last step (the paper's
  tasks are ragged too), so nothing is truncated or resampled.
"""

from __future__ import annotations

import functools
import math
from abc import abstractmethod
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

from workers.tasks import archive
from workers.tasks._common import check_int
from workers.tasks.base import PaperSetup, SequenceBatch, Split, StopRule, Task
from workers.tasks.recordings import (
    FILLERS,
    Prepared,
    Recordings,
    ar1_noise,
    confusion,
    macro_f1,
    prepare,
    segments,
    to_batch,
)

OUTPUTS = ("logistic", "softmax")
CHECK_EVERY = 100
"""Training sequences between two classifications of the validation split."""
_EPS = 1e-12


@dataclass(frozen=True)
class RealTask(Task):
    """A classification task on recorded sequences; subclasses say where the recordings come
    from (`load`) and what accuracy counts as success (`accuracy_threshold`)."""

    lag: int = 0  # type: ignore[assignment]
    """Steps of filler between the recording's end and the label (0: the plain task); also
    the task's lag for plots (this field shadows ``Task.lag``)."""
    filler: str = "noise"
    """What fills the lag: ``noise`` (sensor-like AR(1) noise) or ``segments`` (other
    recordings of the same split)."""
    output: str = "logistic"
    """``logistic`` (the paper's squared error, default) or ``softmax`` (cross-entropy)."""
    val_frac: float = 0.2
    """Share of each class's training recordings carved out for the validation split."""
    split_seed: int = 0
    """Seed of the validation carve (and of the fixed sets' filler); the same for every seed of
    a study, so all of them are judged on the same data."""
    classes: tuple[str, ...] = field(init=False, repr=False, compare=False)
    """Class names; output unit i stands for ``classes[i]``."""
    prepared: Prepared = field(init=False, repr=False, compare=False)
    """The normalised splits and the fit split's statistics."""
    _fixed: dict[str, SequenceBatch] = field(init=False, repr=False, compare=False)
    _fit_stream: np.ndarray = field(init=False, repr=False, compare=False)

    paper_ref = "real data"
    error_at_end = True
    beta = 0.25
    """The ``mae`` reading's bound on the window's mean absolute output error."""
    dataset: ClassVar[str] = ""
    """Where the recordings come from (the archive name, or the CSV file)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "lag", check_int(self.name, "lag", self.lag, 0, 100_000))
        object.__setattr__(
            self, "split_seed", check_int(self.name, "split_seed", self.split_seed, 0)
        )
        if self.filler not in FILLERS:
            raise ValueError(
                f"{self.name}: parameter 'filler' must be one of {', '.join(FILLERS)},"
                f" got {self.filler!r}"
            )
        if self.output not in OUTPUTS:
            raise ValueError(
                f"{self.name}: parameter 'output' must be one of {', '.join(OUTPUTS)},"
                f" got {self.output!r}"
            )
        v = self.val_frac
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 < v <= 0.5:
            raise ValueError(f"{self.name}: parameter 'val_frac' must be in (0, 0.5], got {v!r}")
        object.__setattr__(self, "val_frac", float(v))
        train, test, classes = self.load()
        prep = prepare(train, test, len(classes), self.val_frac, self.split_seed)
        object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "prepared", prep)
        object.__setattr__(self, "n_inputs", prep.fit.X[0].shape[1] + 1)
        object.__setattr__(self, "n_outputs", len(classes))
        object.__setattr__(self, "test_size", prep.test.n)
        # a seed is solved when test accuracy >= threshold: at most (1 - threshold) wrong
        object.__setattr__(self, "test_max_wrong_frac", 1.0 - self.accuracy_threshold() + 1e-9)
        object.__setattr__(self, "_fit_stream", prep.fit.stream())
        fixed = {
            split: self._batch(getattr(prep, split), np.random.default_rng([self.split_seed, i]))
            for i, split in enumerate(("validation", "test"), start=1)
        }
        object.__setattr__(self, "_fixed", fixed)

    # -- what subclasses provide -------------------------------------------------------------
    @abstractmethod
    def load(self) -> tuple[Recordings, Recordings, tuple[str, ...]]:
        """(train, test, class names): raw recordings, ``X[i]`` shaped (length, channels)."""

    @abstractmethod
    def accuracy_threshold(self) -> float:
        """Test accuracy at or above which a seed counts as solved."""

    # -- the task contract -------------------------------------------------------------------
    def _batch(
        self, rec: Recordings, rng: np.random.Generator, stream: np.ndarray | None = None
    ) -> SequenceBatch:
        prep = self.prepared
        fill = None
        if self.lag and rec.n:
            if self.filler == "noise":
                fill = ar1_noise(rng, rec.n, self.lag, prep.phi)
            else:
                fill = segments(rng, rec.n, self.lag, rec.stream() if stream is None else stream)
        if rec.n == 0:  # an empty validation split (every class has one training recording)
            C = self.n_inputs
            return SequenceBatch(
                idx=np.zeros((0, 1, C), np.int32),
                val=np.zeros((0, 1, C)),
                lengths=np.zeros(0, np.int32),
                targets=np.zeros((0, 1, self.n_outputs)),
                target_steps=np.zeros((0, 1), np.int32),
                n_inputs=C,
            )
        return to_batch(rec, prep.n_classes, self.lag, fill)

    def sample(self, rng: np.random.Generator, n: int) -> SequenceBatch:
        """``n`` fit-split recordings drawn uniformly with replacement, each followed by its lag."""
        prep = self.prepared
        rows = rng.integers(0, prep.fit.n, size=n)
        return self._batch(prep.fit.take(rows), rng, self._fit_stream)

    def fixed_set(self, split: Split) -> SequenceBatch:
        return self._fixed[split]

    def correct(self, outputs: np.ndarray, batch: SequenceBatch) -> np.ndarray:
        """The largest output at the last step is the label's."""
        return np.asarray(outputs[:, 0, :].argmax(axis=1) == batch.targets[:, 0, :].argmax(axis=1))

    @property
    def loss(self) -> Any:
        return "cross_entropy" if self.output == "softmax" else "squared"

    def error(self, outputs: np.ndarray, batch: SequenceBatch) -> np.ndarray:
        """Squared error (logistic outputs) or cross-entropy (softmax), per sequence."""
        if self.output != "softmax":
            return super().error(outputs, batch)
        return cross_entropy(outputs[:, 0, :], batch.targets[:, 0, :])

    def metrics(self, outputs: np.ndarray, batch: SequenceBatch) -> dict[str, Any]:
        pred = outputs[:, 0, :].argmax(axis=1)
        true = batch.targets[:, 0, :].argmax(axis=1)
        m = confusion(pred, true, self.n_outputs)
        return {
            "test_accuracy": float((pred == true).mean()) if len(true) else 0.0,
            "macro_f1": macro_f1(m),
            "confusion": m.tolist(),
            "classes": list(self.classes),
        }

    @property
    def stop(self) -> StopRule:
        n_val = self.fixed_set("validation").n
        max_wrong = math.floor((1.0 - self.accuracy_threshold()) * n_val + 1e-9)
        return StopRule(
            kind="validation",
            window=200,
            max_wrong=max_wrong,
            test_size=n_val,
            test_every=CHECK_EVERY,
            window_correct=self.accuracy_threshold(),
        )

    @property
    def paper(self) -> PaperSetup:
        # no paper row: the paper's usual small net (2 blocks of 2 cells, all units biased),
        # gate biases random in the init range; a study sweeps lr and the topology anyway
        return PaperSetup(blocks=2, cells_per_block=2, lr=0.5, init_range=0.1, bias="all")

    def params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}


@functools.lru_cache(maxsize=8)
def load_archive(dataset: str) -> tuple[Recordings, Recordings, tuple[str, ...]]:
    """(train, test, class names) of an archive set shipped in ``workers/tasks/data/``
    (`workers.tasks.archive`; no download). Class names are lower-cased ("Standing" ->
    "standing"), as aeon's loaders served them when the data came from there."""
    parts = {s: archive.load_split(dataset, s) for s in ("train", "test")}
    names = sorted({v.lower() for _, y in parts.values() for v in y}, key=_class_order)
    code = {c: i for i, c in enumerate(names)}

    def recordings(X: tuple[np.ndarray, ...], y: tuple[str, ...]) -> Recordings:
        return Recordings(X, np.array([code[v.lower()] for v in y], dtype=np.int64))

    return recordings(*parts["train"]), recordings(*parts["test"]), tuple(names)


def _class_order(name: str) -> tuple[int, float, str]:
    """Numeric class names in numeric order ("2" before "10"), the rest alphabetically."""
    try:
        return (0, float(name), name)
    except ValueError:
        return (1, 0.0, name)


def cross_entropy(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(n,) softmax cross-entropy of logistic outputs y (n, O) against one-hot t (n, O): the
    softmax runs over logit(y), the output units' net inputs."""
    y = np.clip(y, _EPS, 1.0 - _EPS)
    z = np.log(y) - np.log1p(-y)
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return np.asarray(-(t * logp).sum(axis=1))


@dataclass(frozen=True)
class BasicMotions(RealTask):
    """BasicMotions: 4 activities (standing, walking, running, badminton) from a smartwatch's
    3-axis accelerometer and 3-axis gyroscope, 100 steps (10 s at 10 Hz), 40 train / 40 test."""

    name = "basic_motions"
    dataset = "BasicMotions"
    THRESHOLD: ClassVar[float] = 0.95

    def load(self) -> tuple[Recordings, Recordings, tuple[str, ...]]:
        return load_archive(self.dataset)

    def accuracy_threshold(self) -> float:
        return self.THRESHOLD


@dataclass(frozen=True)
class PickupGestureWiimoteZ(RealTask):
    """PickupGestureWiimoteZ: 10 gestures from a Wii remote's z acceleration, lengths 29-361
    (ragged), 50 train / 50 test (5 of each class)."""

    name = "pickup_gesture_wiimote_z"
    dataset = "PickupGestureWiimoteZ"
    THRESHOLD: ClassVar[float] = 0.7

    def load(self) -> tuple[Recordings, Recordings, tuple[str, ...]]:
        return load_archive(self.dataset)

    def accuracy_threshold(self) -> float:
        return self.THRESHOLD


@dataclass(frozen=True)
class JapaneseVowels(RealTask):
    """JapaneseVowels: 9 speakers from 12 LPC cepstrum coefficients of a spoken vowel, lengths
    7-29 (ragged), 270 train / 370 test."""

    name = "japanese_vowels"
    dataset = "JapaneseVowels"
    THRESHOLD: ClassVar[float] = 0.95

    def load(self) -> tuple[Recordings, Recordings, tuple[str, ...]]:
        return load_archive(self.dataset)

    def accuracy_threshold(self) -> float:
        return self.THRESHOLD
