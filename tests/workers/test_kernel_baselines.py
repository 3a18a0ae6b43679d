"""Compiled BPTT kernels of the baseline nets against the torch oracle (`TorchBackend`).

Run as a script for the speed table: ``.venv/bin/python tests/workers/test_kernel_baselines.py``
(optionally ``elman=8 gru=5 lstm_forget=4``: hidden sizes; default: closest to 93 weights on the
adding task). Rates are per CPU second of the calling thread (robust on a shared machine).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.baselines import BASELINES, PARAM_NAMES, init_baseline
from workers.backends import LaneBatch, TorchBackend
from workers.kernels import Block
from workers.kernels import baselines as kb
from workers.tasks.base import SequenceBatch

KINDS = ("elman", "gru", "lstm_forget")
I, O, A = 5, 2, 2


def _params(kind: str, H: int, seeds: list[int], n_in: int = I, n_out: int = O) -> dict:
    per = [init_baseline(kind, H, n_in, n_out, np.random.default_rng(s), 0.6) for s in seeds]
    return {n: np.ascontiguousarray(np.stack([p[n] for p in per])) for n in PARAM_NAMES}


def _batch(rng: np.random.Generator, B: int, T: int, slots: str, n_in: int = I) -> SequenceBatch:
    """B sequences with A = 2 sparse input pairs per step (some duplicate indices), variable
    lengths, and either one end slot (E = 1) or a slot per step with unused (-1) slots."""
    lengths = rng.integers(T // 2, T + 1, size=B).astype(np.int32)
    idx = rng.integers(0, n_in, size=(B, T, A)).astype(np.int32)
    dup = rng.random((B, T)) < 0.3
    idx[..., 1] = np.where(dup, idx[..., 0], idx[..., 1])  # duplicate pairs add up
    val = rng.normal(size=(B, T, A))
    pad = np.arange(T)[None, :] >= lengths[:, None]
    idx[pad] = 0
    val[pad] = 0.0
    if slots == "end":
        steps = (lengths - 1)[:, None].astype(np.int32)
    else:
        steps = np.tile(np.arange(T, dtype=np.int32), (B, 1))
        drop = (steps >= lengths[:, None]) | (rng.random((B, T)) < 0.3)
        steps[drop] = -1
    targets = rng.uniform(0.0, 1.0, size=(B, steps.shape[1], O))
    return SequenceBatch(idx, val, lengths, targets, steps, n_inputs=n_in)


def _lane_batch(rng: np.random.Generator, K: int, B: int, T: int, slots: str) -> LaneBatch:
    return LaneBatch.stack([_batch(rng, B, T, slots) for _ in range(K)])


def _kernel_args(lb: LaneBatch, dtype: type = np.float64) -> Block:
    return Block(
        lb.lane("idx"),
        lb.lane("val").astype(dtype),
        lb.lane("lengths"),
        lb.lane("targets").astype(dtype),
        lb.lane("target_steps"),
    )


def _torch_train(
    kind: str, params: dict, lb: LaneBatch, n_seq: np.ndarray, lr: float
) -> tuple[dict, np.ndarray]:
    H = params["W_hh"].shape[2]
    net = BASELINES[kind](I, O, H, K=lb.K)
    net.load(params)
    out = TorchBackend(net).train_block(lb, n_seq, lr)
    return net.weights(), out


def _kernel_train(
    kind: str, params: dict, lb: LaneBatch, n_seq: np.ndarray, lr: float, inputs: str = "auto"
) -> tuple[dict, np.ndarray]:
    p = {n: a.copy() for n, a in params.items()}
    block = _kernel_args(lb)
    out = np.zeros_like(block.targets)
    kb.train_block(kb.Nets(kind, p, inputs), block, n_seq, lr, out)
    return p, out


def _assert_out_close(out: np.ndarray, ref: np.ndarray, lb: LaneBatch, n_seq: np.ndarray) -> None:
    """Outputs at the used slots of the trained rows (elsewhere the two backends' fillers
    differ by design)."""
    used = lb.lane("target_steps") >= 0  # (K, B, E)
    used &= np.arange(lb.B)[None, :, None] < n_seq[:, None, None]
    np.testing.assert_allclose(out[used], ref[used], rtol=1e-9, atol=1e-12)
    assert (out[~used] == 0).all()


@pytest.mark.parametrize("inputs", ["dense", "sparse"])
@pytest.mark.parametrize("slots", ["end", "multi"])
@pytest.mark.parametrize("kind", KINDS)
def test_train_matches_torch_backend(kind: str, slots: str, inputs: str) -> None:
    """K = 3 lanes, n_seq (5, 3, 0): same weights and pre-update outputs as TorchBackend, and a
    frozen lane stays bit-identical."""
    rng = np.random.default_rng(1)
    params = _params(kind, 4, [1, 2, 3])
    lb = _lane_batch(rng, 3, 5, 9, slots)
    n_seq = np.array([5, 3, 0])
    ref_w, ref_out = _torch_train(kind, params, lb, n_seq, 0.3)
    w, out = _kernel_train(kind, params, lb, n_seq, 0.3, inputs)
    for n in PARAM_NAMES:
        np.testing.assert_allclose(w[n], ref_w[n], rtol=1e-9, atol=1e-12, err_msg=n)
        assert not np.allclose(w[n][:2], params[n][:2]), n  # the trained lanes did move
        np.testing.assert_array_equal(w[n][2], params[n][2])
    _assert_out_close(out, ref_out, lb, n_seq)


@pytest.mark.parametrize("inputs", ["dense", "sparse"])
@pytest.mark.parametrize("kind", KINDS)
def test_lane_alone_equals_lane_in_batch(kind: str, inputs: str) -> None:
    """K = LANES + 2 (two chunks, different lengths and n_seq, one diverged NaN lane): every
    lane trained alone gives bit-identical weights and outputs."""
    rng = np.random.default_rng(2)
    K = kb.LANES + 2
    params = _params(kind, 3, list(range(K)))
    params["W_hh"][3] = np.nan  # a diverged lane must not leak into its chunk
    lb = _lane_batch(rng, K, 4, 8, "multi")
    n_seq = rng.integers(0, 5, size=K)
    n_seq[3] = 4
    w, out = _kernel_train(kind, params, lb, n_seq, 0.5, inputs)
    assert np.isnan(w["W_o"][3]).all()
    for k in (0, 5, K - 1):
        alone = LaneBatch.stack([lb.flat.take(slice(k * lb.B, (k + 1) * lb.B))])
        wk, outk = _kernel_train(
            kind, {n: a[k : k + 1] for n, a in params.items()}, alone, n_seq[k : k + 1], 0.5, inputs
        )
        for n in PARAM_NAMES:
            assert np.isfinite(w[n][k]).all()
            np.testing.assert_array_equal(wk[n][0], w[n][k], err_msg=n)
        np.testing.assert_array_equal(outk[0, : n_seq[k]], out[k, : n_seq[k]])


@pytest.mark.parametrize("kind", KINDS)
def test_forward_block_matches_torch_forward(kind: str) -> None:
    rng = np.random.default_rng(3)
    params = _params(kind, 5, [4, 5, 6])
    before = {n: a.copy() for n, a in params.items()}
    lb = _lane_batch(rng, 3, 6, 10, "multi")
    block = _kernel_args(lb)
    out = np.zeros((3, 6, block.target_steps.shape[2], O))
    kb.forward_block(kb.Nets(kind, params), block, np.full(3, 6), out)
    net = BASELINES[kind](I, O, 5, K=3)
    net.load(params)
    ref = TorchBackend(net).forward(lb)
    _assert_out_close(out, ref, lb, np.full(3, 6))
    for n in PARAM_NAMES:  # the weights are only read
        np.testing.assert_array_equal(params[n], before[n])


@pytest.mark.parametrize("kind", KINDS)
def test_float32_tracks_float64(kind: str) -> None:
    rng = np.random.default_rng(4)
    params = _params(kind, 4, [7, 8])
    lb = _lane_batch(rng, 2, 6, 12, "end")
    n_seq = np.array([6, 6])
    w64, out64 = _kernel_train(kind, params, lb, n_seq, 0.3)
    p32 = {n: a.astype(np.float32) for n, a in params.items()}
    block = _kernel_args(lb, np.float32)
    out32 = np.zeros_like(block.targets)
    kb.train_block(kb.Nets(kind, p32), block, n_seq, 0.3, out32)
    for n in PARAM_NAMES:
        assert p32[n].dtype == np.float32
        np.testing.assert_allclose(p32[n], w64[n], rtol=1e-4, atol=1e-5, err_msg=n)
    np.testing.assert_allclose(out32, out64, rtol=1e-4, atol=1e-5)


def test_validation() -> None:
    rng = np.random.default_rng(5)
    params = _params("gru", 3, [1])
    lb = _lane_batch(rng, 1, 2, 4, "end")
    block = _kernel_args(lb)
    args = (np.array([2]), 0.1, np.zeros_like(block.targets))
    with pytest.raises(ValueError, match="unknown baseline"):
        kb.train_block(kb.Nets("rnn", params), block, *args)
    with pytest.raises(ValueError, match="W_ih has"):
        kb.train_block(kb.Nets("elman", params), block, *args)  # a GRU's weights are 3 blocks
    bad = dict(params, b_o=params["b_o"].astype(np.float32))
    with pytest.raises(TypeError, match="b_o"):
        kb.train_block(kb.Nets("gru", bad), block, *args)
    with pytest.raises(ValueError, match="input indices"):
        kb.train_block(kb.Nets("gru", params), block._replace(idx=block.idx + I), *args)


# ----------------------------------------------------------------------------------------------
# Speed table (not a test): kernel vs the TorchBackend loop, adding-task inputs, ~93 weights.


def _speed_table(hidden: dict[str, int]) -> None:  # pragma: no cover
    import time

    from models.baselines import baseline_weights, hidden_for_weights
    from workers.tasks.adding import Adding

    torch.set_num_threads(1)
    clock = time.thread_time  # CPU time of this thread: robust on a shared, loaded machine
    sizes = {kind: hidden.get(kind) or hidden_for_weights(kind, 2, 1, 93) for kind in KINDS}
    print("compile / cache load (first call, both dtypes):")
    for kind in KINDS:
        for dt in (np.float64, np.float32):
            params = {n: a.astype(dt) for n, a in _params(kind, 3, [0], 2, 1).items()}
            lb = LaneBatch.stack([Adding(T=12).sample(np.random.default_rng(0), 2)])
            block = _kernel_args(lb, dt)
            t0 = time.perf_counter()
            kb.train_block(
                kb.Nets(kind, params), block, np.array([2]), 0.1, np.zeros_like(block.targets)
            )
            print(f"  {kind:12s} {dt.__name__}: {time.perf_counter() - t0:.2f} s")
    print()
    print("| kind | H | weights | K | T | kernel f64 seq/s | kernel f32 seq/s | torch seq/s | x |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind in KINDS:
        H = sizes[kind]
        for K in (16, 64):
            for T in (20, 100):
                task = Adding(T=T)
                rng = np.random.default_rng(0)
                B = 200
                lb = LaneBatch.stack([task.sample(rng, B) for _ in range(K)])
                params = _params(kind, H, list(range(K)), 2, 1)
                rate = {}
                for dt in (np.float64, np.float32):
                    p = {n: a.astype(dt) for n, a in params.items()}
                    block = _kernel_args(lb, dt)
                    out = np.zeros_like(block.targets)
                    n_seq = np.full(K, B)
                    best = np.inf
                    for _ in range(3):
                        t0 = clock()
                        kb.train_block(kb.Nets(kind, p), block, n_seq, 1e-3, out)
                        best = min(best, clock() - t0)
                    rate[dt] = K * B / best
                net = BASELINES[kind](2, 1, H, K=K)
                net.load(params)
                be = TorchBackend(net)
                n = 1
                while True:
                    t0 = clock()
                    be.train_block(lb, np.full(K, n), 1e-3)
                    el = clock() - t0
                    if el > 1.5 or n >= B:
                        break
                    n = min(B, n * 4)
                rt = K * n / el
                nw = baseline_weights(kind, H, 2, 1)
                print(
                    f"| {kind} | {H} | {nw} | {K} | {T} | {rate[np.float64]:,.0f} | "
                    f"{rate[np.float32]:,.0f} | {rt:,.0f} | {rate[np.float64] / rt:.0f} |"
                )


if __name__ == "__main__":  # pragma: no cover
    # optional hidden sizes, e.g. `elman=8 lstm_forget=4` (default: closest to 93 weights)
    import sys

    _speed_table({k: int(v) for k, v in (a.split("=") for a in sys.argv[1:])})


def test_both_kernel_families_take_the_same_arguments() -> None:
    """One calling convention: ``train_block(nets, block, n_seq, lr, out_y)`` and
    ``forward_block(nets, block, n_seq, out_y)``, the family's `Nets` first."""
    import inspect

    from workers.kernels import lstm1997

    for fn in ("train_block", "forward_block"):
        ours, theirs = (inspect.signature(getattr(m, fn)) for m in (lstm1997, kb))
        assert list(ours.parameters) == list(theirs.parameters)
        assert list(ours.parameters)[:2] == ["nets", "block"]
