"""The paper's protocol where it is more than a generator: the update moment and Exp. 1's sets.

* ``update = "step" | "sequence"``: resolved per task and model (`workers.protocols`), carried to
  both backends (the kernel and torch agree under each), recorded in the result.
* Exp. 1 on the paper's fixed sets: each seed's own 256 training and 256 test strings, training
  exemplars picked from the training set only, and a seed is judged on both sets.
"""

from __future__ import annotations

import numpy as np
import pytest

from models.registry import build_model
from workers.backends import KernelBackend, LaneBatch
from workers.config import ModelSpec, TrialConfig
from workers.protocols import update_moment
from workers.tasks import make_task
from workers.tasks.embedded_reber import decode
from workers.trainer import _draw, _evaluate_pairs, _lane_sets, train


def reber(**kw: object) -> TrialConfig:
    base: dict[str, object] = dict(
        task="embedded_reber",
        task_params={},
        model=ModelSpec(),
        lr=0.5,
        max_sequences=1000,
        seeds=2,
    )
    return TrialConfig(**{**base, **kw})  # type: ignore[arg-type]


def test_default_update_moment_is_per_step_only_where_error_comes_before_the_end() -> None:
    assert update_moment(reber(), error_at_end=False) == "step"
    assert update_moment(reber(), error_at_end=True) == "sequence"
    assert update_moment(reber(model=ModelSpec(name="elman")), error_at_end=False) == "sequence"
    assert update_moment(reber(protocol="modern"), error_at_end=False) == "sequence"
    assert update_moment(reber(update="sequence"), error_at_end=False) == "sequence"
    # a task's paper setup may choose the 1997 net's moment (Exp. 2a/2b: sequence)
    assert update_moment(reber(), error_at_end=False, paper_update="sequence") == "sequence"
    assert update_moment(reber(update="step"), False, paper_update="sequence") == "step"
    elman = reber(model=ModelSpec(name="elman"))
    assert update_moment(elman, error_at_end=False, paper_update="step") == "sequence"
    assert make_task("noise_free_2a").paper.update == "sequence"
    assert make_task("noise_free_2b").paper.update == "sequence"
    assert make_task("embedded_reber").paper.update is None  # the general default: step
    with pytest.raises(ValueError, match="real-time"):
        update_moment(reber(model=ModelSpec(name="gru"), update="step"), error_at_end=False)
    with pytest.raises(ValueError, match="update must be"):
        reber(update="batch")


def test_unset_update_keeps_the_old_configuration_key_and_seeds() -> None:
    assert "update" not in reber().key()
    assert reber().key() != reber(update="step").key()  # set: a configuration of its own
    assert reber().seed_of(0) == reber(update="sequence").seed_of(0)  # on the same seeds


@pytest.mark.parametrize("update", ["step", "sequence"])
def test_kernel_and_torch_train_the_same_net_under_each_update_moment(update: str) -> None:
    cfg = reber(max_sequences=40, update=update, task_params={"sets": "fresh"})
    k = train(TrialConfig.from_dict({**cfg.to_dict(), "backend": "kernel"}))
    t = train(TrialConfig.from_dict({**cfg.to_dict(), "backend": "torch"}))
    assert k.update == t.update == update and (k.backend, t.backend) == ("kernel", "torch")
    for a, b in zip(k.seeds, t.seeds, strict=True):
        assert a.test_wrong == b.test_wrong
        assert a.final_train_error == pytest.approx(b.final_train_error, rel=1e-9)
        assert a.test_error == pytest.approx(b.test_error, rel=1e-9)


def test_the_update_moment_changes_what_exp1_learns_and_is_recorded() -> None:
    step, seq = train(reber(update="step")), train(reber(update="sequence"))
    assert (step.update, seq.update) == ("step", "sequence")
    assert step.summary()["update"] == "step"
    assert [s.final_train_error for s in step.seeds] != [s.final_train_error for s in seq.seeds]
    # error only at the end (the adding problem): the same weights either way
    add = dict(task="adding", task_params={"T": 20}, max_sequences=500)
    a, b = train(reber(update="step", **add)), train(reber(update="sequence", **add))
    assert [s.final_train_error for s in a.seeds] == [s.final_train_error for s in b.seeds]


def test_each_seed_trains_on_its_own_fixed_training_set_only() -> None:
    task = make_task("embedded_reber")
    pairs = _lane_sets(task, [np.random.default_rng(s) for s in (1, 2)])
    again = _lane_sets(task, [np.random.default_rng(s) for s in (1, 2)])
    assert pairs is not None and again is not None
    assert decode(pairs[0][0]) == decode(again[0][0])  # a seed's sets are reproducible
    assert decode(pairs[0][0]) != decode(pairs[1][0])  # and its own
    for train_set, test_set in pairs:
        assert train_set.n == test_set.n == 256
        assert not set(decode(train_set)) & set(decode(test_set))
    drawn = _draw(task, [np.random.default_rng(9), np.random.default_rng(10)], [0, 1], 500, pairs)
    for k in (0, 1):
        assert set(decode(drawn[k])) <= set(decode(pairs[k][0]))
        assert len(set(decode(drawn[k]))) > 0.5 * len(set(decode(pairs[k][0])))  # at random
    assert _lane_sets(make_task("embedded_reber", sets="fresh"), [np.random.default_rng(1)]) is None


