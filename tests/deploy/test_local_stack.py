"""The compose services as local processes (no Docker): the scripts of deploy/ on loopback.

One stack per module: PostgreSQL (own cluster, free port), a Ray head with no CPUs, a worker node
joined with ``--address``, the dashboard on the read-only role; each test runs the launcher
(a zero-CPU Ray node + ``study-launch --ray-address auto``) and checks the study with plain
Optuna. Failure tests: a worker node killed mid-study, the launcher killed and run again, the
launcher stopped by SIGTERM, a trial that diverges (NaN) and one that raises. Security: the
dashboard's role cannot write; the dashboard binds to localhost. (The load test is in
test_local_load.py.)
"""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path

import optuna
import psycopg
import pytest
import ray
import sqlalchemy as sa
from local_stack import LocalStack
from optuna.trial import TrialState
from stack_helpers import (
    ROOT,
    assert_grid_complete_once,
    completed_rows,
    grid_spec,
    trial_states,
    wait_for_states,
)

pytestmark = pytest.mark.slow


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
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.ray_dash_port}/api/version") as r:
        assert r.status == 200 and json.loads(r.read())["ray_version"] == ray.__version__
    owner = psycopg.connect(
        host="127.0.0.1", port=stack.pg_port, dbname="carousel", user="carousel",
        password=stack.owner_pw, autocommit=True,
    )  # fmt: skip
    with owner:  # the launcher's role writes (so the refusals below can fail)
        owner.execute("CREATE TABLE probe (i int)")
        owner.execute("INSERT INTO probe VALUES (1)")
        # the role the dashboard connects as: reads everything, writes nothing
        with psycopg.connect(
            host="127.0.0.1", port=stack.pg_port, dbname="carousel", user="carousel_reader",
            password=stack.reader_pw, autocommit=True,
        ) as conn:  # fmt: skip
            assert conn.execute("SELECT i FROM probe").fetchall() == [(1,)]
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("DELETE FROM probe")
            conn.execute("SET default_transaction_read_only = off")  # a session may lift it...
            with pytest.raises(psycopg.errors.InsufficientPrivilege):  # ...the grants stay
                conn.execute("DELETE FROM probe")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("CREATE TABLE intruder (i int)")
        assert owner.execute("SELECT count(*) FROM probe").fetchone() == (1,)
        owner.execute("DROP TABLE probe")
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
    spec = grid_spec(tmp_path, "nodekill", lrs="[1.0, 2.0, 4.0]", max_sequences=20_000)
    proc = stack.launcher("launch-nodekill", spec, "--max-retries 3")
    wait_for_states(stack.url(), "nodekill", 1, 4, alive=lambda: proc.poll() is None)
    stack.kill("worker-b")  # the node and its trial processes, at once
    assert proc.wait(300) == 0, stack.log("launch-nodekill")[-4000:]
    complete = assert_grid_complete_once(stack.url(), spec)
    assert len(complete) == 9
    study = optuna.load_study(study_name="nodekill", storage=stack.url())
    assert not [t for t in study.trials if t.state == TrialState.FAIL]  # retried, not failed


def test_launcher_killed_mid_study_then_run_again_resumes(
    stack: LocalStack, tmp_path: Path
) -> None:
    spec = grid_spec(tmp_path, "relaunch", lrs="[1.0, 2.0, 4.0]", max_sequences=20_000)
    proc = stack.launcher("launch-relaunch-1", spec)
    wait_for_states(stack.url(), "relaunch", 2, 1, alive=lambda: proc.poll() is None)
    stack.kill("launch-relaunch-1")  # the launcher, its Ray node and the driver: no cleanup
    done = completed_rows(stack.url(), "relaunch")
    assert len(done) >= 2 and "RUNNING" in trial_states(stack.url(), "relaunch")
    out = _run(stack, "launch-relaunch-2", spec)
    assert "continuing study 'relaunch'" in out
    assert len(assert_grid_complete_once(stack.url(), spec)) == 9
    after = completed_rows(stack.url(), "relaunch")
    assert {k: after[k] for k in done} == done  # completed before the kill: kept, not redone


