"""Database engines and sessions, for SQLite (embedded) and PostgreSQL (production).

One database holds Optuna's schema and ours; the study driver is its only writer.

* SQLite: WAL journal (readers such as the dashboard never block the writer, nor it them), a
  30 s busy timeout on every connection (ours and Optuna's), ``synchronous=NORMAL`` (safe with
  WAL). A read-only engine opens the file with ``mode=ro`` so a viewer can never take a write
  lock (optuna-dashboard#545: a viewer crashed a study with "database is locked").
* PostgreSQL through psycopg 3: ``pool_pre_ping`` (Optuna sets it only for MySQL; optuna#5600:
  connections dropped during hour-long trials), a small pool (the driver is one thread), a
  connect timeout so an unreachable server is an error, not a hang.

`session_scope` is the one place that commits, rolls back and closes. `check_reachable` runs
before anything is written, so a bad ``--storage`` exits with code 2 and leaves no file behind.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session

DEFAULT_URL = "sqlite:///carousel.db"
"""The embedded default database: a SQLite file in the working directory."""
STORAGE_ENV = "CAROUSEL_STORAGE"
"""The environment variable every entry point reads the storage URL from."""
SUPPORTED = ("sqlite", "postgresql")
"""Database backends carousel is tested on (Optuna's RDB schema and ours on both)."""
BUSY_TIMEOUT_S = float(os.environ.get("CAROUSEL_SQLITE_BUSY_TIMEOUT_S", "30"))
"""SQLite: how long one statement waits for another writer's lock before it errs (and the
driver's retries take over, `study.retry`)."""


def configured_url() -> str:
    """The storage URL an entry point uses when none is given: ``$CAROUSEL_STORAGE`` if set and
    not empty, else `DEFAULT_URL`."""
    return os.environ.get(STORAGE_ENV) or DEFAULT_URL


class StorageError(Exception):
    """The storage URL is malformed or the database cannot be reached."""


def normalize_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` -> ``postgresql+psycopg://`` (psycopg 3)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def parse_url(url: str) -> URL:
    """The SQLAlchemy URL, or StorageError for a malformed or unsupported one."""
    try:
        u = make_url(normalize_url(url))
    except exc.ArgumentError:
        raise StorageError(
            f"not a database URL: {url!r} (e.g. sqlite:///carousel.db or "
            "postgresql+psycopg://user@host:5432/db)"
        ) from None
    if u.get_backend_name() == "sqlite" and u.database in (None, "", ":memory:"):
        raise StorageError("in-memory SQLite is not shared between connections; give a file")
    backend = u.get_backend_name()
    if backend not in SUPPORTED:
        raise StorageError(
            f"unsupported database URL {safe_url(u)}: {backend!r} is not supported; use "
            "sqlite:///FILE or postgresql+psycopg://USER@HOST:PORT/DB"
        )
    try:
        u.get_dialect()
    except (exc.NoSuchModuleError, ImportError) as e:
        raise StorageError(f"unsupported database URL {safe_url(u)}: {e}") from None
    return u


def safe_url(url: str | URL) -> str:
    """The URL with its password hidden, for messages."""
    u = url if isinstance(url, URL) else make_url(url)
    return u.render_as_string(hide_password=True)


def engine_kwargs(url: str | URL, read_only: bool = False) -> dict[str, Any]:
    """create_engine keyword arguments for this backend (also handed to Optuna's RDBStorage)."""
    u = url if isinstance(url, URL) else make_url(normalize_url(url))
    if u.get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": BUSY_TIMEOUT_S}}
    if u.get_backend_name() == "postgresql":
        # JIT off: carousel's statements are short (ms); a planner estimate over
        # jit_above_cost makes PostgreSQL spend 0.1-0.5 s compiling one (seconds under load)
        options = "-c jit=off"
        if read_only:
            options += " -c default_transaction_read_only=on"
        connect: dict[str, Any] = {"connect_timeout": 10, "options": options}
        return {
            "pool_pre_ping": True,
            "pool_size": 2,
            "max_overflow": 2,
            "pool_recycle": 1800,
            "connect_args": connect,
        }
    return {"pool_pre_ping": True}


def make_engine(url: str, read_only: bool = False) -> Engine:
    """An engine with this project's settings (see the module docstring)."""
    u = parse_url(url)
    kwargs = engine_kwargs(u, read_only)
    if u.get_backend_name() == "sqlite" and read_only:
        path = Path(u.database or "").resolve()
        kwargs["creator"] = lambda: sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False
        )
    engine = sa.create_engine(u, **kwargs)
    if u.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas(read_only))
    return engine


def _sqlite_pragmas(read_only: bool) -> Any:
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if not read_only:
            cur.execute("PRAGMA journal_mode = WAL")  # persistent: set once, kept by the file
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    return on_connect


def optuna_storage(url: str) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage on the same database, with the same engine settings."""
    u = parse_url(url)
    for attempt in range(3):
        try:
            return optuna.storages.RDBStorage(
                u.render_as_string(hide_password=False), engine_kwargs=engine_kwargs(u)
            )
        except exc.DBAPIError:
            # another process (optuna-dashboard, a reader) created Optuna's tables between
            # SQLAlchemy's existence check and its CREATE TABLE; the next try finds them
            if attempt == 2:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success, rolls back on error and always closes.

    Example:
        >>> from study.schema import Base
        >>> engine = make_engine("sqlite:////tmp/carousel-doc.db")
        >>> with session_scope(engine) as s:
        ...     _ = s.execute(sa.text("select 1")).scalar()
    """
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def check_reachable(url: str) -> None:
    """Raise StorageError unless the database can be used; writes nothing, creates no file."""
    u = parse_url(url)
    if u.get_backend_name() == "sqlite":
        path = Path(u.database or "")
        folder = path.resolve().parent
        if not folder.is_dir():
            raise StorageError(f"folder {folder} of {safe_url(u)} does not exist")
        if not os.access(folder, os.W_OK):
            raise StorageError(f"folder {folder} of {safe_url(u)} is not writable")
        if path.exists():
            try:
                con = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True, timeout=5)
                try:
                    con.execute("PRAGMA schema_version").fetchone()
                finally:
                    con.close()
            except sqlite3.DatabaseError as e:
                raise StorageError(f"{path} is not a usable SQLite database: {e}") from None
        return
    kwargs = engine_kwargs(u)
    kwargs["connect_args"] = {**kwargs.get("connect_args", {}), "connect_timeout": 5}
    for k in ("pool_size", "max_overflow", "pool_recycle"):
        kwargs.pop(k, None)
    engine = sa.create_engine(u, poolclass=sa.pool.NullPool, **kwargs)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except exc.DBAPIError as e:
        first = str(e.orig).strip().splitlines()[0] if e.orig else str(e)
        raise StorageError(f"cannot connect to {safe_url(u)}: {first}") from None
    finally:
        engine.dispose()
