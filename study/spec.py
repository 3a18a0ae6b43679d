"""Study specs: a TOML file becomes a frozen, validated :class:`Spec` before anything runs.

A spec names the task, the models, the search space, the seeds per configuration and the
sequence budget. Every problem is a :class:`SpecError` that names the file, the field and the
problem in one line, so ``study-launch`` can exit with code 2 before touching Ray or a database.

Example (the annotated format; ``studies/demo.toml`` is a complete one)::

    name = "demo"                          # study name, in Optuna and in our tables
    task = "adding"                        # a workers.tasks name
    models = ["lstm1997", "elman", "gru"]  # the "model" parameter: one axis of the map
    seeds = 8                              # seeds per configuration: value = solved / seeds
    max_sequences = 20000                  # training budget per seed
    sampler = "grid"                       # grid | tpe | random | qmc
    # n_trials = 60                        # non-grid samplers only
    seed = 0                               # root of every seed: same spec, same per-seed results
    # update = "step"                      # on-line SGD after every step (lstm1997) or after
                                           # each "sequence"; unset: the task's default

    [task_params]                          # fixed task parameters (the lag)
    T = 20

    [space]                                # a list = an axis; a scalar = fixed
    lr = [0.1, 0.5, 1.0]                   # or {low = 0.01, high = 1.0, log = true} (non-grid)
    init_range = 0.1

    [space.task]                           # swept task parameters, e.g. T = [20, 50]

    [space.lstm1997]                       # only for lstm1997 trials (conditional)
    blocks = [1, 2, 4]                     # also cells_per_block, gates, gate_bias, gradient,
    cells_per_block = 2                    # forget_gate, update

    [space.baselines]                      # only for elman / gru / lstm_forget trials
    match_weights = 93                     # or hidden = [4, 8]; unset: the 1997 net's count

    [pruning]                              # optional: stop a configuration after a few seeds
    pruner = "threshold"                   # threshold (min_success) or median
    stage_seeds = 4                        # seeds trained before the decision
    min_success = 0.25
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

SAMPLERS = ("grid", "tpe", "random", "qmc")
PRUNERS = ("median", "threshold")
BACKENDS = ("auto", "kernel", "torch")
PRECISIONS = ("float64", "float32")
LAG_NAMES = ("T", "q", "p", "lag")
"""Task parameters that are the lag, in order of preference (adding: T, 2c: q, 2a/2b: p, the
real-data tasks' long-lag variant: lag)."""


class SpecError(Exception):
    """A spec or argument problem: ``file: field: problem`` in one line."""

    def __init__(self, file: str, field: str, problem: str) -> None:
        super().__init__(f"{file}: {field}: {problem}")
        self.file, self.field, self.problem = file, field, problem


@dataclass(frozen=True)
class Choice:
    """Discrete values of one parameter (one value = fixed); the only kind a grid accepts."""

    values: tuple[Any, ...]


@dataclass(frozen=True)
class Range:
    """A continuous or integer range, for the tpe / random / qmc samplers."""

    low: float
    high: float
    log: bool = False
    step: float | None = None
    integer: bool = False


Axis = Choice | Range


@dataclass(frozen=True)
class Pruning:
    """Seed-staged pruning: train ``stage_seeds`` seeds, report their success rate, maybe stop."""

    pruner: str
    """median (Optuna MedianPruner) or threshold (prune below ``min_success``)."""
    stage_seeds: int
    """Seeds trained before the prune decision; the rest run only if the trial survives."""
    min_success: float = 0.0
    """threshold: prune when the first stage's success rate is below this."""
    n_startup_trials: int = 5
    """median: trials that are never pruned while the median builds up."""


@dataclass(frozen=True)
class Spec:
    """A validated study spec (see the module docstring for the TOML format)."""

    name: str
    """Study name (Optuna's and ours)."""
    task: str
    """Task registry name."""
    models: tuple[str, ...]
    """Model families, the ``model`` parameter's choices."""
    seeds: int
    """Seeds per configuration."""
    max_sequences: int
    """Training budget in sequences per seed."""
    sampler: str
    """grid, tpe, random or qmc."""
    common: dict[str, Axis]
    """Axes of every trial: lr, init_range, the task parameters (fixed ones: 1-value Choice)."""
    lstm1997: dict[str, Axis]
    """Axes of lstm1997 trials only."""
    baselines: dict[str, Axis]
    """Axes of baseline trials only (elman, gru, lstm_forget)."""
    task_param_names: tuple[str, ...]
    """Which of ``common`` are task parameters."""
    n_trials: int | None = None
    """Trials for non-grid samplers."""
    reading: str = "literal"
    """Success reading deciding 'solved'."""
    seed: int = 0
    """Root of the seed derivation and the sampler seed."""
    backend: str = "auto"
    """Trainer backend."""
    precision: str = "float64"
    """Trainer arithmetic: float64 or float32 (faster; results differ at ~1e-6)."""
    curve_points: int = 40
    """Learning-curve points kept per seed."""
    pruning: Pruning | None = None
    per_model: dict[str, dict[str, Axis]] = field(default_factory=dict)
    """Axes of one model's trials only, ``[space.<model>]`` (`study.model_space`), keyed by
    their Optuna names (``gru.lr``)."""
    paper_experiment: str | None = None
    """Table row reproduced (studies/paper/)."""
    description: str = ""
    file: str = field(default="<spec>", compare=False)
    """Where the spec came from (messages only)."""
    source: str = field(default="", compare=False, repr=False)
    """The TOML text as given (stored with the study)."""

    def axes_for(self, model: str) -> dict[str, Axis]:
        """The axes a trial of ``model`` has, besides ``model`` itself (conditional space):
        ``[space]``, then its group, then its own section (`study.model_space`)."""
        from study.model_space import RECURRENT_BASELINES, overlay

        axes = dict(self.common)
        if model == "lstm1997":
            axes = overlay(axes, self.lstm1997)
        elif model in RECURRENT_BASELINES:
            axes = overlay(axes, self.baselines)
        return overlay(axes, self.per_model.get(model, {}))

    def identity(self) -> dict[str, Any]:
        """What must match for a re-run to continue a stored study (n_trials may grow), keyed
        by the spec's own field names (space.lr, task.T, space.lstm1997.blocks, ...)."""
        d = dataclasses.asdict(self)
        for k in ("n_trials", "description", "file", "source", "task_param_names"):
            d.pop(k)
        for model, axes in d.pop("per_model").items():  # absent before per-model sections
            for k, axis in axes.items():
                d[f"space.{model}.{k.rsplit('.', 1)[-1]}"] = axis
        for group in ("common", "lstm1997", "baselines"):
            for k, axis in d.pop(group).items():
                prefix = {"common": "space", "lstm1997": "space.lstm1997"}.get(
                    group, "space.baselines"
                )
                name = k.rsplit(".", 1)[-1]  # lstm1997.lr -> space.lstm1997.lr
                d[f"task.{k}" if k in self.task_param_names else f"{prefix}.{name}"] = axis
        return d

    @property
    def lag_param(self) -> str | None:
        return next((n for n in LAG_NAMES if n in self.task_param_names), None)
