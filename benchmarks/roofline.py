"""Roofline of the 1997 LSTM kernel: its achieved floating-point rate beside this core's peak.

Measures, on one core, in one run:

* peak: a 2048 x 2048 matrix product (numpy/OpenBLAS and torch, 1 thread, float64 and float32);
  the best of the two libraries is the "measured single-core peak" of that precision;
* the kernel: `workers.kernels.lstm1997.train_block` on pre-generated adding-problem data (T=100,
  the paper's 2 blocks x 2 cells net, 93 weights, K=64 lanes, B sequences per lane per call, lr
  1e-9), float64 and float32; sequences/s, and GFLOP/s from the analytic count below;
* what bounds it: time per lane-step against the number of lanes K (SIMD width and working set),
  against the net size (blocks), the share of the step spent in the logistic evaluations
  (a micro-benchmark of the kernel's own inlined logistic in the same lane-innermost loops), and
  the rate of the kernel's dominant loop (a load-FMA-store over a lane array, ``P[r, k] +=
  c[k] * u[r, k]``) against its working set (L1 / L2).

FLOP count (per lane; FMA = 2 flops; the counts follow the loops the kernel `_run` executes for the
dense-input mode the adding problem uses; I inputs, A input pairs per step, O outputs,
C blocks of S cells, CS = C*S, Hn = C*(S+2) hidden units, nh = existing columns of a hidden row
(here all U = I + Hn + 1), no = existing output columns (cells + bias)):

* every executed step: input scatter I*A adds; hidden net inputs Hn*U MACs; per cell 13 flops
  (g2: z = 4f-2, g' = 4f(1-f); CEC s += y_in z; h1: h = 2f-1, h' = 2f(1-f); y_c = y_out h);
  forward accumulation of the partials 2*CS*nh MACs plus 4 flops per cell (cc, ci); outputs
  O*no MACs; and 2C + 2CS + O logistic evaluations;
* every executed error event (E=1: one per sequence per lane, but the lanes of a chunk run it in
  lock step once per distinct end step of the chunk, so it is counted that many times): 4 flops
  per output, O*no + CS*O MACs, per block 2S + 3 + 2*nh flops, per cell 2 + 4*nh flops;
* every sequence: the update, one FMA per weight.

A logistic evaluation is counted as the arithmetic its inlined polynomial ``exp`` executes:
36 flops in float64 (negation, range-reduction FMA x3, degree-13 Horner x13, 1 + p 2^n, the
division) and 24 in float32 (degree 7); clamps, floor and the integer exponent bits are not
counted. The "nominal" column counts a logistic as 1 flop instead. Steps are the steps executed:
lanes of a chunk run in lock step up to the longest sequence of the chunk (T_max = 110 for T=100),
so padding steps are counted as executed; the useful share is printed.

    python -m benchmarks.roofline [--quick]

Writes benchmarks/results/roofline.md.

Size note: ~700 lines, over the usual ~400: a script whose report derives every conclusion
(vector width, what bounds the kernel) from what the same run measured, so the measurements, the
analytic FLOP count and the report sit together.
"""

from __future__ import annotations

import os

# One thread everywhere, set before numpy is imported (OpenBLAS reads it once, at import);
# workers.remote imports nothing numeric at module level.
from workers.remote import THREAD_ENV

os.environ.update({var: os.environ.get(var, one) for var, one in THREAD_ENV.items()})

import argparse
import ctypes
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numba import njit

from models.layout import Lstm1997Layout, init_weights
from workers.backends import LaneBatch
from workers.kernels import Block, simd
from workers.kernels import lstm1997 as kernel
from workers.remote import pin_threads
from workers.tasks import make_task

RESULTS = Path(__file__).parent / "results" / "roofline.md"
LOGISTIC_FLOPS = {np.float64: 36, np.float32: 24}
DTYPES = {"float64": np.float64, "float32": np.float32}


# ----------------------------------------------------------------------------------------------
# Peak: a large matrix product on one thread.


