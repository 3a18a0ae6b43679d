"""The contract every long-lag task of Hochreiter & Schmidhuber (1997) fulfils.

A task is a seeded, vectorised sequence generator plus the paper's criteria as code:

* ``sample(rng, n)`` draws ``n`` fresh sequences in one call and returns a :class:`SequenceBatch`.
  Inputs are stored *sparsely*: every time step has ``A`` active input units given as
  ``(index, value)`` pairs. A one-hot symbol is one pair ``(symbol, 1.0)``; the adding problem's
  (value, marker) input is two pairs ``(0, value), (1, marker)``. This one format keeps a
  1004-symbol alphabet (Exp. 2c, p=1000) as cheap as a 2-input task, and the kernel's input
  products become ``A`` column look-ups.
* Error is given at ``E`` *error slots* per sequence: ``target_steps[i, e]`` is the time step of
  slot ``e`` (``-1`` = unused slot) and ``targets[i, e]`` its target vector. Tasks with error only
  at the sequence end (Exp. 2c-6) have ``E == 1``; next-symbol prediction tasks (Exp. 1, 2a, 2b)
  have one slot per step.
* ``correct(outputs, batch)`` is the paper's per-sequence criterion (e.g. ABS(0.04)) applied to the
  net's outputs at the error slots, ``outputs`` shaped ``(n, E, O)``.
* ``stop`` describes the paper's stopping criterion (Table 11), evaluated by the trainer.

Everything here is plain numpy; no torch, no Ray.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

StopKind = Literal["st3", "window_wrong", "test", "budget", "validation"]
Split = Literal["validation", "test"]
Loss = Literal["squared", "cross_entropy"]


@dataclass(frozen=True)
class SequenceBatch:
    """``n`` sequences padded to a common length ``T`` (time-major inside each sequence)."""

    idx: np.ndarray
    """(n, T, A) int32: indices of the active input units at each step (padding: 0)."""
    val: np.ndarray
    """(n, T, A) float64: their values (padding: 0.0, so padded pairs add nothing)."""
    lengths: np.ndarray
    """(n,) int32: true length of each sequence; steps ``t >= lengths[i]`` are padding."""
    targets: np.ndarray
    """(n, E, O) float64: training targets at the error slots (may carry target noise, Exp. 3c)."""
    target_steps: np.ndarray
    """(n, E) int32: the step of each error slot, ``-1`` for an unused slot; increasing in e."""
    n_inputs: int
    """I: number of input units (the dense width of an input vector)."""
    clean_targets: np.ndarray | None = None
    """(n, E, O) noise-free targets used by ``correct`` when they differ from ``targets`` (3c)."""
    legal: np.ndarray | None = None
    """(n, E, O) bool: legal next symbols (Reber grammar); ``None`` for other tasks."""
    info: dict[str, Any] = field(default_factory=dict)
    """Task-specific extras for tests and debugging (e.g. marker positions); never used in
    training."""

    @property
    def n(self) -> int:
        return int(self.idx.shape[0])

    @property
    def n_outputs(self) -> int:
        return int(self.targets.shape[2])

    def dense(self) -> np.ndarray:
        """The inputs as a dense (n, T, I) float64 array (for the torch models and tests)."""
        n, T, A = self.idx.shape
        x = np.zeros((n, T, self.n_inputs))
        rows = np.repeat(np.arange(n), T * A)
        steps = np.tile(np.repeat(np.arange(T), A), n)
        np.add.at(x, (rows, steps, self.idx.reshape(-1)), self.val.reshape(-1))
        return x

    def take(self, sel: np.ndarray | slice) -> SequenceBatch:
        """A sub-batch (same padding)."""
        return SequenceBatch(
            idx=self.idx[sel],
            val=self.val[sel],
            lengths=self.lengths[sel],
            targets=self.targets[sel],
            target_steps=self.target_steps[sel],
            n_inputs=self.n_inputs,
            clean_targets=None if self.clean_targets is None else self.clean_targets[sel],
            legal=None if self.legal is None else self.legal[sel],
        )


def stack_batches(batches: list[SequenceBatch]) -> SequenceBatch:
    """Concatenate batches of one task along n, padding T, A and E to the largest.

    Every batch is copied once, straight into its rows of the result (a plain concatenate when
    the shapes already agree): the trainer stacks K lanes' sequences for every training block
    and test chunk, where a pad-then-concatenate pass would move every byte twice.
    """
    T = max(b.idx.shape[1] for b in batches)
    A = max(b.idx.shape[2] for b in batches)
    E = max(b.targets.shape[1] for b in batches)
    O = batches[0].targets.shape[2]
    starts = np.cumsum([0] + [b.n for b in batches])

    def fill(name: str, shape: tuple[int, ...], pad: float | int | bool) -> np.ndarray:
        arrays = [getattr(b, name) for b in batches]
        if all(a.shape[1:] == shape for a in arrays):
            return np.concatenate(arrays)
        out = np.empty((int(starts[-1]), *shape), dtype=arrays[0].dtype)
        for a, lo, hi in zip(arrays, starts[:-1], starts[1:], strict=True):
            rows = out[lo:hi]
            if a.shape[1:] == shape:
                rows[...] = a
                continue
            rows[(slice(None), *(slice(0, s) for s in a.shape[1:]))] = a
            for d, s in enumerate(a.shape[1:], start=1):  # the padding: the rest of each axis
                if s < shape[d - 1]:
                    rows[(slice(None),) * d + (slice(s, None),)] = pad
        return out

    return SequenceBatch(
        idx=fill("idx", (T, A), 0),
        val=fill("val", (T, A), 0.0),
        lengths=np.concatenate([b.lengths for b in batches]),
        targets=fill("targets", (E, O), 0.0),
        target_steps=fill("target_steps", (E,), -1),
        n_inputs=batches[0].n_inputs,
        clean_targets=fill("clean_targets", (E, O), 0.0)
        if batches[0].clean_targets is not None
        else None,
        legal=fill("legal", (E, O), False) if batches[0].legal is not None else None,
    )


@dataclass(frozen=True)
class StopRule:
    """The paper's stopping criterion (Table 11) for one task.

    kinds:
      * ``st3``: ST3(beta): mean training error over the ``window`` most recent sequences below
        ``beta`` AND all of them processed correctly (Exp. 4, 6).
      * ``window_wrong``: fewer than ``max_wrong`` of the ``window`` most recent training sequences
        incorrect (Exp. 5, n_seq = 140 or 13).
      * ``test``: every ``test_every`` sequences a fresh test set of ``test_size`` sequences is
        evaluated; stop when at most ``max_wrong`` are wrong and (if set) their mean absolute error
        is below ``beta`` (Exp. 3: ST1/ST2). A task with fixed sets per seed (`Task.lane_sets`,
        Exp. 1) evaluates the seed's training set and test set instead: at most ``max_wrong``
        wrong in each.
      * ``budget``: the paper trains for the whole budget, then tests (Exp. 2). The trainer
        tests as ``test`` does (every ``test_every`` sequences, ``test_size`` fresh sequences,
        at most ``max_wrong`` wrong) and stops a seed early once such a test passes, which
        saves the rest of the budget; "solved" is then decided by the final test alone (on
        another fresh set), as in the paper.
      * ``validation``: real data: every ``test_every`` sequences the task's fixed validation
        split (``Task.fixed_set("validation")``) is evaluated; stop when at most ``max_wrong``
        of its ``test_size`` recordings are wrong (and ``window_correct`` of the recent training
        window is correct). As with ``budget``, "solved" is then decided
        by the final test alone (the fixed test split).
    """

    kind: StopKind
    beta: float | None = None
    window: int = 2000
    max_wrong: int = 0
    test_size: int = 256
    test_every: int = 1000
    window_correct: float | None = None
    """``validation`` only: also require this fraction of the ``window`` most recent training
    sequences correct, so a lucky pass of a small validation split does not stop a seed that
    has not fit its training data yet."""


@dataclass(frozen=True)
class PaperSetup:
    """One row of the paper's Table 10/11: the reference configuration of a task."""

    blocks: int
    cells_per_block: int
    lr: float
    init_range: float
    connectivity: Literal["F", "B"] = "F"
    bias: Literal["none", "gates", "hidden", "all"] = "all"
    """Which units have bias weights: none / gates only ("ga") / all hidden ("b1") / all
    non-input."""
    input_gate_bias: tuple[float, ...] | None = None
    """Initial input-gate bias per block; ``None`` = random in the init range ("r")."""
    output_gate_bias: tuple[float, ...] | None = None
    """Initial output-gate bias per block; ``None`` = random in the init range ("r")."""
    gates: Literal["both", "input", "output", "none"] = "both"
    g: Literal["g2", "g1"] = "g2"
    """Cell-input squashing: g2 in [-2, 2] or g1 (logistic) in [0, 1]."""
    h: Literal["h1", "id"] = "h1"
    """Cell-output squashing: h1 in [-1, 1] or the identity."""
    update: Literal["step", "sequence"] | None = None
    """The 1997 net's on-line update moment where it differs from the general default
    (`workers.protocols.update_moment`): ``sequence`` in Exp. 2a/2b."""
    construction: Literal["at_once", "sequential"] = "at_once"
    """``sequential``: the paper adds the memory cell once the error stops decreasing (Exp.
    2a/2b; `TrialConfig.construction`)."""
    weights: int | None = None
    """The paper's weight count for this configuration (Table 10), checked by the tests."""
    paper_sequences: float | None = None
    """Mean training sequences to success reported by the paper, for the comparison page."""
    paper_success: float | None = None
    """Fraction of successful trials reported (or implied) by the paper."""


