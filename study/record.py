"""Every database write of a study: our tables (`study.schema`) and Optuna's tell.

Only the driver process calls these. A finished trial's row keeps the configuration as asked
(``config``) plus what it trained with, every default resolved (``config["trained"]``: lr,
init_range, update moment, output delta, protocol, topology and weight count). Order matters
for crash safety: a finished trial is first committed to our tables (aggregates, parameters,
one row per seed), then its user attributes and state go to Optuna. A driver killed between
the two leaves an Optuna trial RUNNING whose row here is already COMPLETE; the next run's
reaper finds it and finishes the Optuna side from our row (`repair`), so a completed result is
never lost or recomputed.

Optuna's record of a trial: params (`study.space.suggest`), value = success rate over seeds,
user attrs = ``TrialResult.summary()`` (success_rate, n_seeds, n_solved, n_diverged,
sequences_to_solve_median, weights, wall_s, backend, reading, update); a failed trial carries
``error`` and ``fail_reason`` (``error``: the task raised or its worker died after Ray's retries;
``interrupted``: the driver stopped while it ran, and its configuration is queued again).
"""

from __future__ import annotations

from typing import Any

import optuna
import sqlalchemy as sa
from optuna.trial import TrialState
from sqlalchemy.engine import Engine

from study.columns import add_missing_columns, widen_integer_columns
from study.model_space import canonical_params
from study.schema import Base, ParamRow, SeedRow, StudyRow, TrialRow, utcnow
from study.space import n_planned
from study.spec import Spec
from study.storage import session_scope
from workers.config import TrialConfig, TrialResult

INTERRUPTED = "interrupted"
ERROR = "error"
DUPLICATE = "duplicate"
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
    "update",
)
_COLUMN = {"sequences_to_solve_median": "seq_to_solve_median"}
"""User attr -> TrialRow column where the names differ."""


def ensure_schema(engine: Engine) -> None:
    """Create our tables if missing, add nullable columns added since and widen 32-bit count
    columns (idempotent; `study.columns`)."""
    Base.metadata.create_all(engine)
    add_missing_columns(engine, Base.metadata)
    widen_integer_columns(engine, Base.metadata)


def stored_spec_toml(engine: Engine, name: str) -> str | None:
    """The spec text a study of this name was launched with, or None (reads only)."""
    if not sa.inspect(engine).has_table(StudyRow.__tablename__):
        return None
    with session_scope(engine) as s:
        return s.scalar(sa.select(StudyRow.spec_toml).where(StudyRow.name == name))


def begin_study(engine: Engine, spec: Spec, space: dict[str, dict[str, str]]) -> int:
    """Create or reopen the study row (status running) with its search space
    (`study.space.search_space`); returns its id."""
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
        row.space = space  # a grown grid's widened choices
        s.flush()
        return row.id


def set_study_status(engine: Engine, study_id: int, status: str) -> None:
    with session_scope(engine) as s:
        s.get_one(StudyRow, study_id).status = status


def trial_started(
    engine: Engine, study_id: int, trial: optuna.Trial, params: dict[str, Any], config: TrialConfig
) -> int:
    """Insert the RUNNING trial row with its parameters; returns the row id. Idempotent: a
    retry after a commit whose answer was lost finds the row and returns it."""
    with session_scope(engine) as s:
        have = s.scalar(
            sa.select(TrialRow.id).where(
                TrialRow.study_id == study_id, TrialRow.optuna_trial_id == trial._trial_id
            )
        )
        if have is not None:
            return int(have)
        row = TrialRow(
            study_id=study_id,
            optuna_trial_id=trial._trial_id,
            number=trial.number,
            config_key=config.key(),
            model=config.model.name,
            state="RUNNING",
            config=config.to_dict(),
        )
        row.params = [  # plain names (gru.lr -> lr): a map's lr axis spans every model
            ParamRow(name=k, **_param_values(v)) for k, v in canonical_params(params).items()
        ]
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
    """Record a finished trial: our row and seeds first, then Optuna's attrs and tell.
    Idempotent (a retry after a lost answer): a finished row or trial is left as it is."""
    summary = result.summary()
    state = "PRUNED" if pruned else "COMPLETE"
    with session_scope(engine) as s:
        row = s.get_one(TrialRow, row_id)
        if row.state in ("COMPLETE", "PRUNED"):
            _tell(study, trial, summary, row.state)
            return
        row.state = state
        row.finished_at = utcnow()
        for key in SUMMARY_KEYS:
            if key not in ("reading", "update"):
                setattr(row, _COLUMN.get(key, key), summary[key])
        row.config = {**row.config, "trained": dict(result.trained)}  # the resolved values
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
        metrics=d.get("metrics"),
    )


