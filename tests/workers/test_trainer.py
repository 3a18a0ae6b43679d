"""The trainer end to end: real tasks, real nets, real training runs at tiny budgets."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from workers.backends import KernelBackend, LaneBatch, TorchBackend
from workers.config import ModelSpec, TrialConfig, TrialResult
from workers.tasks import make_task
from workers.trainer import train


def per_seed(r: TrialResult) -> list[tuple]:
    return [
        (s.seed, s.readings, s.sequences_trained, s.test_wrong, s.solved, s.diverged)
        for s in r.seeds
    ]


@pytest.mark.parametrize(
    ("model", "backend"),
    [("lstm1997", "kernel"), ("lstm1997", "torch"), ("elman", "kernel"), ("gru", "kernel")],
)
def test_a_seed_trained_in_a_batch_equals_it_trained_alone(model, backend):
    base = TrialConfig(
        task="adding",
        task_params={"T": 20},
        model=ModelSpec(name=model),
        lr=0.5,
        max_sequences=500 if backend == "kernel" else 250,
        seeds=3,
        backend=backend,
    )
    together = train(base)
    for i in range(3):
        alone = train(TrialConfig.from_dict({**base.to_dict(), "seeds": 1, "replicate_offset": i}))
        a, t = alone.seeds[0], together.seeds[i]
        assert (a.seed, a.readings, a.sequences_trained, a.test_wrong) == (
            t.seed,
            t.readings,
            t.sequences_trained,
            t.test_wrong,
        )
        assert a.final_train_error == pytest.approx(t.final_train_error, rel=1e-9)
        assert a.test_error == pytest.approx(t.test_error, rel=1e-9)


def test_kernel_and_torch_backends_train_the_same_1997_net():
    cfg = dict(
        task="adding",
        task_params={"T": 20},
        model=ModelSpec(name="lstm1997"),
        max_sequences=1000,
        seeds=2,
    )
    k = train(TrialConfig(**cfg, backend="kernel"))
    t = train(TrialConfig(**cfg, backend="torch"))
    assert (k.backend, t.backend) == ("kernel", "torch")
    assert per_seed(k) == per_seed(t)
    for a, b in zip(k.seeds, t.seeds, strict=True):
        assert a.test_error == pytest.approx(b.test_error, rel=1e-7)


def test_lstm1997_learns_a_short_adding_problem_in_every_seed_and_a_tiny_lr_does_not():
    # The literal ST3 rule needs ~300k sequences even at T=12 (2000 consecutive correct);
    # the relaxed 99%-of-the-window reading holds within ~70k, so the study reads that here.
    cfg = dict(
        task="adding",
        task_params={"T": 12},
        model=ModelSpec(name="lstm1997"),
        seeds=4,
        reading="frac99",
    )
    good = train(TrialConfig(**cfg, lr=1.0, max_sequences=100_000))
    for s in good.seeds:
        assert s.readings["frac99"] is not None, per_seed(good)
        assert s.readings["mae"] <= s.readings["frac99"]  # the weaker reading holds first
        assert s.sequences_trained == s.readings["frac99"]  # training stopped right there
        assert s.test_wrong <= 0.02 * s.test_n  # and it generalises to a fresh test set
    assert good.n_solved >= 1
    bad = train(TrialConfig(**cfg, lr=1e-6, max_sequences=20_000))
    assert bad.n_solved == 0
    for s in bad.seeds:
        assert s.sequences_trained == 20_000
        assert s.readings == {"literal": None, "mae": None, "frac99": None}
        assert s.test_wrong > 0.5 * s.test_n


def test_the_chosen_reading_decides_solved_and_stops_training():
    cfg = dict(task="adding", task_params={"T": 12}, lr=1.0, seeds=2, max_sequences=80_000)
    lit = train(TrialConfig(**cfg, reading="literal"))
    rel = train(TrialConfig(**cfg, reading="frac99"))
    for a, b in zip(lit.seeds, rel.seeds, strict=True):
        assert b.sequences_trained == b.readings["frac99"]
        # same seed, same stream: the relaxed reading held at the same point in both runs
        assert b.readings["frac99"] == a.readings["frac99"]
        assert b.sequences_trained <= a.sequences_trained


def test_seeds_derive_from_the_configuration_not_from_the_worker():
    a = TrialConfig(task="adding", task_params={"T": 20}, seeds=4)
    b = TrialConfig.from_dict({**a.to_dict(), "seeds": 2, "replicate_offset": 2})
    assert [a.seed_of(i) for i in (2, 3)] == [b.seed_of(0), b.seed_of(1)]
    c = TrialConfig.from_dict({**a.to_dict(), "lr": 0.1})
    assert a.seed_of(0) != c.seed_of(0)
    d = TrialConfig.from_dict({**a.to_dict(), "seed_base": 1})
    assert a.seed_of(0) != d.seed_of(0)


def test_results_are_plain_json_data_and_round_trip():
    r = train(TrialConfig(task="adding", task_params={"T": 20}, seeds=2, max_sequences=300))
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    back = TrialResult.from_dict(d)
    assert per_seed(back) == per_seed(r)
    assert back.summary()["n_seeds"] == 2 and back.weights == 93
    assert len(r.seeds[0].curve) >= 1


@pytest.mark.parametrize(
    "task",
    [
        "embedded_reber",
        "two_sequence_3a",
        "temporal_order_6a",
        "multiplication",
        "long_lag_2c",
        "noise_free_2b",
    ],
)
def test_every_kind_of_stopping_rule_runs(task):
    params = {
        "long_lag_2c": {"q": 10, "p": 10},
        "noise_free_2b": {"p": 10},
        "two_sequence_3a": {"T": 20, "N": 3},
    }.get(task, {})
    r = train(TrialConfig(task=task, task_params=params, seeds=2, max_sequences=1000))
    for s in r.seeds:
        assert 0 < s.sequences_trained <= 1000
        assert s.test_n == make_task(task, **params).test_size
        assert math.isfinite(s.test_error)


def _lanes(task_name: str, K: int, B: int) -> LaneBatch:
    task = make_task(task_name, T=20)
    return LaneBatch.stack([task.sample(np.random.default_rng(k), B) for k in range(K)])


@pytest.mark.parametrize("kind", ["kernel", "torch"])
def test_a_nan_lane_is_flagged_and_never_touches_the_others(kind):
    from models.registry import build_model

    task = make_task("adding", T=20)
    spec = ModelSpec(name="lstm1997")

    def make():
        m = build_model(spec, task.paper, 2, 1, [np.random.default_rng(k) for k in range(3)], 0.1)
        return KernelBackend(m) if kind == "kernel" else TorchBackend(m)

    clean, poisoned = make(), make()
    state = poisoned.snapshot()
    if kind == "kernel":
        poisoned.Wh[1, 0, 0] = np.nan
    else:
        import torch

        with torch.no_grad():
            poisoned.params[0][1, 0, 0] = float("nan")
    assert poisoned.finite().tolist() == [True, False, True]
    lb = _lanes("adding", 3, 20)
    n = np.array([20, 20, 20])
    y_clean = clean.train_block(lb, n, 0.5)
    y_pois = poisoned.train_block(lb, n, 0.5)
    assert np.array_equal(y_clean[[0, 2]], y_pois[[0, 2]])
    assert poisoned.finite().tolist() == [True, False, True]
    poisoned.restore(state, np.array([1]))
    assert poisoned.finite().all()


@pytest.mark.parametrize("model", ["lstm1997", "elman"])
def test_float32_tracks_float64(model):
    cfg = dict(
        task="adding",
        task_params={"T": 20},
        model=ModelSpec(name=model),
        seeds=2,
        max_sequences=500,
        lr=0.5,
    )
    a = train(TrialConfig(**cfg))
    b = train(TrialConfig(**cfg, precision="float32"))
    assert [s.seed for s in a.seeds] == [s.seed for s in b.seeds]
    for x, y in zip(a.seeds, b.seeds, strict=True):
        assert y.final_train_error == pytest.approx(x.final_train_error, rel=1e-3)
        assert y.test_error == pytest.approx(x.test_error, rel=1e-3)


def _peak_bytes(cfg: TrialConfig) -> int:
    import tracemalloc

    train(cfg)  # compile / load the kernels outside the measurement
    tracemalloc.start()
    try:
        r = train(cfg)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert all(s.test_n == 2560 and s.test_wrong > 0 for s in r.seeds)
    return peak


def test_training_memory_is_flat_in_the_lag():
    """A block's inputs are materialised (K lanes x B sequences x longest length) and the final
    test runs in block-sized chunks, so peak memory must not grow with T. Measured before the
    fix, at K=8: 456 MiB at T=400 (the whole 2560-sequence test set stacked at once), and blocks
    of 250 sequences at every T (~10x the T=100 memory at T=1000)."""
    from workers.trainer import block_size

    assert block_size(make_task("adding", T=100)) == 250
    assert block_size(make_task("adding", T=1000)) == 25
    configs = {
        T: TrialConfig(task="adding", task_params={"T": T}, lr=1e-9, seeds=8, max_sequences=250)
        for T in (100, 1000)
    }
    peaks = {T: _peak_bytes(cfg) for T, cfg in configs.items()}
    assert peaks[1000] < 1.5 * peaks[100], {T: f"{p / 2**20:.1f} MiB" for T, p in peaks.items()}
    assert peaks[100] < 40 * 2**20


def test_backend_choice_takes_the_gpu_only_for_large_configurations(monkeypatch):
    """The decision alone (no GPU here): kernels on the CPU unless CUDA is present and the
    configuration is large (weights x seeds >= 500,000); torch wherever no kernel exists."""
    import torch

    from workers.trainer import choose_backend

    small = TrialConfig(seeds=64)
    large = TrialConfig(seeds=512)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert choose_backend(large, True, 10_000) == ("kernel", "cpu")
    assert choose_backend(large, False, 10_000) == ("torch", "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert choose_backend(small, True, 93) == ("kernel", "cpu")
    assert choose_backend(large, True, 10_000) == ("torch", "cuda")
    assert choose_backend(small, False, 93) == ("torch", "cuda")
    pinned = TrialConfig(seeds=512, device="cpu")
    assert choose_backend(pinned, True, 10_000) == ("kernel", "cpu")
    assert choose_backend(TrialConfig(backend="kernel"), True, 10_000) == ("kernel", "cpu")
    with pytest.raises(ValueError, match="backend 'kernel'"):
        choose_backend(TrialConfig(backend="kernel"), False, 93)


def test_the_next_block_is_drawn_with_a_short_switch_interval_then_it_is_put_back():
    # without it the drawing thread keeps the GIL up to 5 ms whenever the main thread lets it go
    # between kernel calls: the trainer's steady rate fell to ~85% of the kernel alone
    import sys

    from workers.cpu_modes import SWITCH_INTERVAL_S

    seen: list[float] = []
    before = sys.getswitchinterval()
    cfg = TrialConfig(task="adding", task_params={"T": 20}, lr=0.5, seeds=2, max_sequences=500)
    train(cfg, progress=lambda done, total: seen.append(sys.getswitchinterval()))
    assert seen and all(s == pytest.approx(SWITCH_INTERVAL_S) for s in seen)
    assert sys.getswitchinterval() == before

    def fail(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, progress=fail)
    assert sys.getswitchinterval() == before


def test_training_flushes_subnormal_floats_and_puts_the_mode_back():
    # vanishing BPTT gradients reach the subnormal range, where every float op takes a slow
    # microcode path: the float32 Elman kernel ran ~6x slower (benchmarks.denormals)
    from workers.cpu_modes import denormals_flushed

    assert not denormals_flushed()
    seen: list[bool] = []
    cfg = TrialConfig(
        task="adding", task_params={"T": 20}, model=ModelSpec(name="elman"), lr=0.5, seeds=2,
        max_sequences=500, precision="float32",
    )  # fmt: skip
    r = train(cfg, progress=lambda done, total: seen.append(denormals_flushed()))
    assert seen and all(seen)
    assert not denormals_flushed()
    assert all(s.sequences_trained > 0 for s in r.seeds)
