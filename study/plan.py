"""What a (re-)run of a spec has left to do: growing a stored study, the order of the work, and
the "nothing to do" answer given before Ray starts.

Growing a study. A spec re-run under a stored name may *grow* the study instead of repeating it:

* **more seeds** (grid studies without pruning): ``seeds`` raised from k to K. Every
  configuration already finished with k seeds gets one more trial that trains replicates
  k .. K-1 (``TrialConfig.replicate_offset = k``): new replicates with new derived seeds
  (seeds derive from (spec seed, configuration, replicate)), the earlier seeds untouched and not
  retrained. Our tables and the dashboard pool trials by configuration key, so the cell then
  reads (solved of the old and the new seeds) / K, and the grown study holds seed for seed what
  a fresh study launched with K seeds holds.
* **new grid values and models** (grid studies): a value list (``lr``, ``blocks``, a lag ``T``,
  ...) or ``models`` that keeps every stored value and adds some; a new model may bring its own
  ``[space.<model>]`` section. Only the new points run; every finished configuration keeps its
  trials. Optuna records each grid axis as a CategoricalDistribution and refuses a trial whose
  choices differ from the study's ("does not support dynamic value space"); it stores a
  categorical value as its index into the choices, and every parameter row carries its own
  distribution. So before the first new trial the driver widens the stored distributions in
  place (:func:`widen_choices`): the stored choices keep their order and the new values are
  appended, every stored index decodes to the same value, and plain Optuna reads old and new
  trials alike.
* **more trials** (tpe / random / qmc): ``n_trials`` raised, as before.

Any other change (task, budget, reading, seed, fewer seeds, a grid value or model removed, a new
axis for a model the study already has, ...) changes results under the same name and is refused
(:func:`refused_changes`): give the changed spec a new name.

Order: :func:`interleaved` deals the grid's points out model by model in turn (lstm1997, elman,
gru, lstm1997, ...), so the first finished trials sample every model's cost and the progress
bar's ETA settles early instead of extrapolating the slowest (or fastest) model.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict, deque
from typing import Any

import optuna
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from study.schema import StudyRow, TrialRow
from study.space import config_for, grid_points
from study.spec import Choice, Spec
from study.storage import session_scope
from workers.config import TrialConfig

ALL_SEEDS = 10**9
"""Seeds counted for a PRUNED configuration: pruning decided it, it is never topped up."""


def refused_changes(old: Spec | None, new: Spec) -> list[str]:
    """Spec fields that differ from the stored spec ``old`` in a way a study cannot grow by
    (see the module docstring); [] when ``new`` continues or grows the study."""
    if old is None:  # an unreadable stored spec: every field counts as changed
        return sorted(new.identity())
    a, b = old.identity(), new.identity()
    grid = new.sampler == "grid" and old.sampler == "grid"
    added = set(new.models) - set(old.models)
    out = []
    for key in sorted(a.keys() | b.keys()):
        va, vb = a.get(key), b.get(key)
        if va == vb:
            continue
        if key == "seeds" and grid and new.pruning is None and int(vb or 0) >= int(va or 0):
            continue
        if grid and _keeps_every_value(va, vb):
            continue
        if grid and va is None and key.split(".")[:2] in (["space", m] for m in added):
            continue  # the section of a model the study grows by
        out.append(key)
    return out


def _keeps_every_value(old: Any, new: Any) -> bool:
    """A value list (``models``, a grid axis) given more values with every old one kept."""

    def values(v: Any) -> list[Any] | None:
        if isinstance(v, dict) and set(v) == {"values"}:  # a Choice axis, as Spec.identity has it
            v = v["values"]
        return list(v) if isinstance(v, list | tuple) else None

    a, b = values(old), values(new)
    return a is not None and b is not None and all(x in b for x in a)


def grid_choices(spec: Spec) -> dict[str, list[Any]]:
    """Each categorical parameter of a grid spec (``model`` and every value-list axis, by its
    Optuna name) with the values the spec gives it, in the spec's order."""
    out: dict[str, list[Any]] = {"model": list(spec.models)}
    for model in spec.models:
        for name, axis in spec.axes_for(model).items():
            if isinstance(axis, Choice):
                have = out.setdefault(name, [])
                have += [v for v in axis.values if v not in have]
    return out


def widen_choices(engine: Engine, spec: Spec) -> dict[str, list[Any]]:
    """The choices each categorical parameter of a grid study is suggested with: the stored
    study's choices in their stored order, the spec's new values appended; the stored
    parameter rows are rewritten to that distribution first (see the module docstring).
    A study not stored yet: the spec's own lists."""
    choices = grid_choices(spec)
    if not sa.inspect(engine).has_table("trial_params"):
        return choices
    tp = sa.table(
        "trial_params", sa.column("trial_id"), sa.column("param_name"),
        sa.column("distribution_json"),
    )  # fmt: skip
    trials = sa.table("trials", sa.column("trial_id"), sa.column("study_id"))
    studies = sa.table("studies", sa.column("study_id"), sa.column("study_name"))
    of_study = (
        sa.select(trials.c.trial_id)
        .join(studies, studies.c.study_id == trials.c.study_id)
        .where(studies.c.study_name == spec.name)
    )
    with engine.begin() as c:
        stored = c.execute(
            sa.select(tp.c.param_name, tp.c.distribution_json)
            .where(tp.c.trial_id.in_(of_study), tp.c.param_name.in_(list(choices)))
            .distinct()
        ).all()
        kept: dict[str, list[Any]] = {}
        for name, text in stored:
            dist = optuna.distributions.json_to_distribution(text)
            if not isinstance(dist, optuna.distributions.CategoricalDistribution):
                continue
            have = list(dist.choices)
            longest = kept.get(name, [])
            if have[: len(longest)] != longest[: len(have)]:
                raise RuntimeError(
                    f"study {spec.name!r}: the stored choices of {name!r} disagree "
                    f"({longest} vs {have}); the study cannot grow"
                )
            kept[name] = max(longest, have, key=len)
        for name, have in kept.items():
            wide = have + [v for v in choices[name] if v not in have]
            choices[name] = wide
            new = optuna.distributions.distribution_to_json(
                optuna.distributions.CategoricalDistribution(wide)
            )
            c.execute(
                tp.update()
                .where(tp.c.trial_id.in_(of_study), tp.c.param_name == name)
                .where(tp.c.distribution_json != new)
                .values(distribution_json=new)
            )
    return choices


