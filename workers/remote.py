"""The thin process-side entry point Ray (or any executor) calls: plain data in, plain data out.

It pins the numeric libraries to one thread, so N worker processes on N cores scale linearly
(a second intra-op thread buys nothing at these sizes; `benchmarks/results/ray_scaling.md`
measures the scaling), then calls the pure trainer. It imports no Ray: the driver wraps it with
``ray.remote``.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}
"""One numeric thread per worker: N single-thread workers on N cores scale linearly. Read when a
library loads, so set before numpy/torch/numba are imported (Ray's ``runtime_env``) or at once."""

_PINNED = False


def pin_threads() -> None:
    """One thread for torch, numba and BLAS in this process (idempotent)."""
    global _PINNED
    if _PINNED:
        return
    for var, value in THREAD_ENV.items():
        os.environ.setdefault(var, value)
    import torch

    torch.set_num_threads(1)
    with contextlib.suppress(RuntimeError):  # set once per process at most
        torch.set_num_interop_threads(1)
    _PINNED = True


def run_trial(config: dict[str, Any]) -> dict[str, Any]:
    """Train one configuration (``TrialConfig.to_dict()``) and return ``TrialResult.to_dict()``."""
    pin_threads()
    from workers.config import TrialConfig
    from workers.trainer import train

    return train(TrialConfig.from_dict(config)).to_dict()