def gemm_gflops(lib: str, dtype: type, n: int, reps: int) -> float:
    """Best GFLOP/s of an n x n matrix product (2 n^3 flops) on one thread."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    if lib == "torch":
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        run = lambda: torch.mm(ta, tb)  # noqa: E731
    else:
        run = lambda: a @ b  # noqa: E731
    run()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


def blas_core() -> str:
    """OpenBLAS's run-time kernel choice for numpy (e.g. "Haswell" = AVX2), if it says."""
    try:
        lib = next(Path(np.__file__).parent.parent.glob("numpy.libs/*openblas*"))
        fn = ctypes.CDLL(str(lib)).scipy_openblas_get_corename64_
        fn.restype = ctypes.c_char_p
        return str(fn().decode())
    except (StopIteration, OSError, AttributeError):
        return "unknown"


@njit(error_model="numpy", fastmath={"contract"})  # type: ignore[misc]
def _fma_chain(x: np.ndarray, a: float, b: float, reps: int) -> None:
    n = x.shape[0]
    for _ in range(reps):
        for k in range(n):  # vectorised across k; 16 dependent FMAs per element, in registers
            v = x[k]
            v = v * a + b
            v = v * a + b
            v = v * a + b
            v = v * a + b
            v = v * a + b
            v = v * a + b
            v = v * a + b
            v = v * a + b
            v = v * a + b
            v = v * a + b
            v = v * a + b
            v = v * a + b
            v = v * a + b
            v = v * a + b
            v = v * a + b
            v = v * a + b
            x[k] = v


def fma_peak_gflops(dtype: type, n: int = 512) -> float:
    """GFLOP/s of register-resident FMAs (numba, the kernel's compiler): the FMA-unit ceiling."""
    x = np.ones(n, dtype)
    a, b = dtype(0.999), dtype(0.001)  # x = 1 is a fixed point: no overflow, no denormals
    reps = int(4e8 / (16 * n))
    _fma_chain(x, a, b, 1)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        _fma_chain(x, a, b, reps)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * 16 * n * reps / best / 1e9


# ----------------------------------------------------------------------------------------------
# The analytic FLOP count.


@dataclass(frozen=True)
class Flops:
    """Flops per lane of one executed step, one error event and one update, and logistics/step."""

    step: int
    error: int
    update: int
    logistics: int

    def total(self, steps: float, errors: float, seqs: float, logistic: int) -> float:
        return (
            (self.step + self.logistics * logistic) * steps
            + self.error * errors
            + self.update * seqs
        )


def flop_count(lay: Lstm1997Layout, A: int) -> Flops:
    """The per-lane flop count of the 1997 kernel (dense inputs, g2/h1, both gates)."""
    assert lay.has_input_gate and lay.has_output_gate and not lay.forget_gate
    I, O, C, S = lay.n_inputs, lay.n_outputs, lay.blocks, lay.cells_per_block
    CS, Hn = C * S, lay.n_hidden
    nh = int(lay.mask_h[lay.cell[0]].sum())  # existing columns of a hidden row
    n_hu = int((lay.mask_h.sum(0) > 0).sum())  # columns the net-input loop runs over
    no = int(lay.mask_o[0].sum())  # existing output columns (union = one row here)
    step = (
        I * A  # scatter the input pairs into dense columns
        + 2 * Hn * n_hu  # hidden net inputs
        + 13 * CS  # cell arithmetic around the logistics
        + 4 * CS + 2 * 2 * CS * nh  # forward accumulation of ds/dw_c and ds/dw_in
        + 2 * O * no  # output net inputs
    )  # fmt: skip
    error = (
        4 * O  # d = (y - t) y (1 - y)
        + 2 * O * no  # output-weight gradient
        + 2 * CS * O  # error on the cell outputs
        + C * (2 * S + 3 + 2 * nh)  # output gates: delta and gradient
        + CS * (2 + 2 * 2 * nh)  # cells and input gates: ds and gradient from the partials
    )
    update = 2 * (int(lay.mask_h.sum()) + int(lay.mask_o.sum()))
    return Flops(step=step, error=error, update=update, logistics=2 * C + 2 * CS + O)


# ----------------------------------------------------------------------------------------------
# Kernel timing on pre-generated data.


