"""The trainer: one pure function, a trial configuration in, K seeds' results out.

`train` follows the paper's protocol (Sec. 5, Tables 10-11) by default: on-line SGD with one
sequence per weight update (``protocol="modern"``: the family's mini-batch Adam recipe,
`workers.protocols`, with the same budgets, readings and final test), activations reset for
every sequence, freshly generated sequences, each seed
trained until the task's stopping criterion holds or the sequence budget is spent, then judged on
a fresh test set. The K seeds of a configuration train together as one vectorised computation,
lane k with its own weights, its own data stream and its own updates, so a seed's result is the
same whether it trains alone or beside 63 others (up to float rounding).

Training runs in blocks of B sequences per lane. After each block the window readings
(`workers.readings`) say at which sequence each success reading first held; a lane whose stopping
reading held inside the block is put back to its weights at the block start and replays exactly
that many sequences, so its final weights are those at the stopping point, not a block later.

Real-data tasks (`workers.tasks.real`) train on recordings drawn from their fit split and are
judged on fixed sets (``Task.fixed_set``): the stopping rule classifies the validation split, the
final test the test split, the same recordings for every seed; the task's ``metrics`` (test
accuracy, macro-F1, confusion matrix) land in each ``SeedResult``. With ``output = "softmax"``
the loss is cross-entropy, which only the torch backend computes (`choose_backend`).

Data generation overlaps training: the next block is drawn and stacked (padded into the
kernel's arrays) in a background thread while the compiled kernel (which releases the GIL)
trains the current one; every lane still sees exactly its own stream's sequences. While it
does, the interpreter's thread switch interval is shortened (`workers.cpu_modes`): each time
the main thread lets the GIL go between kernel calls (numpy does, for large arrays), the drawing
thread would otherwise keep it for up to 5 ms before handing it back. Training and the final
test run with subnormal floats flushed to zero (`workers.cpu_modes.flush_denormals`: vanishing
BPTT gradients otherwise slow the float32 Elman kernel several times over).

No Ray, Optuna or SQL here: Ray, the tests and the command line all call `train`. (Size note:
~550 lines, over the usual ~400: `train` is the one pure function of the protocol, blocks,
stopping readings and replays in one place; the evaluation helpers below serve only it.)
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import torch

from models.registry import build_model, describe
from workers.backends import (
    Backend,
    BaselineKernelBackend,
    KernelBackend,
    LaneBatch,
    TorchBackend,
)
from workers.config import LR, READINGS, SeedResult, TrialConfig, TrialResult
from workers.construction import Plateau
from workers.construction import resolve as resolve_construction
from workers.cpu_modes import flush_denormals, prompt_handoff
from workers.protocols import recipe, update_moment
from workers.readings import WindowTracker
from workers.tasks import make_task
from workers.tasks.base import SequenceBatch, Task

Progress = Callable[[int, int], None]
"""progress(sequences trained so far over all seeds, total budget over all seeds)."""

BASELINE_KERNELS = ("elman", "gru", "lstm_forget")
"""Baselines with a compiled full-BPTT kernel (`workers.kernels.baselines`)."""

SUCCESSOR_MODELS = ("tcn", "transformer")
"""Models with no kernel: trained by the vectorised torch path (K seeds in every op)."""

CUDA_WORK = 2_000_000
"""Weights x seeds x sequences per update from which a successor trains on CUDA (when present):
below it one update is a few dozen tiny ops, bound by launch latency, and the CPU is as fast."""

BLOCK = 250
"""Most sequences per lane per block: small enough for a fine stopping resolution and cheap
replays, large enough that Python overhead per block is small next to the kernel's work."""

STEPS_PER_BLOCK = BLOCK * 110
"""Longest-sequence steps per lane per block. A block's inputs are materialised (K lanes x B
sequences x their longest length), so B shrinks as sequences grow: 250 sequences of the adding
problem at T=100 (at most 110 steps), 25 at T=1000. Memory per block stays flat in T, and so does
the Python overhead per step (one block per ~27,500 lane-steps)."""

_DIVISORS = (250, 200, 125, 100, 50, 40, 25, 20, 10, 8, 5, 4, 2, 1)
"""Block sizes: the divisors of 1000 up to BLOCK, so blocks tile the paper's test periods."""

TEST_BASED = ("test", "budget", "validation")
"""Stopping rules decided by periodic evaluation of a test (or validation) set, not the window."""


