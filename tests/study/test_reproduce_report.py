"""`make reproduce`'s report (`benchmarks.reproduce`): every paper row, measured or marked.

A tiny Exp. 1 study (two of Table 1's rows, 2 seeds, 250 sequences) and a tiny Elman baseline
on the same task are launched for real into SQLite; the report then has those rows measured
from their seed rows, every other row of Tables 1-9 marked "not run" with the paper's numbers
beside each, and the baseline in its own table beside the paper's verdict on Table 1's baselines.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from benchmarks.reproduce import main
from workers.tasks.paper_rows import BASELINE_VERDICTS, ROWS, baseline_row_for, row_for

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LR = """\
name = "repro-default"
task = "embedded_reber"
models = ["lstm1997"]
seeds = 2
max_sequences = 250
paper_experiment = "1"
"""
"""No lr, no topology: the paper's 3x2 net at lr 0.1 (Table 10 row 1-2), resolved by the trainer."""
SPEC = """\
name = "repro-reber"
task = "embedded_reber"
models = ["lstm1997"]
seeds = 2
max_sequences = 250
paper_experiment = "1"

[space]
lr = [0.1, 0.5]

[space.lstm1997]
blocks = 3
cells_per_block = 2
"""

BASELINE = """\
name = "repro-elman"
task = "embedded_reber"
models = ["elman"]
seeds = 2
max_sequences = 250
paper_experiment = "1"
"""
VARIANT = """\
name = "repro-no-fprime"
task = "embedded_reber"
models = ["lstm1997"]
seeds = 2
max_sequences = 250
output_delta = "no_fprime"
"""
"""Row 1-2's net (the paper's default) with one change: a measured variant, not row 1-2."""


