"""Helpers of the dashboard tests: the specs of the real (tiny) studies, the launcher, readers.

The ``study_db`` fixture runs ``study-launch`` twice into one SQLite file:

* ``dash-map``: noise-free sequences (Exp. 2a), lstm1997 (2 lr x 2 blocks) and elman (2 lr),
  each at two lags (p = 4, 8), 4 seeds of at most 2000 sequences: 12 trials, 48 seeds;
* ``dash-one``: a single elman trial at the paper's p = 100, marked as a paper study.

The dashboard then only reads it. ``db_rows`` reads the trials back with plain sqlite3, so the
tests compare what the pages show against the database, not against the dashboard's own queries.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboard" / "app.py"

MAIN_SPEC = """\
name = "dash-map"
task = "noise_free_2a"
models = ["lstm1997", "elman"]
seeds = 4
max_sequences = 2000
sampler = "grid"
seed = 0
construction = "at_once"

[space]
lr = [0.1, 1.0]

[space.task]
p = [4, 8]

[space.lstm1997]
blocks = [1, 2]
update = "step"
"""
"""Exp. 2a at two lags: 2 lr x 2 blocks (lstm1997) + 2 lr (elman), each at p = 4 and 8 (12
trials, 48 seeds), the cell present from the start and updated per step (fast at this budget;
the task's paper defaults, sequential construction and per-sequence updates, need more). At
this budget lstm1997 solves p = 4 at lr = 1.0 and little else: a map with real contrast."""

ONE_SPEC = """\
name = "dash-one"
task = "noise_free_2a"
models = ["elman"]
seeds = 3
max_sequences = 600
sampler = "grid"
seed = 1
paper_experiment = "2a"

[task_params]
p = 100

[space]
lr = 0.5
"""
"""One trial, marked as a paper study at the paper's lag (Table 2: p = 100, 5040 sequences)."""


ROBUST_SPEC = """\
name = "dash-robust"
task = "noise_free_2a"
models = ["lstm1997", "gru"]
seeds = 4
max_sequences = 2000
sampler = "grid"
seed = 4
construction = "at_once"

[task_params]
p = 4

[space]
lr = [0.3, 1.0, 3.0]

[space.lstm1997]
blocks = [1, 2]
update = "step"

[space.baselines]
match_weights = 60
"""
"""Exp. 2a at p = 4, where lstm1997 solves most of its 3 lr x 2 blocks grid and GRU (3 lr, one
size) solves nothing at this budget: a map with a robust region, listed with lstm1997 first
although "gru" sorts before it."""


def launcher() -> list[str]:
    """``study-launch`` from this venv (console script), or the module if not installed."""
    exe = Path(sys.executable).with_name("study-launch")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "study.cli"]


def launch_env() -> dict[str, str]:
    """The environment of a study subprocess: its own local Ray (not one this test process may
    have joined), storage only from ``--storage``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for name in ("CAROUSEL_STORAGE", "RAY_ADDRESS"):
        env.pop(name, None)
    return env


def launch(spec: Path, url: str, *extra: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = launch_env()
    return subprocess.run(
        [*launcher(), str(spec), "--storage", url, "--no-progress", *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass(frozen=True)
class StudyDb:
    path: Path
    url: str


def db_rows(path: Path, study: str) -> list[dict]:
    """The study's finished trials, each with its params {name: value_text} (plain sqlite3)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        trials = con.execute(
            "SELECT t.* FROM carousel_trials t JOIN carousel_studies s ON s.id = t.study_id "
            "WHERE s.name = ? AND t.state IN ('COMPLETE', 'PRUNED') ORDER BY t.number",
            (study,),
        ).fetchall()
        out = []
        for t in trials:
            params = {
                r["name"]: r["value_text"]
                for r in con.execute("SELECT * FROM carousel_params WHERE trial_id = ?", (t["id"],))
            }
            seeds = [
                dict(r)
                for r in con.execute(
                    "SELECT * FROM carousel_seeds WHERE trial_id = ? ORDER BY replicate", (t["id"],)
                )
            ]
            out.append({**dict(t), "params": params, "seeds": seeds})
        return out
    finally:
        con.close()


def plotly_array(a: object) -> np.ndarray:
    """A trace array from a figure's JSON: plain lists, or plotly's typed arrays
    (``{"dtype": "f8", "bdata": <base64>, "shape": "2, 2"}``)."""
    if isinstance(a, dict) and "bdata" in a:
        out = np.frombuffer(base64.b64decode(a["bdata"]), dtype=np.dtype(a["dtype"]))
        shape = a.get("shape")
        return out.reshape([int(v) for v in str(shape).split(",")]) if shape else out
    return np.asarray(a, dtype=object)


LIVE_SPEC = """\
name = "dash-live"
task = "noise_free_2a"
models = ["elman"]
seeds = 2
max_sequences = 1000
sampler = "grid"
seed = 2

[task_params]
p = 4

[space]
lr = [0.1, 0.3, 1.0, 3.0]
"""
"""Four short elman trials, run one at a time while the dashboard reads the same file."""


PG_SPEC = """\
name = "dash-pg"
task = "noise_free_2a"
models = ["elman"]
seeds = 2
max_sequences = 800
sampler = "grid"
seed = 3

[space]
lr = [0.3, 3.0]

[space.task]
p = [4, 6]
"""
"""Four short elman trials for the PostgreSQL run of the pages."""