class Task(ABC):
    """A long-lag task: generator, criterion and the paper's setup. Instances are cheap and
    frozen."""

    name: str
    """Registry name (e.g. ``adding``)."""
    paper_ref: str
    """Where the task is defined in the paper, e.g. ``"Exp. 4, Sec. 5.4, Table 7"``."""
    n_inputs: int
    n_outputs: int
    error_at_end: bool
    """True when error is given only at the sequence end (E == 1)."""
    test_size: int = 2560
    """Size of the fresh test set on which a stopped seed is judged (Table 11)."""
    test_max_wrong_frac: float = 0.01
    """A seed counts as solved only if at most this fraction of the test set is wrong."""
    beta: float = 0.04
    """The task's ABS(beta) bound (Table 11); the relaxed ``mae`` reading compares the window's
    mean absolute error with it."""

    @abstractmethod
    def sample(self, rng: np.random.Generator, n: int) -> SequenceBatch:
        """Draw ``n`` fresh sequences, vectorised; deterministic given ``rng``'s state."""

    @abstractmethod
    def correct(self, outputs: np.ndarray, batch: SequenceBatch) -> np.ndarray:
        """(n,) bool: the paper's per-sequence criterion on outputs (n, E, O) at the error slots."""

    @property
    @abstractmethod
    def stop(self) -> StopRule:
        """The paper's stopping criterion for this task."""

    @property
    @abstractmethod
    def paper(self) -> PaperSetup:
        """The paper's reference configuration (Table 10 row)."""

    @property
    def lag(self) -> float:
        """The task's lag parameter for plots (T, q, p, ...): the minimal time lag of the paper."""
        return float("nan")

    @property
    def max_length(self) -> int:
        """The longest sequence the task draws, from its parameters alone (no sampling: a lag of
        10^9 must be refused before it is materialised). Tasks whose length does not grow with a
        parameter read it off a small probe; tasks with unbounded lengths give a bound that
        holds for all but ~1e-6 of sequences."""
        return int(self.sample(np.random.default_rng(0), 64).lengths.max())

    def params(self) -> dict[str, Any]:
        """The task's own parameters (what a study can sweep), as plain data."""
        return {}

    @property
    def loss(self) -> Loss:
        """What training minimises at the error slots: the paper's squared error of logistic
        outputs (every backend), or softmax cross-entropy over them (torch backend only)."""
        return "squared"

    def lane_sets(self, rng: np.random.Generator) -> tuple[SequenceBatch, SequenceBatch] | None:
        """A fixed (training, test) set pair for one seed, drawn from ``rng`` (the seed's test
        stream): training sequences are then picked at random from the training set, and the
        stopping test and the final test judge both sets (Exp. 1, after Fahlman). ``None`` (the
        default): every sequence is drawn fresh."""
        return None

    def fixed_set(self, split: Split) -> SequenceBatch | None:
        """A fixed evaluation set (real data: the validation or the test split), the same for
        every seed; ``None`` (the paper's tasks): fresh sequences from each seed's test stream."""
        return None

    def metrics(self, outputs: np.ndarray, batch: SequenceBatch) -> dict[str, Any] | None:
        """Extra per-seed results of the final test (classification: accuracy, macro-F1,
        confusion matrix), as plain JSON data; ``None`` for the paper's tasks."""
        return None

    def error(self, outputs: np.ndarray, batch: SequenceBatch) -> np.ndarray:
        """(n,) training error per sequence: the paper's E = sum_k (t_k - y_k)^2, summed over
        the used error slots and divided by their number (so end-only and per-step tasks share
        one scale)."""
        used = batch.target_steps >= 0  # (n, E)
        sq = ((batch.targets - outputs) ** 2).sum(axis=2) * used
        return sq.sum(axis=1) / np.maximum(used.sum(axis=1), 1)

    def abs_error(self, outputs: np.ndarray, batch: SequenceBatch) -> np.ndarray:
        """(n,) mean absolute error of all output units over the used error slots, against the
        noise-free targets when the task has them."""
        ref = batch.targets if batch.clean_targets is None else batch.clean_targets
        used = batch.target_steps >= 0
        ab = np.abs(ref - outputs).mean(axis=2) * used
        return ab.sum(axis=1) / np.maximum(used.sum(axis=1), 1)


def abs_correct(outputs: np.ndarray, batch: SequenceBatch, beta: float) -> np.ndarray:
    """ABS(beta): absolute error of *all* output units at every used error slot below beta."""
    ref = batch.targets if batch.clean_targets is None else batch.clean_targets
    ok = (np.abs(ref - outputs) < beta).all(axis=2) | (batch.target_steps < 0)
    return np.asarray(ok.all(axis=1))