def choose_backend(
    config: TrialConfig, kernel_ok: bool, weights: int, loss: str = "squared"
) -> tuple[str, str]:
    """(backend, device): a compiled kernel where one exists (the 1997 net: per-sequence
    updates, or per-step ones with the truncated gradient and no forget gate; Elman, GRU and
    forget-gate LSTM with full BPTT) on the CPU; batched torch for the rest, for softmax
    cross-entropy (the kernels compute the paper's squared error only), and for big
    configurations when a GPU is present."""
    cuda = torch.cuda.is_available()
    device = config.device if config.device != "auto" else ("cuda" if cuda else "cpu")
    if config.backend == "kernel":
        if loss != "squared":
            raise ValueError(
                "backend 'kernel' trains the paper's squared error only; softmax cross-entropy"
                " (output = 'softmax') needs backend 'torch' or 'auto'"
            )
        if not kernel_ok:
            raise ValueError(
                "backend 'kernel' trains lstm1997 (per-step updates: the truncated gradient"
                " without a forget gate only), elman, gru and lstm_forget only"
            )
        return "kernel", "cpu"
    if config.backend == "torch":
        return "torch", device
    if (
        kernel_ok
        and loss == "squared"
        and not (cuda and device == "cuda" and weights * config.seeds >= 500_000)
    ):
        return "kernel", "cpu"
    return "torch", device


def choose_device(config: TrialConfig, weights: int, batch: int) -> str:
    """The device of a vectorised successor (TCN, Transformer): CUDA when present and one
    update's work (weights x seeds x batch) is at least ``CUDA_WORK``, else the CPU; an explicit
    ``config.device`` wins."""
    if config.device != "auto":
        return config.device
    big = weights * config.seeds * batch >= CUDA_WORK
    return "cuda" if big and torch.cuda.is_available() else "cpu"


def longest_sequence(task: Task) -> int:
    """The longest of 64 sequences of a fixed probe stream (never a lane's): what sizes a TCN's
    default depth and a learned position table, identically on every worker."""
    return int(task.sample(np.random.default_rng(0), 64).lengths.max())


def block_size(task: Task) -> int:
    """Sequences per lane per block for this task: the largest of ``_DIVISORS`` whose block of
    the task's longest sequences fits ``STEPS_PER_BLOCK`` (the length is read off 64 sequences
    of a fixed probe stream, never a lane's, so the lanes' data do not change); for test-based
    stopping rules also a divisor of the test period, since tests happen at block ends."""
    longest = longest_sequence(task)
    B = next((d for d in _DIVISORS if d * longest <= STEPS_PER_BLOCK), 1)
    rule = task.stop
    if rule.kind in TEST_BASED:
        return math.gcd(B, rule.test_every)
    return B


def seed_streams(
    config: TrialConfig,
) -> tuple[list[np.random.Generator], list[np.random.Generator], list[np.random.Generator]]:
    """Each seed's three independent streams (initial weights, training data, tests), drawn
    from its 63-bit seed (`TrialConfig.seed_of`): what makes a seed's run reproducible."""
    streams = [np.random.SeedSequence(config.seed_of(i)).spawn(3) for i in range(config.seeds)]
    init, data, test = ([np.random.default_rng(st[j]) for st in streams] for j in range(3))
    return init, data, test


def train(config: TrialConfig, progress: Progress | None = None) -> TrialResult:
    """Train ``config.seeds`` seeds of one configuration; see the module docstring."""
    with flush_denormals():
        return _train(config, progress)


