"""Fixtures of the dashboard tests: databases made by real (tiny) studies, never by hand.

``study_db`` (session) runs ``study-launch`` three times into one SQLite file (specs in
`dash_helpers`); the dashboard then only reads it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from dash_helpers import MAIN_SPEC, ONE_SPEC, ROBUST_SPEC, StudyDb, launch


@pytest.fixture(scope="session")
def study_db(tmp_path_factory: pytest.TempPathFactory) -> StudyDb:
    folder = tmp_path_factory.mktemp("dashboard-db")
    path = folder / "carousel.db"
    url = f"sqlite:///{path}"
    for name, text in (("main", MAIN_SPEC), ("one", ONE_SPEC), ("robust", ROBUST_SPEC)):
        spec = folder / f"{name}.toml"
        spec.write_text(text)
        out = launch(spec, url)
        assert out.returncode == 0, f"study-launch {name} failed:\n{out.stdout}\n{out.stderr}"
    return StudyDb(path, url)


@pytest.fixture
def db_copy(study_db: StudyDb, tmp_path: Path) -> StudyDb:
    """A private copy of the study database (for tests that add a study to it)."""
    path = tmp_path / "carousel.db"
    shutil.copy(study_db.path, path)
    return StudyDb(path, f"sqlite:///{path}")


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fresh Streamlit caches around each AppTest (the caches are process-global)."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    monkeypatch.delenv("CAROUSEL_STORAGE", raising=False)
    yield
    st.cache_data.clear()
    st.cache_resource.clear()
