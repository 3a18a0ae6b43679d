"""The dashboard only reads: it changes no byte of the database, its connections refuse writes,
and a study running beside it is neither slowed into errors nor broken (optuna-dashboard#545)."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from dash_helpers import APP, LIVE_SPEC, ROOT, StudyDb, launch_env, launcher
from streamlit.testing.v1 import AppTest

from dashboard.data import make_readonly_engine

pytestmark = pytest.mark.usefixtures("app_env")

PAGES = (
    "studies",
    "robustness_map",
    "lag_curves",
    "sensitivity",
    "trial_detail",
    "paper_comparison",
)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def all_pages(url: str, study: str) -> dict[str, tuple[list, str]]:
    """Run every page once with fresh caches: page -> (its tables, its text)."""
    import streamlit as st

    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["study"] = study
    at.run()
    out = {}
    for page in PAGES:
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        text = [m.value for m in (*at.markdown, *at.caption, *at.info, *at.warning, *at.error)]
        out[page] = ([d.value for d in at.dataframe], "\n".join(text))
    return out


def status_of(pages: dict[str, tuple[list, str]], study: str) -> str:
    table = next(df for df in pages["studies"][0] if "status" in df.columns)
    return str(table.set_index("study").loc[study, "status"])


def test_pages_change_no_byte(db_copy: StudyDb, monkeypatch: pytest.MonkeyPatch) -> None:
    before = digest(db_copy.path)
    monkeypatch.setenv("CAROUSEL_STORAGE", db_copy.url)
    for study in ("dash-map", "dash-one"):
        all_pages(db_copy.url, study)
    assert digest(db_copy.path) == before
    assert not db_copy.path.with_name(db_copy.path.name + "-journal").exists()


def test_readonly_engine_refuses_writes(db_copy: StudyDb) -> None:
    engine = make_readonly_engine(db_copy.url)
    try:
        with (
            pytest.raises(sa.exc.OperationalError, match=r"readonly|read-only|query_only"),
            engine.begin() as c,
        ):
            c.execute(sa.text("UPDATE carousel_studies SET status = 'hacked'"))
        with pytest.raises(sa.exc.OperationalError), engine.begin() as c:
            c.execute(sa.text("CREATE TABLE x (a INTEGER)"))
        with engine.connect() as c:
            assert c.execute(sa.text("PRAGMA query_only")).scalar() == 1
    finally:
        engine.dispose()


@pytest.mark.slow
def test_a_running_study_is_shown_live_and_not_disturbed(
    db_copy: StudyDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = db_copy.path.with_name("live.toml")
    spec.write_text(LIVE_SPEC)
    monkeypatch.setenv("CAROUSEL_STORAGE", db_copy.url)
    proc = subprocess.Popen(
        [*launcher(), str(spec), "--storage", db_copy.url, "--no-progress", "--max-in-flight", "1"],
        cwd=ROOT,
        env=launch_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen_running = 0
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            con = sqlite3.connect(f"file:{db_copy.path}?mode=ro", uri=True)
            try:
                row = con.execute(
                    "SELECT status FROM carousel_studies WHERE name = 'dash-live'"
                ).fetchone()
            except sqlite3.OperationalError:
                row = None
            finally:
                con.close()
            if row is None or row[0] != "running":
                time.sleep(0.2)
                continue
            pages = all_pages(db_copy.url, "dash-live")  # every page, again and again
            if proc.poll() is None and status_of(pages, "dash-live") == "● running":
                seen_running += 1
                text = pages["robustness_map"][1]
                assert "still running" in text or "no finished trial yet" in text
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
    assert proc.returncode == 0, f"{out}\n{err}"
    assert "database is locked" not in out + err
    assert seen_running >= 1
    con = sqlite3.connect(f"file:{db_copy.path}?mode=ro", uri=True)
    try:
        states = con.execute(
            "SELECT t.state FROM carousel_trials t JOIN carousel_studies s ON s.id = t.study_id "
            "WHERE s.name = 'dash-live'"
        ).fetchall()
    finally:
        con.close()
    assert [s for (s,) in states] == ["COMPLETE"] * 4
    assert status_of(all_pages(db_copy.url, "dash-live"), "dash-live") == "✓ done"
