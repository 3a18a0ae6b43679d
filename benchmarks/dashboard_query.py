"""How fast is the robustness map on a 10,000-trial study? SQL aggregation vs loading every trial.

The dashboard aggregates a map in SQL, one row per cell (`dashboard.queries`). The alternative
every Optuna-based tool takes is ``optuna.load_study(...).trials``: every trial becomes a Python
``FrozenTrial`` and the grouping happens in pandas (optuna-dashboard#385 hit the wall at 10k
trials). This benchmark builds a synthetic study of ``--trials`` trials (default 10,000; 10 seeds
each, so 100,000 seed rows with learning curves) in both carousel's tables and Optuna's, then
times:

* ``sql counts``: `dashboard.map_queries.aggregate` for model x lr x blocks (n_solved, n_seeds per
  cell), on a fresh read-only engine;
* ``sql medians``: `dashboard.map_queries.cell_medians` (exact per-cell median over seed rows);
* ``sql map``: both, plus the Wilson intervals: everything the map needs;
* ``optuna load``: ``optuna.load_study(...).trials`` + a pandas groupby over params and user
  attrs to the same per-cell n_solved/n_seeds (the medians of trial medians only: per-seed
  values are not in Optuna's tables at all);
* ``page``: the robustness-map page rendered by Streamlit's AppTest with empty caches.

The synthetic rows are written directly (our tables through `study.schema`, Optuna's through
``study.add_trials``): this measures read speed, not the driver. Results go to
``benchmarks/results/dashboard_query.md``.

Run: ``.venv/bin/python benchmarks/dashboard_query.py [--trials 10000] [--db PATH]``
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import sqlalchemy as sa
from optuna.distributions import CategoricalDistribution

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dashboard import map_queries, queries, stats  # noqa: E402
from dashboard.data import make_readonly_engine  # noqa: E402
from study.schema import Base, ParamRow, SeedRow, StudyRow, TrialRow, utcnow  # noqa: E402

STUDY = "bench-10k"
RESULTS = ROOT / "benchmarks" / "results" / "dashboard_query.md"
MAP_DIMS: tuple[map_queries.Dim, ...] = (("model", ()), ("blocks", ()), ("lr", ()))


def grid(n_trials: int) -> list[dict[str, Any]]:
    """A lr x size x T x init grid over lstm1997 (half the trials), elman and gru (a quarter
    each), cut to ``n_trials`` configurations, every one distinct."""
    lrs = [float(f"{v:.3g}") for v in np.geomspace(0.01, 10.0, 20)]
    Ts = [10, 20, 50, 100, 200]
    lstm = [
        {
            "model": "lstm1997",
            "lr": lr,
            "blocks": b,
            "cells_per_block": c,
            "T": T,
            "init_range": 0.1,
        }
        for lr in lrs
        for b in (1, 2, 3, 4, 5, 6, 7, 8, 10, 12)
        for c in (1, 2, 3, 4, 5)
        for T in Ts
    ]
    base = [
        {"model": m, "lr": lr, "hidden": h, "T": T, "init_range": r}
        for m in ("elman", "gru")
        for lr in lrs
        for h in (4, 8, 16, 32, 64)
        for T in Ts
        for r in (0.05, 0.1, 0.2, 0.3, 0.5)
    ]
    half = n_trials // 2
    rest = n_trials - half
    return (
        lstm[:half] + base[: rest // 2] + base[len(base) // 2 : len(base) // 2 + rest - rest // 2]
    )


def success_prob(p: dict[str, Any]) -> float:
    """A plausible robustness landscape: a basin in log lr, wider for bigger nets, harder with T."""
    width = 0.5 + 0.08 * p.get("blocks", p.get("hidden", 8) / 8)
    centre = 0.0 if p["model"] == "lstm1997" else -1.0
    d = (math.log10(p["lr"]) - centre) / width
    base = math.exp(-(d**2)) * (0.98 if p["model"] == "lstm1997" else 0.6)
    return base * math.exp(-p["T"] / (2000 if p["model"] == "lstm1997" else 60))


def build(
    url: str, n_trials: int, seeds: int = 10, rng_seed: int = 0, optuna_tables: bool = True
) -> None:
    """Write the synthetic study to ``url`` (our tables, and Optuna's unless ``optuna_tables``
    is False: then the trial rows link to Optuna trial ids 1..n that do not exist)."""
    rng = np.random.default_rng(rng_seed)
    points = grid(n_trials)
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.exec_driver_sql("PRAGMA journal_mode=WAL") if url.startswith("sqlite") else None
    Base.metadata.create_all(engine)
    names = sorted({k for p in points for k in p})
    dists = {
        k: CategoricalDistribution(sorted({p[k] for p in points if k in p}, key=str)) for k in names
    }
    results = []
    frozen = []
    for p in points:
        solved = rng.random(seeds) < success_prob(p)
        seq = np.where(solved, rng.lognormal(math.log(20000 * (1 + p["T"] / 50)), 0.4, seeds), 0)
        seq = np.round(seq).astype(int)
        n_solved = int(solved.sum())
        solved_seq = sorted(int(s) for s, ok in zip(seq, solved, strict=True) if ok)
        med = float(np.median(solved_seq)) if solved_seq else None
        attrs = {
            "success_rate": n_solved / seeds,
            "n_seeds": seeds,
            "n_solved": n_solved,
            "n_diverged": 0,
            "sequences_to_solve_median": med,
            "weights": 100,
        }
        results.append((p, solved, seq, attrs))
        frozen.append(
            optuna.trial.create_trial(
                params=p,
                distributions={k: dists[k] for k in p},
                value=attrs["success_rate"],
                user_attrs=attrs,
            )
        )
    optuna_ids = list(range(1, len(points) + 1))
    if optuna_tables:
        storage = optuna.storages.RDBStorage(url)
        study = optuna.create_study(study_name=STUDY, storage=storage, direction="maximize")
        study.add_trials(frozen)
        optuna_ids = [t._trial_id for t in study.get_trials(deepcopy=False)]
    with engine.begin() as c:
        key = c.execute(
            sa.insert(StudyRow).values(
                name=STUDY,
                task="adding",
                models=["lstm1997", "elman", "gru"],
                sampler="grid",
                seeds=seeds,
                max_sequences=100_000,
                reading="literal",
                lag_param="T",
                spec_toml="# synthetic",
                status="done",
                n_planned=len(points),
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        ).inserted_primary_key
        assert key is not None
        sid = key[0]
        trial_rows, param_rows, seed_rows = [], [], []
        for number, ((p, solved, seq, a), oid) in enumerate(zip(results, optuna_ids, strict=True)):
            tid = number + 1
            trial_rows.append(
                {
                    "id": tid,
                    "study_id": sid,
                    "optuna_trial_id": oid,
                    "number": number,
                    "config_key": repr(sorted(p.items())),
                    "model": p["model"],
                    "state": "COMPLETE",
                    "n_seeds": seeds,
                    "n_solved": a["n_solved"],
                    "n_diverged": 0,
                    "success_rate": a["success_rate"],
                    "seq_to_solve_median": a["sequences_to_solve_median"],
                    "weights": 100,
                    "wall_s": 1.0,
                    "backend": "kernel",
                    "config": {"task": "adding", "task_params": {"T": p["T"]}},
                    "started_at": utcnow(),
                    "finished_at": utcnow(),
                }
            )
            for k, v in p.items():
                num = None if isinstance(v, str) else float(v)
                param_rows.append(
                    {"trial_id": tid, "name": k, "value_num": num, "value_text": str(v)}
                )
            for r in range(seeds):
                ok = bool(solved[r])
                s = int(seq[r]) if ok else None
                curve = [
                    [int(x), 0.5 / (1 + x / 5000), min(1.0, x / 40000)]
                    for x in range(0, 50000, 5000)
                ]
                seed_rows.append(
                    {
                        "trial_id": tid,
                        "replicate": r,
                        "seed": str(1000 * tid + r),
                        "solved": ok,
                        "diverged": False,
                        "sequences_to_solve": s,
                        "seq_literal": s,
                        "seq_mae": s,
                        "seq_frac99": s,
                        "sequences_trained": s or 100_000,
                        "final_train_error": 0.01,
                        "test_error": 0.01,
                        "test_wrong": 0,
                        "test_n": 2560,
                        "wall_s": 0.1,
                        "curve": curve,
                    }
                )
        c.execute(sa.insert(TrialRow), trial_rows)
        c.execute(sa.insert(ParamRow), param_rows)
        c.execute(sa.insert(SeedRow), seed_rows)
    engine.dispose()


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time over ``repeat`` runs (s) and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def sql_counts(url: str) -> Any:
    eng = make_readonly_engine(url)
    try:
        return map_queries.aggregate(eng, _study_id(eng), MAP_DIMS)
    finally:
        eng.dispose()


def sql_medians(url: str) -> Any:
    eng = make_readonly_engine(url)
    try:
        return map_queries.cell_medians(eng, _study_id(eng), MAP_DIMS)
    finally:
        eng.dispose()


def sql_map(url: str) -> Any:
    eng = make_readonly_engine(url)
    try:
        sid = _study_id(eng)
        cells = map_queries.aggregate(eng, sid, MAP_DIMS)
        map_queries.cell_medians(eng, sid, MAP_DIMS)
        stats.wilson_interval(cells["n_solved"].to_numpy(), cells["n_seeds"].to_numpy())
        return cells
    finally:
        eng.dispose()


def _study_id(eng: sa.Engine) -> int:
    df = queries.studies(eng)
    return int(df.loc[df["name"] == STUDY, "id"].iloc[0])


def optuna_map(url: str) -> Any:
    import pandas as pd

    trials = optuna.load_study(study_name=STUDY, storage=url).trials
    rows = [
        {
            "model": t.params.get("model"),
            "lr": t.params.get("lr"),
            "blocks": t.params.get("blocks"),
            "n_solved": t.user_attrs.get("n_solved"),
            "n_seeds": t.user_attrs.get("n_seeds"),
            "seq": t.user_attrs.get("sequences_to_solve_median"),
        }
        for t in trials
        if t.state == optuna.trial.TrialState.COMPLETE
    ]
    df = pd.DataFrame(rows).fillna({"blocks": -1})
    return df.groupby(["model", "blocks", "lr"]).agg(
        n_solved=("n_solved", "sum"), n_seeds=("n_seeds", "sum"), seq=("seq", "mean")
    )


def page_render(url: str) -> float:
    """Seconds for AppTest to render the robustness-map page with cold caches."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["CAROUSEL_STORAGE"] = url
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
    at.query_params["study"] = STUDY
    at.run()
    at.switch_page("app_pages/robustness_map.py")
    st.cache_data.clear()
    st.cache_resource.clear()
    t0 = time.perf_counter()
    at.run()
    dt = time.perf_counter() - t0
    if at.exception:
        raise RuntimeError(str(at.exception[0].value))
    return dt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--db", default=None, help="SQLite file (default: a fresh temporary one)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-write", action="store_true", help="do not write the results file")
    args = ap.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tmp = tempfile.mkdtemp(prefix="carousel-bench-")
    try:
        return run(args, Path(args.db or os.path.join(tmp, "bench.db")).resolve())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, path: Path) -> int:
    url = f"sqlite:///{path}"
    if not path.exists():
        t0 = time.perf_counter()
        build(url, args.trials)
        print(f"built {args.trials} trials in {time.perf_counter() - t0:.1f} s -> {path}")
    size_mb = path.stat().st_size / 2**20
    t_counts, cells = timed(lambda: sql_counts(url), args.repeat)
    t_medians, _ = timed(lambda: sql_medians(url), args.repeat)
    t_map, _ = timed(lambda: sql_map(url), args.repeat)
    t_optuna, ref = timed(lambda: optuna_map(url), max(1, args.repeat // 2))
    t_page = page_render(url)
    # the two paths agree on every cell
    ours = cells.assign(blocks=cells["blocks__num"].fillna(-1), lr=cells["lr__num"])
    ours = ours.groupby(["model__text", "blocks", "lr"])[["n_solved", "n_seeds"]].sum()
    assert ours["n_solved"].sum() == ref["n_solved"].sum()
    assert ours["n_seeds"].sum() == ref["n_seeds"].sum()
    assert len(ours) == len(ref), (len(ours), len(ref))
    ratio = t_optuna / t_map
    rows = [
        ("sql counts (GROUP BY per cell)", t_counts),
        ("sql medians (window functions over seed rows)", t_medians),
        ("sql map (counts + medians + Wilson)", t_map),
        ("optuna.load_study(...).trials + pandas groupby", t_optuna),
        ("map page, AppTest, cold caches", t_page),
    ]
    lines = [
        "# Dashboard map query vs loading every trial",
        "",
        f"Synthetic study: {args.trials:,} trials x 10 seeds ({args.trials * 10:,} seed rows), "
        f"SQLite file of {size_mb:.0f} MiB; map = model x blocks x lr, {len(cells)} cells.",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, SQLite {__import__('sqlite3').sqlite_version}, "
        f"optuna {optuna.__version__}. Median of {args.repeat} runs (optuna: "
        f"{max(1, args.repeat // 2)}), each on a fresh engine.",
        "",
        "| path | seconds |",
        "|---|---:|",
        *[f"| {name} | {t:.3f} |" for name, t in rows],
        "",
        f"**optuna load / sql map = {ratio:.1f}x** (the SQL map returns {len(cells)} rows; the "
        f"Optuna path materialises {args.trials:,} FrozenTrials).",
        "",
        "Reproduce: `.venv/bin/python benchmarks/dashboard_query.py`",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
