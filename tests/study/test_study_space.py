"""The search space: conditional suggestions, grid enumeration, params -> TrialConfig."""

from __future__ import annotations

import optuna
import pytest

from study.space import config_for, grid_points, make_sampler, n_grid_points, suggest
from study.specfile import parse_spec

SPEC = """
name = "space"
task = "long_lag_2c"
models = ["lstm1997", "gru", "lstm_forget"]
seeds = 3
max_sequences = 100
seed = 7
[task_params]
p = 10
[space]
lr = [0.01, 0.1]
init_range = 0.2
[space.task]
q = [10, 20]
[space.lstm1997]
blocks = [1, 2, 3]
gates = ["both", "input"]
forget_gate = false
[space.baselines]
hidden = [4, 8]
"""


def test_grid_enumerates_each_family_over_its_own_axes() -> None:
    spec = parse_spec(SPEC)
    points = grid_points(spec)
    # lstm1997: 2 lr x 2 q x 3 blocks x 2 gates; each baseline: 2 lr x 2 q x 2 hidden
    assert len(points) == 24 + 8 + 8 == n_grid_points(spec)
    keys = [config_for(spec, p).key() for p in points]
    assert len(set(keys)) == len(keys)
    for p in points:
        assert p["p"] == 10 and p["init_range"] == 0.2
        if p["model"] == "lstm1997":
            assert {"blocks", "gates", "forget_gate"} <= set(p) and "hidden" not in p
        else:
            assert "hidden" in p and "blocks" not in p and "gates" not in p


def test_config_for_builds_the_trial_config() -> None:
    spec = parse_spec(SPEC)
    lstm = config_for(
        spec,
        {"model": "lstm1997", "lr": 0.1, "init_range": 0.2, "p": 10, "q": 20, "blocks": 3,
         "gates": "input", "forget_gate": False},
    )  # fmt: skip
    assert lstm.task == "long_lag_2c" and lstm.task_params == {"p": 10, "q": 20}
    assert (lstm.model.name, lstm.model.blocks, lstm.model.gates) == ("lstm1997", 3, "input")
    assert (lstm.lr, lstm.init_range, lstm.seeds, lstm.max_sequences) == (0.1, 0.2, 3, 100)
    assert lstm.seed_base == 7  # from the spec's seed, never from a trial number
    gru = config_for(spec, {"model": "gru", "lr": 0.01, "p": 10, "q": 10, "hidden": 8})
    assert (gru.model.name, gru.model.hidden, gru.model.blocks) == ("gru", 8, None)


@pytest.mark.parametrize("sampler", ["tpe", "random", "qmc"])
def test_search_samplers_respect_the_conditional_space(sampler: str) -> None:
    text = SPEC.replace("seed = 7", f'seed = 7\nsampler = "{sampler}"\nn_trials = 30')
    text = text.replace("lr = [0.01, 0.1]", "lr = {low = 0.001, high = 1.0, log = true}")
    text = text.replace("blocks = [1, 2, 3]", "blocks = {low = 1, high = 4}")
    spec = parse_spec(text)
    study = optuna.create_study(direction="maximize", sampler=make_sampler(spec))
    seen = set()
    for _ in range(30):
        trial = study.ask()
        params = suggest(trial, spec)
        seen.add(params["model"])
        assert 0.001 <= params["lr"] <= 1.0
        if params["model"] == "lstm1997":
            assert isinstance(params["blocks"], int) and 1 <= params["blocks"] <= 4
            assert "hidden" not in params
        else:
            assert params["hidden"] in (4, 8) and "blocks" not in params
        assert trial.params == params  # Optuna records exactly what the trial suggested
        study.tell(trial, float(params["lr"]))
    assert seen == {"lstm1997", "gru", "lstm_forget"}


def test_seeded_samplers_repeat_their_suggestions() -> None:
    text = SPEC.replace("seed = 7", 'seed = 7\nsampler = "random"\nn_trials = 5')
    spec = parse_spec(text)

    def draw() -> list[dict]:
        study = optuna.create_study(sampler=make_sampler(spec))
        out = []
        for _ in range(5):
            t = study.ask()
            out.append(suggest(t, spec))
            study.tell(t, 0.0)
        return out

    assert draw() == draw()


def test_enqueued_grid_point_comes_back_unchanged() -> None:
    spec = parse_spec(SPEC)
    study = optuna.create_study(direction="maximize")
    for point in grid_points(spec)[::7]:
        study.enqueue_trial(point)
        trial = study.ask()
        assert suggest(trial, spec) == point
        study.tell(trial, 1.0)
