"""The dashboard's SQL: read-only SELECTs over carousel's tables, each returning a DataFrame.

Everything the pages show is aggregated here, in the database, so a study of 10,000 trials comes
back as a few hundred rows (one per map cell), never as 10,000 Python objects
(optuna-dashboard#385). The statements are SQLAlchemy Core over `study.schema`'s tables and run
unchanged on SQLite and PostgreSQL.

Dimensions: a map cell, a lag-curve point or a configuration is a tuple of *dimensions*, each a
parameter name from ``carousel_params`` (EAV) or ``"model"`` (a column of ``carousel_trials``).
Each dimension is one LEFT JOIN of ``carousel_params``; a trial that lacks a parameter (an Elman
net has no ``blocks``) falls into that dimension's NULL group, shown as "n/a". The result has two
columns per dimension, ``<name>__text`` and ``<name>__num``, grouped on both: the text is the
label, the number orders the axis.

Medians: SQL has no portable MEDIAN, so :func:`cell_medians` computes the exact median of the
solved seeds' sequences-to-solve per cell with window functions (``row_number`` and ``count``
over the cell's partition, then the average of the one or two middle rows), which SQLite >= 3.25
and PostgreSQL both run. It touches ``carousel_seeds`` and is a separate query, so the counts
query stays a pure ``GROUP BY`` over trials.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import (
    Select,
    and_,
    case,
    func,
    inspect,
    null,
    or_,
    select,
)
from sqlalchemy.engine import Connection, Engine

from study.schema import ParamRow, SeedRow, StudyRow, TrialRow
from workers.config import LR

studies_t = StudyRow.__table__
trials_t = TrialRow.__table__
params_t = ParamRow.__table__
seeds_t = SeedRow.__table__

CAROUSEL_TABLES = ("carousel_studies", "carousel_trials", "carousel_params", "carousel_seeds")
COMPLETE = "COMPLETE"
DONE = ("COMPLETE", "PRUNED")
"""Trial states whose seeds count: a pruned configuration's first-stage seeds are real results,
and leaving them out would make the map look better than the study found."""
MODEL = "model"
__all__ = ["LR", "MODEL"]


def read_frame(conn: Engine | Connection, stmt: Any) -> pd.DataFrame:
    """Run one SELECT in its own short read transaction; PostgreSQL's NUMERIC (avg) -> float."""
    if isinstance(conn, Engine):
        with conn.connect() as c:
            result = c.execute(stmt)
            df = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    else:
        result = conn.execute(stmt)
        df = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    for col in df.columns:
        first = df[col].dropna()
        if len(first) and isinstance(first.iloc[0], Decimal):
            df[col] = df[col].astype(float)
    return df


def table_names(engine: Engine) -> set[str]:
    """Names of the tables in the database."""
    return set(inspect(engine).get_table_names())


def studies(conn: Engine | Connection) -> pd.DataFrame:
    """One row per carousel study with its trial counts by state, most recently active first
    (the default study of the pages: `make demo` ends on the study it just ran)."""
    t = trials_t
    # configurations with a finished trial: a FAIL counts only while its configuration has none
    # (a trial interrupted and then run again on resume is not a failure of the study). A join
    # against this grouped set, not a correlated EXISTS per trial: PostgreSQL costs the EXISTS
    # as a scan per row, and past ~1,000 trials that estimate crosses jit_above_cost and the
    # query spends ~0.4 s compiling (seconds on a loaded host) for 10 ms of work.
    finished = (
        select(t.c.study_id, t.c.config_key)
        .where(t.c.state.in_(DONE))
        .group_by(t.c.study_id, t.c.config_key)
        .subquery("finished")
    )
    unfinished_fail = and_(t.c.state == "FAIL", finished.c.config_key.is_(None))
    counts = (
        select(
            t.c.study_id,
            func.count(t.c.id).label("n_trials"),
            func.sum(case((t.c.state == COMPLETE, 1), else_=0)).label("n_complete"),
            func.sum(case((t.c.state == "RUNNING", 1), else_=0)).label("n_running"),
            func.sum(case((unfinished_fail, 1), else_=0)).label("n_failed"),
            func.sum(case((t.c.state == "PRUNED", 1), else_=0)).label("n_pruned"),
            func.max(t.c.finished_at).label("last_finished"),
        )
        .select_from(
            t.outerjoin(
                finished,
                and_(finished.c.study_id == t.c.study_id, finished.c.config_key == t.c.config_key),
            )
        )
        .group_by(t.c.study_id)
        .subquery()
    )
    s = studies_t
    # configurations finished with all the study's seeds (a grown study's first trials hold
    # fewer; its top-up trials bring them to ``seeds``); a pruned configuration is finished
    per_cfg = (
        select(
            t.c.study_id,
            t.c.config_key,
            func.sum(t.c.n_seeds).label("seeds"),
            func.max(case((t.c.state == "PRUNED", 1), else_=0)).label("pruned"),
        )
        .where(t.c.state.in_(DONE))
        .group_by(t.c.study_id, t.c.config_key)
        .subquery()
    )
    full = (
        select(per_cfg.c.study_id, func.count().label("n_configs_done"))
        .select_from(per_cfg.join(s, s.c.id == per_cfg.c.study_id))
        .where(or_(per_cfg.c.pruned == 1, per_cfg.c.seeds >= s.c.seeds))
        .group_by(per_cfg.c.study_id)
        .subquery()
    )
    stmt = (
        select(
            s.c.id,
            s.c.name,
            s.c.task,
            s.c.models,
            s.c.sampler,
            s.c.seeds,
            s.c.max_sequences,
            s.c.reading,
            s.c.lag_param,
            s.c.paper_experiment,
            s.c.status,
            s.c.n_planned,
            s.c.spec_toml,
            s.c.created_at,
            s.c.updated_at,
            func.coalesce(counts.c.n_trials, 0).label("n_trials"),
            func.coalesce(counts.c.n_complete, 0).label("n_complete"),
            func.coalesce(counts.c.n_running, 0).label("n_running"),
            func.coalesce(counts.c.n_failed, 0).label("n_failed"),
            func.coalesce(counts.c.n_pruned, 0).label("n_pruned"),
            counts.c.last_finished,
            func.coalesce(full.c.n_configs_done, 0).label("n_configs_done"),
        )
        .select_from(
            s.outerjoin(counts, counts.c.study_id == s.c.id).outerjoin(
                full, full.c.study_id == s.c.id
            )
        )
        .order_by(s.c.updated_at.desc(), s.c.id.desc())  # most recently active first
    )
    return read_frame(conn, stmt)


