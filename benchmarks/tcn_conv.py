"""The TCN's two ways to convolve K lanes: strided taps times one batched matmul vs one grouped
``conv1d`` (`models.tcn.tap_conv`, `models.tcn.grouped_conv`; `models.tcn.uses_taps` picks).

For T = 102, dilation 4, kernel 3, one thread: microseconds of CPU time of one convolution
(channels in = channels out) per path, training (forward + backward) and testing (forward
alone, no autograd), at K = 16 lanes and at K = 1 (a per-seed loop's case), over the channel
counts and sequences per lane M that the studies use (M = 1: the paper's on-line SGD; 32: a
modern mini-batch; 256: a test chunk). Prints the table and writes
benchmarks/results/tcn_conv.md.

    python -m benchmarks.tcn_conv
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from models.tcn import grouped_conv, tap_conv, uses_taps

RESULTS = Path(__file__).parent / "results" / "tcn_conv.md"
CHANNELS = (1, 2, 4, 8, 16, 32)
MS = {True: (1, 4, 32), False: (32, 256)}
"""Sequences per lane measured, training (True) and testing (False)."""
T, D, KS = 102, 4, 3
BUDGET = 0.15
"""Seconds of CPU time per measurement round."""


def cost(f: object, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, grad: bool) -> float:
    """Microseconds of thread CPU time per call (best of two rounds of ~BUDGET s)."""

    def once() -> None:
        if grad:
            y = f(x, w, b, D)  # type: ignore[operator]
            torch.autograd.grad(y.sum(), (w, b, x))
        else:
            with torch.no_grad():
                f(x, w, b, D)  # type: ignore[operator]

    once()
    t0 = time.thread_time()
    once()
    reps = max(3, int(BUDGET / max(time.thread_time() - t0, 1e-6)))
    best = float("inf")
    for _ in range(2):
        t0 = time.thread_time()
        for _ in range(reps):
            once()
        best = min(best, (time.thread_time() - t0) / reps * 1e6)
    return best


def main() -> int:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rows = []
    for grad in (True, False):
        for K in (16, 1):
            for M in MS[grad]:
                for C in CHANNELS:
                    w = torch.rand(K, C, C, KS, requires_grad=grad)
                    b = torch.rand(K, C, requires_grad=grad)
                    x = torch.rand(K, C, M, T, requires_grad=grad)
                    g = cost(grouped_conv, x, w, b, grad)
                    t = cost(tap_conv, x, w, b, grad)
                    pick = "taps" if uses_taps(C * C * KS, K, M, grad) else "grouped"
                    mode = "train" if grad else "test"
                    rows.append(
                        f"| {mode} | {K} | {M} | {C} | {C * C * KS} | {g:,.0f} | {t:,.0f} "
                        f"| {t / g:.2f} | {pick} |"
                    )
                    print(rows[-1], flush=True)
    text = [
        "# TCN convolution paths: strided taps + batched matmul vs grouped conv1d",
        "",
        f"`python -m benchmarks.tcn_conv`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())},"
        f" one thread, float32, T = {T}, dilation {D}, kernel {KS}; CPU microseconds per call of"
        " one convolution (train: forward + backward; test: forward, no autograd; best of two"
        " rounds). weights: C_out x C_in x k of one lane; pick: the path `models.tcn.uses_taps`"
        " chooses there.",
        "",
        "| mode | K | M | channels | weights | grouped conv1d | taps + matmul | taps / grouped "
        "| pick |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        *rows,
    ]
    RESULTS.write_text("\n".join(text) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
