"""``study-report STUDY --out DIR``: every figure as PNG and SVG (plotly's static export through
kaleido and the installed Chromium, offline) and every table as CSV, titled with the context."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from dash_helpers import ROOT, StudyDb, db_rows, launch_env

from dashboard.screenshot import CHROMIUM

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")


def report(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("study-report")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "dashboard.report"]
    return subprocess.run(
        [*cmd, *args], cwd=ROOT, env=launch_env(), capture_output=True, text=True, timeout=300
    )


def test_study_report_writes_figures_and_tables(study_db: StudyDb, tmp_path: Path) -> None:
    out = tmp_path / "rep"
    done = report("dash-map", "--out", str(out), "--storage", study_db.url)
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr
    names = {p.name for p in out.iterdir()}
    best = max(db_rows(study_db.path, "dash-map"), key=lambda t: (t["success_rate"], -t["number"]))
    for stem in ("robustness-map", "lag-curves", f"trial-{best['number']}-curves", "interaction"):
        assert {f"{stem}.png", f"{stem}.svg"} <= names, names
        png = (out / f"{stem}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
        svg = (out / f"{stem}.svg").read_text()
        assert "dash-map" in svg and "noise_free_2a" in svg and "literal" in svg  # the title
    for stem in ("map-cells", "robust-region", "lag-curves", "interaction"):
        rows = list(csv.DictReader((out / f"{stem}.csv").open()))
        assert rows and rows[0]["study"] == "dash-map" and "2,000" in rows[0]["context"]
    cells = list(csv.DictReader((out / "map-cells.csv").open()))
    rows = db_rows(study_db.path, "dash-map")
    assert sum(int(r["n_seeds"]) for r in cells) == sum(t["n_seeds"] for t in rows)
    assert "model" in (out / "summary.txt").read_text()


def test_study_report_unknown_study(study_db: StudyDb, tmp_path: Path) -> None:
    done = report("nope", "--out", str(tmp_path / "x"), "--storage", study_db.url)
    assert done.returncode == 2
    assert "no study 'nope'" in done.stderr and "dash-map" in done.stderr
    assert not (tmp_path / "x").exists()