def test_a_sigterm_stops_the_launcher_with_130_and_a_rerun_finishes(
    stack: LocalStack, tmp_path: Path
) -> None:
    spec = grid_spec(tmp_path, "stopped", lrs="[1.0, 2.0, 4.0]", max_sequences=20_000)
    proc = stack.launcher("launch-stopped-1", spec)
    wait_for_states(stack.url(), "stopped", 1, 1, alive=lambda: proc.poll() is None)
    stack.kill("launch-stopped-1", signal.SIGTERM, group=False)  # docker stop: PID 1 only
    assert proc.wait(120) == 130, stack.log("launch-stopped-1")[-3000:]
    time.sleep(0.5)
    _run(stack, "launch-stopped-2", spec)
    assert len(assert_grid_complete_once(stack.url(), spec)) == 9


DIVERGE = """\
name = "diverge"
task = "adding"
models = ["transformer"]
seeds = 2
max_sequences = 100
sampler = "grid"

[task_params]
T = 12

[space]
lr = [1e-3, 1e300]
"""
"""lr 1e300: the Transformer's weights overflow to inf and NaN within a few updates (both seeds)."""

CSV = """\
name = "raises"
task = "csv"
models = ["elman"]
seeds = 1
max_sequences = 4000
sampler = "grid"

[task_params]
path = "{path}"

[space]
lr = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]
"""
"""One trial at a time (``--max-in-flight 1``) on a csv file that the test corrupts after the
first result: every trial that starts later reads the rewritten file and raises in its worker."""


def test_a_diverging_and_a_raising_trial_are_recorded_and_the_study_goes_on(
    stack: LocalStack, tmp_path: Path
) -> None:
    from study.schema import SeedRow, StudyRow, TrialRow
    from study.storage import make_engine, session_scope

    (tmp_path / "diverge.toml").write_text(DIVERGE)
    _run(stack, "launch-diverge", tmp_path / "diverge.toml")
    study = optuna.load_study(study_name="diverge", storage=stack.url())
    by_lr = {t.params["lr"]: t for t in study.trials}
    assert {t.state for t in study.trials} == {TrialState.COMPLETE} and len(by_lr) == 2
    assert by_lr[1e300].user_attrs["n_diverged"] == 2 and by_lr[1e300].value == 0.0
    assert by_lr[1e-3].user_attrs["n_diverged"] == 0
    engine = make_engine(stack.url(), read_only=True)
    try:
        with session_scope(engine) as s:
            seeds = s.execute(
                sa.select(TrialRow.config_key, SeedRow.diverged, SeedRow.solved)
                .join(SeedRow, SeedRow.trial_id == TrialRow.id)
                .join(StudyRow, StudyRow.id == TrialRow.study_id)
                .where(StudyRow.name == "diverge")
            ).all()
        diverged = [(d, ok) for key, d, ok in seeds if "1e+300" in key]
        assert diverged == [(True, False), (True, False)], seeds  # each seed marked, none solved
    finally:
        engine.dispose()

    data = tmp_path / "data.csv"
    data.write_text((ROOT / "studies" / "real" / "example.csv").read_text())
    spec = tmp_path / "raises.toml"
    spec.write_text(CSV.format(path=data))
    proc = stack.launcher("launch-raises-1", spec, "--max-in-flight 1 --max-retries 0")
    wait_for_states(stack.url(), "raises", 1, 0, alive=lambda: proc.poll() is None)
    data.write_text("sequence,label,split,acc_x\nwalk1,walk,train,one\n")  # the file changes
    assert proc.wait(300) == 0, stack.log("launch-raises-1")[-4000:]
    out = stack.log("launch-raises-1")
    trials = optuna.load_study(study_name="raises", storage=stack.url()).trials
    failed = [t for t in trials if t.state == TrialState.FAIL]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(failed) >= 1 and len(complete) >= 1 and len(failed) + len(complete) == 6, out
    for t in failed:  # the worker's own error, naming the file, row and column
        assert f"{data}: row 2, column 'acc_x'" in t.user_attrs["error"], t.user_attrs
    assert f"{len(failed)} failed" in out and "failed: " in out
    rows = trial_states(stack.url(), "raises")
    assert rows.count("FAIL") == len(failed) and "RUNNING" not in rows
    # the file mended, the next launch runs exactly the failed points
    data.write_text((ROOT / "studies" / "real" / "example.csv").read_text())
    _run(stack, "launch-raises-2", spec)
    assert len(assert_grid_complete_once(stack.url(), spec)) == 6
