"""Data access for the dashboard: one read-only engine per URL, cached queries, clear errors.

The dashboard never writes and never takes a write lock, so a running study cannot be slowed or
broken by someone looking at it (optuna-dashboard#545: a viewer crashed a study with "database is
locked"):

* SQLite is opened through a ``file:...?mode=ro`` URI with ``PRAGMA query_only = ON``: the
  connection cannot write even by mistake, and a missing file is an error, never a new empty
  database. The study driver keeps the file in WAL mode (`study.storage`), where readers and the
  writer do not block each other; each page query is one short read transaction.
* PostgreSQL sessions start with ``default_transaction_read_only = on``; ``pool_pre_ping`` replaces
  connections dropped while the page sat idle (optuna#5600).

Queries are cached with ``st.cache_data(ttl=TTL_S)``: a page rerun within the TTL costs nothing,
and a running study's numbers are at most TTL_S old. The storage URL comes from the
``CAROUSEL_STORAGE`` environment variable (set by ``carousel-dashboard --storage URL``) or from
``--storage URL`` after ``--`` on the ``streamlit run`` command line.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
import streamlit as st
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

from dashboard import map_queries, queries
from study.storage import StorageError, configured_url, engine_kwargs, parse_url, safe_url

TTL_S = 10
"""Seconds a query result is reused; also the auto-refresh period of running studies."""


def storage_url(argv: Sequence[str] | None = None) -> str:
    """``--storage URL`` from the script's arguments, else ``$CAROUSEL_STORAGE``, else the
    default ``sqlite:///carousel.db``."""
    args = list(sys.argv[1:] if argv is None else argv)
    for i, a in enumerate(args):
        if a == "--storage" and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--storage="):
            return a.split("=", 1)[1]
    return configured_url()


def make_readonly_engine(url: str) -> Engine:
    """A read-only engine for ``url`` (see the module docstring); StorageError if unusable."""
    u = parse_url(url)
    kwargs = engine_kwargs(u, read_only=True)
    if u.get_backend_name() == "sqlite":
        path = Path(u.database or "").resolve()
        if not path.is_file():
            raise StorageError(f"no SQLite database at {path} (from {safe_url(u)})")

        def connect() -> sqlite3.Connection:
            con = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, timeout=30, check_same_thread=False
            )
            con.execute("PRAGMA query_only = ON")
            return con

        kwargs["creator"] = connect
        kwargs.pop("connect_args", None)
    engine = sa.create_engine(u, **kwargs)
    if u.get_backend_name() == "postgresql":
        event.listen(engine, "connect", _pg_read_only)
    return engine


def _pg_read_only(dbapi_conn: Any, _record: Any) -> None:
    # belt and braces beside the startup option: the session refuses writes
    cur = dbapi_conn.cursor()
    cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    cur.close()
    dbapi_conn.commit()


@st.cache_resource(show_spinner=False)
def engine(url: str) -> Engine:
    """The cached read-only engine for ``url`` (one pool per URL per server process)."""
    return make_readonly_engine(url)


def _describe(e: BaseException, url: str) -> str:
    if isinstance(e, StorageError):
        return str(e)
    if isinstance(e, exc.DBAPIError) and e.orig is not None:
        first = str(e.orig).strip().splitlines()[0]
        return f"cannot read {_safe(url)}: {first}"
    return f"cannot read {_safe(url)}: {type(e).__name__}: {e}"


def _safe(url: str) -> str:
    try:
        return safe_url(url)
    except Exception:
        return url


@dataclass(frozen=True)
class StorageState:
    """What the entrypoint learns about the database before any page draws."""

    url: str
    """The URL with its password hidden."""
    error: str | None = None
    """Why the database cannot be read (mistyped URL, missing file, server down)."""
    has_tables: bool = False
    """carousel's tables exist."""
    optuna_only: tuple[str, ...] = ()
    """Optuna studies in the database that carousel did not launch."""


