"""Every database write of a study: our tables (`study.schema`) and Optuna's tell.

Only the driver process calls these. Order matters for crash safety: a finished trial is first
committed to our tables (aggregates, parameters, one row per seed), then its user attributes
and state go to Optuna. A driver killed between the two leaves an Optuna trial RUNNING whose
row here is already COMPLETE; the next run's reaper finds it and finishes the Optuna side from
our row (`repair`), so a completed result is never lost or recomputed.

Optuna's record of a trial: params (`study.space.suggest`), value = success rate over seeds,
user attrs = ``TrialResult.summary()`` (success_rate, n_seeds, n_solved, n_diverged,
sequences_to_solve_median, weights, wall_s, backend, reading); a failed trial carries
``error`` and ``fail_reason`` (``error``: the task raised or its worker died after Ray's retries;
``interrupted``: the driver stopped while it ran, and its configuration is queued again).
"""

from __future__ import annotations

from typing import Any

import optuna
import sqlalchemy as sa
from optuna.trial import TrialState
from sqlalchemy.engine import Engine

from study.schema import Base, ParamRow, SeedRow, StudyRow, TrialRow, utcnow
from study.space import n_planned
from study.spec import Spec
from study.storage import session_scope
from workers.config import TrialConfig, TrialResult

INTERRUPTED = "interrupted"
ERROR = "error"
SUMMARY_KEYS = (
    "success_rate",
    "n_seeds",
    "n_solved",
    "n_diverged",
    "sequences_to_solve_median",
    "weights",
    "wall_s",
    "backend",
    "reading",
)
_COLUMN = {"sequences_to_solve_median": "seq_to_solve_median"}
"""User attr -> TrialRow column where the names differ."""


def ensure_schema(engine: Engine) -> None:
    """Create our tables if they are missing (idempotent)."""
    Base.metadata.create_all(engine)


def stored_spec_toml(engine: Engine, name: str) -> str | None:
    """The spec text a study of this name was launched with, or None (reads only)."""
    if not sa.inspect(engine).has_table(StudyRow.__tablename__):
        return None
    with session_scope(engine) as s:
        return s.scalar(sa.select(StudyRow.spec_toml).where(StudyRow.name == name))


def begin_study(engine: Engine, spec: Spec) -> int:
    """Create or reopen the study row (status running); returns its id."""
    with session_scope(engine) as s:
        row = s.scalar(sa.select(StudyRow).where(StudyRow.name == spec.name))
        if row is None:
            row = StudyRow(
                name=spec.name,
                task=spec.task,
                models=list(spec.models),
                sampler=spec.sampler,
                seeds=spec.seeds,
                max_sequences=spec.max_sequences,
                reading=spec.reading,
                lag_param=spec.lag_param,
                paper_experiment=spec.paper_experiment,
                spec_toml=spec.source,
            )
            s.add(row)
        row.status = "running"
        row.n_planned = n_planned(spec)
        row.seeds, row.models = spec.seeds, list(spec.models)  # a grown study (study.plan)
        row.spec_toml = spec.source  # n_trials may have grown; the rest is identical
        s.flush()
        return row.id


def set_study_status(engine: Engine, study_id: int, status: str) -> None:
    with session_scope(engine) as s:
        s.get_one(StudyRow, study_id).status = status


def trial_started(
    engine: Engine, study_id: int, trial: optuna.Trial, params: dict[str, Any], config: TrialConfig
) -> int:
    """Insert the RUNNING trial row with its parameters; returns the row id."""
    with session_scope(engine) as s:
        row = TrialRow(
            study_id=study_id,
            optuna_trial_id=trial._trial_id,
            number=trial.number,
            config_key=config.key(),
            model=config.model.name,
            state="RUNNING",
            config=config.to_dict(),
        )
        row.params = [ParamRow(name=k, **_param_values(v)) for k, v in params.items()]
        s.add(row)
        s.flush()
        return row.id


def _param_values(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"value_num": float(v), "value_text": "true" if v else "false"}
    if isinstance(v, int | float):
        return {"value_num": float(v), "value_text": repr(v)}
    return {"value_num": None, "value_text": str(v)}


