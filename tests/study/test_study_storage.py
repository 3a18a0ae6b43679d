"""Engines and sessions on SQLite and PostgreSQL: settings, commit, rollback, read-only."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from study import record
from study.schema import StudyRow
from study.storage import (
    StorageError,
    check_reachable,
    make_engine,
    normalize_url,
    optuna_storage,
    session_scope,
)


def _study(name: str) -> StudyRow:
    return StudyRow(
        name=name, task="adding", models=["lstm1997"], sampler="grid", seeds=2,
        max_sequences=10, reading="literal", spec_toml="",
    )  # fmt: skip


def test_session_scope_commits_or_rolls_back(storage_url: str) -> None:
    engine = make_engine(storage_url)
    record.ensure_schema(engine)
    with session_scope(engine) as s:
        s.add(_study("kept"))
    with pytest.raises(RuntimeError), session_scope(engine) as s:
        s.add(_study("dropped"))
        s.flush()
        raise RuntimeError("boom")
    with session_scope(engine) as s:
        assert set(s.scalars(sa.select(StudyRow.name))) == {"kept"}
    engine.dispose()


def test_engine_settings(storage_url: str) -> None:
    engine = make_engine(storage_url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        else:
            assert engine.dialect.driver == "psycopg"
            assert engine.pool._pre_ping  # type: ignore[attr-defined]
            assert engine.pool.size() == 2  # type: ignore[attr-defined]
    engine.dispose()
    storage = optuna_storage(storage_url)
    if engine.dialect.name == "postgresql":
        assert storage.engine.pool._pre_ping  # type: ignore[attr-defined]
    storage.engine.dispose()


def test_read_only_engine_cannot_write(storage_url: str) -> None:
    writer = make_engine(storage_url)
    record.ensure_schema(writer)
    reader = make_engine(storage_url, read_only=True)
    with session_scope(reader) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(StudyRow)) == 0
    with pytest.raises(sa.exc.DBAPIError), session_scope(reader) as s:
        s.add(_study("nope"))
    reader.dispose()
    writer.dispose()


def test_sqlite_reader_does_not_block_the_writer(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/wal.db"
    writer = make_engine(url)
    record.ensure_schema(writer)
    reader = make_engine(url, read_only=True)
    # the reader holds a read transaction open while the writer commits (WAL: no lock error)
    with reader.connect() as rconn:
        rconn.execute(sa.text("BEGIN"))
        assert rconn.execute(sa.select(sa.func.count()).select_from(StudyRow)).scalar() == 0
        done = threading.Event()

        def write() -> None:
            with session_scope(writer) as s:
                s.add(_study("during-read"))
            done.set()

        t = threading.Thread(target=write)
        t.start()
        t.join(10)
        assert done.is_set()
        # a snapshot: the open read transaction still sees the old state
        assert rconn.execute(sa.select(sa.func.count()).select_from(StudyRow)).scalar() == 0
    with session_scope(reader) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(StudyRow)) == 1
    reader.dispose()
    writer.dispose()


def test_check_reachable_creates_nothing(tmp_path: Path) -> None:
    check_reachable(f"sqlite:///{tmp_path}/new.db")
    assert not (tmp_path / "new.db").exists()
    with pytest.raises(StorageError, match="does not exist"):
        check_reachable(f"sqlite:///{tmp_path}/missing/new.db")
    with pytest.raises(StorageError, match="cannot connect"):
        check_reachable("postgresql+psycopg://postgres@127.0.0.1:1/x")


def test_password_is_hidden_in_errors() -> None:
    with pytest.raises(StorageError) as e:
        check_reachable("postgresql://me:s3cret@127.0.0.1:1/x")
    assert "s3cret" not in str(e.value) and "***" in str(e.value)


def test_normalize_url() -> None:
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def test_every_entry_point_reads_one_configured_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """study-launch, the dashboard, serve, report and screenshot all default through
    `configured_url`: an empty ``$CAROUSEL_STORAGE`` means the default, not an empty URL."""
    from dashboard import data, serve
    from study import cli
    from study.storage import DEFAULT_URL, STORAGE_ENV, configured_url

    monkeypatch.setenv(STORAGE_ENV, "")
    assert configured_url() == DEFAULT_URL
    assert cli.build_parser().parse_args(["spec.toml"]).storage == DEFAULT_URL
    assert data.storage_url([]) == DEFAULT_URL
    monkeypatch.setenv(STORAGE_ENV, "sqlite:///elsewhere.db")
    assert cli.build_parser().parse_args(["spec.toml"]).storage == "sqlite:///elsewhere.db"
    assert data.storage_url([]) == "sqlite:///elsewhere.db"
    assert serve.build_parser().parse_args([]).storage == "sqlite:///elsewhere.db"
