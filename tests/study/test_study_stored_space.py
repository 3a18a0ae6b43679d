"""The search space is stored with the study (``carousel_studies.space``): for every trial it
holds exactly the distributions Optuna recorded that trial's parameters under, per model and
under the plain names our tables use, so the dashboard reads them back instead of guessing."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import sqlalchemy as sa
from optuna.distributions import CategoricalDistribution, json_to_distribution
from study_helpers import optuna_trials, tiny_spec

from study.driver import Driver
from study.model_space import canonical
from study.schema import StudyRow
from study.space import search_space, suggest
from study.specfile import load_spec
from study.storage import make_engine, session_scope

PER_MODEL = "\n[space.elman]\nlr = [0.5, 1.0]\n"


def test_search_space_is_what_suggest_draws_from(tmp_path: Path) -> None:
    spec = load_spec(tiny_spec(tmp_path, extra=PER_MODEL))
    space = search_space(spec)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(30):
        trial = study.ask()
        params = suggest(trial, spec)
        seen.add(params["model"])
        drawn = {canonical(n): d for n, d in trial.distributions.items()}
        stored = {n: json_to_distribution(j) for n, j in space[params["model"]].items()}
        assert drawn == stored
        study.tell(trial, 0.0)
    assert seen == {"lstm1997", "elman"}


@pytest.mark.usefixtures("ray_local")
def test_the_driver_stores_the_space_optuna_drew_from(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'space.db'}"
    path = tiny_spec(tmp_path, extra=PER_MODEL)
    assert Driver(load_spec(path), url, live=False).run().completed == 6
    with session_scope(make_engine(url, read_only=True)) as s:
        space = s.scalar(sa.select(StudyRow.space).where(StudyRow.name == "tiny"))
    assert space is not None
    for t in optuna_trials(url, "tiny"):
        model = t.params["model"]
        for name, dist in t.distributions.items():
            assert json_to_distribution(space[model][canonical(name)]) == dist
    # whole-valued float grids stay the categoricals they were (a value-based guess said int)
    assert json_to_distribution(space["lstm1997"]["lr"]) == CategoricalDistribution([2.0, 4.0])
    assert json_to_distribution(space["elman"]["lr"]) == CategoricalDistribution([0.5, 1.0])
