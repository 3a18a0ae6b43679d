"""Real studies on real local Ray, on SQLite and PostgreSQL: the driver and what it records."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState
from study_helpers import (
    TOP,
    assert_every_point_complete_once,
    optuna_trials,
    our_trials,
    tiny_spec,
)

from study.driver import Driver
from study.queries import format_table, state_counts, success_table
from study.specfile import load_spec
from study.storage import make_engine

pytestmark = pytest.mark.usefixtures("ray_local")


def test_grid_study_every_point_complete_exactly_once(storage_url: str, tmp_path: Path) -> None:
    path = tiny_spec(tmp_path)
    out = Driver(load_spec(path), storage_url, live=False).run()
    assert (out.status, out.completed, out.failed) == ("done", 6, 0)
    assert_every_point_complete_once(storage_url, "tiny", path)
    assert len(optuna_trials(storage_url, "tiny")) == 6
    # optuna's own view: a minimization-free study with 6 values in [0, 1]
    study = optuna.load_study(study_name="tiny", storage=storage_url)
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert all(0.0 <= t.value <= 1.0 for t in study.trials)  # type: ignore[operator]
    # re-running the same spec finds nothing left to do and redoes nothing
    again = Driver(load_spec(path), storage_url, live=False).run()
    assert (again.status, again.completed) == ("done", 0)
    assert len(optuna_trials(storage_url, "tiny")) == 6
    engine = make_engine(storage_url, read_only=True)
    assert state_counts(engine, "tiny") == {"COMPLETE": 6}
    columns, rows = success_table(engine, "tiny")
    engine.dispose()
    assert columns == ["model", "lr", "blocks", "solved", "rate", "median seq"]
    assert [r[0] for r in rows] == ["lstm1997"] * 4 + ["elman"] * 2
    assert "lstm1997" in format_table(columns, rows)


def test_dashboard_reader_never_blocks_the_sqlite_study(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/carousel.db"
    path = tiny_spec(tmp_path)
    errors: list[BaseException] = []
    reads = 0
    stop = threading.Event()

    def read_loop() -> None:  # what a dashboard does: aggregate queries, Optuna reads
        nonlocal reads
        while not stop.is_set():
            try:
                if (tmp_path / "carousel.db").exists():
                    engine = make_engine(url, read_only=True)
                    success_table(engine, "tiny")
                    started = bool(state_counts(engine, "tiny"))
                    engine.dispose()
                    if started:  # Optuna's schema is complete: its reader creates nothing
                        optuna.load_study(study_name="tiny", storage=url).get_trials()
                    reads += 1
            except Exception as e:  # anything here is a failure of the test
                if "no such table" not in str(e):  # our tables are not created yet
                    errors.append(e)
            time.sleep(0.02)

    reader = threading.Thread(target=read_loop)
    reader.start()
    try:
        out = Driver(load_spec(path), url, live=False).run()
    finally:
        stop.set()
        reader.join(30)
    assert not errors, errors[:3]
    assert reads > 10
    assert (out.completed, out.failed) == (6, 0)
    assert_every_point_complete_once(url, "tiny", path)


def test_failing_tasks_are_recorded_and_the_study_goes_on(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/carousel.db"
    path = tiny_spec(tmp_path)
    marker = tmp_path / "died-once"

    def faulty(config: dict[str, Any]) -> dict[str, Any]:
        import os

        from workers.remote import run_trial

        model, lr, blocks = config["model"]["name"], config["lr"], config["model"]["blocks"]
        if model == "elman" and lr == 4.0:
            raise ValueError("lr 4.0 is cursed")
        if model == "lstm1997" and lr == 4.0 and blocks == 1:
            os._exit(1)  # the worker dies every time
        if model == "lstm1997" and lr == 4.0 and blocks == 2 and not marker.exists():
            marker.touch()
            os._exit(1)  # the worker dies once: Ray's retry saves the trial
        return run_trial(config)

    out = Driver(load_spec(path), url, live=False, task_fn=faulty, max_retries=1).run()
    assert (out.status, out.completed, out.failed) == ("done", 4, 2)
    assert marker.exists()
    failed = [t for t in optuna_trials(url, "tiny") if t.state == TrialState.FAIL]
    errors = {t.params["model"]: t.user_attrs["error"] for t in failed}
    assert "lr 4.0 is cursed" in errors["elman"]
    assert "died" in errors["lstm1997"].lower() or "crash" in errors["lstm1997"].lower()
    assert {t.user_attrs["fail_reason"] for t in failed} == {"error"}
    rows = [r["row"] for r in our_trials(url, "tiny") if r["row"]["state"] == "FAIL"]
    assert len(rows) == 2 and all(r["error"] for r in rows)
    # the next launch (with a healthy worker) runs exactly the failed points
    again = Driver(load_spec(path), url, live=False).run()
    assert (again.completed, again.failed) == (2, 0)
    assert_every_point_complete_once(url, "tiny", path)


def test_search_sampler_runs_n_trials_and_can_be_extended(storage_url: str, tmp_path: Path) -> None:
    path = tiny_spec(
        tmp_path, name="search", lrs="{low = 0.5, high = 8.0, log = true}", sampler="tpe",
        top=TOP + "\nn_trials = 3",
    )  # fmt: skip
    out = Driver(load_spec(path), storage_url, live=False).run()
    assert (out.completed, out.failed) == (3, 0)
    path.write_text(path.read_text().replace("n_trials = 3", "n_trials = 5"))
    out = Driver(load_spec(path), storage_url, live=False).run()
    assert out.completed == 2
    trials = optuna_trials(storage_url, "search")
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 5
    assert all(0.5 <= t.params["lr"] <= 8.0 for t in trials)
    assert all(("blocks" in t.params) == (t.params["model"] == "lstm1997") for t in trials)


def test_seed_staged_pruning(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/carousel.db"
    prune_all = '[pruning]\npruner = "threshold"\nstage_seeds = 2\nmin_success = 1.0\n'
    path = tiny_spec(tmp_path, name="pruned", extra=prune_all)
    out = Driver(load_spec(path), url, live=False).run()
    assert out.pruned + out.completed == 6 and out.failed == 0
    for r in our_trials(url, "pruned"):
        n = len(r["seeds"])
        assert (r["row"]["state"], n) in (("PRUNED", 2), ("COMPLETE", 4))
        assert r["row"]["n_seeds"] == n
    pruned = [t for t in optuna_trials(url, "pruned") if t.state == TrialState.PRUNED]
    assert len(pruned) == out.pruned
    assert all(t.intermediate_values and t.value is not None for t in pruned)


def test_optuna_dashboard_reads_our_database_unchanged(storage_url: str, tmp_path: Path) -> None:
    """optuna-dashboard's own API (its WSGI app, the one ``optuna-dashboard URL`` serves) lists
    the study and every trial with its params, value and our user attrs."""
    import io
    import json
    from wsgiref.util import setup_testing_defaults

    from optuna_dashboard import wsgi

    path = tiny_spec(tmp_path)
    Driver(load_spec(path), storage_url, live=False).run()
    app = wsgi(optuna.storages.RDBStorage(storage_url))

    def get(route: str) -> Any:
        env: dict[str, Any] = {"PATH_INFO": route, "REQUEST_METHOD": "GET"}
        setup_testing_defaults(env)
        env["wsgi.input"] = io.BytesIO()
        status: list[str] = []
        body = b"".join(app(env, lambda s, h, *_: status.append(s)))
        assert status[0].startswith("200"), (route, status, body[:300])
        return json.loads(body)

    studies = get("/api/studies")["study_summaries"]
    assert [s["study_name"] for s in studies] == ["tiny"]
    trials = get(f"/api/studies/{studies[0]['study_id']}")["trials"]
    ours = {t["row"]["number"]: t["row"] for t in our_trials(storage_url, "tiny")}
    assert len(trials) == len(ours) == 6
    for t in trials:
        attrs = {a["key"]: a["value"] for a in t["user_attrs"]}
        assert {"success_rate", "n_seeds", "n_solved", "n_diverged", "weights"} <= set(attrs)
        assert t["state"] == "Complete" and 0.0 <= t["values"][0] <= 1.0
        assert int(attrs["n_solved"]) == ours[t["number"]]["n_solved"]
        assert {p["name"] for p in t["params"]} >= {"model", "lr"}


def test_a_lock_while_storing_parameters_is_waited_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each ``suggest_*`` writes a parameter: a SQLite file held by another writer at that
    moment is ridden out like any other write (it once ended the study with 'database is
    locked'). The lock is real: another connection holds the file past the busy timeout."""
    import sqlite3

    import study.storage

    db = tmp_path / "carousel.db"
    url = f"sqlite:///{db}"
    monkeypatch.setattr(study.storage, "BUSY_TIMEOUT_S", 0.2)
    original = optuna.storages.RDBStorage._set_trial_param
    held = threading.Event()
    calls = 0

    def hold_file() -> None:
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        held.set()
        time.sleep(1.5)
        other.execute("COMMIT")
        other.close()

    def _set_trial_param(self: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # the second parameter of the first trial
            threading.Thread(target=hold_file, daemon=True).start()
            held.wait(10)
        original(self, *args, **kwargs)

    monkeypatch.setattr(optuna.storages.RDBStorage, "_set_trial_param", _set_trial_param)
    path = tiny_spec(tmp_path)
    out = Driver(load_spec(path), url, live=False).run()
    assert (out.status, out.completed, out.failed) == ("done", 6, 0)
    assert calls > 6
    assert_every_point_complete_once(url, "tiny", path)
