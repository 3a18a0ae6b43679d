"""`make reproduce`'s report (`benchmarks.reproduce`): every paper row, measured or marked.

A tiny Exp. 1 study (two of Table 1's rows, 2 seeds, 250 sequences) is launched for real into
SQLite; the report then has those rows measured from its seed rows, and every other row of
Tables 1-9 marked "not run", with the paper's numbers beside each.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from benchmarks.reproduce import main, row_of
from workers.tasks.paper_rows import ROWS

ROOT = Path(__file__).resolve().parents[2]
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
    report = tmp_path / "paper.md"
    assert main(["--storage", url, "--report-only", "--out", str(report)]) == 0
    lines = [ln for ln in report.read_text().splitlines() if ln.startswith("| ")][1:]
    assert [ln.split(" | ")[0].strip("| ") for ln in lines] == [r.key for r in ROWS]
    by_key = {ln.split(" | ")[0].strip("| "): ln.split(" | ") for ln in lines}
    con = sqlite3.connect(db)
    solved = dict(
        con.execute(
            "SELECT t.config, SUM(s.solved) FROM carousel_trials t JOIN carousel_seeds s"
            " ON s.trial_id = t.id GROUP BY t.id"
        ).fetchall()
    )
    con.close()
    assert len(solved) == 2
    for config, n in solved.items():
        row = row_of("embedded_reber", json.loads(config))
        assert row is not None and row.key in ("1-2", "1-5")
        cells = by_key[row.key]
        assert cells[3] == "2" and cells[4] == "250" and cells[5] == f"{n}/2"
        assert cells[11] == f"{row.sequences:,}"
    for key in ("1-1", "1-3", "1-4", "4-1", "6b"):
        assert by_key[key][3] == "not run"
    assert "8,440" in " ".join(by_key["1-5"])