def test_report_has_every_paper_row_and_measures_the_ones_run(tmp_path: Path) -> None:
    spec = tmp_path / "reber.toml"
    spec.write_text(SPEC)
    db = tmp_path / "r.db"
    url = f"sqlite:///{db}"
    out = subprocess.run(
        [sys.executable, "-m", "study.cli", str(spec), "--storage", url, "--no-progress"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    for name, text in (
        ("default.toml", DEFAULT_LR), ("elman.toml", BASELINE), ("variant.toml", VARIANT)
    ):  # fmt: skip
        (tmp_path / name).write_text(text)
        out = subprocess.run(
            [sys.executable, "-m", "study.cli", str(tmp_path / name), "--storage", url,
             "--no-progress"], cwd=ROOT, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert out.returncode == 0, out.stdout + out.stderr
    report = tmp_path / "paper.md"
    assert main(["--storage", url, "--report-only", "--out", str(report)]) == 0
    paper, rest = report.read_text().split("## Measured variants")
    variants, baselines = rest.split("## Baselines on the paper's protocol")
    lines = [ln for ln in paper.splitlines() if ln.startswith("| ")][1:]
    assert [ln.split(" | ")[0].strip("| ") for ln in lines] == [r.key for r in ROWS]
    by_key = {ln.split(" | ")[0].strip("| "): ln.split(" | ") for ln in lines}
    con = sqlite3.connect(db)
    solved = con.execute(
        "SELECT t.config, SUM(s.solved) FROM carousel_trials t JOIN carousel_seeds s"
        " ON s.trial_id = t.id GROUP BY t.id"
    ).fetchall()
    con.close()
    elman = [(json.loads(c), n) for c, n in solved if json.loads(c)["model"]["name"] == "elman"]
    variant = [(json.loads(c), n) for c, n in solved if json.loads(c)["output_delta"]]
    solved = [(c, n) for c, n in solved if (json.loads(c)["model"]["name"], json.loads(c)[
        "output_delta"]) == ("lstm1997", None)]  # fmt: skip
    assert len(solved) == 3 and len(elman) == 1 and len(variant) == 1
    per_row: dict[str, list[int]] = {}
    for config, n in solved:
        cfg = json.loads(config)
        trained = cfg["trained"]  # what the trial trained with, every default resolved
        assert trained["lr"] == (cfg["lr"] if cfg["lr"] is not None else 0.1)
        assert trained["weights"] == 276 and trained["update"] == "step"
        assert (trained["blocks"], trained["cells_per_block"]) == (3, 2)
        row = row_for("embedded_reber", cfg)
        assert row is not None and row.key in ("1-2", "1-5")
        per_row.setdefault(row.key, []).append(n)
    assert sorted(len(v) for v in per_row.values()) == [1, 2]  # the default study is row 1-2
    for key, ns in per_row.items():
        cells = by_key[key]
        seeds = 2 * len(ns)
        assert cells[4] == str(seeds) and cells[5] == "250" and cells[6] == f"{sum(ns)}/{seeds}"
        assert cells[12] == f"{next(r.sequences for r in ROWS if r.key == key):,}"
    for key in ("1-1", "1-3", "1-4", "4-1", "6b"):
        assert by_key[key][4] == "not run"
    assert by_key["4-2"][2] == "T=500" and by_key["1-5"][2] == "-"  # the row's task parameters
    assert "8,440" in " ".join(by_key["1-5"])
    # the variant: its own line under the row it varies, beside that row's paper-setup result
    ((cfg, n),) = variant
    assert row_for("embedded_reber", cfg) is None
    vrows = [ln.split(" | ") for ln in variants.splitlines() if ln.startswith("| 1-2 ")]
    assert len(vrows) == 1, variants
    v = vrows[0]
    assert (v[2], v[3], v[4], v[5], v[6]) == ("3x2 lr 0.1", "output delta no_fprime", "2", "250",
                                              f"{n}/2")  # fmt: skip
    assert v[12].startswith(f"{sum(per_row['1-2'])}/4 / ") and v[13] == "21,730"
    # the baseline: never a paper row, its own line beside our best LSTM row and the paper's word
    ((cfg, n),) = elman
    assert row_for("embedded_reber", cfg) is None
    assert baseline_row_for("embedded_reber", cfg) is not None
    rows = [ln.split(" | ") for ln in baselines.splitlines() if ln.startswith("| 1 ")]
    assert len(rows) == 1, baselines
    ((exp, task, net, weights, lr, seeds, budget, ok, *_, ours, verdict),) = rows
    assert (exp, task) == ("| 1", "-")
    assert (net, weights, lr, seeds, budget) == ("elman", "293", "0.1", "2", "250")
    assert ok == f"{n}/2" and ours.endswith(")") and "/" in ours
    assert verdict.strip(" |") == BASELINE_VERDICTS["1"]


def test_a_baseline_belongs_to_its_task_row_only_on_the_paper_protocol() -> None:
    cfg = {"model": {"name": "gru"}, "task_params": {"T": 500}, "trained": {"name": "gru"}}
    row = baseline_row_for("adding", cfg)
    assert row is not None and row.key == "4-2"
    assert baseline_row_for("adding", {**cfg, "protocol": "modern"}) is None
    assert baseline_row_for("adding", {**cfg, "task_params": {"T": 200}}) is None
    assert baseline_row_for("adding", {**cfg, "model": {"name": "lstm1997"}, "trained": {}}) is None


def test_a_measured_variant_is_never_counted_in_a_paper_row() -> None:
    """A trial that trained a variant of the paper's setup (no f', the modern protocol, another
    init range, gates, a forget gate, gate bias or gradient) is not one of the paper's rows: it once
    would have been pooled into row 5-1 beside the paper's own configuration."""
    paper = {
        "task_params": {"T": 100, "n_seq": 140},
        "model": {"name": "lstm1997"},
        "trained": {"name": "lstm1997", "blocks": 2, "cells_per_block": 2, "lr": 0.1,
                    "init_range": 0.1, "weights": 93, "output_delta": "paper",
                    "protocol": "paper", "update": "sequence"},
    }  # fmt: skip
    row = row_for("multiplication", paper)
    assert row is not None and row.key == "5-1"
    for change in (
        {"trained": {**paper["trained"], "output_delta": "no_fprime"}},
        {"trained": {**paper["trained"], "protocol": "modern"}},
        {"trained": {**paper["trained"], "init_range": 0.2}},
        {"model": {"name": "lstm1997", "gates": "input"}},
        {"model": {"name": "lstm1997", "forget_gate": True}},
        {"model": {"name": "lstm1997", "gate_bias": "zero"}},
        {"model": {"name": "lstm1997", "gradient": "full"}},
        {"update": "step"},
        {"trained": {**paper["trained"], "construction": "sequential"}},
    ):
        assert row_for("multiplication", {**paper, **change}) is None, change