def _train(config: TrialConfig, progress: Progress | None) -> TrialResult:
    t_start = time.perf_counter()
    task = make_task(config.task, **config.task_params)
    setup = task.paper
    init_range = config.init_range if config.init_range is not None else setup.init_range
    K, budget = config.seeds, config.max_sequences
    spec = config.model
    seq_len = longest_sequence(task)
    info = describe(spec, setup, task.n_inputs, task.n_outputs, seq_len)
    rec = recipe(spec.name, config.protocol)
    lr = config.lr if config.lr is not None else (rec.lr if rec.lr is not None else setup.lr)
    per_step = update_moment(config, task.error_at_end, setup.update) == "step"
    no_fprime = config.output_delta == "no_fprime"
    if no_fprime and (task.loss != "squared" or spec.name in SUCCESSOR_MODELS):
        raise ValueError(
            "output_delta 'no_fprime' drops f' from the paper's squared-error delta; it needs a"
            " task with squared error and a recurrent model"
        )
    loss = "logistic" if no_fprime else task.loss
    eligible = config.protocol == "paper" and (
        (  # per-step updates: the truncated gradient without a forget gate only
            spec.is_lstm1997
            and (not per_step or (spec.gradient == "truncated" and not spec.forget_gate))
        )
        or (spec.name in BASELINE_KERNELS and not no_fprime)
    )
    if spec.name in SUCCESSOR_MODELS:
        if config.backend == "kernel":
            raise ValueError(f"backend 'kernel' has no {spec.name}; use auto or torch")
        backend_name = "torch"
        device = choose_device(config, int(info["weights"]), rec.batch)
    else:
        backend_name, device = choose_backend(config, eligible, int(info["weights"]), task.loss)

    seeds = [config.seed_of(i) for i in range(K)]
    init_rngs, data_rngs, test_rngs = seed_streams(config)
    pairs = _lane_sets(task, test_rngs)

    model = build_model(
        spec, setup, task.n_inputs, task.n_outputs, init_rngs, init_range, seq_len=seq_len
    )
    dtype = np.float32 if config.precision == "float32" else np.float64
    backend: Backend
    if backend_name == "kernel" and spec.is_lstm1997:
        backend = KernelBackend(model, dtype=dtype, per_step=per_step, output_fprime=not no_fprime)
    elif backend_name == "kernel":
        backend = BaselineKernelBackend(model, spec.name, dtype=dtype)
    else:
        backend = TorchBackend(
            model.to(torch.float32 if dtype is np.float32 else torch.float64),
            device=device,
            recipe=rec,
            loss=loss,
            per_step=per_step,
        )

    construction = resolve_construction(
        config.construction,
        setup.construction,
        spec.is_lstm1997,
        isinstance(backend, KernelBackend),
    )
    plateau: Plateau | None = None
    if construction == "sequential":
        assert isinstance(backend, KernelBackend)
        backend.hold_cells()
        plateau = Plateau(K)
    cells_added_at: int | None = None

    rule = task.stop
    B = block_size(task)
    tracker = WindowTracker(K, rule, task.beta)
    trained = np.zeros(K, dtype=np.int64)
    done = np.zeros(K, dtype=bool)
    diverged = np.zeros(K, dtype=bool)
    first = {r: np.full(K, -1, dtype=np.int64) for r in READINGS}
    curves: list[list[tuple[int, float, float]]] = [[] for _ in range(K)]
    window_err = np.full(K, np.nan)
    lane_wall = np.zeros(K)
    test_based = rule.kind in TEST_BASED

    # Every lane draws B sequences from its own stream per block it is active, so its data never
    # depends on the other lanes. The next block is drawn and stacked (padded into the kernel's
    # arrays) in a background thread while the kernel (which releases the GIL) trains this one,
    # for every lane active now: the lanes active next are a subset, and a lane that stops leaves
    # its unused draw behind (its data stream is not read again, its rows are frozen by n_seq =
    # 0), so every lane sees exactly the sequences it saw without the overlap.
    ahead: Future[LaneBatch] | None = None
    with contextlib.ExitStack() as scope:
        scope.enter_context(prompt_handoff())
        prefetch = ThreadPoolExecutor(max_workers=1, thread_name_prefix="carousel-data")
        # the last draw is never used
        scope.callback(prefetch.shutdown, wait=True, cancel_futures=True)
        while not done.all():
            t_block = time.perf_counter()
            n_seq = np.where(done, 0, np.minimum(B, budget - trained))
            active = np.flatnonzero(n_seq > 0)
            lanes = [int(k) for k in active]
            lb = (
                ahead.result()
                if ahead is not None
                else _draw_block(task, data_rngs, lanes, B, pairs, K)
            )
            ahead = prefetch.submit(_draw_block, task, data_rngs, lanes, B, pairs, K)
            state = backend.snapshot()
            out = backend.train_block(lb, n_seq, lr)
            flat_out = out.reshape(K * B, *out.shape[2:])
            err = task.error(flat_out, lb.flat).reshape(K, B)
            abs_err = task.abs_error(flat_out, lb.flat).reshape(K, B)
            ok = task.correct(flat_out, lb.flat).reshape(K, B)
            rd = tracker.update(err, abs_err, ok.astype(np.float64), n_seq)

            stop_at = np.full(K, -1, dtype=np.int64)
            if not (test_based and config.reading == "literal"):
                stop_at = getattr(rd, config.reading).copy()
            horizon = np.where(stop_at >= 0, stop_at, B)  # hits after the stop were never trained
            for r in READINGS:
                hit = getattr(rd, r)
                new = (first[r] < 0) & (hit >= 0) & (hit <= horizon)
                first[r][new] = trained[new] + hit[new] + 1
            # lanes whose stopping reading held before their block's end: replay up to that point
            replay = (stop_at >= 0) & (stop_at < n_seq - 1)
            if replay.any():
                backend.restore(state, np.flatnonzero(replay))  # type: ignore[arg-type]
                backend.train_block(lb, np.where(replay, stop_at + 1, 0), lr)
            n_done = np.where(stop_at >= 0, stop_at + 1, n_seq)
            trained += n_done
            done |= stop_at >= 0
            window_err = np.where(n_seq > 0, rd.window_error, window_err)
            if plateau is not None:
                flat = plateau.update(rd.window_error, n_done) | (n_seq == 0)
                if flat.all():  # every lane still training has stopped improving: add the cells
                    assert isinstance(backend, KernelBackend)
                    backend.add_cells()
                    plateau, cells_added_at = None, int(trained.max())
            for k in active.tolist():
                curves[k].append(
                    (int(trained[k]), float(rd.window_error[k]), float(rd.window_correct[k]))
                )
                if len(curves[k]) > 8 * config.curve_points:  # small blocks, long budgets
                    curves[k] = _thin(curves[k], 4 * config.curve_points)

            if test_based and config.reading == "literal":
                due = (n_seq > 0) & ~done & (trained % rule.test_every == 0)
                if due.any():
                    passed = _test_rule(task, backend, test_rngs, due, B, pairs)
                    if rule.window_correct is not None:
                        passed &= (tracker.seen >= rule.window) & (
                            rd.window_correct >= rule.window_correct - 1e-9
                        )
                    hit = due & passed
                    first["literal"][hit & (first["literal"] < 0)] = trained[
                        hit & (first["literal"] < 0)
                    ]
                    done |= hit

            bad = ~backend.finite() & ~diverged
            diverged |= bad
            done |= bad | (trained >= budget)
            lane_wall[active] += (time.perf_counter() - t_block) / max(len(active), 1)
            if progress is not None:
                progress(int(trained.sum()), K * budget)
    # the paper's test: a fresh test set per seed (Table 11: 2560 sequences; 10000 in Exp. 2)
    test_ok, test_wrong, test_err, metrics = _final_test(
        task, backend, test_rngs, ~diverged, B, pairs
    )
    results = []
    for k in range(K):
        reached = first[config.reading][k] >= 0
        if rule.kind in ("budget", "validation") and config.reading == "literal":
            # Exp. 2, real data: success is decided by the final test alone
            reached = not diverged[k]
        solved = bool(reached and test_ok[k] and not diverged[k])
        results.append(
            SeedResult(
                replicate=config.replicate_offset + k,
                seed=seeds[k],
                solved=solved,
                sequences_to_solve=int(trained[k]) if solved else None,
                readings={r: (int(first[r][k]) if first[r][k] >= 0 else None) for r in READINGS},
                sequences_trained=int(trained[k]),
                final_train_error=float(window_err[k]),
                test_error=float(test_err[k]),
                test_wrong=int(test_wrong[k]),
                test_n=task.test_size,
                diverged=bool(diverged[k]),
                wall_s=float(lane_wall[k]),
                curve=_thin(curves[k], config.curve_points),
                metrics=metrics[k],
            )
        )
    return TrialResult(
        config=config,
        seeds=results,
        weights=int(info["weights"]),
        backend=backend.name,
        wall_s=time.perf_counter() - t_start,
        update="step" if per_step else "sequence",
        trained={
            **info,
            LR: float(lr),
            "init_range": float(init_range),
            "update": "step" if per_step else "sequence",
            "output_delta": config.output_delta or "paper",
            "protocol": config.protocol,
            "construction": construction,
            **({"cells_added_at": cells_added_at} if construction == "sequential" else {}),
        },
    )


