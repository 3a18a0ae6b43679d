"""Wall time of a paper-scale robustness map on local Ray (2 workers), measured or projected.

The map: the adding problem at T=100 (Exp. 4), 6 learning rates (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
x 4 block counts (1-4) x 2 cells per block (1, 2) x 4 models (lstm1997 with the paper's truncated
gradient; elman, gru and lstm_forget with full BPTT, each sized by
``ModelSpec(match_weights=<the weight count of the lstm1997 net with the same blocks and
cells>)``) = 192 trials, 16 seeds each, reading "literal" (the paper's ST3 stopping criterion),
budget 100,000 sequences per seed. The budget: the paper reports a mean of 74,000 training
sequences to success at T=100 (Table 7), so 100,000 lets a paper-like seed finish and caps the
ones that do not learn (most baseline seeds) at ~1.35x the paper's mean.

Trials run on local Ray, ``ray.init(num_cpus=2)``, through `workers.remote.run_trial` (one thread
per worker), with at most 2 trials in flight, submitted largest net first (so the last trials to
finish are short ones). Wall time runs from the first submission to the last result (``ray.init``
is reported separately); no warm-up, so the numba cache loads are included.

* ``--full``: every one of the 192 trials; reports the measured wall time and the sequences/s that
  produced it.
* default: a stratified sample of 16 trials, one per model x cells x {1, 4} blocks, at the two
  extreme learning rates in a Latin square (per model: 1 cell/1 block at 0.05, 1 cell/4 blocks at
  2.0, 2 cells/1 block at 2.0, 2 cells/4 blocks at 0.05). Reports the measured per-model
  throughput and a **projection** of the full map's wall time from it: per model and cells, the
  worker seconds per trained sequence are interpolated linearly in the weight count between the
  1-block and 4-block trials; every trial of the map is assumed to train the sample's mean
  sequences per trial of its model (early stopping and divergence vary it); the projected worker
  seconds are divided by 2 workers and by the sample's measured worker utilisation. An upper
  bound (every seed trains its whole budget) is printed beside it.

    python -m benchmarks.map_time [--full] [--budget 100000] [--seeds 16]

Writes benchmarks/results/map_time.md (default) or benchmarks/results/map_time_full.md (--full).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray

from models.layout import Lstm1997Layout
from workers.config import ModelSpec, TrialConfig
from workers.remote import THREAD_ENV  # the driver's one-thread-per-worker env

RESULTS = Path(__file__).parent / "results"
LRS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
BLOCKS = (1, 2, 3, 4)
CELLS = (1, 2)
MODELS = ("lstm1997", "elman", "gru", "lstm_forget")
TARGET_S = 3600.0


@dataclass(frozen=True)
class Cell:
    """One trial of the map."""

    model: str
    blocks: int
    cells: int
    lr: float

    @property
    def lstm_weights(self) -> int:
        """Weight count of the lstm1997 net with these blocks and cells (adding: 2 in, 1 out)."""
        return Lstm1997Layout(2, 1, self.blocks, self.cells).n_weights

    def config(self, budget: int, seeds: int) -> dict[str, Any]:
        if self.model == "lstm1997":
            spec = ModelSpec(blocks=self.blocks, cells_per_block=self.cells)
        else:
            spec = ModelSpec(name=self.model, match_weights=self.lstm_weights)
        return TrialConfig(
            task="adding", task_params={"T": 100}, model=spec, lr=self.lr, seeds=seeds,
            max_sequences=budget, seed_base=2026, reading="literal",
        ).to_dict()  # fmt: skip


def full_grid() -> list[Cell]:
    return [Cell(m, b, c, lr) for m in MODELS for b in BLOCKS for c in CELLS for lr in LRS]


def sample_grid() -> list[Cell]:
    lo, hi = LRS[0], LRS[-1]
    square = ((1, 1, lo), (1, 4, hi), (2, 1, hi), (2, 4, lo))  # (cells, blocks, lr)
    return [Cell(m, b, c, lr) for m in MODELS for c, b, lr in square]


def load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def busy_seconds() -> float:
    """Busy seconds of all cores since boot, from /proc/stat (0 if unreadable)."""
    try:
        f = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return 0.0
    return (sum(f) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")


def _timed_trial(cfg: dict[str, Any]) -> dict[str, Any]:
    """The worker side: `workers.remote.run_trial` plus its own run time and a summary."""
    import time as _time

    from workers.remote import run_trial as _run

    t0, c0 = _time.perf_counter(), _time.process_time()
    r = _run(cfg)
    return {
        "run_s": _time.perf_counter() - t0,
        "cpu_s": _time.process_time() - c0,
        "sequences": sum(s["sequences_trained"] for s in r["seeds"]),
        "solved": sum(bool(s["solved"]) for s in r["seeds"]),
        "diverged": sum(bool(s["diverged"]) for s in r["seeds"]),
        "weights": r["weights"],
        "backend": r["backend"],
    }


def run_map(
    cells: list[Cell], budget: int, seeds: int, workers: int, cap: int
) -> tuple[list[dict[str, Any]], float, float, float]:
    """Run the trials on local Ray: (per-trial records, wall seconds, ray.init seconds, cores
    busy with anything but the trials during the run)."""
    order = sorted(cells, key=lambda c: (-c.lstm_weights, MODELS.index(c.model), c.lr))
    t0 = time.perf_counter()
    ray.init(
        num_cpus=workers, include_dashboard=False, log_to_driver=False,
        logging_level=logging.WARNING, runtime_env={"env_vars": THREAD_ENV},
    )  # fmt: skip
    t_init = time.perf_counter() - t0
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(_timed_trial)
        pending = list(order)
        inflight: dict[Any, Cell] = {}
        out: list[dict[str, Any]] = []
        busy0, t0 = busy_seconds(), time.perf_counter()
        while pending or inflight:
            while pending and len(inflight) < cap:
                c = pending.pop(0)
                inflight[remote.remote(c.config(budget, seeds))] = c
            ready, _ = ray.wait(list(inflight), num_returns=1)
            for ref in ready:
                c = inflight.pop(ref)
                r = {**ray.get(ref), "cell": c}
                out.append(r)
                print(
                    f"  [{len(out):3d}/{len(order)}] {c.model:11s} blocks={c.blocks} "
                    f"cells={c.cells} lr={c.lr:<4} {r['weights']:4d} w: {r['run_s']:7.1f} s, "
                    f"{r['sequences']:>9,} seq, {r['sequences'] / r['run_s']:>8,.0f} seq/s, "
                    f"solved {r['solved']}/{seeds}, diverged {r['diverged']}  "
                    f"(elapsed {time.perf_counter() - t0:,.0f} s)",
                    flush=True,
                )
        wall = time.perf_counter() - t0
        foreign = max(busy_seconds() - busy0 - sum(r["cpu_s"] for r in out), 0.0) / wall
    finally:
        ray.shutdown()
    return out, wall, t_init, foreign


def per_model(out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for m in MODELS:
        rs = [r for r in out if r["cell"].model == m]
        if not rs:
            continue
        seqs, busy = sum(r["sequences"] for r in rs), sum(r["run_s"] for r in rs)
        rows.append(
            {
                "model": m,
                "trials": len(rs),
                "sequences": seqs,
                "busy": busy,
                "rate": seqs / busy,
                "per_trial": seqs / len(rs),
                "solved": sum(r["solved"] for r in rs),
                "diverged": sum(r["diverged"] for r in rs),
            }
        )
    return rows


def project(out: list[dict[str, Any]], budget: int, seeds: int) -> dict[str, float]:
    """Projected worker seconds of the full map (sample's sequences/trial; full budget)."""
    mean_seqs = {r["model"]: r["per_trial"] for r in per_model(out)}
    proj = upper = 0.0
    for cell in full_grid():
        pts = sorted(
            (r["cell"].lstm_weights, r["run_s"] / r["sequences"])
            for r in out
            if r["cell"].model == cell.model and r["cell"].cells == cell.cells
        )
        (w0, s0), (w1, s1) = pts[0], pts[-1]
        w = cell.lstm_weights
        spp = s0 if w1 == w0 else s0 + (s1 - s0) * (w - w0) / (w1 - w0)
        proj += mean_seqs[cell.model] * spp
        upper += seeds * budget * spp
    return {"worker_s": proj, "upper_worker_s": upper}


def hms(s: float) -> str:
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min" if s >= 3600 else f"{s / 60:.1f} min"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="run all 192 trials")
    ap.add_argument("--budget", type=int, default=100_000, help="sequences per seed")
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    cells = full_grid() if args.full else sample_grid()
    load0 = load()
    print(
        f"load average (1/5/15 min) at start: {load0}; {len(cells)} trials, {args.seeds} seeds, "
        f"budget {args.budget:,} per seed, {args.workers} workers",
        flush=True,
    )
    out, wall, t_init, foreign = run_map(cells, args.budget, args.seeds, args.workers, args.workers)
    load1 = load()
    total = sum(r["sequences"] for r in out)
    busy = sum(r["run_s"] for r in out)
    util = busy / (args.workers * wall)
    models = per_model(out)
    cmd = "python -m benchmarks.map_time" + (" --full" if args.full else "")
    if args.budget != 100_000:
        cmd += f" --budget {args.budget}"
    if args.seeds != 16:
        cmd += f" --seeds {args.seeds}"
    print(
        f"measured: {len(out)} trials in {wall:,.0f} s ({hms(wall)}), {total:,} sequences, "
        f"{total / wall:,.0f} seq/s over {args.workers} workers, utilisation {util:.0%}"
    )
    lines = [
        "# map_time: wall time of a paper-scale robustness map (adding T=100), local Ray",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} by `{cmd}` (ray {ray.__version__}, "
        f"{os.cpu_count()} cores, {args.workers} workers, at most {args.workers} trials in "
        f"flight). Load average (1/5/15 min): {load0} at the start, {load1} at the end.",
        "",
        "Map: 6 lr (0.05-2.0) x blocks 1-4 x cells 1-2 x 4 models (lstm1997 truncated; elman, "
        "gru, lstm_forget full BPTT, weight-matched to the lstm1997 net of the same blocks and "
        f"cells) = 192 trials, {args.seeds} seeds each, budget {args.budget:,} sequences per "
        "seed (the paper's mean to success at T=100 is 74,000), reading literal (ST3).",
        "",
        f"## {'Every trial' if args.full else 'Stratified sample'}: measured",
        "",
        f"{len(out)} trials, wall **{wall:,.0f} s ({hms(wall)})** from first submission to last "
        f"result (`ray.init` {t_init:.1f} s more), {total:,} sequences trained, "
        f"**{total / wall:,.0f} sequences/s** over {args.workers} workers; worker utilisation "
        f"{util:.0%} (sum of in-worker trial times / (workers x wall)); CPU used by anything "
        f"but the trials during the run (Ray, driver, other users; /proc/stat): {foreign:.2f} "
        "cores on average.",
        "",
        "| model | trials | sequences | worker s | sequences/s per worker | sequences per trial "
        "| seeds solved | seeds diverged |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in models:
        lines.append(
            f"| {r['model']} | {r['trials']} | {r['sequences']:,} | {r['busy']:,.0f} "
            f"| {r['rate']:,.0f} | {r['per_trial']:,.0f} "
            f"| {r['solved']}/{r['trials'] * args.seeds} | {r['diverged']} |"
        )
    lines += [
        "",
        "| model | blocks | cells | lr | weights | trial s | sequences | sequences/s "
        "| solved | diverged |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(out, key=lambda r: (MODELS.index(r["cell"].model), r["cell"].lstm_weights)):
        c = r["cell"]
        lines.append(
            f"| {c.model} | {c.blocks} | {c.cells} | {c.lr} | {r['weights']} | {r['run_s']:.1f} "
            f"| {r['sequences']:,} | {r['sequences'] / r['run_s']:,.0f} | {r['solved']} "
            f"| {r['diverged']} |"
        )
    if args.full:
        verdict = "met" if wall < TARGET_S else "NOT met"
        lines += ["", f"Target (full map under 1 h): **{verdict}** (measured {hms(wall)})."]
        name = "map_time_full.md"
    else:
        p = project(out, args.budget, args.seeds)
        proj = p["worker_s"] / args.workers / util
        upper = p["upper_worker_s"] / args.workers / util
        verdict = "met" if proj < TARGET_S else "NOT met"
        print(
            f"PROJECTION (from measured throughput): full map {proj:,.0f} s ({hms(proj)}); "
            f"upper bound (every seed to budget) {upper:,.0f} s ({hms(upper)})"
        )
        lines += [
            "",
            "## Full map: projected from the measured throughput (not measured)",
            "",
            "Per model and cells, worker seconds per trained sequence interpolated linearly in "
            "the weight count between the sample's 1-block and 4-block trials; every trial "
            "assumed to train its model's mean sequences per sample trial (above); worker "
            f"seconds / {args.workers} workers / the sample's utilisation ({util:.0%}).",
            "",
            "| | worker seconds | wall time on 2 workers |",
            "|---|---:|---:|",
            f"| **projection** (sample's sequences per trial) | {p['worker_s']:,.0f} "
            f"| **{proj:,.0f} s ({hms(proj)})** |",
            f"| upper bound (every seed trains {args.budget:,}) | {p['upper_worker_s']:,.0f} "
            f"| {upper:,.0f} s ({hms(upper)}) |",
            "",
            f"Target (full map under 1 h): **{verdict}** by the projection. Measure it with "
            "`python -m benchmarks.map_time --full` (writes map_time_full.md).",
        ]
        name = "map_time.md"
    path = RESULTS / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