def test_a_seed_is_judged_on_its_training_set_and_its_test_set() -> None:
    task = make_task("embedded_reber")
    K = 3
    rngs = [np.random.default_rng(20 + k) for k in range(K)]
    pairs = _lane_sets(task, [np.random.default_rng(30 + k) for k in range(K)])
    assert pairs is not None
    backend = KernelBackend(build_model(ModelSpec(), task.paper, 7, 7, rngs, 0.2))
    lb = LaneBatch.stack([p[0].take(np.arange(250)) for p in pairs])
    backend.train_block(lb, np.full(K, 250), 0.5)
    lanes = np.array([True, False, True])
    wrong_train, wrong_test, mae = _evaluate_pairs(task, backend, pairs, lanes, 100)
    for k in (0, 2):  # each lane's own sets, through the net alone
        for which, got in ((0, wrong_train), (1, wrong_test)):
            s = pairs[k][which]
            out = backend.forward(LaneBatch.stack([s] * K))[k]
            assert got[k] == int((~task.correct(out, s)).sum())
        out = backend.forward(LaneBatch.stack([pairs[k][1]] * K))[k]
        assert mae[k] == pytest.approx(float(task.abs_error(out, pairs[k][1]).mean()))
    assert wrong_test[1] == 256 and np.isnan(mae[1])  # a lane not asked fails


def test_fresh_and_fixed_sets_are_different_protocols() -> None:
    fixed = train(reber())
    fresh = train(reber(task_params={"sets": "fresh"}))
    assert fixed.seeds[0].test_n == fresh.seeds[0].test_n == 256
    assert fixed.config.key() != fresh.config.key()
    assert [s.final_train_error for s in fixed.seeds] != [s.final_train_error for s in fresh.seeds]
    with pytest.raises(ValueError, match="sets must be"):
        make_task("embedded_reber", sets="online")
    with pytest.raises(ValueError, match="target must be"):
        make_task("embedded_reber", target="onehot")


@pytest.mark.parametrize("target", ["legal", "probability"])
def test_reber_targets_other_than_the_next_symbol(target: str) -> None:
    task = make_task("embedded_reber", target=target)
    b = task.sample(np.random.default_rng(0), 50)
    used = b.target_steps >= 0
    assert b.legal is not None
    assert ((b.targets > 0) == b.legal)[used].all()
    sums = b.targets.sum(axis=2)[used]
    assert np.allclose(sums, 1.0) if target == "probability" else (sums >= 1).all()


def test_output_delta_without_fprime_trains_the_same_on_kernel_and_torch() -> None:
    cfg = reber(max_sequences=40, output_delta="no_fprime", task_params={"sets": "fresh"})
    k = train(TrialConfig.from_dict({**cfg.to_dict(), "backend": "kernel"}))
    t = train(TrialConfig.from_dict({**cfg.to_dict(), "backend": "torch"}))
    paper = train(TrialConfig.from_dict({**cfg.to_dict(), "output_delta": None}))
    assert (k.backend, t.backend) == ("kernel", "torch")
    for a, b, p in zip(k.seeds, t.seeds, paper.seeds, strict=True):
        assert a.seed == b.seed == p.seed  # a variant of the rule, on the same seeds
        assert a.final_train_error == pytest.approx(b.final_train_error, rel=1e-9)
        assert a.final_train_error != p.final_train_error
    with pytest.raises(ValueError, match="output_delta must be"):
        reber(output_delta="none")
    with pytest.raises(ValueError, match="no_fprime"):
        train(reber(model=ModelSpec(name="tcn"), output_delta="no_fprime"))


def test_a_stopping_test_skips_lanes_that_already_failed_without_changing_anything() -> None:
    from workers.trainer import _evaluate

    task = make_task("noise_free_2b", p=10)
    K = 3
    model = build_model(ModelSpec(), task.paper, task.n_inputs, task.n_outputs,
                        [np.random.default_rng(k) for k in range(K)], 0.2)  # fmt: skip
    backend = KernelBackend(model)
    lanes = np.array([True, True, False])

    def run(max_wrong: int | None) -> tuple[np.ndarray, np.ndarray, list[float]]:
        rngs = [np.random.default_rng(40 + k) for k in range(K)]
        wrong, mae = _evaluate(task, backend, rngs, lanes, 600, 100, max_wrong)
        return wrong, mae, [float(r.random()) for r in rngs]  # where each stream is now

    full, short = run(None), run(0)
    assert (full[0][:2] > 0).all()  # an untrained net fails: the shortcut applies
    assert (short[0] <= full[0]).all() and ((short[0] > 0) == (full[0] > 0)).all()
    assert short[2] == full[2]  # every test stream advanced exactly as without the shortcut
    assert short[0][2] == full[0][2] == 600 and np.isnan(short[1][2])
