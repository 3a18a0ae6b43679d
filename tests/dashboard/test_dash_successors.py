"""TCN and Transformer on the map, lag-curve and sensitivity pages, from a real (tiny) study.

The study (``study-launch``, real Ray, SQLite) also gives gru its own learning-rate grid
(``[space.gru] lr``): carousel's tables store it as plain ``lr``, so the map's lr axis shows
every model at its own rates.
"""

from __future__ import annotations

import json

import pytest
from dash_helpers import StudyDb, db_rows, launch
from test_dash_pages import frame_with, open_page

pytestmark = [
    pytest.mark.usefixtures("app_env"),
    pytest.mark.slow,
    pytest.mark.timeout(1200),  # the fixture's study: about a minute on an idle 2-core machine
]

SPEC = """\
name = "dash-succ"
task = "noise_free_2a"
models = ["gru", "tcn", "transformer"]
seeds = 2
max_sequences = 2000
sampler = "grid"
seed = 0
protocol = "paper"

[space]
lr = [0.3, 3.0]

[space.task]
p = [4, 6]

[space.gru]
lr = [1.0, 3.0]

[space.tcn]
match_weights = [60, 150]

[space.transformer]
match_weights = [60, 150]
"""
"""20 trials: gru 2 lr x 2 lags; tcn and transformer 2 lr x 2 sizes x 2 lags. At this budget
the TCN solves p = 4 at lr 0.3 and nothing else: contrast for the sensitivity page."""


@pytest.fixture(scope="module")
def succ_db(tmp_path_factory: pytest.TempPathFactory) -> StudyDb:
    folder = tmp_path_factory.mktemp("dash-succ")
    path = folder / "carousel.db"
    spec = folder / "succ.toml"
    spec.write_text(SPEC)
    out = launch(spec, f"sqlite:///{path}", timeout=900)
    assert out.returncode == 0, f"study-launch failed:\n{out.stdout}\n{out.stderr}"
    return StudyDb(path, f"sqlite:///{path}")


def test_the_study_stores_plain_names(succ_db: StudyDb) -> None:
    rows = db_rows(succ_db.path, "dash-succ")
    assert len(rows) == 20 and all(r["state"] == "COMPLETE" for r in rows)
    assert {r["params"]["lr"] for r in rows if r["model"] == "gru"} == {"1.0", "3.0"}
    assert {r["params"]["lr"] for r in rows if r["model"] == "tcn"} == {"0.3", "3.0"}
    assert {r["params"]["match_weights"] for r in rows if r["model"] == "tcn"} == {"60", "150"}
    assert any(r["n_solved"] > 0 for r in rows) and any(r["n_solved"] == 0 for r in rows)
    assert {r["params"]["protocol"] for r in rows} == {"paper"}
    assert all(not any("." in k for k in r["params"]) for r in rows)


def test_map_shows_every_model_at_its_own_learning_rates(
    succ_db: StudyDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(succ_db.url, None, monkeypatch, study="dash-succ")
    assert at.selectbox(key="map_x").value == "lr"
    at.selectbox(key="map_y").set_value("match_weights").run()
    cells = frame_with(at, "model", "lr", "match_weights", "n_solved", "n_seeds")
    assert set(cells["model"]) == {"gru", "tcn", "transformer"}
    assert set(cells.loc[cells["model"] == "gru", "lr"]) == {"1.0", "3.0"}
    assert set(cells.loc[cells["model"] == "transformer", "lr"]) == {"0.3", "3.0"}
    assert set(cells.loc[cells["model"] == "tcn", "match_weights"]) == {"60", "150"}
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {t["name"] for t in spec["data"] if t["type"] == "heatmap"} == {
        "gru",
        "tcn",
        "transformer",
    }


def test_lag_curves_and_sensitivity_include_the_successors(
    succ_db: StudyDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(succ_db.url, "lag_curves", monkeypatch, study="dash-succ")
    points = frame_with(at, "model", "which", "config", "p", "n_solved", "n_seeds")
    assert set(points["model"]) == {"gru", "tcn", "transformer"}
    assert sorted(set(points["p"])) == [4.0, 6.0]
    at = open_page(succ_db.url, "sensitivity", monkeypatch, study="dash-succ")
    imp = frame_with(at, "scope", "param", "importance", "n_trials")
    assert "tcn" in set(imp["scope"]), set(imp["scope"])  # the one model whose success varies
    assert set(imp.loc[imp["scope"] == "tcn", "param"]) <= {"lr", "match_weights", "p"}
    assert at.selectbox(key="sens_size").value == "match_weights"  # a successor's size axis
    anova = frame_with(at, "model", "lr_share", "size_share", "interaction_share")
    assert "tcn" in set(anova["model"])
