"""The states where there is no map to draw: each gets a clear message on the page, no traceback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import optuna
import pytest
import sqlalchemy as sa
from dash_helpers import APP, StudyDb
from streamlit.testing.v1 import AppTest

from study.schema import Base

pytestmark = pytest.mark.usefixtures("app_env")

PAGES = (
    "studies",
    "robustness_map",
    "lag_curves",
    "sensitivity",
    "trial_detail",
    "paper_comparison",
)


def run(url: str, monkeypatch: pytest.MonkeyPatch, **query: str) -> AppTest:
    monkeypatch.setenv("CAROUSEL_STORAGE", url)
    at = AppTest.from_file(str(APP), default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def every_page(at: AppTest) -> None:
    for page in PAGES:
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("sqlte:///carousel.db", "unsupported database URL"),
        ("not a url", "not a database URL"),
        ("sqlite://", "in-memory SQLite"),
        ("postgresql+psycopg://nobody@127.0.0.1:9/carousel", "cannot read"),
    ],
)
def test_mistyped_or_unreachable_url(url: str, words: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run(url, monkeypatch)
    assert len(at.error) == 1
    assert "Cannot open the study database" in at.error[0].value
    assert words in at.error[0].value
    every_page(at)


def test_missing_sqlite_file_is_reported_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "typo.db"
    at = run(f"sqlite:///{path}", monkeypatch)
    assert "no SQLite database at" in at.error[0].value
    assert not path.exists()  # a viewer never creates a database


def test_empty_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    at = run(f"sqlite:///{path}", monkeypatch)
    assert not at.error
    assert "holds no carousel studies yet" in at.info[0].value
    assert "study-launch" in at.info[0].value
    every_page(at)


def test_database_with_only_foreign_optuna_studies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(study_name="someone-elses", storage=url)
    at = run(url, monkeypatch)
    assert "holds no carousel studies yet" in at.info[0].value
    assert "someone-elses" in at.info[0].value


def test_schema_without_studies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'schema.db'}"
    engine = sa.create_engine(url)
    Base.metadata.create_all(engine)  # what the driver creates before its first study row
    engine.dispose()
    at = run(url, monkeypatch)
    assert "no study yet" in at.info[0].value


def test_unknown_study_in_the_address(study_db: StudyDb, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run(study_db.url, monkeypatch, study="no-such-study")
    assert "Unknown study `no-such-study`" in at.error[0].value
    assert "dash-map" in at.error[0].value
    # the page still works, on the newest study, and the address now names it
    assert at.selectbox(key="study").value in {"dash-map", "dash-one", "dash-robust"}
    assert at.query_params["study"] == at.selectbox(key="study").value
    assert at.get("plotly_chart")


def test_bad_trial_number_in_the_address(
    study_db: StudyDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run(study_db.url, monkeypatch, study="dash-map", trial="abc")
    at.switch_page("app_pages/trial_detail.py").run()
    assert not at.exception
    assert any("is not a trial number" in e.value for e in at.error)
