"""The generators are vectorised: a lenient throughput floor that a per-step loop would miss."""

from __future__ import annotations

import time

import numpy as np

from workers.tasks import make_task


def throughput(name: str, blocks: int = 20, **params: int) -> float:
    task = make_task(name, **params)
    rng = np.random.default_rng(0)
    task.sample(rng, 1000)
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(blocks):
            task.sample(rng, 1000)
        best = max(best, blocks * 1000 / (time.perf_counter() - t0))
    return best


def test_adding_generates_fast() -> None:
    # Measured ~500k sequences/s on one core; 50k/s leaves room for a loaded CI machine.
    assert throughput("adding", T=100) > 50_000


def test_long_lag_2c_generates_fast() -> None:
    assert throughput("long_lag_2c", blocks=5, q=1000) > 20_000
