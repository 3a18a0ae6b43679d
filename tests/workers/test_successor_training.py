"""TCN, Transformer and the modern protocol through `train`: learning, lanes, tasks, devices."""

from __future__ import annotations

import json

import pytest
import torch

from workers.config import ModelSpec, TrialConfig, default_protocol
from workers.protocols import recipe
from workers.tasks import TASKS, make_task
from workers.trainer import CUDA_WORK, choose_device, train


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, as in a Ray worker: on a shared 2-core machine two threads per tiny
    op cost more than they give."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


SMALL = {
    "noise_free_2a": {"p": 6},
    "noise_free_2b": {"p": 6},
    "long_lag_2c": {"q": 6, "p": 6},
    "two_sequence_3a": {"T": 10, "N": 3},
    "two_sequence_3b": {"T": 10, "N": 3},
    "two_sequence_3c": {"T": 10, "N": 3},
    "adding": {"T": 12},
    "multiplication": {"T": 12},
}


@pytest.mark.parametrize(
    ("name", "kw", "lr"),
    [("tcn", {"channels": 8}, 0.01), ("transformer", {"width": 8, "heads": 2}, 0.01)],
)
def test_a_tiny_run_learns_the_adding_problem(name: str, kw: dict, lr: float) -> None:
    """Modern protocol, 10,000 sequences: every seed's window error falls to under a third of
    its start, and the fresh test set is far from chance (~2150 of 2560 wrong untrained)."""
    r = train(
        TrialConfig(
            task="adding",
            task_params={"T": 12},
            model=ModelSpec(name=name, **kw),
            lr=lr,
            seeds=2,
            max_sequences=10_000,
            protocol="modern",
        )
    )
    assert r.backend == "torch"
    for s in r.seeds:
        assert s.sequences_trained == 10_000
        assert s.curve[-1][1] < s.curve[0][1] / 3, s.curve
        assert s.test_wrong < 1800


@pytest.mark.parametrize(
    ("model", "protocol"),
    [
        (ModelSpec(name="tcn", channels=4, dropout=0.2), "modern"),
        (ModelSpec(name="tcn", channels=3, levels=2), "paper"),
        (ModelSpec(name="transformer", width=4, heads=2, attention="full"), "modern"),
        (ModelSpec(name="lstm1997"), "modern"),
    ],
)
def test_vectorised_seeds_equal_seeds_trained_one_at_a_time(model: ModelSpec, protocol: str):
    base = TrialConfig(
        task="adding",
        task_params={"T": 12},
        model=model,
        lr=0.01 if protocol == "modern" else 0.5,
        max_sequences=300,
        seeds=3,
        protocol=protocol,
    )
    together = train(base)
    for i in range(3):
        alone = train(TrialConfig.from_dict({**base.to_dict(), "seeds": 1, "replicate_offset": i}))
        a, t = alone.seeds[0], together.seeds[i]
        assert (a.seed, a.readings) == (t.seed, t.readings)
        assert a.sequences_trained == t.sequences_trained
        assert abs(a.test_wrong - t.test_wrong) <= 2  # a borderline output may round either way
        assert a.final_train_error == pytest.approx(t.final_train_error, rel=1e-6)
        assert a.test_error == pytest.approx(t.test_error, rel=1e-6)


@pytest.mark.parametrize("name", ["tcn", "transformer"])
@pytest.mark.parametrize("task", sorted(TASKS))
def test_successors_train_on_every_task(name: str, task: str) -> None:
    params = SMALL.get(task, {})
    r = train(
        TrialConfig(
            task=task, task_params=params, model=ModelSpec(name=name), seeds=2, max_sequences=30
        )
    )
    t = make_task(task, **params)
    assert r.config.protocol == "paper" and r.backend == "torch"
    for s in r.seeds:
        assert 0 < s.sequences_trained <= 30 and s.test_n == t.test_size
    json.dumps(r.to_dict())


def test_modern_protocol_takes_the_torch_path_and_its_family_settings() -> None:
    cfg = TrialConfig(task="adding", task_params={"T": 12}, seeds=2, max_sequences=64)
    assert train(cfg).backend == "kernel"
    assert train(TrialConfig.from_dict({**cfg.to_dict(), "protocol": "modern"})).backend == "torch"
    assert recipe("transformer", "modern").optimizer == "adamw"
    assert recipe("tcn", "modern").clip == 1.0 and recipe("gru", "paper").batch == 1
    assert default_protocol("tcn") == "modern" and default_protocol("lstm1997") == "paper"
    with pytest.raises(ValueError, match="protocol"):
        TrialConfig(protocol="nesterov")
    with pytest.raises(ValueError, match="kernel"):
        train(TrialConfig(model=ModelSpec(name="tcn"), backend="kernel"))


def test_new_fields_keep_the_keys_and_seeds_of_older_configurations() -> None:
    """A configuration that sets none of the new fields keeps the key it had before them."""
    old = TrialConfig(task="adding", task_params={"T": 20}, seeds=4)
    key = json.loads(old.key())
    assert "protocol" not in key and set(key["model"]) == {
        "name", "blocks", "cells_per_block", "gates", "gate_bias", "gradient", "forget_gate",
        "hidden", "match_weights",
    }  # fmt: skip
    modern = TrialConfig.from_dict({**old.to_dict(), "protocol": "modern"})
    assert modern.key() != old.key() and modern.seed_of(0) != old.seed_of(0)
    model = {"name": "lstm_forget", "forget_bias": 0}
    fb = TrialConfig.from_dict({**old.to_dict(), "model": model})
    assert json.loads(fb.key())["model"]["forget_bias"] == 0


def test_device_choice_takes_cuda_only_for_large_successor_configurations(monkeypatch) -> None:
    small, large = TrialConfig(seeds=16), TrialConfig(seeds=64)
    weights = -(-CUDA_WORK // (64 * 32))  # just enough at K=64, batch 32
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert choose_device(large, weights, 32) == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert choose_device(large, weights, 32) == "cuda"
    assert choose_device(small, weights, 32) == "cpu"  # a quarter of the work: CPU
    assert choose_device(large, weights, 1) == "cpu"  # on-line SGD: one sequence per update
    assert choose_device(TrialConfig(seeds=16, device="cuda"), 10, 1) == "cuda"
