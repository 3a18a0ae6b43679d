"""The robustness map's read queries: per-cell counts and exact medians, grouped in SQL by any
parameters of a study (one join of ``carousel_params`` per axis), binned for continuous axes.
Read-only, like `dashboard.queries`, whose tables and states these share.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Float, String, and_, case, cast, func, literal, null, or_, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import Cast, ColumnElement

from dashboard.queries import DONE, MODEL, params_t, read_frame, seeds_t, trials_t

Dim = tuple[str, tuple[float, ...]]
"""(parameter name, bin edges). No edges: group by exact value. Edges e_0 < ... < e_k: group by
bin index i with e_i <= value < e_{i+1} (first and last bins open-ended), for continuous axes
sampled by TPE / random / QMC, where every trial has its own value."""
Filter = tuple[str, tuple[str, ...]]
"""(parameter name, allowed value texts). A trial without the parameter always passes."""


def _dimensioned(
    dims: Sequence[Dim], filters: Sequence[Filter], base: Any
) -> tuple[Any, list[ColumnElement[Any]], list[ColumnElement[Any]]]:
    """Join one aliased ``carousel_params`` per dimension and per filter onto ``base``.

    Returns (from clause, labelled dimension columns, filter conditions)."""
    t = trials_t
    from_ = base
    cols: list[ColumnElement[Any]] = []
    for i, (name, edges) in enumerate(dims):
        if name == MODEL:
            cols += [t.c.model.label(f"{name}__text"), cast(null(), Float).label(f"{name}__num")]
            continue
        pa = params_t.alias(f"d{i}")
        from_ = from_.outerjoin(pa, and_(pa.c.trial_id == t.c.id, pa.c.name == name))
        if edges:
            inner = list(edges[1:-1])
            whens: list[tuple[Any, Any]] = [(pa.c.value_num.is_(None), None)]
            whens += [(pa.c.value_num < e, float(k)) for k, e in enumerate(inner)]
            binned = case(*whens, else_=float(len(inner)))
            cols += [cast(null(), String).label(f"{name}__text"), binned.label(f"{name}__num")]
        else:
            cols += [pa.c.value_text.label(f"{name}__text"), pa.c.value_num.label(f"{name}__num")]
    conds: list[ColumnElement[Any]] = []
    for j, (name, allowed) in enumerate(filters):
        if name == MODEL:
            conds.append(t.c.model.in_(list(allowed)))
            continue
        fa = params_t.alias(f"f{j}")
        from_ = from_.outerjoin(fa, and_(fa.c.trial_id == t.c.id, fa.c.name == name))
        conds.append(or_(fa.c.id.is_(None), fa.c.value_text.in_(list(allowed))))
    return from_, cols, conds


def _keys(cols: list[ColumnElement[Any]]) -> list[Any]:
    """GROUP BY / PARTITION BY expressions: the labelled expressions, minus constant NULLs."""
    out = []
    for c in cols:
        inner = getattr(c, "element", c)
        if getattr(inner, "type", None) is not None and isinstance(inner, Cast):
            continue  # cast(NULL): a constant, nothing to group by
        out.append(inner)
    return out


def aggregate(
    conn: Engine | Connection,
    study_id: int,
    dims: Sequence[Dim],
    filters: Sequence[Filter] = (),
) -> pd.DataFrame:
    """Per-cell sums over the study's finished trials, grouped by ``dims`` (see module doc).

    Columns: ``<dim>__text``/``<dim>__num`` per dimension, n_trials, n_seeds, n_solved,
    n_diverged, seq_median_mean (mean of the trials' median sequences-to-solve), weights,
    first_trial (smallest trial number in the cell).
    """
    t = trials_t
    from_, cols, conds = _dimensioned(dims, filters, t)
    stmt = (
        select(
            *cols,
            func.count(t.c.id).label("n_trials"),
            func.coalesce(func.sum(t.c.n_seeds), 0).label("n_seeds"),
            func.coalesce(func.sum(t.c.n_solved), 0).label("n_solved"),
            func.coalesce(func.sum(t.c.n_diverged), 0).label("n_diverged"),
            func.avg(t.c.seq_to_solve_median).label("seq_median_mean"),
            func.avg(t.c.weights).label("weights"),
            func.min(t.c.number).label("first_trial"),
        )
        .select_from(from_)
        .where(t.c.study_id == study_id, t.c.state.in_(DONE), *conds)
        .group_by(*_keys(cols))
    )
    df = read_frame(conn, stmt)
    for col in ("n_trials", "n_seeds", "n_solved", "n_diverged"):
        df[col] = df[col].astype("int64")
    return df


def cell_medians(
    conn: Engine | Connection,
    study_id: int,
    dims: Sequence[Dim],
    filters: Sequence[Filter] = (),
) -> pd.DataFrame:
    """Exact median sequences-to-solve of the solved seeds per cell (window functions, see the
    module doc). Columns: the dimension columns, seq_median, n_solved_seeds, seq_mean."""
    t, sd = trials_t, seeds_t
    from_, cols, conds = _dimensioned(dims, filters, t.join(sd, sd.c.trial_id == t.c.id))
    part = _keys(cols)
    v = sd.c.sequences_to_solve
    inner = (
        select(
            *cols,
            v.label("v"),
            func.row_number().over(partition_by=part or None, order_by=v).label("rn"),
            func.count(literal(1)).over(partition_by=part or None).label("cnt"),
            func.avg(v).over(partition_by=part or None).label("mean_v"),
        )
        .select_from(from_)
        .where(
            t.c.study_id == study_id,
            t.c.state.in_(DONE),
            sd.c.solved.is_(True),
            v.is_not(None),
            *conds,
        )
        .subquery()
    )
    dim_cols = [inner.c[c.name] for c in cols]
    # the middle row (odd count) or the two middle rows (even count): cnt <= 2 rn <= cnt + 2
    stmt = (
        select(
            *dim_cols,
            func.avg(inner.c.v).label("seq_median"),
            func.max(inner.c.cnt).label("n_solved_seeds"),
            func.max(inner.c.mean_v).label("seq_mean"),
        )
        .where(2 * inner.c.rn >= inner.c.cnt, 2 * inner.c.rn <= inner.c.cnt + 2)
        .group_by(*dim_cols)
    )
    return read_frame(conn, stmt)