def seeds_done(engine: Engine, study_id: int) -> dict[str, int]:
    """Seeds already stored per configuration key over the study's finished trials (a PRUNED
    configuration counts as complete: ALL_SEEDS)."""
    out: dict[str, int] = defaultdict(int)
    with session_scope(engine) as s:
        rows = s.execute(
            sa.select(TrialRow.config_key, TrialRow.state, TrialRow.n_seeds).where(
                TrialRow.study_id == study_id, TrialRow.state.in_(("COMPLETE", "PRUNED"))
            )
        ).all()
    for key, state, n in rows:
        out[key] = ALL_SEEDS if state == "PRUNED" else out[key] + int(n or 0)
    return dict(out)


def top_up(config: TrialConfig, have: int) -> TrialConfig:
    """The trial that brings a configuration holding ``have`` seeds up to ``config.seeds``:
    replicates have .. seeds-1 (unchanged when it has none)."""
    if have <= 0:
        return config
    return dataclasses.replace(config, seeds=config.seeds - have, replicate_offset=have)


def interleaved(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The points dealt out one model at a time in turn, each model's own order kept."""
    by_model: dict[Any, deque[dict[str, Any]]] = {}
    for p in points:
        by_model.setdefault(p["model"], deque()).append(p)
    out = []
    for group in itertools.zip_longest(*by_model.values()):
        out += [p for p in group if p is not None]
    return out


def remaining_points(spec: Spec, have: dict[str, int]) -> list[dict[str, Any]]:
    """Grid points whose configuration holds fewer than ``spec.seeds`` seeds, interleaved."""
    points = [p for p in grid_points(spec) if have.get(config_for(spec, p).key(), 0) < spec.seeds]
    return interleaved(points)


def nothing_to_do(spec: Spec, engine: Engine) -> str | None:
    """A one-line "complete, nothing to do" when a stored study has nothing left to run under
    ``spec`` and no trial a killed driver may have left behind; None otherwise (then the driver
    runs). Reads only, so ``study-launch`` can answer before starting Ray."""
    with session_scope(engine) as s:
        study = s.scalar(sa.select(StudyRow).where(StudyRow.name == spec.name))
        if study is None:
            return None
        study_id = study.id
        counts = dict(
            s.execute(
                sa.select(TrialRow.state, sa.func.count())
                .where(TrialRow.study_id == study_id)
                .group_by(TrialRow.state)
            ).all()
        )
    if counts.get("RUNNING"):
        return None
    if _optuna_unfinished(engine, spec.name):
        return None
    if spec.sampler == "grid":
        if remaining_points(spec, seeds_done(engine, study_id)):
            return None
        n = len(grid_points(spec))
        return (
            f"study {spec.name!r} is complete: all {n} configurations have their {spec.seeds} "
            "seeds; nothing to do (raise seeds to grow it)"
        )
    finished = (
        counts.get("COMPLETE", 0) + counts.get("PRUNED", 0) + _failed_by_error(engine, study_id)
    )
    if finished < int(spec.n_trials or 0):
        return None
    return (
        f"study {spec.name!r} is complete: {finished} of {spec.n_trials} trials finished; "
        "nothing to do (raise n_trials to grow it)"
    )


def _failed_by_error(engine: Engine, study_id: int) -> int:
    """FAIL trials that count as finished (the task raised), not interrupted ones."""
    with session_scope(engine) as s:
        return int(
            s.scalar(
                sa.select(sa.func.count()).where(
                    TrialRow.study_id == study_id,
                    TrialRow.state == "FAIL",
                    sa.not_(sa.func.coalesce(TrialRow.error, "").like("interrupted%")),
                )
            )
            or 0
        )


def _optuna_unfinished(engine: Engine, name: str) -> bool:
    """Optuna trials of the study left RUNNING or WAITING (a killed driver's): the driver reaps."""
    if not sa.inspect(engine).has_table("trials"):
        return False
    trials = sa.table("trials", sa.column("study_id"), sa.column("state"))
    studies = sa.table("studies", sa.column("study_id"), sa.column("study_name"))
    stmt = (
        sa.select(sa.func.count())
        .select_from(trials.join(studies, trials.c.study_id == studies.c.study_id))
        .where(
            studies.c.study_name == name,
            # Optuna's state column is an enum type on PostgreSQL: compare it as text
            sa.cast(trials.c.state, sa.String).in_(("RUNNING", "WAITING")),
        )
    )
    with engine.connect() as c:
        return bool(c.execute(stmt).scalar())
