"""One driver per study: a lease row in the study's database, renewed by a heartbeat.

The driver takes the lease of its study before it touches a trial and renews it every few
seconds; a second driver on the same study finds the lease held and stops with exit code 2,
naming the holder (the first one's running trials are never mistaken for abandoned ones). A
lease is taken over when its holder is gone: at once when the holder ran on this host and its
process no longer exists (a killed driver, restarted), else once its heartbeat is older than
``stale_s`` (a holder on another host; the hosts' clocks must agree to within that bound).

A holder that finds its lease taken (it was cut off from the database for longer than
``stale_s`` and another driver took over) raises `LeaseLostError` before it writes anything more.

The same row works on SQLite and PostgreSQL, so both are held to one test.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Engine

from study.schema import LeaseRow, utcnow
from study.storage import session_scope

STALE_S = 30.0
"""A heartbeat older than this marks a holder on another host as gone."""
BEAT_S = 5.0
"""Seconds between heartbeats."""


class LeaseHeldError(Exception):
    """Another live driver holds the study's lease."""


class LeaseLostError(Exception):
    """This driver's lease was taken over by another driver."""


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), telling reused pids apart."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def holder_id() -> str:
    """``host:pid:start``: who holds a lease, unique across restarts of a pid."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid) or 0}"


def holder_alive(holder: str) -> bool | None:
    """True/False for a holder on this host (its process exists or not); None elsewhere."""
    host, _, rest = holder.partition(":")
    pid, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    return _start_time(int(pid)) == start


@dataclass
class Lease:
    """The lease of one study (see the module docstring)."""

    engine: Engine
    study: str
    stale_s: float = STALE_S
    beat_s: float = BEAT_S

    def __post_init__(self) -> None:
        self.me = holder_id()
        self.last_beat = 0.0

    def acquire(self) -> str | None:
        """Take the lease; returns the dead holder taken over from, if any.

        Raises:
            LeaseHeldError: another live driver holds it."""
        try:
            with session_scope(self.engine) as s:
                s.add(LeaseRow(study=self.study, holder=self.me, heartbeat_at=utcnow()))
            self.last_beat = time.monotonic()
            return None
        except exc.IntegrityError:
            pass
        with session_scope(self.engine) as s:
            row = s.execute(
                sa.select(LeaseRow.holder, LeaseRow.heartbeat_at).where(
                    LeaseRow.study == self.study
                )
            ).one()
        holder, beat = row[0], row[1]
        if holder == self.me:
            self.last_beat = time.monotonic()
            return None
        age = (utcnow() - beat).total_seconds()
        alive = holder_alive(holder)
        if alive or (alive is None and age < self.stale_s):
            raise LeaseHeldError(self._held_message(holder, beat, age))
        with session_scope(self.engine) as s:
            res = s.execute(
                sa.update(LeaseRow)
                .where(
                    LeaseRow.study == self.study,
                    LeaseRow.holder == holder,
                    LeaseRow.heartbeat_at == beat,
                )
                .values(holder=self.me, heartbeat_at=utcnow())
            )
            taken = getattr(res, "rowcount", 0) == 1
        if not taken:  # another driver took it over between our read and our update
            raise LeaseHeldError(f"study {self.study!r} was just taken over by another driver")
        self.last_beat = time.monotonic()
        return holder

    def _held_message(self, holder: str, beat: datetime, age: float) -> str:
        host, _, rest = holder.partition(":")
        pid = rest.partition(":")[0]
        wait = max(0.0, self.stale_s - age)
        return (
            f"study {self.study!r} is being run by another driver (pid {pid} on {host}, last "
            f"heartbeat {age:.0f} s ago); wait for it to end or stop it"
            + (f" (a lost driver's lease expires in {wait:.0f} s)" if holder_alive(holder) is None
               else "")
        )  # fmt: skip

    def beat(self, force: bool = False) -> None:
        """Renew the lease (at most every ``beat_s`` unless forced).

        Raises:
            LeaseLostError: another driver took it over."""
        now = time.monotonic()
        if not force and now - self.last_beat < self.beat_s:
            return
        with session_scope(self.engine) as s:
            res = s.execute(
                sa.update(LeaseRow)
                .where(LeaseRow.study == self.study, LeaseRow.holder == self.me)
                .values(heartbeat_at=utcnow())
            )
            if getattr(res, "rowcount", 0) != 1:
                raise LeaseLostError(
                    f"another driver took over study {self.study!r} while this one could not "
                    "reach the database; this driver stops without writing more"
                )
        self.last_beat = now

    @property
    def fresh(self) -> bool:
        """True while no other driver can have taken the lease over since the last heartbeat."""
        return time.monotonic() - self.last_beat < self.stale_s / 2

    def release(self) -> None:
        with session_scope(self.engine) as s:
            s.execute(
                sa.delete(LeaseRow).where(LeaseRow.study == self.study, LeaseRow.holder == self.me)
            )