def trial_finished(
    engine: Engine, study: optuna.Study, trial: optuna.Trial, row_id: int, result: TrialResult,
    pruned: bool = False,
) -> None:  # fmt: skip
    """Record a finished trial: our row and seeds first, then Optuna's attrs and tell."""
    summary = result.summary()
    state = "PRUNED" if pruned else "COMPLETE"
    with session_scope(engine) as s:
        row = s.get_one(TrialRow, row_id)
        row.state = state
        row.finished_at = utcnow()
        for key in SUMMARY_KEYS:
            if key != "reading":
                setattr(row, _COLUMN.get(key, key), summary[key])
        row.seeds = [_seed_row(d) for d in (seed.to_dict() for seed in result.seeds)]
    _tell(study, trial, summary, state)


def _seed_row(d: dict[str, Any]) -> SeedRow:
    readings = d.get("readings") or {}
    return SeedRow(
        replicate=d["replicate"],
        seed=str(d["seed"]),
        solved=bool(d["solved"]),
        diverged=bool(d["diverged"]),
        sequences_to_solve=d["sequences_to_solve"],
        seq_literal=readings.get("literal"),
        seq_mae=readings.get("mae"),
        seq_frac99=readings.get("frac99"),
        sequences_trained=d["sequences_trained"],
        final_train_error=d["final_train_error"],
        test_error=d["test_error"],
        test_wrong=d["test_wrong"],
        test_n=d["test_n"],
        wall_s=d["wall_s"],
        curve=d["curve"],
    )


def _tell(study: optuna.Study, trial: optuna.Trial, summary: dict[str, Any], state: str) -> None:
    for key in SUMMARY_KEYS:
        trial.set_user_attr(key, summary.get(key))
    if state == "PRUNED":
        study.tell(trial, state=TrialState.PRUNED)
    else:
        study.tell(trial, float(summary["success_rate"]))


def trial_failed(
    engine: Engine, study: optuna.Study, trial: optuna.Trial, row_id: int | None, error: str,
    reason: str = ERROR,
) -> None:  # fmt: skip
    """Record a failed trial (ours, then Optuna's FAIL with ``error`` and ``fail_reason``)."""
    if row_id is not None:
        with session_scope(engine) as s:
            row = s.get_one(TrialRow, row_id)
            row.state = "FAIL"
            row.error = error
            row.finished_at = utcnow()
    trial.set_user_attr("fail_reason", reason)
    trial.set_user_attr("error", error.strip().splitlines()[-1][:500] if error.strip() else "")
    study.tell(trial, state=TrialState.FAIL)


def repair(engine: Engine, study: optuna.Study, frozen: optuna.trial.FrozenTrial) -> bool:
    """Finish an Optuna trial that our row already holds as finished; False if it does not."""
    with session_scope(engine) as s:
        row = s.scalar(sa.select(TrialRow).where(TrialRow.optuna_trial_id == frozen._trial_id))
        if row is None or row.state not in ("COMPLETE", "PRUNED"):
            return False
        summary = {key: getattr(row, _COLUMN.get(key, key), None) for key in SUMMARY_KEYS}
        summary["reading"] = row.config.get("reading")
        state = row.state
    trial = optuna.Trial(study, frozen._trial_id)
    _tell(study, trial, summary, state)
    return True


def row_of(engine: Engine, optuna_trial_id: int) -> tuple[int, str] | None:
    """(row id, state) of our row for an Optuna trial, if any."""
    with session_scope(engine) as s:
        r = s.execute(
            sa.select(TrialRow.id, TrialRow.state).where(
                TrialRow.optuna_trial_id == optuna_trial_id
            )
        ).first()
        return None if r is None else (r[0], r[1])


def finished_keys(engine: Engine, study_id: int) -> set[str]:
    """Config keys of the study's COMPLETE or PRUNED trials (never to be run again)."""
    with session_scope(engine) as s:
        q = sa.select(TrialRow.config_key).where(
            TrialRow.study_id == study_id, TrialRow.state.in_(("COMPLETE", "PRUNED"))
        )
        return set(s.scalars(q))


def fail_stale_rows(engine: Engine, study_id: int, error: str) -> int:
    """Mark our RUNNING rows FAIL once no Optuna trial of the study runs (after the reaper)."""
    with session_scope(engine) as s:
        res = s.execute(
            sa.update(TrialRow)
            .where(TrialRow.study_id == study_id, TrialRow.state == "RUNNING")
            .values(state="FAIL", error=error, finished_at=utcnow())
        )
        return int(getattr(res, "rowcount", 0) or 0)
