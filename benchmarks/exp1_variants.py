"""Exp. 1 (embedded Reber) against the paper's Table 1, and the measured candidate explanations.

The paper reports 97-100% success after 8,440-39,740 sequences; carousel's 1997 net solves far
fewer seeds. This benchmark measures the paper's rows and one variant per candidate explanation
(the ambiguities documented in `workers.tasks.embedded_reber` and `workers.protocols`): the
update moment (per step / per sequence), the training target (next symbol / all legal
successors / their probabilities), fixed vs fresh training strings, the initial weight range,
f' in the output delta, and a larger budget. Every variant trains the same seeds (paired:
`TrialConfig.seed_key` ignores the learning-rule variants) through `workers.trainer.train`, the
path studies use.

Run: ``.venv/bin/python -m benchmarks.exp1_variants [--seeds 10] [--budget 100000] [--quick]``;
writes ``benchmarks/results/exp1_variants.md`` (a row per variant: success, median and mean
sequences to success over the solved seeds, ratio to the paper's row, wall time).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import git_commit
from workers.config import ModelSpec, TrialConfig
from workers.tasks.paper_rows import match
from workers.trainer import train

OUT = Path(__file__).resolve().parent / "results" / "exp1_variants.md"


@dataclass(frozen=True)
class Variant:
    name: str
    """What differs from the paper's reading (carousel's defaults)."""
    blocks: int = 3
    cells: int = 2
    lr: float = 0.5
    task_params: dict[str, Any] = field(default_factory=dict)
    update: str | None = None
    output_delta: str | None = None
    init_range: float | None = None
    budget_factor: int = 1


VARIANTS = (
    Variant("row 1-1 (defaults: per-step update, next-symbol target, fixed sets)", 4, 1, 0.1),
    Variant("row 1-2", 3, 2, 0.1),
    Variant("row 1-3", 3, 2, 0.2),
    Variant("row 1-4", 4, 1, 0.5),
    Variant("row 1-5", 3, 2, 0.5),
    Variant("1-5, update per sequence", update="sequence"),
    Variant("1-5, target: all legal successors = 1", task_params={"target": "legal"}),
    Variant("1-5, target: legal successors' probabilities", task_params={"target": "probability"}),
    Variant("1-5, fresh strings (no fixed sets)", task_params={"sets": "fresh"}),
    Variant("1-5, init range 0.1", init_range=0.1),
    Variant("1-5, output delta without f'", output_delta="no_fprime"),
    Variant("1-2, output delta without f'", 3, 2, 0.1, output_delta="no_fprime"),
    Variant("1-5, 4x budget", budget_factor=4),
    Variant(
        "1-5, probabilities, 4x budget", task_params={"target": "probability"}, budget_factor=4
    ),
)


def run(v: Variant, seeds: int, budget: int) -> dict[str, Any]:
    cfg = TrialConfig(
        task="embedded_reber",
        task_params=dict(v.task_params),
        model=ModelSpec(blocks=v.blocks, cells_per_block=v.cells),
        lr=v.lr,
        init_range=v.init_range,
        max_sequences=budget * v.budget_factor,
        seeds=seeds,
        update=v.update,
        output_delta=v.output_delta,
    )
    t0 = time.perf_counter()
    r = train(cfg)
    wall = time.perf_counter() - t0
    solved = [s.sequences_to_solve for s in r.seeds if s.sequences_to_solve is not None]
    row = match("embedded_reber", {}, v.blocks, v.cells, v.lr)
    paper = row.sequences if row is not None else None
    mean = statistics.fmean(solved) if solved else None
    return {
        "variant": v.name,
        "net": f"{v.blocks}x{v.cells} lr {v.lr:g}",
        "update": r.update,
        "budget": cfg.max_sequences,
        "solved": f"{len(solved)}/{seeds}",
        "median": statistics.median(solved) if solved else None,
        "mean": mean,
        "paper": paper,
        "paper_success": row.success if row is not None else None,
        "ratio": mean / paper if mean is not None and paper else None,
        "wall_s": wall,
    }


def fmt(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:,.2f}" if x < 10 else f"{x:,.0f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budget", type=int, default=100_000)
    ap.add_argument("--quick", action="store_true", help="4 seeds, 20k sequences (smoke run)")
    args = ap.parse_args()
    seeds, budget = (4, 20_000) if args.quick else (args.seeds, args.budget)
    commit = git_commit()
    rows = []
    for v in VARIANTS:
        rows.append(run(v, seeds, budget))
        r = rows[-1]
        print(f"{r['variant']}: {r['solved']} solved, median {fmt(r['median'])}, "
              f"paper {fmt(r['paper'])}, {r['wall_s']:.0f} s", flush=True)  # fmt: skip
    cols = ["variant", "net", "update", "budget", "solved", "median", "mean", "paper",
            "paper_success", "ratio", "wall_s"]  # fmt: skip
    lines = [
        "# Exp. 1 (embedded Reber): Table 1 rows and measured variants",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M')} · commit {commit} · {platform.machine()} · "
        f"{seeds} seeds per row · budget {budget:,} sequences per seed (x4 where marked) · "
        "`python -m benchmarks.exp1_variants`",
        "",
        "Success: every symbol of every string of the seed's fixed training set and test set"
        " (256 + 256) predicted correctly, tested every 1000 sequences (the paper's criterion)."
        " median / mean: sequences to success over the solved seeds; ratio: mean / the paper's.",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    lines += ["| " + " | ".join(fmt(r[c]) for c in cols) + " |" for r in rows]
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
