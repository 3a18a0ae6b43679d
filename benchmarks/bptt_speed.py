"""The 1997 net by BPTT (full gradient, forget gate): the compiled kernel against torch autograd.

`workers.kernels.lstm1997_bptt` (K seeds, one update per sequence) against `TorchBackend` on
the same `models.lstm1997.Lstm1997` (what the trainer used for these variants before the kernel
existed), both through the trainer's ``train_block``, on the shapes the studies sweep them on:
the adding problem at T = 50 (the paper's 93-weight net, `studies/robustness/adding_topology*`:
the full gradient, and the truncated one with a forget gate) and the embedded Reber grammar
(Exp. 1's 3 x 2 net, 276 weights, error at every step, full gradient;
`studies/paper/variants/exp1_full_gradient.toml`). The truncated kernel's rate (the 1997 cell,
forward in time) is printed beside them for scale. One thread, CPU time of the thread (the
machine is shared), float64; sequences per CPU second over all K seeds. Prints the table and
writes benchmarks/results/bptt_speed.md.

    python -m benchmarks.bptt_speed
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.registry import build_model
from workers.backends import KernelBackend, LaneBatch, TorchBackend
from workers.config import ModelSpec
from workers.remote import pin_threads
from workers.tasks import make_task
from workers.trainer import longest_sequence

RESULTS = Path(__file__).parent / "results" / "bptt_speed.md"
CLOCK = time.thread_time
CASES: tuple[tuple[str, dict[str, int], ModelSpec, float], ...] = (
    ("adding", {"T": 50}, ModelSpec(gradient="full"), 0.5),
    ("adding", {"T": 50}, ModelSpec(forget_gate=True), 0.5),
    ("embedded_reber", {}, ModelSpec(blocks=3, cells_per_block=2, gradient="full"), 0.5),
)


def rate(backend: object, lb: LaneBatch, K: int, n: int, lr: float) -> float:
    """Sequences per CPU second over K lanes of one ``train_block`` of n sequences each."""
    backend.train_block(lb, np.full(K, 2), lr)  # type: ignore[attr-defined]  # compile / warm up
    t0 = CLOCK()
    backend.train_block(lb, np.full(K, n), lr)  # type: ignore[attr-defined]
    return K * n / (CLOCK() - t0)


def model(task: Any, K: int, spec: ModelSpec) -> Any:
    """K nets of ``spec`` on ``task``, seeds 0..K-1, the paper's initial range."""
    return build_model(
        spec, task.paper, task.n_inputs, task.n_outputs,
        [np.random.default_rng(k) for k in range(K)], task.paper.init_range,
        seq_len=longest_sequence(task),
    )  # fmt: skip


def main() -> int:
    pin_threads()
    rows = []
    head = (
        "| task | net | rule | weights | K | BPTT kernel | torch | x | truncated kernel |\n"
        "|---|---|---|---:|---:|---:|---:|---:|---:|"
    )
    print(head)
    for task_name, params, spec, lr in CASES:
        task = make_task(task_name, **params)
        for K in (4, 16):
            lanes = [task.sample(np.random.default_rng(50 + k), 400) for k in range(K)]
            lb = LaneBatch.stack(lanes)
            m = model(task, K, spec)
            kern = rate(KernelBackend(m), lb, K, 400, lr)
            slow = rate(TorchBackend(m), lb, K, 25, lr)
            plain = dataclasses.replace(spec, gradient="truncated", forget_gate=False)
            fwd = rate(KernelBackend(model(task, K, plain)), lb, K, 400, lr)
            lay = m.layout
            rule = "full gradient" if spec.gradient == "full" else "truncated, forget gate"
            row = (
                f"| {task_name} {params or ''} | {lay.blocks}x{lay.cells_per_block} | {rule} "
                f"| {m.n_weights} | {K} | {kern:,.0f} | {slow:,.0f} | **{kern / slow:,.0f}x** "
                f"| {fwd:,.0f} |"
            )
            print(row, flush=True)
            rows.append(row)
    text = [
        "# The 1997 net by BPTT (full gradient, forget gate): compiled kernel vs torch autograd",
        "",
        f"`python -m benchmarks.bptt_speed`, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, one thread, float64, torch "
        f"{torch.__version__}, load average {os.getloadavg()[0]:.1f} at the end; training "
        "sequences per CPU second over all K seeds, one update per sequence (400 sequences per "
        "seed for the kernels, 25 for torch). truncated kernel: the 1997 cell (no forget gate) by "
        "the forward-in-time kernel, for scale.",
        "",
        head,
        *rows,
    ]
    RESULTS.write_text("\n".join(text) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
