"""Both compiled kernels before and after a code change, measured side by side in one run.

Checks out ``--before`` (default: the commit before the kernels became the `workers/kernels/`
package, the monolithic 1997 `_run`) into a temporary git worktree, and runs the same timing
child in that tree and in this one, alternating (before, after, before, after, ...), so both
see the same machine state. The child times one call shape per row on fixed data (plain numpy,
the same in both trees):

* the 1997 net (the paper's adding net, 93 weights), K=64 lanes x 250 sequences, T=100, lr 1e-9;
* the baselines (Elman H=8, GRU H=4, forget-gate LSTM H=4), K=16 lanes x 50 sequences, T=100;

in float64 and float32, sequences per CPU second of this process (best of a few calls; other
load distorts CPU time less than wall time). It also trains each row once at lr 0.1 from the
same weights in both trees and reports the largest weight difference, so a change that is only
meant to restructure the code shows that it computes the same numbers.

    python -m benchmarks.kernel_ab [--before REV] [--rounds N]

Writes benchmarks/results/kernel_ab.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "kernel_ab.md"
DEFAULT_BEFORE = "8ee347b^"
"""The last commit with `workers/kernel.py` (one 515-line `_run`) and `kernel_baselines.py`."""

CHILD = r"""
import json, sys, time
import numpy as np
from workers.remote import pin_threads
pin_threads()
from models.layout import Lstm1997Layout
try:  # the kernels package (Nets + Block)
    from workers.kernels import Block
    from workers.kernels import baselines as bk
    from workers.kernels import lstm1997 as lk
    NEW = True
except ImportError:  # the two modules before it (positional arguments)
    from workers import kernel as lk
    from workers import kernel_baselines as bk
    NEW = False

out_path = sys.argv[1]
NAMES = ("W_ih", "W_hh", "b_ih", "b_hh", "W_o", "b_o")
GATES = {"elman": 1, "gru": 3, "lstm_forget": 4}


