"""The same pages on PostgreSQL: a real study written there, read through a read-only session.

Uses the project's ``pg_url`` fixture (a fresh database on the test server, dropped afterwards;
skipped when the server is unreachable).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
import sqlalchemy as sa
from dash_helpers import APP, PG_SPEC, launch
from streamlit.testing.v1 import AppTest

from dashboard.data import make_readonly_engine

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.usefixtures("app_env")]

PAGES = (
    "studies",
    "robustness_map",
    "lag_curves",
    "sensitivity",
    "trial_detail",
    "paper_comparison",
)


def test_pages_on_postgresql(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "pg.toml"
    spec.write_text(PG_SPEC)
    out = launch(spec, pg_url)
    assert out.returncode == 0, out.stdout + out.stderr
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as c:
        rows = c.execute(
            sa.text(
                "SELECT t.n_solved, t.n_seeds, p.value_text AS lr FROM carousel_trials t "
                "JOIN carousel_params p ON p.trial_id = t.id AND p.name = 'lr' "
                "WHERE t.state = 'COMPLETE'"
            )
        ).all()
    engine.dispose()
    assert len(rows) == 4
    want: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        want[r.lr][0] += r.n_solved
        want[r.lr][1] += r.n_seeds

    monkeypatch.setenv("CAROUSEL_STORAGE", pg_url)
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    for page in PAGES:
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
    at.switch_page("app_pages/robustness_map.py").run()
    cells = next(d.value for d in at.dataframe if "n_trials" in d.value.columns)
    got: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in cells.itertuples(index=False):
        got[r.lr][0] += int(r.n_solved)
        got[r.lr][1] += int(r.n_seeds)
    assert got == want

    ro = make_readonly_engine(pg_url)
    try:
        with pytest.raises(sa.exc.DBAPIError, match="read-only"), ro.begin() as c:
            c.execute(sa.text("UPDATE carousel_studies SET status = 'hacked'"))
    finally:
        ro.dispose()


def test_dashboard_queries_stay_cheap_on_an_analysed_2000_trial_study(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (the load test's 2-3 s pages): on a 2,000-trial study whose tables PostgreSQL
    had ANALYZEd, the studies query's correlated EXISTS was costed at ~900,000, past
    ``jit_above_cost`` (100,000), so every sidebar refresh spent ~0.4 s compiling it (seconds on
    a loaded host) for 10 ms of work. Now every carousel session runs with JIT off, and the
    dashboard's queries are costed like the linear work they are, so a server with JIT on (its
    default) would not compile them either."""
    from benchmarks.dashboard_query import build
    from dashboard import queries
    from study.storage import make_engine

    url = pg_url.replace("postgresql://", "postgresql+psycopg://")
    build(url, 2000, seeds=1, optuna_tables=False)
    admin = sa.create_engine(url)
    try:
        with admin.connect() as c:
            c.exec_driver_sql("ANALYZE")
            c.commit()
            limit = float(c.exec_driver_sql("SHOW jit_above_cost").scalar_one())
        for eng in (make_readonly_engine(url), make_engine(url)):
            with eng.connect() as c:
                assert c.exec_driver_sql("SHOW jit").scalar_one() == "off"
            eng.dispose()
        stmts: list[object] = []
        frame = queries.read_frame
        monkeypatch.setattr(
            queries, "read_frame", lambda conn, s: (stmts.append(s), frame(conn, s))[1]
        )
        queries.studies(admin)
        queries.best_trials(admin)
        queries.param_values(admin, 1)
        queries.trials_with_params(admin, 1)
        queries.top_trials(admin, 1, 20)
        assert len(stmts) >= 5
        from sqlalchemy.dialects import postgresql

        with admin.connect() as c:
            for s in stmts:
                sql = str(
                    s.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})  # type: ignore[attr-defined]
                )
                plan = c.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql).scalar_one()
                cost = plan[0]["Plan"]["Total Cost"]
                assert cost < limit, (cost, sql[:300])
    finally:
        admin.dispose()
