"""The trainer on real data: a real run above chance, per-seed metrics, the validation stop,
softmax cross-entropy on the torch backend, and ragged sequences through every backend."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from models.registry import build_model
from workers.backends import BaselineKernelBackend, KernelBackend, LaneBatch, TorchBackend
from workers.config import ModelSpec, TrialConfig
from workers.tasks import make_task
from workers.trainer import train


def test_a_small_real_run_learns_basic_motions_above_chance() -> None:
    """4 forget-gate LSTMs, 3000 sequences each (~94 passes over the 32 fit recordings): the
    test accuracy is far above chance (0.25 for 4 balanced classes)."""
    config = TrialConfig(
        task="basic_motions", task_params={}, model=ModelSpec(name="lstm_forget"), lr=0.5,
        max_sequences=3000, seeds=4,
    )  # fmt: skip
    r = train(config)
    assert r.backend == "kernel"
    acc = [s.metrics["test_accuracy"] for s in r.seeds if s.metrics]
    assert len(acc) == 4 and np.mean(acc) > 0.6, acc
    for s in r.seeds:
        assert s.metrics is not None and s.test_n == 40
        m = np.asarray(s.metrics["confusion"])
        assert m.shape == (4, 4) and m.sum() == 40 and 40 - np.trace(m) == s.test_wrong
        assert s.metrics["test_accuracy"] == pytest.approx(np.trace(m) / 40)
        assert 0.0 <= s.metrics["macro_f1"] <= 1.0
        assert s.solved == (s.metrics["test_accuracy"] >= 0.95)  # success = test accuracy
        if s.sequences_trained < 3000:  # stopped by the validation rule, at a check
            assert s.sequences_trained % 100 == 0
            assert s.readings["literal"] == s.sequences_trained
    # the per-seed metrics survive the trip through plain dicts (Ray, SQL)
    again = type(r).from_dict(r.to_dict())
    assert again.seeds[0].metrics == r.seeds[0].metrics


def test_softmax_cross_entropy_trains_on_the_torch_backend() -> None:
    config = TrialConfig(
        task="basic_motions", task_params={"output": "softmax"},
        model=ModelSpec(name="elman", hidden=4), lr=0.05, max_sequences=50, seeds=2,
    )  # fmt: skip
    r = train(config)
    assert r.backend == "torch"  # auto: the kernels compute squared error only
    assert all(s.metrics is not None and np.isfinite(s.final_train_error) for s in r.seeds)
    with pytest.raises(ValueError, match="squared error only"):
        train(TrialConfig(**{**config.__dict__, "backend": "kernel"}))


def test_cross_entropy_gradient_step_lowers_the_loss() -> None:
    task = make_task("basic_motions", output="softmax")
    spec = ModelSpec(name="elman", hidden=6)
    rngs = [np.random.default_rng(i) for i in range(2)]
    model = build_model(spec, task.paper, task.n_inputs, task.n_outputs, rngs, 0.1)
    backend = TorchBackend(model.to(torch.float64), loss="cross_entropy")
    batch = task.sample(np.random.default_rng(0), 1)
    lb = LaneBatch.stack([batch, batch])
    before = task.error(backend.forward(lb)[0], batch)[0]
    for _ in range(20):
        backend.train_block(lb, np.array([1, 1]), 0.05)
    after = task.error(backend.forward(lb)[0], batch)[0]
    assert after < before


@pytest.mark.parametrize("model", ["lstm1997", "gru"])
def test_ragged_sequences_give_the_same_outputs_padded_or_alone(model: str) -> None:
    """A short recording padded to a long one's length reads the same label output as alone,
    on the compiled kernel and on torch: padding never reaches the end-of-sequence output."""
    task = make_task("pickup_gesture_wiimote_z", lag=5)
    test = task.fixed_set("test")
    order = np.argsort(test.lengths)
    short, long_ = int(order[0]), int(order[-1])
    pair = test.take(np.array([short, long_]))
    L = int(test.lengths[short])
    one_ = test.take(np.array([short]))
    alone = dataclasses.replace(one_, idx=one_.idx[:, :L], val=one_.val[:, :L])
    assert pair.idx.shape[1] > alone.idx.shape[1]
    spec = ModelSpec(name=model)

    def net() -> torch.nn.Module:  # the same weights each time (seed 0)
        rngs = [np.random.default_rng(0)]
        return build_model(spec, task.paper, task.n_inputs, task.n_outputs, rngs, 0.1)

    kernel = KernelBackend(net()) if model == "lstm1997" else BaselineKernelBackend(net(), model)
    torch_b = TorchBackend(net().to(torch.float64))
    for backend in (kernel, torch_b):
        both = backend.forward(LaneBatch.stack([pair]))[0]
        one = backend.forward(LaneBatch.stack([alone]))[0]
        np.testing.assert_allclose(both[0], one[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        kernel.forward(LaneBatch.stack([pair]))[0],
        torch_b.forward(LaneBatch.stack([pair]))[0],
        rtol=1e-8,
        atol=1e-10,
    )


def test_csv_task_trains_end_to_end() -> None:
    example = Path(__file__).resolve().parents[2] / "studies" / "real" / "example.csv"
    r = train(
        TrialConfig(
            task="csv", task_params={"path": str(example), "threshold": 1.0},
            model=ModelSpec(name="gru"), lr=1.0, max_sequences=300, seeds=2,
        )
    )  # fmt: skip
    # the example has one training sequence a class: no validation split, so the budget runs out
    assert all(s.sequences_trained == 300 and s.test_n == 2 for s in r.seeds)
    assert all(s.metrics is not None and s.metrics["classes"] == ["run", "walk"] for s in r.seeds)
