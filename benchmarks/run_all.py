"""Run every benchmark in sequence, each in its own process, and print a summary (`make bench`).

In order: trainer_speed, roofline, kernel_ab (the kernels against the commit before the
`workers/kernels/` package), denormals, ray_scaling, map_time (default mode: the stratified sample
and the projection), successor_speed, dashboard_query (a colleague's module: its ``main()`` is
called when it can be imported, otherwise it is skipped with a message), real_reference (1-NN
accuracies on the real-data tasks), exp1_variants (Exp. 1's Table 1 rows and variants) and
exp1_diagnosis (where Exp. 1's failing seeds go wrong). Each
writes its table to benchmarks/results/. Every benchmark runs as ``sys.executable -m
benchmarks.<name>`` in a subprocess, so one benchmark's threads, numba caches and Ray session
cannot leak into the next one's timings.

    python -m benchmarks.run_all [--quick] [--only roofline,ray_scaling] [--skip map_time]

``--quick`` passes ``--quick`` to the benchmarks that have it (trainer_speed, roofline,
ray_scaling, successor_speed, exp1_variants). Exit status 1 if any benchmark failed (a skipped
one is not a failure).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BENCHES: tuple[tuple[str, str, bool], ...] = (
    # (module, results file, takes --quick)
    ("trainer_speed", "trainer_speed.md", True),
    ("roofline", "roofline.md", True),
    ("kernel_ab", "kernel_ab.md", False),
    ("denormals", "denormals.md", False),
    ("ray_scaling", "ray_scaling.md", True),
    ("map_time", "map_time.md", False),
    ("successor_speed", "successor_speed.md", True),
    ("dashboard_query", "dashboard_query.md", False),
    ("real_reference", "real_reference.md", False),
    ("exp1_variants", "exp1_variants.md", True),
    ("exp1_diagnosis", "exp1_diagnosis.md", False),
)
CALL_MAIN = "import sys, benchmarks.{0} as m; sys.exit(m.main() or 0)"
PROBE = "import benchmarks.{0} as m; assert callable(m.main)"


def command(name: str, quick: bool, takes_quick: bool) -> list[str] | None:
    """The subprocess command, or None when the module cannot be imported (skip)."""
    if name == "dashboard_query":  # a colleague's module: call its main() if importable
        probe = subprocess.run(
            [sys.executable, "-c", PROBE.format(name)], cwd=ROOT, capture_output=True, text=True
        )
        if probe.returncode != 0:
            err = (probe.stderr.strip().splitlines() or ["?"])[-1]
            print(f"skip {name}: benchmarks.{name}.main is not importable ({err})", flush=True)
            return None
        return [sys.executable, "-c", CALL_MAIN.format(name)]
    return [
        sys.executable,
        "-m",
        f"benchmarks.{name}",
        *(["--quick"] if quick and takes_quick else []),
    ]


def headline(path: Path, since: float) -> list[str]:
    """The bold figures of a results file written by this run."""
    if not path.exists() or path.stat().st_mtime < since:
        return ["(no results file written by this run)"]
    return [ln.strip() for ln in path.read_text().splitlines() if "**" in ln][:6]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="pass --quick where supported")
    ap.add_argument("--only", default="", help="comma-separated benchmark names to run")
    ap.add_argument("--skip", default="", help="comma-separated benchmark names to leave out")
    args = ap.parse_args()
    only = {s for s in args.only.split(",") if s}
    skip = {s for s in args.skip.split(",") if s}
    known = {b[0] for b in BENCHES}
    if unknown := (only | skip) - known:
        ap.error(f"unknown benchmark(s) {sorted(unknown)}; known: {sorted(known)}")
    print(f"load average (1/5/15 min): {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")
    summary = []
    t_all = time.perf_counter()
    for name, result, takes_quick in BENCHES:
        if (only and name not in only) or name in skip:
            continue
        print(f"\n=== {name} ===", flush=True)
        cmd = command(name, args.quick, takes_quick)
        if cmd is None:
            summary.append((name, "skipped", 0.0, []))
            continue
        since, t0 = time.time(), time.perf_counter()
        rc = subprocess.run(cmd, cwd=ROOT).returncode
        status = "ok" if rc == 0 else f"FAILED (exit {rc})"
        summary.append((name, status, time.perf_counter() - t0, headline(RESULTS / result, since)))
    print(f"\n=== summary ({time.perf_counter() - t_all:,.0f} s) ===")
    for name, status, secs, lines in summary:
        print(f"{name:16s} {status:18s} {secs:7.0f} s")
        for ln in lines:
            print(f"    {ln}")
    return 1 if any(s.startswith("FAILED") for _, s, _, _ in summary) else 0


if __name__ == "__main__":
    sys.exit(main())
