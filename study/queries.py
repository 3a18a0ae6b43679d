"""Read queries over our tables: study state counts and the success-rate summary table.

``study-launch`` prints :func:`success_table` when a run ends (model x swept parameters ->
solved / seeds). Everything here only reads; pass a read-only engine
(``study.storage.make_engine(url, read_only=True)``) from a viewer.

Example:
    >>> from study.storage import make_engine
    >>> engine = make_engine("sqlite:///carousel.db", read_only=True)  # doctest: +SKIP
    >>> print(format_table(*success_table(engine, "demo")))  # doctest: +SKIP
    model     lr   blocks  solved  rate  median seq
    lstm1997  0.5  2       8/8     1.00  4,250
"""

from __future__ import annotations

import statistics
from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import selectinload

from study.schema import StudyRow, TrialRow
from study.storage import session_scope


def state_counts(engine: Engine, name: str) -> dict[str, int]:
    """Trials per state (COMPLETE, FAIL, PRUNED, RUNNING) of the study ``name``."""
    with session_scope(engine) as s:
        q = (
            sa.select(TrialRow.state, sa.func.count())
            .join(StudyRow)
            .where(StudyRow.name == name)
            .group_by(TrialRow.state)
        )
        return {state: int(n) for state, n in s.execute(q)}


def success_table(engine: Engine, name: str) -> tuple[list[str], list[list[str]]]:
    """(columns, rows): success per model x swept parameters over the finished trials.

    A parameter counts as swept when the finished trials hold more than one value of it; a
    configuration finished more than once (search samplers) pools its seeds.
    """
    with session_scope(engine) as s:
        study = s.scalar(sa.select(StudyRow).where(StudyRow.name == name))
        if study is None:
            return [], []
        trials = s.scalars(
            sa.select(TrialRow)
            .where(TrialRow.study_id == study.id, TrialRow.state.in_(("COMPLETE", "PRUNED")))
            .options(selectinload(TrialRow.params))
            .order_by(TrialRow.number)
        ).all()
        models = list(study.models)
        data = [
            (
                {p.name: p.value_text or "" for p in sorted(t.params, key=lambda p: p.id)},
                {p.name: p.value_num for p in t.params},
                t,
            )
            for t in trials
        ]
    values: dict[str, set[str]] = defaultdict(set)
    for text, _, _ in data:
        for k, v in text.items():
            values[k].add(v)
    swept = [k for k in values if k != "model" and len(values[k]) > 1]
    groups: dict[tuple[str, ...], list[TrialRow]] = defaultdict(list)
    order: dict[tuple[str, ...], tuple] = {}
    for text, num, t in data:
        key = (t.model, *(text.get(k, "-") for k in swept))
        groups[key].append(t)
        rank = models.index(t.model) if t.model in models else len(models)
        sort = ((num.get(k) is None, num.get(k) or 0.0, text.get(k, "")) for k in swept)
        order[key] = (rank, *sort)
    rows = []
    for key in sorted(groups, key=lambda k: order[k]):
        ts = groups[key]
        solved = sum(t.n_solved or 0 for t in ts)
        seeds = sum(t.n_seeds or 0 for t in ts)
        med = [t.seq_to_solve_median for t in ts if t.seq_to_solve_median is not None]
        rows.append(
            [
                *key,
                f"{solved}/{seeds}",
                f"{solved / seeds:.2f}" if seeds else "-",
                f"{statistics.median(med):,.0f}" if med else "-",
            ]
        )
    return ["model", *swept, "solved", "rate", "median seq"], rows


def format_table(columns: list[str], rows: list[list[str]]) -> str:
    """A plain-text table with left-aligned columns."""
    if not columns:
        return "(no finished trials)"
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)
