"""Reproduce the paper table by table: run every ``studies/paper/`` spec, then write the report.

``make reproduce`` (``python -m benchmarks.reproduce``) launches each paper spec with
``study-launch`` against one database (default ``sqlite:///reproduce.db``). A study that is
already stored resumes where it stopped, so a reproduction spreads over sittings: stop it any
time, run it again later. Then it writes ``benchmarks/results/paper.md``: one line per LSTM row
of the paper's Tables 1-9 (`workers.tasks.paper_rows`), every row present (a row no study has
trained yet says so), then a table of the measured variants of those rows (one change to the
paper's setup, e.g. ``studies/paper/variants/``), then a table of the baseline nets
(``studies/paper/baselines/``: Elman with full BPTT on the paper's protocol) beside the
paper's verdict on other methods; with

* seeds solved under the spec's reading (the literal stopping rule in every paper spec);
* mean and median sequences to success over the solved seeds, and the median under the two
  relaxed readings (``mae``: the window's mean absolute error below the task's bound;
  ``frac99``: 99% of the window correct), recorded for every seed whatever stopped it;
* the median number of wrong test sequences (``test wrong``, of the test set each seed was
  judged on);
* the paper's numbers and the ratio of our mean to the paper's.

Options: ``--storage URL``, ``--only exp1,exp4`` (spec files whose names contain one of these),
``--report-only`` (no training), ``--out FILE``. Extra arguments after ``--`` go to every
``study-launch`` (e.g. ``-- --workers 2``).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from benchmarks import git_commit
from study.schema import SeedRow, StudyRow, TrialRow
from study.storage import make_engine
from workers.config import LR
from workers.tasks.paper_rows import (
    BASELINE_VERDICTS,
    ROWS,
    PaperRow,
    baseline_row_for,
    experiment,
    variant_of,
)

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "studies" / "paper"
OUT = ROOT / "benchmarks" / "results" / "paper.md"
DEFAULT_STORAGE = "sqlite:///reproduce.db"


def launch(spec: Path, storage: str, extra: list[str]) -> int:
    """``study-launch SPEC --storage URL`` in a subprocess (it resumes a stored study)."""
    exe = Path(sys.executable).with_name("study-launch")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "study.cli"]
    print(f"== {spec.relative_to(ROOT)}", flush=True)
    return subprocess.run([*cmd, str(spec), "--storage", storage, *extra], cwd=ROOT).returncode


Baselines = dict[tuple[str, str, int, float], dict[str, Any]]
"""(paper row key, model, weights, lr) -> the budgets and seed rows of a baseline's trials."""
Variants = dict[tuple[str, str], dict[str, Any]]
"""(paper row key, how it departs) -> the budgets and seed rows of a measured variant."""


def collect(storage: str) -> tuple[dict[str, dict[str, Any]], Baselines, Variants]:
    """Per paper row key: the studies, budgets and seed rows of every finished LSTM trial on
    it; per measured variant of a row (`variant_of`) and per baseline net on a paper row's task
    (`baseline_row_for`) the same."""
    engine = make_engine(storage, read_only=True)
    stmt = (
        select(StudyRow.name, StudyRow.task, TrialRow.config, SeedRow)
        .join(TrialRow, TrialRow.study_id == StudyRow.id)
        .join(SeedRow, SeedRow.trial_id == TrialRow.id)
        .where(TrialRow.state == "COMPLETE")
    )

    def empty() -> dict[str, Any]:
        return {"studies": set(), "budgets": set(), "seeds": []}

    out: dict[str, dict[str, Any]] = defaultdict(empty)
    base: Baselines = defaultdict(empty)
    variants: Variants = defaultdict(empty)
    with Session(engine) as session:
        for study, task, config, seed in session.execute(stmt):
            config = json.loads(config) if isinstance(config, str) else config
            found = variant_of(task, config)
            if found is not None and not found[1]:
                got = out[found[0].key]
            elif found is not None:
                got = variants[(found[0].key, ", ".join(found[1]))]
            elif (brow := baseline_row_for(task, config)) is not None:
                trained = config.get("trained") or {}
                name = trained.get("name") or (config.get("model") or {}).get("name", "?")
                lr = float(trained.get(LR, config.get(LR)) or "nan")
                got = base[(brow.key, name, int(trained.get("weights") or 0), lr)]
            else:
                continue
            got["studies"].add(study)
            got["budgets"].add(int(config.get("max_sequences") or 0))
            got["seeds"].append(seed)
    engine.dispose()
    return out, base, variants


