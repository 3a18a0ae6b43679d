"""K seeds of a TCN / Transformer trained as one vectorised computation vs one seed at a time.

For each successor model (sized like the paper's 93-weight net on the adding problem, K = 16
seeds) and each protocol (paper: on-line SGD, one sequence per update; modern: Adam, 32
sequences per update), in one run on one core:

* vectorised: the 16 seeds in one module (every op serves the 16 nets);
* per-seed loop: 16 one-seed modules of the same code, one after the other, i.e. what a Python
  loop over seeds costs.

Measured twice: a training block (`TorchBackend.train_block`, the trainer's unit of work) and
``workers.trainer.train`` end to end (``seeds=16`` against ``seeds=1`` for each of the same
seeds via ``replicate_offset``). CPU time of the thread, not wall time, since the machine is
shared. The learning rate is tiny so no seed stops early.
Prints the table and writes benchmarks/results/successor_speed.md.

    python -m benchmarks.successor_speed [--quick] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from models.registry import build_model
from workers.backends import LaneBatch, TorchBackend
from workers.config import ModelSpec, TrialConfig
from workers.protocols import recipe
from workers.remote import pin_threads
from workers.tasks import make_task
from workers.trainer import longest_sequence, train

RESULTS = Path(__file__).parent / "results" / "successor_speed.md"
K = 16
B = 250
CLOCK = time.thread_time
"""CPU time of this thread: robust on a shared, loaded machine (wall time is not)."""


HEAD = (
    "| model | weights | protocol | T | K | block vectorised | block per-seed loop | x "
    "| end to end vectorised | end to end loop | x |"
)
RULE = "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"


def block_rates(name: str, protocol: str, T: int, device: str) -> tuple[float, float, int]:
    """(vectorised, per-seed loop) training sequences per CPU second of one training block of
    250 sequences per seed (the trainer's unit of work), and the weights of one net."""
    task = make_task("adding", T=T)
    spec = ModelSpec(name=name)
    L = longest_sequence(task)
    rngs = [np.random.default_rng(k) for k in range(K)]
    lanes = [task.sample(np.random.default_rng(100 + k), B) for k in range(K)]
    rec = recipe(name, protocol)

    def backend(ks: list[int]) -> TorchBackend:
        m = build_model(spec, task.paper, task.n_inputs, task.n_outputs, [rngs[k] for k in ks],
                        0.1, dtype=torch.float32, seq_len=L)  # fmt: skip
        return TorchBackend(m, device=device, recipe=rec)

    vec = backend(list(range(K)))
    lb = LaneBatch.stack(lanes)
    t0 = CLOCK()
    vec.train_block(lb, np.full(K, B), 1e-9)
    t_vec = CLOCK() - t0
    t_loop = 0.0
    for k in range(K):
        one, lb1 = backend([k]), LaneBatch.stack([lanes[k]])
        t0 = CLOCK()
        one.train_block(lb1, np.full(1, B), 1e-9)
        t_loop += CLOCK() - t0
    weights = build_model(spec, task.paper, task.n_inputs, task.n_outputs, rngs[:1], 0.1,
                          seq_len=L).n_weights  # fmt: skip
    return K * B / t_vec, K * B / t_loop, int(weights)


def end_to_end(cfg: TrialConfig) -> tuple[float, float]:
    """(vectorised, per-seed loop) sequences per CPU second of `train` end to end, the
    one-off final test of 2560 sequences per seed included."""
    t0 = CLOCK()
    train(cfg)
    t_vec = CLOCK() - t0
    t0 = CLOCK()
    for i in range(cfg.seeds):
        train(TrialConfig.from_dict({**cfg.to_dict(), "seeds": 1, "replicate_offset": i}))
    t_loop = CLOCK() - t0
    n = cfg.seeds * cfg.max_sequences
    return n / t_vec, n / t_loop


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller budgets (noisier)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    ap.add_argument("--T", type=int, default=100, help="adding problem length (default 100)")
    args = ap.parse_args()
    pin_threads()
    rows = []
    budget = {"paper": 500, "modern": 2000} if not args.quick else {"paper": 250, "modern": 1000}
    print(HEAD)
    print(RULE)
    for name in ("tcn", "transformer"):
        for protocol in ("paper", "modern"):
            vec, per, weights = block_rates(name, protocol, args.T, args.device)
            cfg = TrialConfig(
                task="adding", task_params={"T": args.T}, model=ModelSpec(name=name), lr=1e-9,
                seeds=K, protocol=protocol, device=args.device, precision="float32",
                max_sequences=budget[protocol],
            )  # fmt: skip
            e_vec, e_per = end_to_end(cfg)
            row = (
                f"| {name} | {weights} | {protocol} | {args.T} | {K} | {vec:,.0f} | {per:,.0f} | "
                f"**{vec / per:.1f}x** | {e_vec:,.0f} | {e_per:,.0f} | {e_vec / e_per:.1f}x |"
            )
            print(row, flush=True)
            rows.append(row)
    header = [
        "# Successor speed: K seeds vectorised vs a per-seed loop",
        "",
        f"`python -m benchmarks.successor_speed{' --quick' if args.quick else ''}"
        f"{'' if args.device == 'cpu' else ' --device ' + args.device}`, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, one thread, float32, device "
        f"{args.device}, load average {os.getloadavg()[0]:.1f} at the end (a shared machine: "
        "rates move with the other jobs; the ratio is measured in one run).",
        "",
        "Training sequences per CPU second over all 16 seeds. *block*: one training block of",
        f"{B} sequences per seed through `TorchBackend.train_block` (16 seeds in one module vs 16",
        "one-seed modules in a loop). *end to end*: `train()` with the final test of 2560",
        "sequences per seed (budget 500 sequences per seed on-line, 2000 modern). Nets sized like",
        "the paper's 93-weight adding net; paper protocol = on-line SGD, one sequence per update;",
        "modern = Adam(W), 32 sequences per update.",
        "",
        HEAD,
        RULE,
    ]
    RESULTS.write_text("\n".join(header + rows) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