def _trial_columns() -> list[Any]:
    t = trials_t
    return [
        t.c.id.label("trial_id"),
        t.c.study_id,
        t.c.number,
        t.c.model,
        t.c.state,
        t.c.n_seeds,
        t.c.n_solved,
        t.c.n_diverged,
        t.c.success_rate,
        t.c.seq_to_solve_median,
        t.c.weights,
        t.c.wall_s,
        t.c.config_key,
    ]


def _ranked(stmt: Select) -> Select:
    t = trials_t
    return stmt.order_by(
        t.c.success_rate.desc(),
        t.c.n_seeds.desc(),
        func.coalesce(t.c.seq_to_solve_median, 1e18),
        t.c.number,
    )


def best_trials(conn: Engine | Connection) -> pd.DataFrame:
    """The best completed trial of every study: highest success rate, then more seeds, then
    fewer sequences to solve (one row per study, via a window function)."""
    t = trials_t
    rank = (
        func.row_number()
        .over(
            partition_by=t.c.study_id,
            order_by=(
                t.c.success_rate.desc(),
                t.c.n_seeds.desc(),
                func.coalesce(t.c.seq_to_solve_median, 1e18),
                t.c.number,
            ),
        )
        .label("rank")
    )
    ranked = select(*_trial_columns(), rank).where(t.c.state == COMPLETE).subquery()
    return read_frame(conn, select(ranked).where(ranked.c.rank == 1))


def top_trials(conn: Engine | Connection, study_id: int, limit: int = 20) -> pd.DataFrame:
    """The ``limit`` best completed trials of a study (same order as :func:`best_trials`)."""
    t = trials_t
    stmt = select(*_trial_columns()).where(t.c.study_id == study_id, t.c.state == COMPLETE)
    return read_frame(conn, _ranked(stmt).limit(limit))


def trial_by_number(conn: Engine | Connection, study_id: int, number: int) -> pd.DataFrame:
    """The trial with Optuna number ``number`` in the study (0 or 1 row), with its config."""
    t = trials_t
    stmt = select(*_trial_columns(), t.c.config, t.c.error, t.c.backend).where(
        t.c.study_id == study_id, t.c.number == number
    )
    return read_frame(conn, stmt)


def params_of(conn: Engine | Connection, trial_ids: Sequence[int]) -> pd.DataFrame:
    """Long-format parameters (trial_id, name, value_text, value_num) of the given trials."""
    p = params_t
    if not trial_ids:
        return pd.DataFrame(columns=["trial_id", "name", "value_text", "value_num"])
    stmt = (
        select(p.c.trial_id, p.c.name, p.c.value_text, p.c.value_num)
        .where(p.c.trial_id.in_([int(i) for i in trial_ids]))
        .order_by(p.c.trial_id, p.c.name)
    )
    return read_frame(conn, stmt)


def param_values(conn: Engine | Connection, study_id: int) -> pd.DataFrame:
    """Distinct values of every parameter over the study's completed trials, with trial counts:
    (name, value_text, value_num, n_trials). A parameter with two or more values is swept."""
    p, t = params_t, trials_t
    stmt = (
        select(p.c.name, p.c.value_text, p.c.value_num, func.count(p.c.id).label("n_trials"))
        .select_from(p.join(t, t.c.id == p.c.trial_id))
        .where(t.c.study_id == study_id, t.c.state.in_(DONE))
        .group_by(p.c.name, p.c.value_text, p.c.value_num)
        .order_by(p.c.name, p.c.value_num, p.c.value_text)
    )
    return read_frame(conn, stmt)


