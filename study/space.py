"""The search space of a spec: Optuna suggestions, grid enumeration, and params -> TrialConfig.

The space is conditional on the model family (paper Sec. 4 vs. the baselines): every trial first
picks ``model``; lstm1997 trials then take the memory-block parameters (blocks, cells per block,
gates, gate biases, gradient, forget gate), baseline trials (elman, gru, lstm_forget) take their
size (hidden units or a matched weight count). Learning rate, init range and the task's
parameters are common to all. Fixed values are suggested too (one-choice categoricals), so
Optuna's own records show the whole configuration.

`make_sampler` / `make_pruner` build the spec's seeded sampler and optional pruner.
`suggest` only calls ``trial.suggest_*`` and does no work. `grid_points` enumerates the same
space for a grid study; the driver enqueues those points itself, one at a time, so a grid point
is never handed out twice (Optuna's GridSampler can duplicate points under parallel askers).

Example:

    >>> import optuna
    >>> from study.specfile import parse_spec
    >>> spec = parse_spec('''
    ... name = "x"
    ... task = "adding"
    ... models = ["lstm1997", "elman"]
    ... seeds = 2
    ... max_sequences = 100
    ... [task_params]
    ... T = 20
    ... [space]
    ... lr = [0.1, 0.5]
    ... [space.lstm1997]
    ... blocks = [1, 2]
    ... ''')
    >>> len(grid_points(spec))  # lstm1997: 2 lr x 2 blocks; elman: 2 lr
    6
    >>> trial = optuna.trial.FixedTrial({"model": "elman", "lr": 0.5, "T": 20})
    >>> params = suggest(trial, spec)
    >>> params
    {'model': 'elman', 'lr': 0.5, 'T': 20}
    >>> config_for(spec, params).model.name
    'elman'
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from study.model_space import canonical, canonical_params
from study.spec import Axis, Choice, Spec
from workers.config import LR, NEW_MODEL_FIELDS, ModelSpec, TrialConfig, default_protocol

if TYPE_CHECKING:  # Optuna is imported where samplers are built: validating a spec stays light
    import optuna

MODEL_FIELDS = (
    "blocks",
    "cells_per_block",
    "gates",
    "gate_bias",
    "gradient",
    "forget_gate",
    "hidden",
    "match_weights",
    *NEW_MODEL_FIELDS,
)
"""Parameter names that go into ``ModelSpec`` (the others are lr, init_range, protocol, update,
task params)."""


def suggest(
    trial: optuna.trial.BaseTrial, spec: Spec, choices: dict[str, list[Any]] | None = None
) -> dict[str, Any]:
    """The trial's parameters, drawn through ``trial.suggest_*`` only (define-by-run).
    ``choices``: the categorical choices to suggest from, by parameter name, where they differ
    from the spec's lists (a grown grid study: `study.plan.widen_choices`)."""
    choices = choices or {}
    model = trial.suggest_categorical("model", choices.get("model", list(spec.models)))
    params: dict[str, Any] = {"model": model}
    for name, axis in spec.axes_for(str(model)).items():
        params[name] = _suggest_one(trial, name, axis, choices.get(name))
    return params


def _suggest_one(
    trial: optuna.trial.BaseTrial, name: str, axis: Axis, choices: list[Any] | None = None
) -> Any:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    d = distribution(axis, choices)
    if isinstance(d, CategoricalDistribution):
        return trial.suggest_categorical(name, d.choices)
    if isinstance(d, IntDistribution):
        return trial.suggest_int(name, d.low, d.high, step=d.step, log=d.log)
    assert isinstance(d, FloatDistribution)
    return trial.suggest_float(name, d.low, d.high, step=d.step, log=d.log)