def _tell(
    study: optuna.Study, trial: optuna.Trial, summary: dict[str, Any], state: str,
    extra: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    """Optuna's side of a finished trial; nothing if Optuna holds it finished already."""
    if _finished(study, trial._trial_id):
        return
    try:
        for key, value in {**{k: summary.get(k) for k in SUMMARY_KEYS}, **(extra or {})}.items():
            trial.set_user_attr(key, value)
        if state == "PRUNED":
            study.tell(trial, state=TrialState.PRUNED, skip_if_finished=True)
        else:
            study.tell(trial, float(summary["success_rate"]), skip_if_finished=True)
    except optuna.exceptions.UpdateFinishedTrialError:  # an earlier try committed, then broke
        pass


def _finished(study: optuna.Study, trial_id: int) -> bool:
    """Optuna's stored state, read past its in-process cache."""
    storage = getattr(study._storage, "_backend", study._storage)
    return bool(storage.get_trial(trial_id).state.is_finished())


def tell_duplicate(
    study: optuna.Study, trial: optuna.Trial, of: dict[str, Any] | None, number: int | None
) -> None:
    """Finish a trial whose configuration the study already holds, without training it again:
    the first one's value (seeds derive from the configuration, so a rerun would give the very
    same result), ``duplicate_of`` its number; FAIL when that one failed or still runs."""
    if of is None:
        if not _finished(study, trial._trial_id):
            trial.set_user_attr("fail_reason", DUPLICATE)
            trial.set_user_attr("duplicate_of", number)
            study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        return
    _tell(study, trial, of, of["state"], extra={"duplicate_of": number})


def trial_failed(
    engine: Engine, study: optuna.Study, trial: optuna.Trial, row_id: int | None, error: str,
    reason: str = ERROR,
) -> None:  # fmt: skip
    """Record a failed trial (ours, then Optuna's FAIL with ``error`` and ``fail_reason``)."""
    if row_id is not None:
        with session_scope(engine) as s:
            row = s.get_one(TrialRow, row_id)
            if row.state == "RUNNING":
                row.state = "FAIL"
                row.error = error
                row.finished_at = utcnow()
    if _finished(study, trial._trial_id):
        return
    trial.set_user_attr("fail_reason", reason)
    trial.set_user_attr("error", error.strip().splitlines()[-1][:500] if error.strip() else "")
    study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)


def repair(engine: Engine, study: optuna.Study, frozen: optuna.trial.FrozenTrial) -> bool:
    """Finish an Optuna trial that our row already holds as finished; False if it does not."""
    with session_scope(engine) as s:
        row = s.scalar(sa.select(TrialRow).where(TrialRow.optuna_trial_id == frozen._trial_id))
        if row is None or row.state not in ("COMPLETE", "PRUNED"):
            return False
        summary = {key: getattr(row, _COLUMN.get(key, key), None) for key in SUMMARY_KEYS}
        summary["reading"] = row.config.get("reading")
        summary["update"] = (row.config.get("trained") or {}).get("update")
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


def done_configs(engine: Engine, study_id: int) -> dict[str, dict[str, Any]]:
    """Every configuration the study has settled (COMPLETE, PRUNED, or FAIL with an error, not
    an interruption): config key -> its trial's number, state and summary, for telling a
    search sampler's repeated proposals without training them again."""
    with session_scope(engine) as s:
        rows = s.scalars(
            sa.select(TrialRow).where(
                TrialRow.study_id == study_id,
                TrialRow.state.in_(("COMPLETE", "PRUNED", "FAIL")),
            )
        )
        out: dict[str, dict[str, Any]] = {}
        for r in rows:
            if r.state == "FAIL" and (r.error or "").startswith(INTERRUPTED):
                continue
            summary = {k: getattr(r, _COLUMN.get(k, k), None) for k in SUMMARY_KEYS}
            summary["reading"] = r.config.get("reading")
            summary["update"] = (r.config.get("trained") or {}).get("update")
            out[r.config_key] = {"number": r.number, "state": r.state, **summary}
        return out


def fail_stale_rows(engine: Engine, study_id: int, error: str) -> int:
    """Mark our RUNNING rows FAIL once no Optuna trial of the study runs (after the reaper)."""
    with session_scope(engine) as s:
        res = s.execute(
            sa.update(TrialRow)
            .where(TrialRow.study_id == study_id, TrialRow.state == "RUNNING")
            .values(state="FAIL", error=error, finished_at=utcnow())
        )
        return int(getattr(res, "rowcount", 0) or 0)