Pairs = list[tuple[SequenceBatch, SequenceBatch]] | None
"""Each lane's fixed (training, test) sets (`Task.lane_sets`), or None: fresh sequences."""


def _lane_sets(task: Task, rngs: list[np.random.Generator]) -> Pairs:
    """Every lane's fixed set pair, drawn from its test stream, or None for a task without."""
    drawn = [task.lane_sets(r) for r in rngs]
    if any(p is None for p in drawn):
        return None
    return [p for p in drawn if p is not None]


def _draw(
    task: Task, rngs: list[np.random.Generator], lanes: list[int], n: int, pairs: Pairs = None
) -> dict[int, SequenceBatch]:
    """n training sequences for each of the given lanes, each from its own stream: fresh, or
    picked at random (with replacement) from the lane's fixed training set."""
    if pairs is None:
        return {k: task.sample(rngs[k], n) for k in lanes}
    return {k: pairs[k][0].take(rngs[k].integers(0, pairs[k][0].n, n)) for k in lanes}


def _draw_block(
    task: Task, rngs: list[np.random.Generator], lanes: list[int], n: int, pairs: Pairs, K: int
) -> LaneBatch:
    """`_draw` for the given lanes, stacked for all K lanes as the backends read them; a lane
    not drawn carries a copy of a drawn one as filler (it trains on none of it: n_seq = 0)."""
    drawn = _draw(task, rngs, lanes, n, pairs)
    filler = drawn[lanes[0]]
    return LaneBatch.stack([drawn.get(k, filler) for k in range(K)])


