"""Search studies never train a configuration twice, across restarts too (issue 8, point 1).

A random or TPE sampler rebuilt with the spec's seed in a new driver process used to propose the
first run's points again, so a study continued after a kill or an extension counted those
configurations twice on its map.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from optuna.trial import TrialState
from study_helpers import TOP, optuna_trials, our_trials, tiny_spec

from study.driver import Driver
from study.specfile import load_spec

pytestmark = pytest.mark.usefixtures("ray_local")


@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_a_continued_search_proposes_only_new_configurations(sampler: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/carousel.db"
    # 3 lr x 2 blocks + 3 lr = 9 distinct configurations
    path = tiny_spec(tmp_path, name="s", lrs="[1.0, 2.0, 4.0]", sampler=sampler,
                     top=TOP + "\nn_trials = 2", max_sequences=2000)  # fmt: skip
    assert Driver(load_spec(path), url, live=False).run().completed == 2
    path.write_text(path.read_text().replace("n_trials = 2", "n_trials = 7"))
    out = Driver(load_spec(path), url, live=False).run()  # a new driver: a fresh sampler object
    assert out.completed == 5
    rows = [r["row"] for r in our_trials(url, "s")]
    keys = [r["config_key"] for r in rows if r["state"] == "COMPLETE"]
    assert len(keys) == 7 and len(set(keys)) == 7
    # Optuna's own record: repeated proposals (if any) point at the trial they repeat
    trials = optuna_trials(url, "s")
    trained = [t for t in trials if "duplicate_of" not in t.user_attrs]
    assert len([t for t in trained if t.state == TrialState.COMPLETE]) == 7
    numbers = {t.number for t in trained}
    for t in trials:
        if "duplicate_of" in t.user_attrs and t.state == TrialState.COMPLETE:
            assert t.user_attrs["duplicate_of"] in numbers
            assert t.value == next(
                o.value for o in trained if o.number == t.user_attrs["duplicate_of"]
            )


def test_n_trials_up_to_the_whole_discrete_space_finds_every_configuration(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/carousel.db"
    path = tiny_spec(tmp_path, name="all", lrs="[1.0, 2.0]", sampler="random",
                     top=TOP + "\nn_trials = 6", max_sequences=2000)  # fmt: skip
    out = Driver(load_spec(path), url, live=False).run()
    assert out.completed == 6
    keys = {r["row"]["config_key"] for r in our_trials(url, "all")}
    assert len(keys) == 6
