"""Thread and interpreter settings the trainer holds while it trains, put back afterwards.

* `prompt_handoff`: a short thread switch interval, so the thread that draws the next block
  hands the GIL back promptly whenever the training thread wants it.
* `flush_denormals`: subnormal floats flushed to zero (x86 FTZ/DAZ) in the training thread.
  Gradients that vanish over many steps (an Elman net's BPTT through T=100 steps falls by
  ~0.4 per step) reach the subnormal range, below 1.2e-38 in float32, and every operation on
  a subnormal takes a slow microcode path: the float32 Elman kernel ran several times slower
  than its float64 twin (`benchmarks.denormals`, results/denormals.md). Flushing them changes
  nothing a weight can hold: a subnormal step added to a weight of any normal size rounds away
  anyway (the benchmark's weights after a training block are bitwise the same).

Both are set for `workers.trainer.train` as a whole, so a configuration trains to the same
numbers whether a Ray worker, a test or the command line calls it.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import torch

SWITCH_INTERVAL_S = 2e-4
"""The thread switch interval while the next block is drawn beside the kernel (CPython's default
is 5 ms). Measured with `benchmarks.trainer_speed` (T=100, K=64, median of 5 interleaved runs):
the steady rate went from 94% to 99% of the kernel alone."""


@contextlib.contextmanager
def prompt_handoff(interval: float = SWITCH_INTERVAL_S) -> Iterator[None]:
    """Shorten the interpreter's thread switch interval to ``interval`` (never lengthen it) for
    the block, then put the previous one back. Process-wide: it is the one knob CPython offers
    for how long a thread that wants the GIL waits before the holder is asked to let it go."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(min(old, interval))
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def denormals_flushed() -> bool:
    """Whether this thread flushes subnormal floats to zero now (probed, not remembered)."""
    import numpy as np

    tiny = np.array([1e-39], dtype=np.float32)  # subnormal in float32
    return bool((tiny * np.float32(2.0))[0] == 0.0)


@contextlib.contextmanager
def flush_denormals() -> Iterator[None]:
    """Flush subnormal floats to zero in this thread for the block (where the CPU can: x86
    SSE3+), then put the previous mode back. The mode is per thread: it covers the numba
    kernels and torch ops that run in the calling thread."""
    before = denormals_flushed()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)
