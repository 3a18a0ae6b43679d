"""The 1997 net's full gradient (BPTT): the compiled kernel against batched torch autograd.

`workers.kernels.lstm1997_bptt` (K seeds, one update per sequence) against `TorchBackend` on
the same `models.lstm1997.Lstm1997` with ``gradient="full"`` (what the trainer used for the full
gradient before the kernel existed), both through the trainer's ``train_block``, on the shapes
the studies sweep the gradient on: the adding problem at T = 50 (the paper's 93-weight net,
`studies/robustness/adding_topology*.toml`) and the embedded Reber grammar (Exp. 1's 3 x 2 net,
276 weights, error at every step; `studies/paper/variants/exp1_full_gradient.toml`). The
truncated kernel's rate is printed beside them for scale. One thread, CPU time of the thread
(the machine is shared), float64; sequences per CPU second over all K seeds. Prints the table
and writes benchmarks/results/full_gradient_speed.md.

    python -m benchmarks.full_gradient_speed
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

RESULTS = Path(__file__).parent / "results" / "full_gradient_speed.md"
CLOCK = time.thread_time
CASES: tuple[tuple[str, dict[str, int], ModelSpec, float], ...] = (
    ("adding", {"T": 50}, ModelSpec(), 0.5),
    ("embedded_reber", {}, ModelSpec(blocks=3, cells_per_block=2), 0.5),
)


def rate(backend: object, lb: LaneBatch, K: int, n: int, lr: float) -> float:
    """Sequences per CPU second over K lanes of one ``train_block`` of n sequences each."""
    backend.train_block(lb, np.full(K, 2), lr)  # type: ignore[attr-defined]  # compile / warm up
    t0 = CLOCK()
    backend.train_block(lb, np.full(K, n), lr)  # type: ignore[attr-defined]
    return K * n / (CLOCK() - t0)


def main() -> int:
    pin_threads()
    rows = []
    head = (
        "| task | net | weights | K | full: kernel | full: torch | x | truncated kernel |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|"
    )
    print(head)
    for task_name, params, spec, lr in CASES:
        task = make_task(task_name, **params)
        for K in (4, 16):
            lanes = [task.sample(np.random.default_rng(50 + k), 400) for k in range(K)]
            lb = LaneBatch.stack(lanes)
            rates = {}
            for gradient in ("full", "truncated"):
                m = build_model(
                    dataclasses.replace(spec, gradient=gradient), task.paper,
                    task.n_inputs, task.n_outputs, [np.random.default_rng(k) for k in range(K)],
                    task.paper.init_range, seq_len=longest_sequence(task),
                )  # fmt: skip
                rates[gradient, "kernel"] = rate(KernelBackend(m), lb, K, 400, lr)
                if gradient == "full":
                    rates[gradient, "torch"] = rate(TorchBackend(m), lb, K, 25, lr)
            full_k, full_t = rates["full", "kernel"], rates["full", "torch"]
            lay: Any = m.layout
            row = (
                f"| {task_name} {params or ''} | {lay.blocks}x{lay.cells_per_block} "
                f"| {m.n_weights} | {K} | {full_k:,.0f} | {full_t:,.0f} "
                f"| **{full_k / full_t:,.0f}x** | {rates['truncated', 'kernel']:,.0f} |"
            )
            print(row, flush=True)
            rows.append(row)
    text = [
        "# The 1997 net's full gradient: compiled BPTT kernel vs batched torch autograd",
        "",
        f"`python -m benchmarks.full_gradient_speed`, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, one thread, float64, torch "
        f"{torch.__version__}, load average {os.getloadavg()[0]:.1f} at the end; training "
        "sequences per CPU second over all K seeds, one update per sequence (400 sequences per "
        "seed for the kernels, 25 for torch).",
        "",
        head,
        *rows,
    ]
    RESULTS.write_text("\n".join(text) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