@dataclass
class Data:
    args: tuple[np.ndarray, ...]  # idx, val, lengths, targets, target_steps
    steps: float  # executed lane-steps per call (lock step to the chunk's longest sequence)
    useful: float  # real lane-steps per call
    errors: float  # executed lane error events per call
    seqs: int  # lane-sequences per call


def make_data(K: int, B: int, T: int, dtype: type, seed: int = 0) -> Data:
    task = make_task("adding", T=T)
    rngs = [np.random.default_rng([seed, k]) for k in range(K)]
    lb = LaneBatch.stack([task.sample(r, B) for r in rngs])
    idx = lb.lane("idx").astype(np.int32)
    val = lb.lane("val").astype(np.float64)  # the kernel reads values in float64
    lengths = lb.lane("lengths").astype(np.int32)
    targets = lb.lane("targets").astype(dtype)
    steps = lb.lane("target_steps").astype(np.int32)
    nk = min(kernel.LANES, K)
    executed = errors = 0.0
    for c0 in range(0, K, nk):
        ln = lengths[c0 : c0 + nk]  # (nl, B)
        nl = ln.shape[0]
        executed += nl * ln.max(0).sum()
        for b in range(B):
            errors += nl * len(np.unique(steps[c0 : c0 + nk, b, 0]))
    return Data(
        args=(idx, val, lengths, targets, steps),
        steps=executed,
        useful=float(lengths.sum()),
        errors=errors,
        seqs=K * B,
    )


def time_kernel(
    lay: Lstm1997Layout, data: Data, dtype: type, reps: int, forward: bool = False
) -> float:
    """Median seconds of one `train_block` call over all lanes and sequences of ``data``
    (``forward``: `forward_block` instead, the same forward pass without any learning)."""
    idx, val, lengths, targets, steps = data.args
    K, B = lengths.shape
    rng = np.random.default_rng(1)
    Wh0, Wo0 = (
        np.stack(a) for a in zip(*[init_weights(lay, rng, 0.1) for _ in range(K)], strict=True)
    )
    cfg = kernel.kernel_config(lay)
    mh, mo = lay.mask_h.astype(dtype), lay.mask_o.astype(dtype)
    n_seq = np.full(K, B, dtype=np.int64)
    out = np.zeros(targets.shape, dtype=dtype)
    times = []
    for r in range(reps + 1):  # the first call loads the numba cache
        Wh, Wo = Wh0.astype(dtype), Wo0.astype(dtype)
        t0 = time.perf_counter()
        nets, block = kernel.Nets(Wh, Wo, mh, mo, cfg), Block(idx, val, lengths, targets, steps)
        if forward:
            kernel.forward_block(nets, block, n_seq, out)
        else:
            kernel.train_block(nets, block, n_seq, 1e-9, out)
        if r:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


# ----------------------------------------------------------------------------------------------
# Micro-benchmarks of what the kernel's step is made of, in its loop style (lane innermost,
# run-time trip count, so LLVM vectorises across lanes).


@njit(error_model="numpy", fastmath={"contract"})  # type: ignore[misc]
def _logistic_loop(x: np.ndarray, out: np.ndarray, reps: int) -> None:
    n, nl = x.shape
    for _ in range(reps):
        for i in range(n):
            for k in range(nl):
                out[i, k] = simd.logistic(x[i, k] - out[i, k])


@njit(error_model="numpy", fastmath={"contract"})  # type: ignore[misc]
def _fma_rows(P: np.ndarray, c: np.ndarray, u: np.ndarray, reps: int) -> None:
    rows, nl = P.shape
    for _ in range(reps):
        for r in range(rows):
            for k in range(nl):
                P[r, k] += c[k] * u[r, k]


def logistic_ns(dtype: type, n: int, nl: int, reps: int) -> float:
    """Seconds per lane-logistic evaluation (n rows x nl lanes, like one kernel step)."""
    x = np.linspace(-3, 3, n * nl).reshape(n, nl).astype(dtype)
    out = np.zeros_like(x)
    _logistic_loop(x, out, 2)
    t0 = time.perf_counter()
    _logistic_loop(x, out, reps)
    return (time.perf_counter() - t0) / (reps * n * nl)


