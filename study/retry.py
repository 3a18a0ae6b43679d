"""Database writes that ride out an outage: bounded retries with backoff, then one clear error.

A PostgreSQL server restarted under a running study, a network blip, or a SQLite file held by
another writer past the busy timeout all surface as connection-level errors (SQLAlchemy's
``OperationalError`` / ``InterfaceError``, or Optuna's ``StorageInternalError`` wrapping one).
`Retrier` runs one database operation again after 0.5, 1, 2, 4, 8, 10, 10, ... seconds until it
succeeds or ``bound_s`` seconds have passed since the outage began; then `StorageOutageError`
ends the study (exit 1, one line) and the next launch resumes it. Pooled connections are
pre-pinged, so the first try after the server is back opens a fresh connection.

Other errors (a constraint violated, a bug) are not retried: they are not outages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import optuna
from sqlalchemy import exc

T = TypeVar("T")
BOUND_S = 120.0
"""Default: outages up to two minutes are ridden out (the guarantee is >= 60 s)."""
DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)
MAX_DELAY = 10.0


_SQLITE_TRANSIENT = ("locked", "busy", "disk i/o", "unable to open")
"""SQLite reports a missing table as OperationalError too; only these mean 'try again'."""


def _sqlite_error(e: exc.DBAPIError) -> bool:
    return type(e.orig).__module__.startswith("sqlite3")


class StorageOutageError(Exception):
    """The database stayed unreachable for longer than the retry bound."""


def transient(e: BaseException) -> bool:
    """True for an error that means 'the database is unreachable or busy right now'."""
    seen: set[int] = set()
    err: BaseException | None = e
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, exc.OperationalError) and _sqlite_error(err):
            return any(w in str(err.orig).lower() for w in _SQLITE_TRANSIENT)
        if isinstance(err, exc.OperationalError | exc.InterfaceError | exc.DisconnectionError):
            return True
        if isinstance(err, exc.DBAPIError) and err.connection_invalidated:
            return True
        if isinstance(err, exc.TimeoutError):  # the pool found no connection in time
            return True
        err = err.__cause__ or err.__context__
    return False


class Retrier:
    """Runs database operations with bounded retries (see the module docstring)."""

    def __init__(
        self, bound_s: float = BOUND_S, notify: Callable[[str], None] | None = None
    ) -> None:
        self.bound_s = bound_s
        self.notify = notify or (lambda _msg: None)
        self.retries = 0
        """Retried attempts so far (all operations)."""

    def __call__(
        self, what: str, op: Callable[[], T], *, again: Callable[[], T] | None = None
    ) -> T:
        """``op()``, retried on transient errors; ``again`` (if given) replaces ``op`` for the
        retries, e.g. to skip a step that may have committed before the connection broke."""
        start = time.monotonic()
        attempt = 0
        while True:
            try:
                return (op if attempt == 0 or again is None else again)()
            except Exception as e:
                if not transient(e):
                    raise
                waited = time.monotonic() - start
                if waited >= self.bound_s:
                    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                    raise StorageOutageError(
                        f"the database stayed unreachable for {waited:.0f} s while {what} "
                        f"({first[:200]}); results not yet written are kept in the journal and "
                        "the next launch resumes the study"
                    ) from None
                delay = DELAYS[attempt] if attempt < len(DELAYS) else MAX_DELAY
                delay = min(delay, max(0.05, self.bound_s - waited))
                if attempt == 0:
                    self.notify(
                        f"database unreachable while {what}: {type(e).__name__}; retrying for up "
                        f"to {self.bound_s:.0f} s"
                    )
                attempt += 1
                self.retries += 1
                time.sleep(delay)


def finished_in_optuna(study: optuna.Study, trial_id: int) -> bool:
    """Whether Optuna already holds this trial as finished (a tell that committed, then broke)."""
    return study._storage.get_trial(trial_id).state.is_finished()