def trials_with_params(
    conn: Engine | Connection, study_id: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(trials, long-format params) of the study's completed trials, for importance analysis."""
    t, p = trials_t, params_t
    trials = read_frame(
        conn,
        select(t.c.id.label("trial_id"), t.c.number, t.c.model, t.c.success_rate, t.c.n_seeds)
        .where(t.c.study_id == study_id, t.c.state.in_(DONE))
        .order_by(t.c.number),
    )
    params = read_frame(
        conn,
        select(p.c.trial_id, p.c.name, p.c.value_text, p.c.value_num)
        .select_from(p.join(t, t.c.id == p.c.trial_id))
        .where(t.c.study_id == study_id, t.c.state.in_(DONE)),
    )
    return trials, params


def stored_space(
    conn: Engine | Connection, study_id: int
) -> tuple[dict[str, dict[str, str]] | None, str | None]:
    """(the study's stored search space or None, its spec text): `dashboard.importance`'s
    distributions. None also for a database whose schema predates the column."""
    s = studies_t
    cols = [s.c.spec_toml]
    if _has_column(conn, StudyRow.__tablename__, "space"):
        cols.append(s.c.space)
    frame = read_frame(conn, select(*cols).where(s.c.id == study_id))
    if frame.empty:
        return None, None
    row = frame.iloc[0]
    space = row.get("space")
    if isinstance(space, str):  # a JSON column read back as text by some drivers
        space = json.loads(space)
    return (space if isinstance(space, dict) else None), row["spec_toml"]


def _has_column(conn: Engine | Connection, table: str, column: str) -> bool:
    return any(c["name"] == column for c in inspect(conn).get_columns(table))


def seeds_of_config(conn: Engine | Connection, study_id: int, config_key: str) -> pd.DataFrame:
    """Every seed of every trial of the study with this configuration key (re-queued trials of
    one configuration add seeds to it), with the per-seed results and learning curve."""
    t, sd = trials_t, seeds_t
    stmt = (
        select(
            t.c.number.label("trial"),
            t.c.state,
            sd.c.replicate,
            sd.c.seed,
            sd.c.solved,
            sd.c.diverged,
            sd.c.sequences_to_solve,
            sd.c.seq_literal,
            sd.c.seq_mae,
            sd.c.seq_frac99,
            sd.c.sequences_trained,
            sd.c.final_train_error,
            sd.c.test_error,
            sd.c.test_wrong,
            sd.c.test_n,
            sd.c.wall_s,
            sd.c.curve,
            # real-data tasks' per-seed metrics; NULL in a database older than the column
            sd.c.metrics
            if _has_column(conn, SeedRow.__tablename__, "metrics")
            else null().label("metrics"),
        )
        .select_from(t.join(sd, sd.c.trial_id == t.c.id))
        .where(t.c.study_id == study_id, t.c.config_key == config_key)
        .order_by(sd.c.replicate, t.c.number)
    )
    return read_frame(conn, stmt)


def paper_trials(conn: Engine | Connection) -> pd.DataFrame:
    """Completed trials of studies run from studies/paper/ (paper_experiment set), with their
    config and per-trial sums over solved seeds (for the mean sequences-to-success)."""
    s, t, sd = studies_t, trials_t, seeds_t
    solved = sd.c.solved.is_(True)
    per_trial = (
        select(
            sd.c.trial_id,
            func.count(sd.c.id).label("seed_rows"),
            func.sum(case((solved, 1), else_=0)).label("solved_rows"),
            func.sum(case((solved, sd.c.sequences_to_solve), else_=0)).label("solved_seq_sum"),
            func.sum(case((and_(solved, sd.c.sequences_to_solve.is_not(None)), 1), else_=0)).label(
                "solved_seq_n"
            ),
        )
        .group_by(sd.c.trial_id)
        .subquery()
    )
    stmt = (
        select(
            s.c.name.label("study"),
            s.c.task,
            s.c.paper_experiment,
            s.c.status,
            t.c.id.label("trial_id"),
            t.c.number,
            t.c.model,
            t.c.n_seeds,
            t.c.n_solved,
            t.c.config,
            per_trial.c.solved_seq_sum,
            per_trial.c.solved_seq_n,
        )
        .select_from(
            s.join(t, t.c.study_id == s.c.id).outerjoin(per_trial, per_trial.c.trial_id == t.c.id)
        )
        .where(s.c.paper_experiment.is_not(None), t.c.state.in_(DONE))
        .order_by(s.c.name, t.c.number)
    )
    return read_frame(conn, stmt)


def optuna_study_names(conn: Engine | Connection) -> list[str]:
    """Names in Optuna's ``studies`` table (to point out studies carousel did not launch)."""
    from sqlalchemy import column, table

    st = table("studies", column("study_name"))
    return [str(n) for n in read_frame(conn, select(st.c.study_name))["study_name"]]