def data(rng, K, B, T, I):
    lengths = rng.integers(T, T + T // 10 + 1, size=(K, B)).astype(np.int32)
    Tm = int(lengths.max())
    live = np.arange(Tm)[None, None, :] < lengths[:, :, None]
    idx = np.zeros((K, B, Tm, 2), np.int32)
    idx[..., 1] = live * (I - 1)
    val = np.zeros((K, B, Tm, 2))
    val[..., 0] = rng.uniform(-1, 1, (K, B, Tm)) * live
    val[..., 1] = (rng.random((K, B, Tm)) < 2 / T) * live
    targets = rng.random((K, B, 1, 1))
    steps = (lengths - 1)[..., None].astype(np.int32)
    return idx, val, lengths, targets, steps


def lstm_row(dt):
    lay = Lstm1997Layout(2, 1, 2, 2)
    rng = np.random.default_rng(0)
    K, B = 64, 250
    Wh0 = rng.uniform(-0.1, 0.1, (K, *lay.mask_h.shape)) * lay.mask_h
    Wo0 = rng.uniform(-0.1, 0.1, (K, *lay.mask_o.shape)) * lay.mask_o
    idx, val, lengths, targets, steps = data(rng, K, B, 100, 2)
    n_seq = np.full(K, B, np.int64)
    cfg = lk.kernel_config(lay)

    def call(Wh, Wo, lr):
        out = np.zeros((K, B, 1, 1), dt)
        if NEW:
            nets = lk.Nets(Wh, Wo, lay.mask_h, lay.mask_o, cfg)
            lk.train_block(nets, Block(idx, val, lengths, targets, steps), n_seq, lr, out)
        else:
            lk.train_block(Wh, Wo, lay.mask_h, lay.mask_o, idx, val, lengths, targets, steps,
                           n_seq, lr, cfg, out)

    return K * B, call, lambda: [np.ascontiguousarray(Wh0, dt), np.ascontiguousarray(Wo0, dt)]


def baseline_row(kind, H, dt):
    rng = np.random.default_rng(1)
    K, B, I, G = 16, 50, 2, GATES[kind] * H
    shapes = {"W_ih": (K, G, I), "W_hh": (K, G, H), "b_ih": (K, G), "b_hh": (K, G),
              "W_o": (K, 1, H), "b_o": (K, 1)}
    p0 = {n: rng.uniform(-0.1, 0.1, shapes[n]) for n in NAMES}
    idx, val, lengths, targets, steps = data(rng, K, B, 100, I)
    n_seq = np.full(K, B, np.int64)

    def call(params, lr):
        out = np.zeros((K, B, 1, 1), dt)
        if NEW:
            bk.train_block(bk.Nets(kind, params), Block(idx, val, lengths, targets, steps),
                           n_seq, lr, out)
        else:
            bk.train_block(kind, params, idx, val, lengths, targets, steps, n_seq, lr, out)

    return K * B, call, lambda: [
        {n: np.ascontiguousarray(p0[n], dt) for n in NAMES}]


def measure(n, call, fresh, repeats=5):
    W = fresh()
    call(*W, 1e-9)  # compile / load the numba cache outside the timing
    best = np.inf
    for _ in range(repeats):
        t0 = time.process_time()
        call(*W, 1e-9)
        best = min(best, time.process_time() - t0)
    W = fresh()
    call(*W, 0.1)
    arrays = [a for w in W for a in (w.values() if isinstance(w, dict) else [w])]
    flat = np.concatenate([a.ravel() for a in arrays])
    return n / best, flat


rows, weights = {}, {}
for dt in (np.float64, np.float32):
    name = np.dtype(dt).name
    specs = [(f"lstm1997 2x2 K=64 {name}", lambda: lstm_row(dt))]
    for kind, H in (("elman", 8), ("gru", 4), ("lstm_forget", 4)):
        make = lambda kind=kind, H=H: baseline_row(kind, H, dt)  # noqa: E731
        specs.append((f"{kind} H={H} K=16 {name}", make))
    for label, make in specs:
        n, call, fresh = make()
        rate, flat = measure(n, call, fresh)
        rows[label] = rate
        weights[label] = flat
np.savez(out_path, **weights)
print(json.dumps(rows))
"""


def run_child(tree: Path, weights_out: Path) -> dict[str, float]:
    """One timing child in ``tree``: {row: sequences per CPU second}; weights to ``weights_out``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(weights_out)],
        cwd=tree, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"timing child in {tree} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default=DEFAULT_BEFORE, help="git revision to compare with")
    ap.add_argument("--rounds", type=int, default=3, help="before/after pairs (default 3)")
    args = ap.parse_args()
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    before = subprocess.run(
        ["git", "rev-parse", "--short", args.before], cwd=ROOT, capture_output=True, text=True,
        check=True,
    ).stdout.strip()  # fmt: skip
    dirty = bool(
        subprocess.run(
            ["git", "status", "--porcelain", "--", "workers", "models"],
            cwd=ROOT, capture_output=True, text=True,
        ).stdout.strip()
    )  # fmt: skip
    started = time.strftime("%Y-%m-%d %H:%M")
    with tempfile.TemporaryDirectory(prefix="carousel-ab-") as tmp:
        old_tree = Path(tmp) / "before"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(old_tree), before],
            cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
        try:
            runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
            for i in range(args.rounds):
                for side, tree in (("before", old_tree), ("after", ROOT)):
                    r = run_child(tree, Path(tmp) / f"{side}.npz")
                    runs[side].append(r)
                    rates = ", ".join(f"{k} {v:,.0f}" for k, v in r.items())
                    print(f"round {i + 1} {side}: {rates}", flush=True)
            w_before, w_after = np.load(Path(tmp) / "before.npz"), np.load(Path(tmp) / "after.npz")
            diffs = {k: float(np.max(np.abs(w_before[k] - w_after[k]))) for k in w_after.files}
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(old_tree)], cwd=ROOT,
                capture_output=True,
            )  # fmt: skip
    lines = [
        "# kernel_ab: the compiled kernels before and after, side by side",
        "",
        f"Measured {started} by `python -m benchmarks.kernel_ab --before {args.before}` "
        f"(before = {before}, after = {head}{' plus uncommitted changes' if dirty else ''}); "
        f"{args.rounds} alternating rounds, sequences per CPU second (best of 5 calls per "
        f"round), the table shows the median round; load average at the end "
        f"{' / '.join(f'{x:.2f}' for x in os.getloadavg())}.",
        "",
        "| row | before | after | **after / before** | rounds (after / before) "
        "| max weight difference after one lr 0.1 block |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for row in runs["after"][0]:
        b = [r[row] for r in runs["before"]]
        a = [r[row] for r in runs["after"]]
        per_round = ", ".join(f"{x / y:.2f}" for x, y in zip(a, b, strict=True))
        lines.append(
            f"| {row} | {np.median(b):,.0f} | {np.median(a):,.0f} "
            f"| **{np.median(a) / np.median(b):.2f}** | {per_round} | {diffs[row]:.1e} |"
        )
    lines += [
        "",
        "Rows: the 1997 net is the paper's adding net (2 blocks x 2 cells, 93 weights), K=64 lanes "
        "x 250 sequences of T=100-110 per call; the baselines run K=16 lanes x 50 sequences. "
        "The weight difference compares the two trees' weights after one block at lr 0.1 from "
        "the same start (0 = bitwise the same).",
    ]
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
