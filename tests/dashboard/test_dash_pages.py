"""Every page under AppTest on a database made by a real study, checking the numbers shown.

The expected numbers come from the database through plain sqlite3 (`conftest.db_rows`), summed
in Python per cell, so a page that mis-groups, drops or double-counts trials fails here.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict

import pandas as pd
import pytest
from dash_helpers import APP, StudyDb, db_rows, plotly_array
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.usefixtures("app_env")


def open_page(url: str, page: str | None, monkeypatch: pytest.MonkeyPatch, **query: str) -> AppTest:
    monkeypatch.setenv("CAROUSEL_STORAGE", url)
    at = AppTest.from_file(str(APP), default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    if page is not None:
        at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def frame_with(at: AppTest, *columns: str) -> pd.DataFrame:
    """The first table on the page that has all these columns."""
    for df in at.dataframe:
        if all(c in df.value.columns for c in columns):
            return df.value
    raise AssertionError(
        f"no table with columns {columns}: {[list(d.value.columns) for d in at.dataframe]}"
    )


def text_of(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in (*at.info, *at.warning, *at.error, *at.success)]
    return "\n".join(str(p) for p in parts)


def expected_cells(rows: list[dict], *dims: str) -> dict[tuple, tuple[int, int]]:
    """(dim labels) -> (n_solved, n_seeds) summed over the trials, from the raw rows."""
    out: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        key = tuple(r["model"] if d == "model" else r["params"].get(d, "n/a") for d in dims)
        out[key][0] += r["n_solved"]
        out[key][1] += r["n_seeds"]
    return {k: (v[0], v[1]) for k, v in out.items()}


def test_study_really_ran(study_db: StudyDb) -> None:
    rows = db_rows(study_db.path, "dash-map")
    assert len(rows) == 12
    assert all(r["state"] == "COMPLETE" for r in rows), [(r["number"], r["error"]) for r in rows]
    assert sum(len(r["seeds"]) for r in rows) == 48
    assert any(r["n_solved"] > 0 for r in rows), "the fixture study should solve something"
    assert any(r["n_solved"] < r["n_seeds"] for r in rows)


def test_map_cells_match_the_trials(study_db: StudyDb, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(study_db.url, None, monkeypatch, study="dash-map")  # the map is the default
    assert at.title[0].value == "Robustness map"
    assert at.selectbox(key="map_x").value == "lr"
    assert at.selectbox(key="map_y").value == "blocks"
    cells = frame_with(at, "model", "lr", "blocks", "n_solved", "n_seeds")
    want = expected_cells(db_rows(study_db.path, "dash-map"), "model", "lr", "blocks")
    got = {
        (r.model, r.lr, r.blocks): (int(r.n_solved), int(r.n_seeds))
        for r in cells.itertuples(index=False)
    }
    assert got == want
    # pooled over p = 4, 8: every lstm1997 cell holds two trials of 4 seeds
    assert {v[1] for k, v in got.items() if k[0] == "lstm1997"} == {8}
    assert ("elman", "0.1", "n/a") in got
    # the figure: one heatmap per model on one colour scale, each cell annotated k/n
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    heatmaps = [t for t in spec["data"] if t["type"] == "heatmap"]
    assert len(heatmaps) == 2
    assert spec["layout"]["coloraxis"]["cmin"] == 0 and spec["layout"]["coloraxis"]["cmax"] == 1
    lstm = next(h for h in heatmaps if h["name"] == "lstm1997")
    z = plotly_array(lstm["z"])
    for i, y in enumerate(lstm["y"]):
        for j, x in enumerate(lstm["x"]):
            k, n = want[("lstm1997", x, y)]
            assert lstm["text"][i][j] == f"{k}/{n}"
            assert float(z[i][j]) == pytest.approx(k / n)
            lo, hi = lstm["customdata"][i][j][:2]
            assert lo <= k / n <= hi
    # the robust region beside the map agrees with the cells
    robust = frame_with(at, "robust_cells", "cells", "robust_fraction")
    for r in robust.itertuples(index=False):
        model_cells = [v for k, v in want.items() if k[0] == r.model]
        assert r.cells == len(model_cells)
        assert r.robust_cells == sum(k / n >= 0.9 for k, n in model_cells)
        assert f"**{r.model}**: robust region {r.robust_cells}/{r.cells} cells" in text_of(at)
    assert [b.label for b in at.get("download_button")] == [
        "Download dash-map-robust-region.csv",
        "Download dash-map-map-cells.csv",
    ]


def test_map_widgets_change_axes_panels_and_threshold(
    study_db: StudyDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(study_db.url, "robustness_map", monkeypatch, study="dash-map")
    rows = db_rows(study_db.path, "dash-map")
    at.selectbox(key="map_y").set_value("p").run()
    cells = frame_with(at, "model", "lr", "p", "n_solved", "n_trials")
    got = {(r.model, r.lr, r.p): (r.n_solved, r.n_seeds) for r in cells.itertuples(index=False)}
    assert got == expected_cells(rows, "model", "lr", "p")
    at.selectbox(key="map_facet").set_value("blocks").run()
    assert not at.exception
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert len([t for t in spec["data"] if t["type"] == "heatmap"]) == 3  # 2 lstm panels + elman
    at.slider(key="map_threshold").set_value(0.0).run()
    robust = frame_with(at, "robust_cells", "cells")
    assert (robust["robust_cells"] == robust["cells"]).all()


def test_studies_page(study_db: StudyDb, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(study_db.url, "studies", monkeypatch, study="dash-map")
    table = frame_with(at, "study", "status", "done", "failed", "best configuration")
    assert set(table["study"]) == {"dash-map", "dash-one", "dash-robust"}
    for name in ("dash-map", "dash-robust", "dash-one"):
        rows = db_rows(study_db.path, name)
        r = table[table["study"] == name].iloc[0]
        assert r["done"] == len(rows)
        assert r["progress"] == pytest.approx(1.0)
        assert r["status"] == "✓ done"
        best = max(rows, key=lambda t: (t["success_rate"], t["n_seeds"]))
        assert r["best success"] == pytest.approx(best["success_rate"])
    assert r["models"] == "elman"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["trials done"] == "12 / 12"


def test_lag_curves_page(study_db: StudyDb, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(study_db.url, "lag_curves", monkeypatch, study="dash-map")
    points = frame_with(at, "model", "which", "config", "p", "n_solved", "n_seeds")
    rows = db_rows(study_db.path, "dash-map")
    assert set(points["model"]) == {"lstm1997", "elman"}
    assert set(points["which"]) == {"best", "median"}
    assert sorted(set(points["p"])) == [4.0, 8.0]
    for r in points.itertuples(index=False):
        cfg = dict(kv.split("=") for kv in r.config.split(", "))
        match = [
            t
            for t in rows
            if t["model"] == r.model
            and float(t["params"]["p"]) == r.p
            and all(t["params"].get(k) == v for k, v in cfg.items())
        ]
        assert (r.n_solved, r.n_seeds) == (
            sum(t["n_solved"] for t in match),
            sum(t["n_seeds"] for t in match),
        )
    # the best lstm1997 configuration is the one with the most solved seeds over both lags
    best_cfg = points[(points["model"] == "lstm1997") & (points["which"] == "best")]
    per_cfg: dict[tuple, int] = defaultdict(int)
    for t in rows:
        if t["model"] == "lstm1997":
            per_cfg[(t["params"]["blocks"], t["params"]["lr"])] += t["n_solved"]
    assert best_cfg["n_solved"].sum() == max(per_cfg.values())
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {t["name"] for t in spec["data"]} >= {"lstm1997 (best)", "elman (median)"}


def test_sensitivity_page(study_db: StudyDb, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(study_db.url, "sensitivity", monkeypatch, study="dash-map")
    assert at.selectbox(key="sens_evaluator").value == "ped_anova"
    imp = frame_with(at, "scope", "param", "importance", "n_trials")
    for _scope, sub in imp.groupby("scope"):
        assert sub["importance"].sum() == pytest.approx(1.0)
        assert set(sub["param"]) <= {"lr", "blocks", "p"}
    assert imp.loc[imp["scope"] == "lstm1997", "n_trials"].iloc[0] == 8
    anova = frame_with(at, "model", "lr_share", "size_share", "interaction_share")
    lstm = anova[anova["model"] == "lstm1997"].iloc[0]
    assert lstm["lr_share"] + lstm["size_share"] + lstm["interaction_share"] == pytest.approx(1.0)
    # recompute the decomposition from the raw trials (success pooled over p)
    cells = expected_cells(db_rows(study_db.path, "dash-map"), "model", "lr", "blocks")
    m = {(k[1], k[2]): s / n for k, (s, n) in cells.items() if k[0] == "lstm1997"}
    mu = sum(m.values()) / 4
    a = {lr: (m[(lr, "1")] + m[(lr, "2")]) / 2 - mu for lr in ("0.1", "1.0")}
    b = {bl: (m[("0.1", bl)] + m[("1.0", bl)]) / 2 - mu for bl in ("1", "2")}
    total = sum((v - mu) ** 2 for v in m.values())
    assert lstm["lr_share"] == pytest.approx(2 * sum(v * v for v in a.values()) / total)
    assert lstm["size_share"] == pytest.approx(2 * sum(v * v for v in b.values()) / total)
    assert "Learning rate matters most" in text_of(at)


def test_trial_detail_page(study_db: StudyDb, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = db_rows(study_db.path, "dash-map")
    target = max(rows, key=lambda t: (t["n_solved"], -t["number"]))
    at = open_page(
        study_db.url, "trial_detail", monkeypatch, study="dash-map", trial=str(target["number"])
    )
    assert at.number_input(key="trial_number").value == target["number"]
    seeds = frame_with(at, "replicate", "seed", "solved", "seq_to_solve")
    assert list(seeds["replicate"]) == [s["replicate"] for s in target["seeds"]]
    assert list(seeds["seed"]) == [s["seed"] for s in target["seeds"]]
    assert [bool(v) for v in seeds["solved"]] == [bool(s["solved"]) for s in target["seeds"]]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["solved seeds"] == f"{target['n_solved']}/{target['n_seeds']}"
    curves = frame_with(at, "replicate", "sequences", "train_error")
    assert len(curves) == sum(len(json.loads(s["curve"])) for s in target["seeds"])
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    lines = [t for t in spec["data"] if t.get("mode") == "lines"]
    assert len(lines) == 2 * len(target["seeds"])  # error and accuracy per seed
    top = frame_with(at, "number", "model", "params", "n_solved")
    assert int(top["n_solved"].iloc[0]) == max(t["n_solved"] for t in rows)
    # a trial number the study does not have
    at.number_input(key="trial_number").set_value(999).run()
    assert "has no trial #999" in text_of(at)


def test_paper_comparison_page(study_db: StudyDb, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(study_db.url, "paper_comparison", monkeypatch, study="dash-map")
    table = frame_with(at, "study", "experiment", "n_solved", "n_seeds", "paper_mean_seq")
    assert list(table["study"]) == ["dash-one"]  # only the study run as a paper study
    (one,) = db_rows(study_db.path, "dash-one")
    r = table.iloc[0]
    assert (r["n_solved"], r["n_seeds"]) == (one["n_solved"], one["n_seeds"])
    assert r["experiment"] == "2a" and r["task_params"] == "p=100"
    # an Elman study: Table 2's 5,040 is LSTM's row, so nothing of the paper's stands beside it
    assert pd.isna(r["paper_mean_seq"]) and pd.isna(r["paper_row"])
    solved = [s["sequences_to_solve"] for s in one["seeds"] if s["solved"]]
    if solved:
        assert r["ours_mean_seq"] == pytest.approx(sum(solved) / len(solved))
    else:
        assert math.isnan(r["ours_mean_seq"])


def test_one_trial_study(study_db: StudyDb, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(study_db.url, "robustness_map", monkeypatch, study="dash-one")
    assert "single finished trial" in text_of(at)
    (one,) = db_rows(study_db.path, "dash-one")
    cells = frame_with(at, "model", "n_solved", "n_seeds")
    assert len(cells) == 1 and (cells["n_solved"].iloc[0], cells["n_seeds"].iloc[0]) == (
        one["n_solved"],
        one["n_seeds"],
    )
    for page, words in (
        ("sensitivity", "need at least"),
        ("lag_curves", "single lag"),
        ("studies", "Only one trial has finished"),
    ):
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception
        assert words in text_of(at), page


def test_figure_download_format(study_db: StudyDb, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(study_db.url, "robustness_map", monkeypatch, study="dash-map")
    config = json.loads(at.get("plotly_chart")[0].proto.config)
    assert config["toImageButtonOptions"]["format"] == "png"
    at.radio(key="figure_format").set_value("svg").run()
    config = json.loads(at.get("plotly_chart")[0].proto.config)
    assert config["toImageButtonOptions"] == {
        "format": "svg",
        "filename": "dash-map-robustness-map",
        "scale": 1,
    }