def fma_rows_gflops(dtype: type, kib: int, nl: int = 64) -> float:
    """GFLOP/s of ``P[r, k] += c[k] u[r, k]`` with P and u together ``kib`` KiB."""
    item = np.dtype(dtype).itemsize
    rows = max(1, kib * 1024 // (2 * nl * item))
    P = np.zeros((rows, nl), dtype)
    u = np.full((rows, nl), 1e-3, dtype)
    c = np.full(nl, 1e-3, dtype)
    reps = max(1, int(2e8 / (rows * nl)))
    _fma_rows(P, c, u, 1)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        _fma_rows(P, c, u, reps)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * rows * nl * reps / best / 1e9


# ----------------------------------------------------------------------------------------------


def hot_kib(lay: Lstm1997Layout, lanes: int) -> float:
    """KiB of the arrays every training step sweeps, float64: W (Hn x U) and P_c, P_in
    (CS x U each), per lane."""
    return (lay.n_hidden + 2 * lay.n_cells) * lay.U * lanes * 8 / 1024


def loops_per_step(lay: Lstm1997Layout, A: int) -> int:
    """Innermost (lane) loops the 1997 kernel runs per training step (dense inputs)."""
    I, O, C, CS, Hn, U = lay.n_inputs, lay.n_outputs, lay.blocks, lay.n_cells, lay.n_hidden, lay.U
    no = int(lay.mask_o[0].sum())
    return I * (1 + A) + Hn + Hn * U + 2 * C + 4 * CS + CS + CS * U + 2 * O + O * no + Hn


def l1d_kib() -> int:
    """Per-core L1 data cache in KiB (48 if the kernel does not say)."""
    try:
        for idx in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
            if (idx / "level").read_text().strip() == "1" and (
                idx / "type"
            ).read_text().strip() == "Data":
                return int((idx / "size").read_text().strip().rstrip("K"))
    except (OSError, ValueError):
        pass
    return 48


def simd_isa() -> tuple[str, int]:
    """This CPU's widest SIMD extension and its vector width in bits (from /proc/cpuinfo)."""
    try:
        flags = next(
            (ln.split(":", 1)[1].split() for ln in Path("/proc/cpuinfo").read_text().splitlines()
             if ln.startswith("flags")),
            [],
        )  # fmt: skip
    except OSError:
        flags = []
    for flag, name, bits in (
        ("avx512f", "AVX-512", 512),
        ("avx2", "AVX2", 256),
        ("avx", "AVX", 256),
    ):
        if flag in flags:
            return name, bits
    return "SSE2", 128


def cpu_name() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.machine()
    get = lambda key: next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith(key)), "?")  # noqa: E731
    avx512 = "avx512f" in get("flags").split()
    return f"{get('model name')}, family {get('cpu family')}{', AVX-512' if avx512 else ''}"


