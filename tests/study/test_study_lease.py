"""One driver per study (issue 8, point 2): a second driver exits 2 naming the first; a dead
driver's lease is taken over safely; a driver whose lease was taken writes nothing more."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from study_helpers import assert_every_point_complete_once, our_trials, tiny_spec

from study import record
from study.lease import Lease, LeaseHeldError, LeaseLostError, holder_id
from study.schema import LeaseRow, utcnow
from study.storage import make_engine, session_scope

EXE = str(Path(sys.executable).parent / "study-launch")


def launch(spec: Path, url: str, ray: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [EXE, str(spec), "--storage", url, "--ray-address", ray, "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_second_driver_on_a_running_study_exits_2_and_nothing_is_doubled(
    storage_url: str, tmp_path: Path, ray_local: str
) -> None:
    path = tiny_spec(tmp_path, name="twice", lrs="[1.0, 2.0, 4.0, 8.0]", max_sequences=50_000)
    first = launch(path, storage_url, ray_local)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until the first one holds the lease and runs trials
        try:
            if any(r["row"]["state"] == "RUNNING" for r in our_trials(storage_url, "twice")):
                break
        except Exception:
            pass
        time.sleep(0.1)
    second = launch(path, storage_url, ray_local)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 2, (out, err)
    lines = [ln for ln in err.strip().splitlines() if "study-launch" in ln]
    assert len(lines) == 1 and "being run by another driver" in lines[0], err
    assert "Traceback" not in err
    assert f"pid {first.pid}" in lines[0]
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert_every_point_complete_once(storage_url, "twice", path)
    keys = [r["row"]["config_key"] for r in our_trials(storage_url, "twice")]
    assert len(keys) == len(set(keys)) == 12  # one row per point: none run twice


def _engine(url: str) -> sa.Engine:
    engine = make_engine(url)
    record.ensure_schema(engine)
    return engine


def _plant(engine: sa.Engine, holder: str, age_s: float) -> None:
    with session_scope(engine) as s:
        s.add(LeaseRow(study="s", holder=holder, heartbeat_at=utcnow() - timedelta(seconds=age_s)))


def test_a_dead_holder_on_this_host_is_taken_over_at_once(storage_url: str) -> None:
    engine = _engine(storage_url)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    host = holder_id().split(":")[0]
    _plant(engine, f"{host}:{dead.stdout.strip()}:1", age_s=1)
    assert Lease(engine, "s").acquire() == f"{host}:{dead.stdout.strip()}:1"
    engine.dispose()


def test_a_foreign_holder_is_waited_for_until_its_heartbeat_is_stale(storage_url: str) -> None:
    engine = _engine(storage_url)
    _plant(engine, "elsewhere:123:456", age_s=2)
    with pytest.raises(LeaseHeldError) as e:
        Lease(engine, "s", stale_s=30).acquire()
    assert "pid 123 on elsewhere" in str(e.value) and "expires in" in str(e.value)
    assert Lease(engine, "s", stale_s=1).acquire() == "elsewhere:123:456"  # stale: taken
    engine.dispose()


def test_a_holder_whose_lease_was_taken_stops(storage_url: str) -> None:
    engine = _engine(storage_url)
    mine = Lease(engine, "s", stale_s=1)
    assert mine.acquire() is None
    mine.beat(force=True)
    with session_scope(engine) as s:  # another driver took it over after a long outage
        s.execute(sa.update(LeaseRow).values(holder="elsewhere:1:1"))
    with pytest.raises(LeaseLostError):
        mine.beat(force=True)
    mine.release()  # releases nothing of the other's
    with session_scope(engine) as s:
        assert s.scalar(sa.select(LeaseRow.holder)) == "elsewhere:1:1"
    engine.dispose()


def test_the_lease_is_released_when_the_driver_ends(tmp_path: Path, ray_local: str) -> None:
    url = f"sqlite:///{tmp_path}/carousel.db"
    path = tiny_spec(tmp_path, name="released")
    proc = launch(path, url, ray_local)
    assert proc.wait(timeout=300) == 0
    engine = make_engine(url, read_only=True)
    with session_scope(engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(LeaseRow)) == 0
    engine.dispose()
