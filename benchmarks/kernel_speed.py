"""Training speed of the compiled 1997 kernel (`workers.kernels.lstm1997`) on adding-problem shapes.

The paper's adding net (Exp. 4: I=2 via A=2 sparse pairs, O=1, 2 blocks x 2 cells, 93 weights),
sequence lengths uniform in [T, 1.1 T], one error slot at the end, on-line SGD (one update per
sequence). Prints sequences/s per thread for K = 1, 16, 64 lanes and T = 100, 500, 1000 in
float32 and float64, then the eager-torch reference (`models.lstm1997.Lstm1997`, K=1, autograd,
one sequence per update) for scale. Times are CPU seconds of this process (best of a few runs), so
other load on the machine distorts them less than wall time would.

Usage::

    .venv/bin/python -m benchmarks.kernel_speed            # the table (~1 min)
    .venv/bin/python -m benchmarks.kernel_speed --compile  # also: first-call compile / cache load
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from models.layout import Lstm1997Layout, init_weights
from workers.kernels import Block
from workers.kernels.lstm1997 import Nets, kernel_config, train_block

LAYOUT = Lstm1997Layout(n_inputs=2, n_outputs=1, blocks=2, cells_per_block=2)
WORK = 1_500_000
"""Lane-steps per timed call (K * B * T), so every call takes a fraction of a second."""


def adding_block(rng: np.random.Generator, K: int, B: int, T: int) -> tuple[np.ndarray, ...]:
    """Adding-problem-shaped inputs (K, B, ...): pairs (0, value) and (1, marker)."""
    lengths = rng.integers(T, T + T // 10 + 1, size=(K, B)).astype(np.int32)
    Tm = int(lengths.max())
    live = np.arange(Tm)[None, None, :] < lengths[:, :, None]  # (K, B, Tm)
    idx = np.zeros((K, B, Tm, 2), np.int32)
    idx[..., 1] = live
    val = np.zeros((K, B, Tm, 2))
    val[..., 0] = rng.uniform(-1, 1, (K, B, Tm)) * live
    val[..., 1] = (rng.random((K, B, Tm)) < 2 / T) * live
    targets = rng.random((K, B, 1, 1))
    steps = (lengths - 1)[..., None].astype(np.int32)
    return idx, val, lengths, targets, steps


def kernel_rate(K: int, T: int, dtype: type, per_step: bool = False, repeats: int = 3) -> float:
    """Sequences per CPU second of `train_block` (best of ``repeats`` calls)."""
    rng = np.random.default_rng(0)
    B = max(4, WORK // (K * T))
    pairs = [init_weights(LAYOUT, rng, 0.1, None, (-3.0, -6.0)) for _ in range(K)]
    Wh: np.ndarray = np.stack([p[0] for p in pairs]).astype(dtype)
    Wo: np.ndarray = np.stack([p[1] for p in pairs]).astype(dtype)
    idx, val, lengths, targets, steps = adding_block(rng, K, B, T)
    if per_step:  # an error slot at every step (next-symbol tasks), for comparison
        Tm = idx.shape[2]
        steps = np.where(np.arange(Tm)[None, None, :] < lengths[:, :, None], np.arange(Tm), -1)
        steps = steps.astype(np.int32)
        targets = rng.random((K, B, Tm, 1))
    out_y: np.ndarray = np.zeros((K, B, steps.shape[2], 1), dtype)
    cfg = kernel_config(LAYOUT)
    n_seq = np.full(K, B)
    best = np.inf
    for _ in range(repeats):
        t0 = time.process_time()
        nets = Nets(Wh, Wo, LAYOUT.mask_h, LAYOUT.mask_o, cfg)
        train_block(nets, Block(idx, val, lengths, targets, steps), n_seq, 0.5, out_y)
        best = min(best, time.process_time() - t0)
    return K * B / best


def torch_rate(T: int, seconds: float = 3.0) -> float:
    """Sequences/s of the eager torch reference: K=1, autograd, one sequence per update."""
    import torch

    from models.lstm1997 import Lstm1997

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    net = Lstm1997(LAYOUT, K=1, gradient="truncated")
    net.load(*(a[None] for a in init_weights(LAYOUT, rng, 0.1)))
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    idx, val, lengths, targets, _ = adding_block(rng, 1, 64, T)
    n, t0 = 0, time.process_time()
    while time.process_time() - t0 < seconds:
        b = n % idx.shape[1]
        L = int(lengths[0, b])
        x = np.zeros((1, L, 2))
        x[0, :, 0], x[0, :, 1] = val[0, b, :L, 0], val[0, b, :L, 1]
        y = net(torch.tensor(x))[0, -1]
        loss = 0.5 * ((y - torch.tensor(targets[0, b, 0])) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        with torch.no_grad():  # masked weights get no gradient; keep them exactly 0
            assert net.Wh.grad is not None and net.Wo.grad is not None
            net.Wh.grad.mul_(net.mask_h)
            net.Wo.grad.mul_(net.mask_o)
        opt.step()
        n += 1
    return n / (time.process_time() - t0)


def compile_times() -> None:
    """First call in a fresh process: with an empty numba cache (compile) and with it filled."""
    code = (
        "import time, numpy as np; t0 = time.perf_counter(); "
        "from benchmarks.kernel_speed import kernel_rate; t1 = time.perf_counter(); "
        "kernel_rate(4, 10, np.{dt}, repeats=1); "
        "print(f'{{t1 - t0:.2f}} {{time.perf_counter() - t1:.2f}}')"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for what in ("compile (empty cache)", "load (cache filled)"):
            for dt in ("float32", "float64"):
                out = subprocess.run(
                    [sys.executable, "-c", code.format(dt=dt)],
                    cwd=root,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.split()
                print(f"first call {dt}, {what}: {float(out[1]):.2f} s (imports {out[0]} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--compile", action="store_true", help="also time compile and cache load")
    ap.add_argument("--no-torch", action="store_true", help="skip the eager-torch reference")
    args = ap.parse_args()
    if args.compile:
        compile_times()
    kernel_rate(1, 10, np.float32, repeats=1)  # compile or load both variants before timing
    kernel_rate(1, 10, np.float64, repeats=1)
    print(f"\nsequences/s, one thread ({LAYOUT.n_weights}-weight adding net, lengths T..1.1T)")
    print("| dtype | K | T=100 | T=500 | T=1000 |")
    print("|---|---|---|---|---|")
    for dtype in (np.float32, np.float64):
        for K in (1, 16, 64):
            rates = [kernel_rate(K, T, dtype) for T in (100, 500, 1000)]
            cells = " | ".join(f"{r:,.0f}" for r in rates)
            print(f"| {dtype.__name__} | {K} | {cells} |", flush=True)
    r = kernel_rate(64, 100, np.float32, per_step=True)
    print(f"\nfloat32, K=64, T=100, an error slot at every step: {r:,.0f} sequences/s")
    if not args.no_torch:
        for T in (100, 500):
            r = torch_rate(T)
            print(f"eager torch Lstm1997, K=1, autograd, T={T}: {r:,.0f} sequences/s")


if __name__ == "__main__":
    main()