def _evaluate(
    task: Task,
    backend: Backend,
    rngs: list[np.random.Generator],
    lanes: np.ndarray,
    n: int,
    chunk: int,
    max_wrong: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(wrong count, mean abs error) per lane on n fresh sequences from each lane's test stream.

    The test set goes through the net in chunks of ``chunk`` sequences per lane (the training
    block, `block_size`), so a final test (2560 sequences per lane; 10,000 in Exp. 2) never
    needs more memory than a training block: K=64 lanes x 2560 sequences of T=1000 would be
    4 GiB of inputs at once.

    ``max_wrong`` (a stopping test, which only asks pass or fail): a lane with more wrong than
    that has failed, and the later chunks skip its forward pass (its sequences are still drawn,
    so its test stream advances as without the shortcut); its counts are then lower bounds.
    A 10,000-sequence test of Exp. 2 mostly ends after its first chunk this way."""
    K = len(rngs)
    active = [int(k) for k in np.flatnonzero(lanes)]
    wrong = np.zeros(K, dtype=np.int64)
    abs_sum = np.zeros(K)
    if n == 0:
        return wrong, np.full(K, np.nan)
    for lo in range(0, n, chunk):
        m = min(chunk, n - lo)
        drawn = {k: task.sample(rngs[k], m) for k in active}
        live = lanes if max_wrong is None else lanes & (wrong <= max_wrong)
        if not live.any():
            continue  # every lane has failed: draw on, compute nothing
        filler = drawn[active[0]]
        lb = LaneBatch.stack([drawn.get(k, filler) for k in range(K)])
        out = backend.forward(lb, live).reshape(K * m, -1, task.n_outputs)
        bad = (~task.correct(out, lb.flat)).reshape(K, m).sum(axis=1)
        wrong += np.where(live, bad, 0)
        abs_sum += np.where(live, task.abs_error(out, lb.flat).reshape(K, m).sum(axis=1), 0.0)
    return np.where(lanes, wrong, n), np.where(lanes, abs_sum / n, np.nan)


def _evaluate_pairs(
    task: Task, backend: Backend, pairs: list[tuple[SequenceBatch, SequenceBatch]],
    lanes: np.ndarray, chunk: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(wrong in the training set, wrong in the test set, test mean abs error) per lane, each
    lane on its own fixed sets, in chunks of ``chunk`` sequences per lane."""
    K = len(pairs)
    wrong = np.zeros((2, K), dtype=np.int64)
    abs_sum = np.zeros(K)
    active = [int(k) for k in np.flatnonzero(lanes)]
    for which in (0, 1):
        n = pairs[active[0]][which].n
        for lo in range(0, n, chunk):
            sel = slice(lo, min(lo + chunk, n))
            parts = {k: pairs[k][which].take(sel) for k in active}
            filler = parts[active[0]]
            lb = LaneBatch.stack([parts.get(k, filler) for k in range(K)])
            m = filler.n
            out = backend.forward(lb).reshape(K * m, -1, task.n_outputs)
            wrong[which] += (~task.correct(out, lb.flat)).reshape(K, m).sum(axis=1)
            if which == 1:
                abs_sum += task.abs_error(out, lb.flat).reshape(K, m).sum(axis=1)
    n_test = pairs[active[0]][1].n
    return (
        np.where(lanes, wrong[0], pairs[0][0].n),
        np.where(lanes, wrong[1], n_test),
        np.where(lanes, abs_sum / n_test, np.nan),
    )


def _fixed_outputs(backend: Backend, batch: SequenceBatch, K: int, chunk: int) -> np.ndarray:
    """(K, n, E, O): every lane's outputs on one fixed set (the same sequences for all lanes),
    in chunks of ``chunk`` sequences as `_evaluate` does."""
    parts = []
    for lo in range(0, batch.n, chunk):
        part = batch.take(slice(lo, min(lo + chunk, batch.n)))
        parts.append(backend.forward(LaneBatch.stack([part] * K)))
    return np.concatenate(parts, axis=1)


def _evaluate_fixed(
    task: Task, backend: Backend, batch: SequenceBatch, lanes: np.ndarray, chunk: int
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any] | None]]:
    """(wrong count, mean abs error, task metrics) per lane on a fixed set (real data)."""
    K = len(lanes)
    n = batch.n
    wrong = np.full(K, n, dtype=np.int64)
    mae = np.full(K, np.nan)
    metrics: list[dict[str, Any] | None] = [None] * K
    if n == 0 or not lanes.any():
        return wrong, mae, metrics
    out = _fixed_outputs(backend, batch, K, chunk)
    for k in np.flatnonzero(lanes).tolist():
        wrong[k] = int((~task.correct(out[k], batch)).sum())
        mae[k] = float(task.abs_error(out[k], batch).mean())
        metrics[k] = task.metrics(out[k], batch)
    return wrong, mae, metrics


