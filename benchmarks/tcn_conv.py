"""The TCN's two ways to convolve K lanes: one grouped ``conv1d`` vs stacked taps times a batched
matmul (`models.tcn.TCN._conv`, threshold `models.tcn.TAP_MATMUL_MAX`).

For K = 16 lanes, T = 102, dilation 4, kernel 3, one thread: microseconds of CPU time for one
forward and backward of one convolution, per path, at the channel counts and mini-batch sizes
the successor studies use. Prints the table and writes benchmarks/results/tcn_conv.md.

    python -m benchmarks.tcn_conv
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from torch.nn import functional as fn

RESULTS = Path(__file__).parent / "results" / "tcn_conv.md"
SHAPES = ((16, 1, 1), (16, 8, 1), (16, 32, 1), (16, 1, 8), (16, 8, 4), (16, 1, 32), (16, 2, 32))
"""(K lanes, channels, sequences per lane M)."""
T, D, KS, REPS = 102, 4, 3, 300


def grouped(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    K, C, ci, k = w.shape
    x = fn.pad(h.reshape(h.shape[0], K * ci, T), ((k - 1) * D, 0))
    return fn.conv1d(x, w.reshape(K * C, ci, k), b.reshape(K * C), dilation=D, groups=K)


def taps(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    K, C, ci, k = w.shape
    x = fn.pad(h, ((k - 1) * D, 0))
    X = torch.stack([x[..., j * D : j * D + T] for j in range(k)], 3)
    return (
        torch.matmul(w.reshape(K, C, ci * k), X.reshape(h.shape[0], K, ci * k, T))
        + b[None, :, :, None]
    )


def cost(f: object, h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> float:
    """Microseconds of thread CPU time per forward + backward (best of two rounds)."""
    best = float("inf")
    for _ in range(2):
        t0 = time.thread_time()
        for _ in range(REPS):
            y = f(h, w, b)  # type: ignore[operator]
            torch.autograd.grad(y.sum(), (w, b, h))
        best = min(best, (time.thread_time() - t0) / REPS * 1e6)
    return best


def main() -> int:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rows = []
    for K, C, M in SHAPES:
        w = torch.rand(K, C, C, KS, requires_grad=True)
        b = torch.rand(K, C, requires_grad=True)
        h = torch.rand(M, K, C, T, requires_grad=True)
        g, t = cost(grouped, h, w, b), cost(taps, h, w, b)
        rows.append(f"| {K} | {C} | {M} | {g:,.0f} | {t:,.0f} | {t / g:.2f} |")
        print(rows[-1], flush=True)
    text = [
        "# TCN convolution paths: grouped conv1d vs stacked taps + batched matmul",
        "",
        f"`python -m benchmarks.tcn_conv`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())},"
        f" one thread, float32, T = {T}, dilation {D}, kernel {KS}; CPU microseconds per forward +"
        " backward of one convolution (best of two rounds).",
        "",
        "| K | channels | M | grouped conv1d | taps + matmul | taps / grouped |",
        "|---:|---:|---:|---:|---:|---:|",
        *rows,
    ]
    RESULTS.write_text("\n".join(text) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