@st.cache_data(ttl=TTL_S, show_spinner=False)
def storage_state(url: str) -> StorageState:
    """Check that ``url`` can be read and holds carousel's tables; never raises."""
    try:
        eng = engine(url)
        names = _timed(queries.table_names, eng)
        optuna_only: tuple[str, ...] = ()
        if "studies" in names:
            optuna_names = _timed(queries.optuna_study_names, eng)
            ours = (
                set(_timed(queries.studies, eng)["name"]) if "carousel_studies" in names else set()
            )
            optuna_only = tuple(sorted(set(optuna_names) - ours))
        has = all(t in names for t in queries.CAROUSEL_TABLES)
        return StorageState(_safe(url), None, has, optuna_only)
    except Exception as e:  # every failure becomes a message on the page, never a traceback
        engine.clear()
        return StorageState(_safe(url), _describe(e, url))


class QueryError(Exception):
    """A page query failed; the message is meant for the page."""


_waits = threading.local()


def database_seconds() -> tuple[float, int]:
    """(wall seconds, calls) this thread spent in database reads since `reset_database_seconds`:
    the app's slow-run log tells database time from the rest."""
    return getattr(_waits, "s", 0.0), getattr(_waits, "n", 0)


def reset_database_seconds() -> None:
    _waits.s, _waits.n = 0.0, 0


def _timed(fn: Any, *args: Any) -> Any:
    t0 = time.perf_counter()
    try:
        return fn(*args)
    finally:
        _waits.s = getattr(_waits, "s", 0.0) + time.perf_counter() - t0
        _waits.n = getattr(_waits, "n", 0) + 1


def _run(url: str, fn: Any, *args: Any) -> Any:
    try:
        return _timed(fn, engine(url), *args)
    except Exception as e:
        raise QueryError(_describe(e, url)) from e


@st.cache_data(ttl=TTL_S, show_spinner=False)
def studies(url: str) -> pd.DataFrame:
    """Every carousel study with trial counts by state and its best trial's parameters."""
    df = _run(url, queries.studies)
    best = _run(url, queries.best_trials)
    params = _run(url, queries.params_of, list(best["trial_id"]))
    text = params_text(params)
    best = best.assign(best_params=best["trial_id"].map(text))
    keep = ["study_id", "number", "model", "success_rate", "n_solved", "n_seeds", "best_params"]
    best = best[keep].rename(
        columns={
            "study_id": "id",
            "number": "best_trial",
            "model": "best_model",
            "success_rate": "best_success",
            "n_solved": "best_n_solved",
            "n_seeds": "best_n_seeds",
        }
    )
    df = df.assign(fixed_task=[fixed_task_text(t) for t in df["spec_toml"]])
    return df.merge(best, on="id", how="left")


def task_param_names(spec_toml: Any) -> set[str]:
    """Names of the spec's task parameters, fixed ([task_params]) or swept ([space.task])."""
    import tomllib

    try:
        raw = tomllib.loads(str(spec_toml or ""))
    except tomllib.TOMLDecodeError:
        return set()
    swept = (raw.get("space") or {}).get("task") or {}
    return set(raw.get("task_params") or {}) | set(swept)


def fixed_task_text(spec_toml: Any) -> str:
    """The spec's fixed task parameters as "T=20" ("" when none or unreadable)."""
    import tomllib

    try:
        raw = tomllib.loads(str(spec_toml or ""))
    except tomllib.TOMLDecodeError:
        return ""
    fixed = raw.get("task_params") or {}
    return ", ".join(f"{k}={v}" for k, v in fixed.items())


def params_text(params: pd.DataFrame, skip: Sequence[str] = ("model",)) -> dict[int, str]:
    """trial_id -> "blocks=2, lr=0.1, ..." from long-format params."""
    out: dict[int, list[str]] = {}
    for row in params.itertuples(index=False):
        if row.name in skip:
            continue
        out.setdefault(int(row.trial_id), []).append(
            f"{row.name}={label(row.value_text, row.value_num)}"
        )
    return {k: ", ".join(v) for k, v in out.items()}