def _median(xs: list[int | None]) -> float | None:
    v = [x for x in xs if x is not None]
    return statistics.median(v) if v else None


def _fmt(x: Any, digits: int = 0) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


ORDER = {row.key: i for i, row in enumerate(ROWS)}
"""A paper row's place in the paper's order."""
BY_KEY = {row.key: row for row in ROWS}
MEASURED = ["seeds", "budget", "solved", "mean", "median", "median mae", "median frac99",
            "test wrong"]  # fmt: skip
"""The columns every table measures (`_measured`)."""


def _task(row: PaperRow) -> str:
    """A row's task parameters (``T=500``), or '-'."""
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in row.params.items()) or "-"  # fmt: skip


def _net(row: PaperRow) -> str:
    return f"{row.blocks}x{row.cells_per_block} lr {row.lr:g}"


def _mean_solved(seeds: list[Any]) -> float | None:
    """Mean sequences to success over the solved seeds (None if none solved)."""
    solved = [s.sequences_to_solve for s in seeds if s.solved]
    return statistics.fmean(solved) if solved else None


def _measured(g: dict[str, Any]) -> list[str]:
    """The `MEASURED` cells of one group of seed rows (its budgets and seeds)."""
    seeds = g["seeds"]
    solved = [s.sequences_to_solve for s in seeds if s.solved]
    return [
        str(len(seeds)),
        "/".join(_fmt(b) for b in sorted(g["budgets"])),
        f"{len(solved)}/{len(seeds)}",
        _fmt(_mean_solved(seeds)),
        _fmt(_median(solved)),
        _fmt(_median([s.seq_mae for s in seeds])),
        _fmt(_median([s.seq_frac99 for s in seeds])),
        _fmt(_median([s.test_wrong for s in seeds])),
    ]


def _ratio(mean: float | None, row: PaperRow) -> str:
    """Our mean over the paper's."""
    return _fmt(mean / row.sequences if mean is not None and row.sequences else None, 2)


def _table(title: str, intro: str, cols: list[str]) -> list[str]:
    """A section's heading, its paragraph and the table's header."""
    return ["", f"## {title}", "", intro, "", _line(cols), "|" + "---|" * len(cols)]


def _line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def report(storage: str) -> list[str]:
    """The lines of paper.md (every paper row, measured or marked as not run)."""
    got, base, variants = collect(storage)
    commit = git_commit()
    cols = ["row", "table", "task", "net", *MEASURED, "paper mean", "paper success", "ratio"]
    lines = [
        "# Reproduction of Hochreiter & Schmidhuber (1997), Tables 1-9 (LSTM rows)",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M')} · commit {commit} · {platform.machine()}, "
        f"{platform.python_implementation()} {platform.python_version()} · storage "
        f"`{storage.split('@')[-1]}` · `make reproduce`",
        "",
        "solved: seeds meeting the literal stopping rule within budget and passing the final test;"
        " mean / median: sequences to success over solved seeds; median mae / frac99: the relaxed"
        " readings' first hit over the seeds that reached them; ratio: our mean / the paper's.",
        "",
        _line(cols),
        "|" + "---|" * len(cols),
    ]
    for row in ROWS:
        g = got.get(row.key)
        paper_success = _fmt(row.success, 2) if row.success is not None else "-"
        if g is None:
            measured = ["not run", *["-"] * (len(MEASURED) - 1)]
            lines.append(_line([row.key, row.table, _task(row), _net(row), *measured,
                                _fmt(row.sequences), paper_success, "-"]))  # fmt: skip
            continue
        lines.append(_line([row.key, row.table, _task(row), _net(row), *_measured(g),
                            _fmt(row.sequences), paper_success,
                            _ratio(_mean_solved(g["seeds"]), row)]))  # fmt: skip
    return lines + variant_lines(got, variants) + baseline_lines(got, base)


