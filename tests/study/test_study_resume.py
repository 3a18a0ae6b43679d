"""Resume: a real driver subprocess killed (SIGKILL) or stopped (SIGINT) mid-study, then re-run.

The subprocess is the real ``study-launch`` console script joining the session's Ray instance.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from optuna.trial import TrialState
from study_helpers import (
    assert_every_point_complete_once,
    optuna_trials,
    our_trials,
    tiny_spec,
    wait_for,
)

from study import cli
from study.driver import Driver
from study.schema import StudyRow
from study.space import search_space
from study.specfile import load_spec
from study.storage import make_engine, session_scope

LRS = "[1.0, 2.0, 4.0, 8.0]"  # 4 lr x 2 blocks + 4 lr = 12 points
BUDGET = 50_000  # 0.2-2 s per trial: the study lasts long enough to be interrupted


def launch(spec: Path, url: str, ray_address: str) -> subprocess.Popen[str]:
    exe = Path(sys.executable).parent / "study-launch"
    return subprocess.Popen(
        [str(exe), str(spec), "--storage", url, "--ray-address", ray_address, "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def snapshot(url: str, name: str) -> dict[int, Any]:
    """Every trial COMPLETE in our tables (a result is safe once there): row, params, seeds.

    A driver killed between our commit and Optuna's tell leaves the Optuna trial RUNNING;
    the next run must finish it from our row, never recompute it.
    """
    skip = ("finished_at",)
    return {
        r["row"]["optuna_trial_id"]: (
            {k: v for k, v in r["row"].items() if k not in skip},
            r["params"],
            r["seeds"],
        )
        for r in our_trials(url, name)
        if r["row"]["state"] == "COMPLETE"
    }


def test_sigkill_mid_study_then_resume(storage_url: str, tmp_path: Path, ray_local: str) -> None:
    path = tiny_spec(tmp_path, name="killed", lrs=LRS, max_sequences=BUDGET)
    proc = launch(path, storage_url, ray_local)
    wait_for(storage_url, proc, complete=2, running=1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    before = snapshot(storage_url, "killed")
    assert len(before) >= 2
    assert [t for t in optuna_trials(storage_url, "killed") if t.state == TrialState.RUNNING]

    out = Driver(load_spec(path), storage_url, live=False).run()
    assert out.reaped + out.repaired >= 1 and out.failed == 0
    assert_every_point_complete_once(storage_url, "killed", path)
    after = snapshot(storage_url, "killed")
    assert {n: after[n] for n in before} == before  # no completed result changed or redone
    assert len(after) == 12
    values = {t._trial_id: t.value for t in optuna_trials(storage_url, "killed")}
    assert all(values[n] == row["success_rate"] for n, (row, _, _) in after.items())
    reaped = [t for t in optuna_trials(storage_url, "killed") if t.state == TrialState.FAIL]
    assert len(reaped) == out.reaped
    assert all(t.user_attrs["fail_reason"] == "interrupted" for t in reaped)


def test_ctrl_c_stops_cleanly_and_resumes(tmp_path: Path, ray_local: str) -> None:
    url = f"sqlite:///{tmp_path}/carousel.db"
    path = tiny_spec(tmp_path, name="stopped", lrs=LRS, max_sequences=BUDGET)
    proc = launch(path, url, ray_local)
    wait_for(url, proc, complete=1, running=1)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, output
    assert "stopped" in output and "Traceback" not in output
    trials = optuna_trials(url, "stopped")
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    interrupted = [t for t in trials if t.state == TrialState.FAIL]
    assert interrupted and all(t.user_attrs["fail_reason"] == "interrupted" for t in interrupted)
    assert all(r["row"]["state"] != "RUNNING" for r in our_trials(url, "stopped"))
    engine = make_engine(url, read_only=True)
    with session_scope(engine) as s:
        assert s.scalar(sa.select(StudyRow.status)) == "stopped"
    engine.dispose()
    before = snapshot(url, "stopped")

    code = cli.main([str(path), "--storage", url, "--resume", "--no-progress"])
    assert code == 0
    assert_every_point_complete_once(url, "stopped", path)
    after = snapshot(url, "stopped")
    assert {n: after[n] for n in before} == before


def test_same_spec_twice_gives_the_same_per_seed_results(tmp_path: Path) -> None:
    """Same spec, another database, another in-flight cap, and seed-staged: the same seeds."""
    never_prune = '[pruning]\npruner = "threshold"\nstage_seeds = 1\nmin_success = 0.0\n'
    results = []
    for run, cap, extra in (("a", 2, ""), ("b", 1, ""), ("c", 2, never_prune)):
        folder = tmp_path / run
        folder.mkdir()
        path = tiny_spec(folder, name="twice", extra=extra)
        url = f"sqlite:///{tmp_path}/{run}.db"
        Driver(load_spec(path), url, live=False, max_in_flight=cap).run()
        results.append(
            {
                r["row"]["config_key"]: [
                    {k: v for k, v in seed.items() if k != "wall_s"} for seed in r["seeds"]
                ]
                for r in our_trials(url, "twice")
            }
        )
    assert len(results[0]) == 6
    solved = [s["solved"] for seeds in results[0].values() for s in seeds]
    assert any(solved) and not all(solved)  # a meaningful comparison
    assert results[0] == results[1]
    staged = {k: [(s["solved"], s["sequences_to_solve"]) for s in v] for k, v in results[2].items()}
    plain = {k: [(s["solved"], s["sequences_to_solve"]) for s in v] for k, v in results[0].items()}
    assert staged == plain


@pytest.fixture(autouse=True)
def _ray(ray_local: str) -> None:
    """Every test here needs the session's Ray instance (in-process or joined)."""