def distribution(
    axis: Axis, choices: list[Any] | None = None
) -> optuna.distributions.BaseDistribution:
    """The Optuna distribution a trial draws ``axis`` from (``choices``: a grown grid's stored
    list, `study.plan.widen_choices`)."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if isinstance(axis, Choice):
        return CategoricalDistribution(choices or list(axis.values))
    if axis.integer:
        step = int(axis.step) if axis.step is not None else 1
        return IntDistribution(int(axis.low), int(axis.high), step=step, log=axis.log)
    return FloatDistribution(axis.low, axis.high, step=axis.step, log=axis.log)


def search_space(
    spec: Spec, choices: dict[str, list[Any]] | None = None
) -> dict[str, dict[str, str]]:
    """What each model's trials are drawn from: model -> stored parameter name (``gru.lr`` ->
    ``lr``) -> Optuna distribution JSON, ``model`` included. Stored with the study
    (`study.record.begin_study`) so the dashboard reads the distributions back."""
    from optuna.distributions import CategoricalDistribution, distribution_to_json

    choices = choices or {}
    models = list(choices.get("model", list(spec.models)))
    space: dict[str, dict[str, str]] = {}
    for m in models:
        space[m] = {"model": distribution_to_json(CategoricalDistribution(models))}
        for name, axis in spec.axes_for(m).items():
            space[m][canonical(name)] = distribution_to_json(distribution(axis, choices.get(name)))
    return space


def grid_points(spec: Spec) -> list[dict[str, Any]]:
    """Every configuration of a grid spec as a params dict, model by model, in a fixed order."""
    points = []
    for model in spec.models:
        axes = spec.axes_for(model)
        values = [a.values for a in axes.values() if isinstance(a, Choice)]
        if len(values) != len(axes):
            raise ValueError("grid_points needs a spec whose axes are all value lists")
        for combo in itertools.product(*values):
            points.append({"model": model, **dict(zip(axes, combo, strict=True))})
    return points


def n_grid_points(spec: Spec) -> int:
    """len(grid_points(spec)) without building the points."""
    return sum(
        math.prod(len(a.values) for a in spec.axes_for(m).values() if isinstance(a, Choice))
        for m in spec.models
    )


def n_distinct(spec: Spec) -> int | None:
    """Distinct configurations of the space, or None when a continuous range makes it endless."""
    total = 0
    for m in spec.models:
        count = 1
        for a in spec.axes_for(m).values():
            if isinstance(a, Choice):
                count *= len(a.values)
            elif a.integer or a.step is not None:
                step = a.step or 1
                count *= int((a.high - a.low) // step) + 1  # log-int ranges: an upper bound
            else:
                return None
        total += count
    return total


def n_planned(spec: Spec) -> int:
    """Trials the study is meant to finish: grid points, or n_trials for a search."""
    return n_grid_points(spec) if spec.sampler == "grid" else int(spec.n_trials or 0)


def config_for(spec: Spec, params: dict[str, Any]) -> TrialConfig:
    """The TrialConfig of one parameter set; seeds derive from the spec's seed, never the trial.
    Section names (``gru.lr``) count as their plain names; no protocol: the family's default."""
    params = canonical_params(params)
    model = ModelSpec(
        name=str(params["model"]), **{k: params[k] for k in MODEL_FIELDS if k in params}
    )
    return TrialConfig(
        task=spec.task,
        task_params={k: params[k] for k in spec.task_param_names},
        model=model,
        lr=params.get(LR),
        init_range=params.get("init_range"),
        max_sequences=spec.max_sequences,
        seeds=spec.seeds,
        seed_base=spec.seed,
        reading=spec.reading,  # type: ignore[arg-type]
        backend=spec.backend,  # type: ignore[arg-type]
        precision=spec.precision,  # type: ignore[arg-type]
        curve_points=spec.curve_points,
        protocol=str(params.get("protocol", default_protocol(model.name))),
        update=params.get("update"),
        output_delta=params.get("output_delta"),
        construction=params.get("construction"),
    )


def make_sampler(spec: Spec, restart: int = 0) -> optuna.samplers.BaseSampler:
    """The spec's sampler, seeded from the spec (grid points are enqueued, never sampled).

    ``restart``: trials the study already holds. A random or TPE sampler rebuilt with the same
    seed would draw the first run's points again; its seed then derives from (spec seed,
    restart), so each continuation draws afresh and the same history gives the same draws."""
    import optuna

    seed = spec.seed
    if restart:
        seed = int(np.random.SeedSequence([spec.seed, restart]).generate_state(1)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if spec.sampler == "tpe":
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)
        if spec.sampler == "qmc":
            return optuna.samplers.QMCSampler(
                seed=spec.seed, scramble=True, warn_independent_sampling=False
            )
    return optuna.samplers.RandomSampler(seed=seed)


def make_pruner(spec: Spec) -> optuna.pruners.BasePruner:
    import optuna

    p = spec.pruning
    if p is None:
        return optuna.pruners.NopPruner()
    if p.pruner == "threshold":
        return optuna.pruners.ThresholdPruner(lower=p.min_success)
    return optuna.pruners.MedianPruner(n_startup_trials=p.n_startup_trials, n_warmup_steps=0)