def variant_lines(got: dict[str, dict[str, Any]], variants: Variants) -> list[str]:
    """The measured variants: a paper row's net trained with one change to its setup (e.g.
    `studies/paper/variants/`), each beside the row's paper-setup result and the paper's mean."""
    cols = ["row", "task", "net", "variant", *MEASURED, "paper setup solved / mean",
            "paper mean", "ratio"]  # fmt: skip
    lines = _table(
        "Measured variants",
        "A paper row's net, task and learning rate with one change to the paper's setup"
        " (`workers.tasks.paper_rows.departures`), stored in the same database; never pooled"
        " into the row above. Columns as above; ratio: the variant's mean / the paper's.",
        cols,
    )
    for (key, how), g in sorted(variants.items(), key=lambda kv: (ORDER[kv[0][0]], kv[0][1])):
        row, own = BY_KEY[key], got.get(key)
        paper_setup = "not run"
        if own is not None:
            ok = sum(s.solved for s in own["seeds"])
            paper_setup = f"{ok}/{len(own['seeds'])} / {_fmt(_mean_solved(own['seeds']))}"
        mean = _mean_solved(g["seeds"])
        lines.append(_line([key, _task(row), _net(row), how, *_measured(g), paper_setup,
                            _fmt(row.sequences), _ratio(mean, row)]))  # fmt: skip
    return lines


def _best_lstm(got: dict[str, dict[str, Any]], row: PaperRow) -> str:
    """Our LSTM's most seeds solved by one row on the task and parameters of ``row``."""
    best: tuple[float, str] | None = None
    for other in ROWS:
        lstm = got.get(other.key)
        if lstm and (other.task, other.params) == (row.task, row.params):
            n, ok = len(lstm["seeds"]), sum(s.solved for s in lstm["seeds"])
            if best is None or ok / n > best[0]:
                best = (ok / n, f"{ok}/{n} ({other.key})")
    return best[1] if best is not None else "not run"


def baseline_lines(got: dict[str, dict[str, Any]], base: Baselines) -> list[str]:
    """The baseline table: each baseline net measured on a paper row's task, beside our LSTM's
    best row on that task and the paper's verdict on other methods (`BASELINE_VERDICTS`)."""
    cols = ["exp.", "task", "net", "weights", "lr", *MEASURED, "our LSTM (best row)",
            "the paper on baselines"]  # fmt: skip
    lines = _table(
        "Baselines on the paper's protocol",
        "Other nets on the tasks of the rows named, trained like the LSTM (on-line SGD, one"
        " sequence per update, the same stopping rule, readings and final test; specs in"
        " `studies/paper/baselines/`), sized by weight count like the experiment's LSTM. our"
        " LSTM: the most seeds solved by one of its rows above (that row in brackets)."
        " Experiments without a measured baseline are not listed.",
        cols,
    )
    for (key, name, weights, lr), g in sorted(
        base.items(), key=lambda kv: (ORDER[kv[0][0]], kv[0])
    ):
        row = BY_KEY[key]
        lines.append(_line([experiment(row), _task(row), name, _fmt(weights), f"{lr:g}",
                            *_measured(g), _best_lstm(got, row),
                            BASELINE_VERDICTS.get(experiment(row), "-")]))  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1 :]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--storage", default=DEFAULT_STORAGE)
    ap.add_argument("--only", default="", help="comma-separated parts of spec file names")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    failed = []
    if not args.report_only:
        only = [s for s in args.only.split(",") if s]
        specs = [
            p for d in ("", "variants", "baselines") for p in sorted((SPECS / d).glob("*.toml"))
        ]
        for spec in (s for s in specs if not only or any(o in s.name for o in only)):
            if launch(spec, args.storage, extra) != 0:
                failed.append(spec.name)
    lines = report(args.storage)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    if failed:
        print(f"study-launch failed for: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
