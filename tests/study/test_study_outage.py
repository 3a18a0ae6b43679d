"""Database outages under a running study (issue 8, point 3), on a PostgreSQL server of the
test's own (initdb on a free loopback port, stopped and started under the driver) and on a
SQLite file held by another writer.

* An outage shorter than the retry bound: the study goes on and completes, nothing lost.
* A longer one: exit 1 with one line; the results in hand are journaled; the next launch
  records them and completes the study, every point COMPLETE exactly once.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from study_helpers import assert_every_point_complete_once, tiny_spec, wait_for

from study.journal import journal_path

EXE = str(Path(sys.executable).parent / "study-launch")
LRS = "[1.0, 2.0, 4.0, 8.0]"  # 12 points of 0.2-2 s each
BUDGET = 50_000


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on a free port (run as the postgres user under root)."""

    def __init__(self, folder: Path) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins and not shutil.which("initdb"):
            pytest.skip("no PostgreSQL server binaries (initdb) on this machine")
        self.bin = Path(bins[-1]).parent if bins else Path(shutil.which("initdb") or "").parent
        self.data = folder / "pgdata"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            self.prefix = ["runuser", "-u", "postgres", "--"]
            shutil.chown(folder, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.prefix, str(self.bin / tool), *args], check=True, capture_output=True,
            timeout=120,
        )  # fmt: skip

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-w", "-l",
                  str(self.data / "log"), "start")  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    # not under pytest's tmp folders: their parents are private to root, and the server runs
    # as the postgres user
    folder = Path(tempfile.mkdtemp(prefix="carousel-pg-"))
    try:
        pg = PrivatePostgres(folder)
        try:
            yield pg
        finally:
            subprocess.run([*pg.prefix, str(pg.bin / "pg_ctl"), "-D", str(pg.data), "-m",
                            "immediate", "stop"], capture_output=True)  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def launch(spec: Path, url: str, ray: str, *extra: str, env: dict[str, str] | None = None
           ) -> subprocess.Popen[str]:  # fmt: skip
    return subprocess.Popen(
        [EXE, str(spec), "--storage", url, "--ray-address", ray, "--no-progress", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_outage_within_the_bound_is_ridden_out(
    private_pg: PrivatePostgres, tmp_path: Path, ray_local: str
) -> None:
    path = tiny_spec(tmp_path, name="outage", lrs=LRS, max_sequences=BUDGET)
    proc = launch(path, private_pg.url, ray_local)
    wait_for(private_pg.url, proc, complete=2, running=0)
    private_pg.stop()
    time.sleep(12)  # trials finish meanwhile: their results wait in the driver and in Ray
    private_pg.start()
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    assert "database unreachable" in out
    assert_every_point_complete_once(private_pg.url, "outage", path)


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_outage_past_the_bound_stops_cleanly_and_resumes(
    private_pg: PrivatePostgres, tmp_path: Path, ray_local: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAROUSEL_JOURNAL_DIR", str(tmp_path / "journal"))  # drivers inherit it
    path = tiny_spec(tmp_path, name="long", lrs=LRS, max_sequences=BUDGET)
    journal = journal_path(private_pg.url, "long")
    proc = launch(path, private_pg.url, ray_local, "--db-retry-s", "4")
    wait_for(private_pg.url, proc, complete=2, running=0)
    private_pg.stop()
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1, out
    errors = [ln for ln in out.splitlines() if ln.startswith("study-launch: error")]
    assert len(errors) == 1 and "stayed unreachable" in errors[0], out
    assert "Traceback" not in out
    assert "--storage " + private_pg.url in errors[0]  # the continue hint
    assert journal.exists() and journal.read_text().strip()  # a finished result kept
    private_pg.start()
    again = launch(path, private_pg.url, ray_local)
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0, out
    assert "recovered" in out
    assert not journal.exists()
    assert_every_point_complete_once(private_pg.url, "long", path)


@pytest.mark.slow
def test_sqlite_held_by_another_writer_is_waited_out(tmp_path: Path, ray_local: str) -> None:
    db = tmp_path / "carousel.db"
    url = f"sqlite:///{db}"
    path = tiny_spec(tmp_path, name="locked", lrs=LRS, max_sequences=BUDGET)
    proc = launch(path, url, ray_local, env={"CAROUSEL_SQLITE_BUSY_TIMEOUT_S": "1"})
    wait_for(url, proc, complete=2, running=0)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another writer holds the file far past the busy timeout
    time.sleep(8)
    other.execute("COMMIT")
    other.close()
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    assert "database is locked" not in out.split("database unreachable")[0]
    assert_every_point_complete_once(url, "locked", path)
