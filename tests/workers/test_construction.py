"""Sequential construction (`workers.construction`): the paper adds Exp. 2a/2b's cell once the
error stops decreasing.

* Held, a cell feeds nothing and learns nothing: the net is the cell-less net exactly, and the
  cell's own weights keep their initial values until it is added with its initial output weights.
* On Exp. 2a the construction is what makes the net learn: with the cell present from the start
  its drifting state saturates the outputs (the bug: the 2a row could not be reproduced).
* The option is resolved per model and backend, validated in specs, recorded, and a trial that
  departs from the paper's construction is a measured variant, not the paper's row.
"""

from __future__ import annotations

import numpy as np
import pytest

from models.registry import build_model
from study.space import config_for, grid_points
from study.spec import SpecError
from study.specfile import parse_spec
from workers.backends import KernelBackend, LaneBatch
from workers.config import ModelSpec, TrialConfig
from workers.construction import Plateau, resolve
from workers.tasks import make_task
from workers.tasks.paper_rows import departures
from workers.trainer import train


def two_a(p: int = 30, **kw: object) -> TrialConfig:
    base: dict[str, object] = dict(
        task="noise_free_2a",
        task_params={"p": p},
        model=ModelSpec(),
        lr=1.0,
        max_sequences=12_000,
        seeds=2,
        update="step",  # at p = 30 the per-step update learns 2a fast (the task default: sequence)
    )
    return TrialConfig(**{**base, **kw})  # type: ignore[arg-type]


def _backend(p: int = 8) -> tuple[KernelBackend, LaneBatch]:
    task = make_task("noise_free_2a", p=p)
    rngs = [np.random.default_rng(s) for s in (1, 2)]
    model = build_model(ModelSpec(), task.paper, task.n_inputs, task.n_outputs, rngs, 0.2)
    lb = LaneBatch.stack([task.sample(np.random.default_rng(9 + k), 20) for k in range(2)])
    return KernelBackend(model, per_step=True), lb


def test_a_held_cell_feeds_and_learns_nothing_until_it_is_added() -> None:
    be, lb = _backend()
    Wh0, Wo0 = be.Wh.copy(), be.Wo.copy()
    n = be.n_cells
    be.hold_cells()
    cellless, _ = _backend()  # the same net with the cell's output weights zeroed by hand
    cellless.Wo[:, :, :n] = 0.0
    np.testing.assert_allclose(be.forward(lb), cellless.forward(lb))
    be.train_block(lb, np.array([20, 20]), 1.0)
    np.testing.assert_array_equal(be.Wh, Wh0)  # the cell and its gate got no error signal
    np.testing.assert_array_equal(be.Wo[:, :, :n], 0.0)  # its output weights stayed at zero
    assert not np.array_equal(be.Wo[:, :, n:], Wo0[:, :, n:])  # the direct weights learned
    be.add_cells()
    np.testing.assert_array_equal(be.Wo[:, :, :n], Wo0[:, :, :n])  # added with its initial weights
    before = be.Wh.copy()
    be.train_block(lb, np.array([20, 20]), 1.0)
    assert not np.array_equal(be.Wh, before)  # now it learns


def test_plateau_waits_for_the_error_curve_to_flatten() -> None:
    p = Plateau(2, patience=500, min_gain=0.01)
    n = np.array([250, 250])
    falling = [p.update(np.array([e, e]), n) for e in (1.0, 0.5, 0.25, 0.12)]
    assert not any(f.any() for f in falling)
    p.update(np.array([0.1199, 0.05]), n)
    flat = p.update(np.array([0.1198, 0.02]), n)
    assert flat.tolist() == [True, False]
    assert not p.update(np.array([np.nan, 0.02]), np.array([0, 250]))[0]  # a frozen lane: no news


def test_sequential_construction_learns_exp_2a_where_the_cell_from_the_start_does_not() -> None:
    seq = train(two_a())  # the paper's default for 2a
    at_once = train(two_a(construction="at_once"))
    assert seq.trained["construction"] == "sequential"
    assert 0 < seq.trained["cells_added_at"] < 12_000
    assert at_once.trained["construction"] == "at_once" and "cells_added_at" not in at_once.trained
    assert [s.seed for s in seq.seeds] == [s.seed for s in at_once.seeds]  # paired seeds
    assert all(s.solved for s in seq.seeds), [s.test_wrong for s in seq.seeds]
    assert not any(s.solved for s in at_once.seeds)


def test_construction_resolves_per_model_and_backend() -> None:
    assert resolve(None, "sequential", lstm1997=True, kernel=True) == "sequential"
    assert resolve(None, "sequential", lstm1997=False, kernel=True) == "at_once"
    assert resolve(None, "at_once", lstm1997=True, kernel=True) == "at_once"
    assert resolve("at_once", "sequential", lstm1997=True, kernel=False) == "at_once"
    with pytest.raises(ValueError, match="sequential"):
        resolve("sequential", "at_once", lstm1997=True, kernel=False)
    with pytest.raises(ValueError, match="sequential"):
        train(two_a(model=ModelSpec(name="elman"), construction="sequential", update=None))
    with pytest.raises(ValueError, match="construction must be"):
        two_a(construction="later")
    elman = train(two_a(model=ModelSpec(name="elman"), update=None, max_sequences=250, seeds=1))
    assert elman.trained["construction"] == "at_once"  # a baseline is not built cell by cell


SPEC = """
name = "c"
task = "noise_free_2a"
models = MODELS
seeds = 2
max_sequences = 1000
sampler = "grid"
TOP
[task_params]
p = 10
"""


SEQ = 'construction = "sequential"'


def test_construction_is_a_spec_axis_of_the_1997_net() -> None:
    spec = parse_spec(
        SPEC.replace("MODELS", '["lstm1997"]').replace("TOP", "")
        + '[space]\nconstruction = ["at_once", "sequential"]\n'
    )
    got = sorted(str(config_for(spec, p).construction) for p in grid_points(spec))
    assert got == ["at_once", "sequential"]
    with pytest.raises(SpecError, match="sequential"):
        parse_spec(SPEC.replace("MODELS", '["lstm1997", "elman"]').replace("TOP", SEQ))
    with pytest.raises(SpecError, match="construction"):
        parse_spec(SPEC.replace("MODELS", '["lstm1997"]').replace("TOP", 'construction = "x"'))


def test_a_trial_off_the_papers_construction_is_a_variant() -> None:
    setup = make_task("noise_free_2a", p=100).paper
    assert departures({"trained": {"construction": "sequential"}}, setup) == []
    assert departures({}, setup) == []  # older trials: the paper's default
    assert departures({"trained": {"construction": "at_once"}}, setup) == ["construction at_once"]
    adding = make_task("adding", T=100).paper
    assert departures({"trained": {"construction": "at_once"}}, adding) == []
