"""Helpers of the study tests: tiny specs and readers of both schemas (ours and Optuna's)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
import sqlalchemy as sa
from optuna.trial import TrialState

from study.schema import ParamRow, SeedRow, StudyRow, TrialRow
from study.space import config_for, grid_points
from study.specfile import load_spec
from study.storage import make_engine, session_scope

TINY = """\
name = "{name}"
task = "adding"
models = ["lstm1997", "elman"]
seeds = 4
max_sequences = {max_sequences}
reading = "frac99"
sampler = "{sampler}"
seed = {seed}
{top}
[task_params]
T = 12

[space]
lr = {lrs}

[space.lstm1997]
blocks = [1, 2]
"""
"""A tiny grid on the adding problem (T=12): 2 lr x 2 blocks for lstm1997 + 2 lr for elman = 6
points, 4 seeds of at most 20,000 sequences; 0.1-1 s per trial, some seeds solved, some not."""


TOP = ""


def tiny_spec(
    folder: Path, name: str = "tiny", lrs: str = "[2.0, 4.0]", seed: int = 0,
    max_sequences: int = 20000, sampler: str = "grid", top: str = TOP, extra: str = "",
) -> Path:  # fmt: skip
    """Write the tiny spec; ``top`` adds top-level fields, ``extra`` adds tables at the end."""
    path = folder / f"{name}.toml"
    text = TINY.format(
        name=name, lrs=lrs, seed=seed, max_sequences=max_sequences, sampler=sampler, top=top
    )
    path.write_text(text + extra)
    return path


def optuna_trials(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    """The study's trials as a fresh reader sees them (optuna.load_study on the URL)."""
    return optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)


def our_trials(url: str, name: str) -> list[dict[str, Any]]:
    """Our rows of the study: trial columns, params {name: (num, text)} and seeds."""
    engine = make_engine(url, read_only=True)
    try:
        with session_scope(engine) as s:
            study = s.scalar(sa.select(StudyRow).where(StudyRow.name == name))
            assert study is not None
            out = []
            for t in s.scalars(sa.select(TrialRow).where(TrialRow.study_id == study.id)):
                params = s.scalars(sa.select(ParamRow).where(ParamRow.trial_id == t.id))
                seeds = s.scalars(
                    sa.select(SeedRow).where(SeedRow.trial_id == t.id).order_by(SeedRow.replicate)
                )
                out.append(
                    {
                        "row": {c.name: getattr(t, c.name) for c in TrialRow.__table__.columns},
                        "params": {p.name: (p.value_num, p.value_text) for p in params},
                        "seeds": [
                            {
                                c.name: getattr(r, c.name)
                                for c in SeedRow.__table__.columns
                                if c.name not in ("id", "trial_id")
                            }
                            for r in seeds
                        ],
                    }
                )
            return out
    finally:
        engine.dispose()


def canon(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


def assert_every_point_complete_once(url: str, name: str, spec_path: Path) -> None:
    """Each grid point COMPLETE exactly once in Optuna and in our tables, and both agree."""
    spec = load_spec(spec_path)
    trials = optuna_trials(url, name)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert sorted(canon(t.params) for t in complete) == sorted(map(canon, grid_points(spec)))
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    ours = {r["row"]["optuna_trial_id"]: r for r in our_trials(url, name)}
    assert sum(r["row"]["state"] == "COMPLETE" for r in ours.values()) == len(complete)
    for t in complete:
        r = ours[t._trial_id]
        row, seeds = r["row"], r["seeds"]
        assert row["state"] == "COMPLETE" and row["number"] == t.number
        assert t.value == row["success_rate"] == t.user_attrs["success_rate"]
        assert t.user_attrs["n_seeds"] == row["n_seeds"] == len(seeds) == spec.seeds
        assert t.user_attrs["n_solved"] == row["n_solved"] == sum(s["solved"] for s in seeds)
        assert t.user_attrs["n_diverged"] == row["n_diverged"] == sum(s["diverged"] for s in seeds)
        assert t.user_attrs["sequences_to_solve_median"] == row["seq_to_solve_median"]
        assert t.user_attrs["weights"] == row["weights"] > 0
        assert t.user_attrs["wall_s"] == pytest.approx(row["wall_s"])
        assert {k: v[1] for k, v in r["params"].items()} == {
            k: (repr(v) if isinstance(v, float | int) else str(v)) for k, v in t.params.items()
        }
        config = config_for(spec, t.params)
        assert row["config_key"] == config.key()
        assert [s["replicate"] for s in seeds] == list(range(spec.seeds))
        assert [s["seed"] for s in seeds] == [str(config.seed_of(i)) for i in range(spec.seeds)]
        assert all(len(s["curve"]) >= 1 for s in seeds)


def wait_for(url: str, proc: subprocess.Popen[str], complete: int, running: int) -> None:
    """Poll our tables until the running driver has finished/started that many trials."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        try:
            engine = make_engine(url, read_only=True)
            with session_scope(engine) as s:
                states = list(s.scalars(sa.select(TrialRow.state)))
            engine.dispose()
        except Exception:  # the driver has not created the tables yet
            states = []
        if states.count("COMPLETE") >= complete and states.count("RUNNING") >= running:
            return
        time.sleep(0.05)
    raise AssertionError("the driver made no progress")