def test_result_committed_before_a_kill_is_finished_not_recomputed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The crash window between our commit and Optuna's tell: the next run repairs Optuna."""
    import optuna

    from study import record
    from study.space import config_for, grid_points, suggest
    from study.storage import optuna_storage
    from workers.config import TrialResult
    from workers.remote import run_trial

    url = f"sqlite:///{tmp_path}/carousel.db"
    spec = load_spec(tiny_spec(tmp_path, name="window"))
    engine = make_engine(url)
    record.ensure_schema(engine)
    study = optuna.create_study(
        study_name="window", storage=optuna_storage(url), direction="maximize"
    )
    study_id = record.begin_study(engine, spec, search_space(spec))
    point = grid_points(spec)[-1]
    study.enqueue_trial(point)
    trial = study.ask()
    config = config_for(spec, suggest(trial, spec))
    row_id = record.trial_started(engine, study_id, trial, point, config)
    result = TrialResult.from_dict(run_trial(config.to_dict()))
    with monkeypatch.context() as m:  # the driver dies right after our commit
        m.setattr(record, "_tell", lambda *a, **k: None)
        record.trial_finished(engine, study, trial, row_id, result)
    engine.dispose()
    assert study.trials[0].state == TrialState.RUNNING

    out = Driver(spec, url, live=False).run()
    assert (out.repaired, out.reaped, out.completed) == (1, 0, 5)
    assert_every_point_complete_once(url, "window", tiny_spec(tmp_path, name="window"))
    t0 = optuna_trials(url, "window")[0]
    assert t0.value == result.success_rate and t0.user_attrs["n_seeds"] == spec.seeds


def test_point_enqueued_by_a_killed_driver_is_not_run_twice(tmp_path: Path) -> None:
    """A kill between enqueue_trial and ask leaves a WAITING trial: it must not duplicate."""
    import optuna

    from study.space import grid_points
    from study.storage import optuna_storage

    url = f"sqlite:///{tmp_path}/carousel.db"
    path = tiny_spec(tmp_path, name="queued")
    spec = load_spec(path)
    study = optuna.create_study(
        study_name="queued", storage=optuna_storage(url), direction="maximize"
    )
    study.enqueue_trial(grid_points(spec)[0])
    out = Driver(spec, url, live=False).run()
    assert (out.reaped, out.completed) == (1, 6)
    assert_every_point_complete_once(url, "queued", path)
    stale = [t for t in optuna_trials(url, "queued") if t.state == TrialState.FAIL]
    assert len(stale) == 1 and stale[0].user_attrs["fail_reason"] == "interrupted"
