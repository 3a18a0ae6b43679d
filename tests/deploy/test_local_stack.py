"""The compose services as local processes (no Docker): the scripts of deploy/ on loopback.

One stack per module: PostgreSQL (own cluster, free port), a Ray head with no CPUs, a worker node
joined with ``--address``, the dashboard on the read-only role; each test runs the launcher
(a zero-CPU Ray node + ``study-launch --ray-address auto``) and checks the study with plain
Optuna. Failure tests: a worker node killed mid-study, the launcher killed and run again, a
diverging trial. Security: the dashboard's role cannot write; the dashboard binds to localhost.
"""

from __future__ import annotations

import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import optuna
import psycopg
import pytest
import sqlalchemy as sa
from local_stack import LocalStack, postgres_available
from optuna.trial import TrialState
from stack_helpers import (
    assert_grid_complete_once,
    completed_rows,
    grid_spec,
    trial_states,
    wait_for_states,
)

from study.storage import make_engine

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    if (why := postgres_available()) is not None:
        pytest.skip(why)
    s = LocalStack()
    try:
        s.start_postgres()
        s.start_head()
        s.start_worker("worker-a", cpus=2)
        s.wait_ready("postgres")
        s.start_dashboard()
        s.wait_ready("ray-head")
        s.wait_cpus(2)
        yield s
    finally:
        s.stop()


def _run(stack: LocalStack, name: str, spec: Path, args: str = "", timeout: float = 300) -> str:
    proc = stack.launcher(name, spec, args)
    try:
        rc = proc.wait(timeout)
    except Exception:
        stack.kill(name)
        raise
    out = stack.log(name)
    assert rc == 0, out[-4000:]
    return out


def test_launcher_runs_a_study_on_the_cluster(stack: LocalStack, tmp_path: Path) -> None:
    spec = grid_spec(tmp_path, "local")
    out = _run(stack, "launch-local", spec)
    assert "joined 127.0.0.1" in out and "zero-CPU Ray node" in out
    assert "Ray auto with 2 CPUs" in out  # the worker's 2; the head and the launcher add none
    assert len(assert_grid_complete_once(stack.url(), spec)) == 6


def test_dashboard_answers_binds_localhost_and_its_role_cannot_write(stack: LocalStack) -> None:
    stack.wait_ready("dashboard")
    base = f"http://127.0.0.1:{stack.dashboard_port}"
    with urllib.request.urlopen(base + "/_stcore/health", timeout=10) as r:
        assert r.status == 200
    with urllib.request.urlopen(base + "/", timeout=10) as r:
        assert r.status == 200 and b"<title>" in r.read().lower()
    assert _listen_addresses(stack.dashboard_port) == {"127.0.0.1"}
    # the role the dashboard connects as: reads everything, writes nothing
    with psycopg.connect(
        host="127.0.0.1", port=stack.pg_port, dbname="carousel", user="carousel_reader",
        password=stack.reader_pw, autocommit=True,
    ) as conn:  # fmt: skip
        assert conn.execute("SELECT count(*) FROM alembic_version").fetchone() is not None
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("DELETE FROM carousel_trials")
        conn.execute("SET default_transaction_read_only = off")  # a session may lift that...
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # ...the grants stay
            conn.execute("DELETE FROM carousel_trials")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE intruder (i int)")
    # and the owner's role, which the launcher uses, can (the check above can fail)
    with psycopg.connect(
        host="127.0.0.1", port=stack.pg_port, dbname="carousel", user="carousel",
        password=stack.owner_pw, autocommit=True,
    ) as conn:  # fmt: skip
        conn.execute("CREATE TABLE writable (i int)")
        conn.execute("DROP TABLE writable")
    # a wrong password is refused: host connections need the password
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(
            host="127.0.0.1", port=stack.pg_port, dbname="carousel", user="carousel",
            password="wrong", connect_timeout=5,
        )  # fmt: skip


