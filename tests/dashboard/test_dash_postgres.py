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