def load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and sweeps")
    ap.add_argument("--T", type=int, default=100)
    args = ap.parse_args()
    pin_threads()
    torch.set_num_threads(1)
    reps = 3 if args.quick else 5
    T, A = args.T, 2
    R: dict[str, Any] = {"load0": load(), "quick": args.quick, "T": T}
    print(f"load average (1/5/15 min) at start: {R['load0']}", flush=True)

    # 1. Peaks: large GEMM (the usual yardstick) and register-resident FMAs (the FMA units).
    peak: dict[str, dict[str, float]] = {}
    for name, dt in DTYPES.items():
        peak[name] = {lib: gemm_gflops(lib, dt, 2048, reps) for lib in ("numpy", "torch")}
        peak[name]["gemm"] = max(peak[name]["numpy"], peak[name]["torch"])
        peak[name]["fma"] = fma_peak_gflops(dt)
        print(
            f"peak {name}: 2048^2 GEMM numpy {peak[name]['numpy']:.1f}, torch "
            f"{peak[name]['torch']:.1f}; register FMA {peak[name]['fma']:.1f} GFLOP/s",
            flush=True,
        )
    R["peak"], R["blas_core"] = peak, blas_core()

    # 2. The kernel on the paper's adding net.
    lay = Lstm1997Layout(n_inputs=2, n_outputs=1, blocks=2, cells_per_block=2)
    fl = flop_count(lay, A)
    R["lay"], R["fl"] = lay, fl
    main_rows = []
    for name, dt in DTYPES.items():
        data = make_data(64, 250, T, dt)
        dt_s = time_kernel(lay, data, dt, reps)
        fwd_s = time_kernel(lay, data, dt, reps, forward=True)
        flops = fl.total(data.steps, data.errors, data.seqs, LOGISTIC_FLOPS[dt])
        gf = flops / dt_s / 1e9
        row = {
            "dtype": name,
            "seq_s": data.seqs / dt_s,
            "ns_lane_step": dt_s / data.steps * 1e9,
            "gflops": gf,
            "nominal": fl.total(data.steps, data.errors, data.seqs, 1) / dt_s / 1e9,
            "flops_seq": flops / data.seqs,
            "useful": data.useful / data.steps,
            "frac": gf / peak[name]["gemm"],
            "frac_fma": gf / peak[name]["fma"],
            "fwd_share": fwd_s / dt_s,
        }
        main_rows.append(row)
        print(
            f"kernel {name}: {row['seq_s']:,.0f} seq/s, {gf:.2f} GFLOP/s = {row['frac']:.1%} of "
            f"GEMM peak, {row['frac_fma']:.1%} of FMA peak (nominal {row['nominal']:.2f} "
            f"GFLOP/s); forward_block alone {row['fwd_share']:.0%} of the time",
            flush=True,
        )
    R["main"] = main_rows

    # 3a. Lanes: per-lane cost against K (one chunk holds up to 64 lanes).
    Ks = (1, 8, 16, 32, 64) if args.quick else (1, 4, 8, 16, 32, 64, 128)
    lane_rows = []
    for k in Ks:
        r: dict[str, Any] = {"K": k}
        for name, dt in DTYPES.items():
            data = make_data(k, max(250, 16_000 // k), T, dt)
            s = time_kernel(lay, data, dt, max(2, reps - 2))
            r[name] = data.seqs / s
            r[name + "_ns"] = s / data.steps * 1e9
            r[name + "_gf"] = fl.total(data.steps, data.errors, data.seqs, LOGISTIC_FLOPS[dt]) / s
        r["ws64"] = hot_kib(lay, min(k, 64))
        lane_rows.append(r)
        print(
            f"K={k}: float64 {r['float64']:,.0f} seq/s ({r['float64_ns']:.1f} ns/lane-step)  "
            f"float32 {r['float32']:,.0f} seq/s ({r['float32_ns']:.1f} ns/lane-step)",
            flush=True,
        )
    R["lanes"] = lane_rows

    # 3b. Net size: blocks of 2 cells.
    size_rows = []
    for blocks in (1, 4) if args.quick else (1, 2, 3, 4):
        ly = Lstm1997Layout(n_inputs=2, n_outputs=1, blocks=blocks, cells_per_block=2)
        f = flop_count(ly, A)
        r = {"blocks": blocks, "weights": ly.n_weights}
        for name, dt in DTYPES.items():
            data = make_data(64, 250, T, dt)
            s = time_kernel(ly, data, dt, max(2, reps - 2))
            gf = f.total(data.steps, data.errors, data.seqs, LOGISTIC_FLOPS[dt]) / s / 1e9
            r[name] = data.seqs / s
            r[name + "_gf"] = gf
            r[name + "_frac"] = gf / peak[name]["gemm"]
        r["ws64"] = hot_kib(ly, 64)
        size_rows.append(r)
        print(
            f"blocks={blocks} ({ly.n_weights} weights): float64 {r['float64']:,.0f} seq/s "
            f"{r['float64_gf']:.2f} GFLOP/s; float32 {r['float32']:,.0f} seq/s "
            f"{r['float32_gf']:.2f} GFLOP/s",
            flush=True,
        )
    R["sizes"] = size_rows

    # 3c. Logistic share, and the load-FMA-store loop against its working set.
    lg = {}
    for name, dt in DTYPES.items():
        ns = logistic_ns(dt, fl.logistics, 64, 5_000 if args.quick else 20_000)
        step_ns = next(r for r in main_rows if r["dtype"] == name)["ns_lane_step"]
        lg[name] = {
            "ns": ns * 1e9,
            "share": fl.logistics * ns * 1e9 / step_ns,
            "gflops": LOGISTIC_FLOPS[dt] / ns / 1e9,
        }
        print(
            f"logistic {name}: {ns * 1e9:.2f} ns per lane-evaluation "
            f"({lg[name]['gflops']:.0f} GFLOP/s); {fl.logistics} per step = "
            f"{lg[name]['share']:.0%} of the kernel's lane-step"
        )
    R["logistic"] = lg
    kibs = (8, 32, 64, 128, 512) if args.quick else (8, 16, 32, 48, 64, 96, 128, 256, 512, 1536)
    fma_rows = []
    for kib in kibs:
        r = {"kib": kib, **{name: fma_rows_gflops(dt, kib) for name, dt in DTYPES.items()}}
        fma_rows.append(r)
        print(f"P += c*u over {kib} KiB: float64 {r['float64']:.1f}  float32 {r['float32']:.1f}")
    R["fma_rows"] = fma_rows
    R["load1"] = load()
    print(f"load average at end: {R['load1']}")
    write(R)


def write(R: dict[str, Any]) -> None:
    peak, lay, fl = R["peak"], R["lay"], R["fl"]
    f64, f32 = R["main"]
    by_k = {r["K"]: r for r in R["lanes"]}
    k1, k8, k32, k64 = by_k[1], by_k[8], by_k[32], by_k[64]
    fma_l1 = max(r["float64"] for r in R["fma_rows"] if r["kib"] <= 32)
    fma_l2 = statistics.median(r["float64"] for r in R["fma_rows"] if 128 <= r["kib"] <= 512)
    fma32_l1 = max(r["float32"] for r in R["fma_rows"] if r["kib"] <= 32)
    sizes = R["sizes"]
    gf_sizes = [r["float64_gf"] for r in sizes]
    lg = R["logistic"]
    isa, bits = simd_isa()
    reg = {512: "zmm", 256: "ymm"}.get(bits, "xmm")
    vec64 = bits // 64  # float64 lanes per vector
    gemm_of_fma = peak["float64"]["gemm"] / peak["float64"]["fma"]
    lines = [
        "# roofline: the 1997 LSTM kernel's floating-point rate against this core's peak",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} by `python -m benchmarks.roofline"
        f"{' --quick' if R['quick'] else ''}` on {cpu_name()} ({os.cpu_count()} cores), one "
        "thread; load average "
        f"(1/5/15 min) {R['load0']} at the start, {R['load1']} at the end. "
        f"`workers.kernels.lstm1997.train_block` on the adding problem T={R['T']} with the paper's "
        "2x2 net "
        f"({lay.n_weights} weights), K=64 lanes x 250 sequences per call, lr 1e-9 (no seed "
        "stops), data generated before the timing; median of the calls.",
        "",
        "## Peak, one thread (GFLOP/s)",
        "",
        "| dtype | 2048^2 GEMM numpy (OpenBLAS) | 2048^2 GEMM torch (MKL) | **GEMM peak** (best) "
        "| register-resident FMA loop (numba) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in DTYPES:
        p = peak[name]
        lines.append(
            f"| {name} | {p['numpy']:.1f} | {p['torch']:.1f} | **{p['gemm']:.1f}** "
            f"| {p['fma']:.1f} |"
        )
    lines += [
        "",
        f"This CPU's widest SIMD extension is {isa} ({bits}-bit vectors); OpenBLAS runs its "
        f"`{R['blas_core']}` kernels. The float64 GEMM peak is {gemm_of_fma:.0%} of what the "
        "FMA units issue: the last column (16 dependent FMAs per element, 512 independent "
        f"elements, everything in {reg} registers, compiled by numba like the kernel) is the "
        f"{isa} FMA ceiling; fractions of both are given.",
        "",
        "## The kernel",
        "",
        f"FLOPs per lane (FMA = 2): {fl.step} per executed step + {fl.logistics} logistic "
        f"evaluations per step (36 flops each in float64, 24 in float32; 1 each in the nominal "
        f"count), {fl.error} per error event, {fl.update} per update; the count is derived in "
        f"the module docstring. Useful steps are {f64['useful']:.1%} of the executed steps "
        "(the lanes of a chunk run in lock step to its longest sequence, 110 steps).",
        "",
        "| dtype | sequences/s | ns per lane-step | flops per sequence | GFLOP/s "
        "| nominal GFLOP/s (logistic = 1) | **of GEMM peak** | of FMA peak "
        "| forward_block / train_block time |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in R["main"]:
        lines.append(
            f"| {r['dtype']} | {r['seq_s']:,.0f} | {r['ns_lane_step']:.2f} "
            f"| {r['flops_seq']:,.0f} | {r['gflops']:.2f} | {r['nominal']:.2f} "
            f"| **{r['frac']:.1%}** | {r['frac_fma']:.1%} | {r['fwd_share']:.0%} |"
        )
    lines += [
        "",
        f"float32 / float64 throughput: {f32['seq_s'] / f64['seq_s']:.2f}x. The forward pass "
        "alone (`forward_block`, no partials, no gradient) takes the share of the training "
        "time in the last column.",
        "",
        "## What bounds it: supporting measurements",
        "",
        "### Lanes per chunk (time vs K; a chunk holds up to 64 lanes, K=128 is two chunks)",
        "",
        "| K | float64 seq/s | ns per lane-step | GFLOP/s | float32 seq/s | ns per lane-step "
        "| GFLOP/s | W + P_c + P_in, float64 (KiB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in R["lanes"]:
        lines.append(
            f"| {r['K']} | {r['float64']:,.0f} | {r['float64_ns']:.2f} "
            f"| {r['float64_gf'] / 1e9:.2f} | {r['float32']:,.0f} | {r['float32_ns']:.2f} "
            f"| {r['float32_gf'] / 1e9:.2f} | {r['ws64']:.0f} |"
        )
    lines += [
        "",
        "### Net size (K=64, blocks of 2 cells)",
        "",
        "| blocks | weights | float64 seq/s | GFLOP/s | of GEMM peak | float32 seq/s | GFLOP/s "
        "| of GEMM peak | W + P_c + P_in, float64 (KiB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sizes:
        lines.append(
            f"| {r['blocks']} | {r['weights']} | {r['float64']:,.0f} | {r['float64_gf']:.2f} "
            f"| {r['float64_frac']:.1%} | {r['float32']:,.0f} | {r['float32_gf']:.2f} "
            f"| {r['float32_frac']:.1%} | {r['ws64']:.0f} |"
        )
    lines += [
        "",
        "### The logistic evaluations",
        "",
        f"The kernel's own inlined logistic in the same lane-innermost loop ({fl.logistics} "
        "rows x 64 lanes, independent across rows and lanes):",
        "",
        "| dtype | ns per lane-evaluation | GFLOP/s inside it | x"
        f"{fl.logistics} per step: share of the kernel's lane-step |",
        "|---|---:|---:|---:|",
    ]
    for name, v in lg.items():
        lines.append(f"| {name} | {v['ns']:.3f} | {v['gflops']:.0f} | **{v['share']:.0%}** |")
    lines += [
        "",
        "### The kernel's dominant loop against its working set",
        "",
        "The net-input, partial-accumulation and gradient loops of the kernel are all of the "
        "form `P[r, k] += c[k] * u[r, k]` over lane arrays: one FMA per 2-3 vector loads and "
        "one vector store, no reuse in registers. The same loop alone (64 lanes, P and u "
        "together of the given size, so 8-32 KiB sit in L1, 96 KiB-1.5 MiB in L2):",
        "",
        "| P + u (KiB) | float64 GFLOP/s | float32 GFLOP/s |",
        "|---:|---:|---:|",
    ]
    for r in R["fma_rows"]:
        lines.append(f"| {r['kib']} | {r['float64']:.1f} | {r['float32']:.1f} |")
    lines += [
        "",
        "## Reading",
        "",
        f"* **{f64['frac']:.0%} of the GEMM peak in float64, {f32['frac']:.0%} in float32** "
        f"({f64['frac_fma']:.0%} / {f32['frac_fma']:.0%} of the FMA units' {isa} ceiling). "
        f"Counting a logistic as one flop, the nominal rate is {f64['nominal']:.1f} / "
        f"{f32['nominal']:.1f} GFLOP/s.",
    ]
    # Each statement below follows from this run's numbers; the thresholds are stated with it.
    loop_share = f64["gflops"] / fma_l1
    if loop_share >= 0.5:
        lines.append(
            "* **What bounds it: the loads and stores of the lane-array loops (operands in "
            f"memory, not registers).** The kernel's float64 rate, {f64['gflops']:.1f} GFLOP/s, "
            f"is {loop_share:.0%} (>= 50%) of the measured ceiling of its own loop pattern "
            f"(load-FMA-store over lane arrays: {fma_l1:.1f} GFLOP/s in L1, {fma_l2:.1f} from "
            f"L2); float32 {f32['gflops']:.1f} against {fma32_l1:.1f} "
            f"({f32['gflops'] / fma32_l1:.0%}). One training step is "
            f"{loops_per_step(lay, 2)} short SIMD loops of {64 // vec64} {reg} vectors at 64 "
            "float64 lanes, each reading and writing memory, where a GEMM keeps its "
            "accumulators in registers."
        )
    else:
        lines.append(
            f"* The kernel's float64 rate, {f64['gflops']:.1f} GFLOP/s, is only "
            f"{loop_share:.0%} (< 50%) of its own loop pattern's ceiling ({fma_l1:.1f} GFLOP/s "
            "in L1): something besides the lane-array loads and stores costs time here "
            "(loop overhead, the per-step bookkeeping, or a loop that did not vectorise)."
        )
    fma_x = peak["float64"]["fma"] / f64["gflops"]
    lines.append(
        f"* {'Not' if fma_x >= 2 else 'Close to'} the FMA units: the register-resident FMA "
        f"loop runs {peak['float64']['fma']:.0f} GFLOP/s, {fma_x:.1f}x the kernel's rate."
    )
    grow = k64["float64_ns"] / k32["float64_ns"]
    spread = max(gf_sizes) / max(min(gf_sizes), 1e-9)
    cache_free = grow <= 1.2 and spread <= 1.3
    lines.append(
        f"* {'Not' if cache_free else 'Possibly'} cache capacity: per lane-step "
        f"{k32['float64_ns']:.1f} ns at K=32 and {k64['float64_ns']:.1f} ns at K=64 in float64 "
        f"({grow:.2f}x; W + P_c + P_in {k32['ws64']:.0f} -> {k64['ws64']:.0f} KiB against the "
        f"{l1d_kib()} KiB L1), and the float64 rate spans {min(gf_sizes):.1f}-"
        f"{max(gf_sizes):.1f} GFLOP/s from 1 to 4 blocks ({sizes[0]['ws64']:.0f} to "
        f"{sizes[-1]['ws64']:.0f} KiB; 'not' when both stay within 20% / 30%)."
    )
    share64 = lg["float64"]["share"]
    lines.append(
        f"* {'Not' if share64 < 0.3 else 'Partly'} the transcendentals: the {fl.logistics} "
        f"logistic evaluations per step take {share64:.0%} (float64) / "
        f"{lg['float32']['share']:.0%} (float32) of the step time, "
        f"{36 * fl.logistics / (fl.step + 36 * fl.logistics):.0%} of the counted float64 flops "
        f"('not' below 30%); they run at {lg['float64']['gflops']:.0f} GFLOP/s."
    )
    lines += [
        f"* Lanes amortise the per-loop overhead: {k1['float64_ns']:.0f} ns per lane-step at "
        f"K=1, {k8['float64_ns']:.0f} at K=8, {k64['float64_ns']:.0f} at K=64 (float64). "
        f"float32 packs {2 * vec64} lanes per {reg} vector instead of {vec64}: "
        f"{f32['seq_s'] / f64['seq_s']:.2f}x.",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