def label(text: Any, num: Any) -> str:
    """Display label of a parameter value: its text, else its number, else 'n/a'."""
    if text is not None and not (isinstance(text, float) and pd.isna(text)):
        return str(text)
    if num is not None and not pd.isna(num):
        return f"{float(num):g}"
    return "n/a"


@st.cache_data(ttl=TTL_S, show_spinner=False)
def param_values(url: str, study_id: int) -> pd.DataFrame:
    """Distinct values per parameter (name, value_text, value_num, n_trials, label)."""
    df = _run(url, queries.param_values, study_id)
    df["label"] = [label(t, n) for t, n in zip(df["value_text"], df["value_num"], strict=True)]
    return df


@st.cache_data(ttl=TTL_S, show_spinner=False)
def aggregate(
    url: str,
    study_id: int,
    dims: tuple[map_queries.Dim, ...],
    filters: tuple[map_queries.Filter, ...] = (),
) -> pd.DataFrame:
    """Per-cell counts grouped by ``dims`` (see `map_queries.aggregate`) with the exact median
    sequences-to-solve of the solved seeds merged in. Each dimension ``d`` gets a display label
    column ``d`` and a numeric sort key ``d__sort``."""
    cells = _labelled(_run(url, map_queries.aggregate, study_id, dims, filters), dims)
    medians = _labelled(_run(url, map_queries.cell_medians, study_id, dims, filters), dims)
    names = [d for d, _ in dims]
    medians = medians[[*names, "seq_median", "seq_mean"]]
    return cells.merge(medians, on=names, how="left", validate="one_to_one")


def _labelled(df: pd.DataFrame, dims: tuple[map_queries.Dim, ...]) -> pd.DataFrame:
    df = df.copy()
    for name, edges in dims:
        text, num = df[f"{name}__text"], df[f"{name}__num"]
        if edges:
            df[name] = [bin_label(edges, n) for n in num]
            df[f"{name}__sort"] = pd.to_numeric(num, errors="coerce")
        else:
            df[name] = [label(t, n) for t, n in zip(text, num, strict=True)]
            df[f"{name}__sort"] = pd.to_numeric(num, errors="coerce")
        df = df.drop(columns=[f"{name}__text", f"{name}__num"])
    return df


def bin_label(edges: tuple[float, ...], index: Any) -> str:
    """'[lo, hi)' label of bin ``index`` for the edges of a binned dimension; 'n/a' for None."""
    if index is None or pd.isna(index):
        return "n/a"
    i = int(index)
    return f"{edges[i]:.3g}–{edges[i + 1]:.3g}"


@st.cache_data(ttl=TTL_S, show_spinner=False)
def top_trials(url: str, study_id: int, limit: int = 20) -> pd.DataFrame:
    df = _run(url, queries.top_trials, study_id, limit)
    text = params_text(_run(url, queries.params_of, list(df["trial_id"])))
    return df.assign(params=df["trial_id"].map(text))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def trial(url: str, study_id: int, number: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the trial's row, its long-format params); the row frame is empty for an unknown number."""
    row = _run(url, queries.trial_by_number, study_id, number)
    params = _run(url, queries.params_of, list(row["trial_id"]))
    return row, params


@st.cache_data(ttl=TTL_S, show_spinner=False)
def seeds_of_config(url: str, study_id: int, config_key: str) -> pd.DataFrame:
    return _run(url, queries.seeds_of_config, study_id, config_key)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def trials_with_params(url: str, study_id: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    return _run(url, queries.trials_with_params, study_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def stored_space(url: str, study_id: int) -> tuple[dict[str, dict[str, str]] | None, str | None]:
    return _run(url, queries.stored_space, study_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def paper_trials(url: str) -> pd.DataFrame:
    return _run(url, queries.paper_trials)
