"""Helpers of the stack tests: specs, free ports, readers of a study (plain Optuna, our rows)."""

from __future__ import annotations

import json
import random
import socket
import time
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy as sa
from optuna.trial import TrialState

from study.schema import StudyRow, TrialRow
from study.space import grid_points
from study.specfile import load_spec
from study.storage import make_engine, session_scope

ROOT = Path(__file__).resolve().parents[2]

GRID = """\
name = "{name}"
task = "adding"
models = ["lstm1997", "elman"]
seeds = {seeds}
max_sequences = {max_sequences}
reading = "frac99"
sampler = "grid"
seed = 0

[task_params]
T = 12

[space]
lr = {lrs}

[space.lstm1997]
blocks = [1, 2]
"""
"""A small grid on the adding problem (T=12): len(lrs) x 2 blocks for lstm1997 + len(lrs) elman."""


def grid_spec(
    folder: Path, name: str, lrs: str = "[2.0, 4.0]", seeds: int = 4, max_sequences: int = 20000
) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(GRID.format(name=name, lrs=lrs, seeds=seeds, max_sequences=max_sequences))
    return path


def free_port() -> int:
    """A port free now, below the kernel's ephemeral range (32768-60999, where outgoing
    connections and every "any free port" of Ray's land) and above Ray's worker ports
    (10002-19999): what a server starting a moment later can still bind."""
    for _ in range(200):
        port = random.randint(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-32000")


def canon(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


def assert_grid_complete_once(url: str, spec_path: Path) -> list[optuna.trial.FrozenTrial]:
    """Every grid point of the spec COMPLETE exactly once (plain Optuna); our rows agree."""
    spec = load_spec(spec_path)
    trials = optuna.load_study(study_name=spec.name, storage=url).get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert Counter(canon(t.params) for t in complete) == Counter(map(canon, grid_points(spec)))
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    states = trial_states(url, spec.name)
    assert states.count("COMPLETE") == len(complete) and "RUNNING" not in states
    return complete


def _of(name: str) -> Any:
    study_id = sa.select(StudyRow.id).where(StudyRow.name == name).scalar_subquery()
    return TrialRow.study_id == study_id


def trial_states(url: str, name: str) -> list[str]:
    """The state of every trial row of the study ([] before the driver created the tables)."""
    engine = make_engine(url, read_only=True)
    try:
        with session_scope(engine) as s:
            return list(s.scalars(sa.select(TrialRow.state).where(_of(name))))
    except sa.exc.SQLAlchemyError:
        return []
    finally:
        engine.dispose()


def wait_for_states(
    url: str, name: str, complete: int, running: int, alive: Any, timeout: float = 300
) -> None:
    """Poll our tables until the study has that many trials COMPLETE and RUNNING; ``alive()``
    must hold meanwhile."""
    deadline = time.monotonic() + timeout
    states: list[str] = []
    while time.monotonic() < deadline:
        # what was last seen, to tell a crash from a study that ran through without ever holding
        # that many trials at once (e.g. fewer in flight on a loaded machine)
        assert alive(), f"the launcher exited before the study got that far; last seen: {states}"
        states = trial_states(url, name)
        if states.count("COMPLETE") >= complete and states.count("RUNNING") >= running:
            return
        time.sleep(0.1)
    raise AssertionError(f"no {complete} complete + {running} running trials within {timeout} s")


def completed_rows(url: str, name: str) -> dict[int, tuple[Any, ...]]:
    """The study's COMPLETE trial rows: optuna trial id -> (config key, n_solved, rate)."""
    engine = make_engine(url, read_only=True)
    try:
        with session_scope(engine) as s:
            rows = s.execute(
                sa.select(
                    TrialRow.optuna_trial_id,
                    TrialRow.config_key,
                    TrialRow.n_solved,
                    TrialRow.success_rate,
                ).where(TrialRow.state == "COMPLETE", _of(name))
            )
            return {r[0]: tuple(r[1:]) for r in rows}
    finally:
        engine.dispose()