def _test_rule(
    task: Task, backend: Backend, rngs: list[np.random.Generator], lanes: np.ndarray, chunk: int,
    pairs: Pairs = None,
) -> np.ndarray:  # fmt: skip
    """The paper's test-set stopping rules (ST1/ST2 of Exp. 3, Exp. 1; periodic test in Exp. 2),
    and real data's validation rule (on the task's fixed validation split). With fixed set
    pairs (Exp. 1) the lane's training set and test set both pass."""
    rule = task.stop
    fixed = task.fixed_set("validation") if rule.kind == "validation" else None
    if pairs is not None:
        wrong_train, wrong, mae = _evaluate_pairs(task, backend, pairs, lanes, chunk)
        lanes = lanes & (wrong_train <= rule.max_wrong)
    elif fixed is not None:
        if fixed.n == 0:  # no validation split: no early stop
            return np.zeros(len(rngs), dtype=bool)
        wrong, mae, _ = _evaluate_fixed(task, backend, fixed, lanes, chunk)
    else:
        wrong, mae = _evaluate(task, backend, rngs, lanes, rule.test_size, chunk, rule.max_wrong)
    ok = lanes & (wrong <= rule.max_wrong)
    if rule.beta is not None:
        ok &= mae < rule.beta
    return ok


def _final_test(
    task: Task, backend: Backend, rngs: list[np.random.Generator], lanes: np.ndarray, chunk: int,
    pairs: Pairs = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any] | None]]:  # fmt: skip
    """(passed, wrong, mean abs error, task metrics) per lane: on fresh sequences from each
    lane's test stream, on the task's fixed test split (real data), or on the lane's own fixed
    sets (Exp. 1: wrong counts the test set; passing needs the training set as well)."""
    K = len(rngs)
    metrics: list[dict[str, Any] | None] = [None] * K
    if not lanes.any():
        return np.zeros(K, bool), np.full(K, task.test_size), np.full(K, np.nan), metrics
    if pairs is not None:
        wrong_train, wrong, mae = _evaluate_pairs(task, backend, pairs, lanes, chunk)
        bound = task.test_max_wrong_frac
        ok = lanes & (wrong <= bound * pairs[0][1].n) & (wrong_train <= bound * pairs[0][0].n)
        return ok, wrong, mae, metrics
    fixed = task.fixed_set("test")
    if fixed is not None:
        wrong, mae, metrics = _evaluate_fixed(task, backend, fixed, lanes, chunk)
    else:
        wrong, mae = _evaluate(task, backend, rngs, lanes, task.test_size, chunk)
    ok = lanes & (wrong <= task.test_max_wrong_frac * task.test_size)
    return ok, wrong, mae, metrics


def _thin(curve: list[tuple[int, float, float]], n: int) -> list[tuple[int, float, float]]:
    """At most n points, evenly spread, always keeping the last."""
    if len(curve) <= n:
        return curve
    pick = np.unique(np.linspace(0, len(curve) - 1, n).round().astype(int))
    return [curve[i] for i in pick]


__all__ = [
    "block_size",
    "choose_backend",
    "choose_device",
    "longest_sequence",
    "train",
]
