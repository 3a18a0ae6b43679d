"""Hyperparameter importance for success: Optuna's evaluators on our trials, in memory.

The dashboard never opens Optuna's RDB storage (opening it creates or upgrades tables), so an
in-memory Optuna study is rebuilt from our tables: each trial's success rate as its value, its
parameters under the distributions the study was drawn from. Those distributions are the ones
the driver stored with the study (``carousel_studies.space``, `study.space.search_space`);
they are read back, never guessed from the values (a grid ``lr = [1.0, 2.0]`` stays the
categorical it was, not an integer range). A study stored before that column existed has its
space rebuilt from its stored spec text, through the same function.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import pandas as pd

EVALUATORS = {"ped_anova": "PED-ANOVA", "fanova": "fANOVA", "mdi": "Mean decrease impurity"}


def available_evaluators() -> dict[str, str]:
    """Evaluators usable here: PED-ANOVA always; fANOVA and MDI need scikit-learn."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return {"ped_anova": EVALUATORS["ped_anova"]}
    return dict(EVALUATORS)


def _evaluator(name: str, target_quantile: float) -> Any:
    from optuna import importance

    if name == "fanova":
        return importance.FanovaImportanceEvaluator(seed=0)
    if name == "mdi":
        return importance.MeanDecreaseImpurityImportanceEvaluator(seed=0)
    return importance.PedAnovaImportanceEvaluator(target_quantile=target_quantile)


def space_of(stored: dict[str, dict[str, str]] | None, spec_toml: str | None) -> dict[str, Any]:
    """model -> parameter -> Optuna distribution: the stored space, else (a study from before
    the space was stored) the space of its stored spec. Raises ValueError when neither exists
    or the old spec no longer parses."""
    from optuna.distributions import json_to_distribution

    if stored is None:
        if not spec_toml:
            raise ValueError("the study has neither a stored search space nor a stored spec")
        from study.space import search_space
        from study.spec import SpecError
        from study.specfile import parse_spec

        try:
            stored = search_space(parse_spec(spec_toml, "<stored spec>"))
        except SpecError as e:
            raise ValueError(f"the study's stored spec no longer parses ({e})") from None
    return {m: {n: json_to_distribution(j) for n, j in d.items()} for m, d in stored.items()}


def _merged(space: dict[str, Any]) -> dict[str, Any]:
    """One distribution per parameter over all models (the "all models" scope): categorical
    choices in first-seen order, numeric ranges spanning every model's range."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    broken: set[str] = set()
    for dists in space.values():
        for name, d in dists.items():
            have = out.get(name)
            if name in broken:
                continue
            if have is None:
                out[name] = d
            elif isinstance(have, CategoricalDistribution) and isinstance(
                d, CategoricalDistribution
            ):
                extra = [c for c in d.choices if c not in have.choices]
                out[name] = CategoricalDistribution([*have.choices, *extra])
            elif isinstance(have, IntDistribution) and isinstance(d, IntDistribution):
                out[name] = IntDistribution(
                    min(have.low, d.low), max(have.high, d.high), log=have.log and d.log
                )
            elif all(hasattr(x, "low") for x in (have, d)):  # int and float ranges
                out[name] = FloatDistribution(
                    float(min(have.low, d.low)), float(max(have.high, d.high))
                )
            else:  # a range in one model, choices in another: no one distribution spans both
                broken.add(name)
    return {n: d for n, d in out.items() if n not in broken}


def _value_of(d: Any, num: float | None, text: str | None) -> Any:
    """A stored value (`carousel_params`' value_num / value_text) as ``d`` holds it, or None
    when it is not one of ``d``'s values."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(d, CategoricalDistribution):
        for c in d.choices:
            if isinstance(c, str):
                if text == c:
                    return c
            elif c is not None and num is not None and not math.isnan(num) and float(c) == num:
                return c
        return None
    if num is None or math.isnan(num):
        return None
    v: Any = int(num) if isinstance(d, IntDistribution) else float(num)
    return v if d._contains(d.to_internal_repr(v)) else None


def param_importances(
    trials: pd.DataFrame,
    params: pd.DataFrame,
    space: dict[str, Any],
    evaluator: str = "ped_anova",
    target_quantile: float = 0.1,
    by_model: bool = True,
) -> tuple[pd.DataFrame, list[str]]:
    """Importance of each swept parameter for success (value = the trial's success rate).

    ``space``: `space_of` the study. A parameter with one value in a scope (a fixed one) is left
    out of it. Returns a frame (scope, param, importance, n_trials), scope being a model name
    or "all models" (then ``model`` is a parameter), and the evaluator's warnings (e.g. too few
    trials to separate the top quantile).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    stored = {
        (int(r.trial_id), str(r.name)): (r.value_num, r.value_text)
        for r in params.itertuples(index=False)
    }
    scopes: list[tuple[str, pd.DataFrame, dict[str, Any]]] = []
    if by_model:
        for m, sub in trials.groupby("model", sort=True):
            dists = {n: d for n, d in space.get(str(m), {}).items() if n != "model"}
            scopes.append((str(m), sub, dists))
    else:
        scopes.append(("all models", trials, _merged(space)))
    rows = []
    notes: list[str] = []
    for scope, sub, dists in scopes:
        if sub["success_rate"].nunique(dropna=False) < 2:
            value = sub["success_rate"].iloc[0]
            notes.append(
                f"{scope}: every trial has the same success ({value:.2f}), so no parameter "
                "can matter; left out"
            )
            continue
        swept = {n: d for n, d in dists.items() if not d.single()}
        if not swept:
            continue
        frozen = []
        for tid, v in zip(sub["trial_id"], sub["success_rate"], strict=True):
            values = {
                n: _value_of(d, *stored.get((int(tid), n), (None, None))) for n, d in swept.items()
            }
            values = {n: x for n, x in values.items() if x is not None}
            frozen.append(
                optuna.trial.create_trial(
                    params=values,
                    distributions={n: swept[n] for n in values},
                    value=float(v) if v is not None and not math.isnan(v) else 0.0,
                )
            )
        study = optuna.create_study(direction="maximize")
        study.add_trials(frozen)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            imp = optuna.importance.get_param_importances(
                study, evaluator=_evaluator(evaluator, target_quantile), normalize=True
            )
        notes += [f"{scope}: {w.message}" for w in caught]
        for name, value in imp.items():
            rows.append(
                {"scope": scope, "param": name, "importance": float(value), "n_trials": len(sub)}
            )
    return pd.DataFrame(rows, columns=["scope", "param", "importance", "n_trials"]), notes