def _listen_addresses(port: int) -> set[str]:
    """The local addresses a TCP socket LISTENs on at this port (from /proc/net/tcp{,6})."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, _, hexport = local.partition(":")
            if state == "0A" and int(hexport, 16) == port:
                if len(addr) == 8:
                    found.add(".".join(str(int(addr[i : i + 2], 16)) for i in (6, 4, 2, 0)))
                else:
                    found.add("ipv6:" + addr)
    return found


def test_worker_node_killed_mid_study_its_trials_run_elsewhere(
    stack: LocalStack, tmp_path: Path
) -> None:
    stack.start_worker("worker-b", cpus=2)
    stack.wait_cpus(4)
    spec = grid_spec(tmp_path, "nodekill", lrs="[0.5, 1.0, 2.0, 4.0, 8.0]", max_sequences=100_000)
    proc = stack.launcher("launch-nodekill", spec, "--max-retries 3")
    wait_for_states(stack.url(), "nodekill", 1, 4, alive=lambda: proc.poll() is None)
    stack.kill("worker-b")  # the node and its trial processes, at once
    assert proc.wait(300) == 0, stack.log("launch-nodekill")[-4000:]
    complete = assert_grid_complete_once(stack.url(), spec)
    assert len(complete) == 15
    study = optuna.load_study(study_name="nodekill", storage=stack.url())
    assert not [t for t in study.trials if t.state == TrialState.FAIL]  # retried, not failed


def test_launcher_killed_mid_study_then_run_again_resumes(
    stack: LocalStack, tmp_path: Path
) -> None:
    spec = grid_spec(tmp_path, "relaunch", lrs="[0.5, 1.0, 2.0, 4.0, 8.0]", max_sequences=100_000)
    proc = stack.launcher("launch-relaunch-1", spec)
    wait_for_states(stack.url(), "relaunch", 2, 1, alive=lambda: proc.poll() is None)
    stack.kill("launch-relaunch-1")  # the launcher, its Ray node and the driver: no cleanup
    done = completed_rows(stack.url(), "relaunch")
    assert len(done) >= 2 and "RUNNING" in trial_states(stack.url(), "relaunch")
    out = _run(stack, "launch-relaunch-2", spec)
    assert "continuing study 'relaunch'" in out
    assert len(assert_grid_complete_once(stack.url(), spec)) == 15
    after = completed_rows(stack.url(), "relaunch")
    assert {k: after[k] for k in done} == done  # completed before the kill: kept, not redone


def test_diverging_trial_is_recorded_and_the_study_goes_on(
    stack: LocalStack, tmp_path: Path
) -> None:
    spec = grid_spec(tmp_path, "diverge", lrs="[2.0, 1.0e6]", max_sequences=5000)
    _run(stack, "launch-diverge", spec)
    complete = assert_grid_complete_once(stack.url(), spec)
    big = [t for t in complete if t.params["lr"] == 1.0e6]
    assert big and all(t.user_attrs["n_diverged"] == t.user_attrs["n_seeds"] for t in big)
    assert all(t.value == 0.0 for t in big)
    # the seeds' own rows say so: diverged, their final errors not finite
    engine = make_engine(stack.url(), read_only=True)
    try:
        with engine.connect() as c:
            rows = c.execute(
                sa.text(
                    "SELECT s.diverged FROM carousel_seeds s JOIN carousel_trials t "
                    "ON s.trial_id = t.id JOIN carousel_studies st ON t.study_id = st.id "
                    "WHERE st.name = 'diverge' AND t.config_key LIKE '%1000000.0%'"
                )
            ).all()
    finally:
        engine.dispose()
    assert rows and all(r[0] for r in rows)
    study = optuna.load_study(study_name="diverge", storage=stack.url())
    assert {t.state for t in study.trials} == {TrialState.COMPLETE}


def test_a_sigterm_stops_the_launcher_with_130_and_a_rerun_finishes(
    stack: LocalStack, tmp_path: Path
) -> None:
    spec = grid_spec(tmp_path, "stopped", lrs="[0.5, 1.0, 2.0, 4.0, 8.0]", max_sequences=100_000)
    proc = stack.launcher("launch-stopped-1", spec)
    wait_for_states(stack.url(), "stopped", 1, 1, alive=lambda: proc.poll() is None)
    stack.kill("launch-stopped-1", signal.SIGTERM, group=False)  # docker stop: PID 1 only
    assert proc.wait(120) == 130, stack.log("launch-stopped-1")[-3000:]
    time.sleep(0.5)
    _run(stack, "launch-stopped-2", spec)
    assert len(assert_grid_complete_once(stack.url(), spec)) == 15
