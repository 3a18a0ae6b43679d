"""The pages answer "where does each model reliably solve this task" at a glance (issue 14).

The robust optimum is checked on grids built to catch its old biases (edges, failures); the
figures on the pages of real studies: titles with their context, panels in the spec's order,
readable labels, a one-row baseline panel, weight counts, the legend entry, the lag curves'
"best" and axes, the sensitivity page's claims, the trial detail's colours and markers, the
studies' failed count after an interrupt, the paper comparison's linear axes.
"""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest
from dash_helpers import StudyDb, db_rows, launch, plotly_array
from test_dash_pages import frame_with, open_page, text_of

from dashboard import analysis, detail_charts, stats

pytestmark = pytest.mark.usefixtures("app_env")


def figure_spec(at, i: int = 0) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(at.get("plotly_chart")[i].proto.spec)


# -- the robust optimum -------------------------------------------------------------------------


def test_robust_optimum_is_not_biased_to_the_grid_edge() -> None:
    # a 2x2 solved corner (top left) and a 3x3 solved plateau (bottom right) of a 5x5 grid:
    # every cell of both pools only solved seeds, but the plateau's centre pools 9 cells and the
    # corner 4. Success pooled as a mean ties them and row-major order picked the corner.
    k = np.zeros((5, 5))
    k[0:2, 0:2] = 8
    k[2:5, 2:5] = 8
    n = np.full_like(k, 8.0)
    smooth = stats.neighbourhood_success(k, n)
    assert smooth[0, 0] == smooth[3, 3] == 1.0  # the old reading could not tell them apart
    assert stats.argmax_2d(smooth, tie_break=k / n) == (0, 0)
    best, low = stats.robust_optimum(k, n)
    assert best == (3, 3)
    assert low[3, 3] > low[0, 0]


def test_robust_optimum_none_when_nothing_clears_the_floor() -> None:
    # GRU's map of the issue: one cell at 2/24, the rest 0/24
    k = np.zeros((3, 5))
    k[1, 4] = 2
    n = np.full_like(k, 24.0)
    assert stats.robust_optimum(k, n)[0] is None
    assert stats.robust_optimum(np.zeros((2, 2)), np.full((2, 2), 4.0))[0] is None
    # a lone 4/4 cell is 4 seeds of evidence: its lower bound 0.51 just clears the floor
    assert stats.robust_optimum(np.array([[4.0]]), np.array([[4.0]]))[0] == (0, 0)
    assert stats.robust_optimum(np.array([[3.0]]), np.array([[4.0]]))[0] is None


def test_robust_optimum_prefers_the_column_solved_at_every_lag() -> None:
    # x = lr (1, 2, 4, 8), y = T (12, 20, 50): lr = 8 is 4/4 at every T, lr = 4 only at T = 12
    k = np.array([[0, 0, 4, 4], [0, 0, 1, 4], [0, 0, 0, 4]], dtype=float)
    n = np.full_like(k, 4.0)
    best, _ = stats.robust_optimum(k, n)
    assert best is not None and best[1] == 3


def test_wilson_interval_is_scipys_and_vectorised() -> None:
    import time

    from scipy.stats import binomtest

    pairs = [(k, n) for n in (1, 2, 3, 4, 7, 10, 24, 64, 100) for k in range(n + 1)]
    k, n = np.array(pairs).T
    lo, hi = stats.wilson_interval(k, n)
    for i, (k1, n1) in enumerate(pairs):
        ci = binomtest(int(k1), int(n1)).proportion_ci(0.95, method="wilson")
        assert (lo[i], hi[i]) == pytest.approx((ci.low, ci.high), abs=1e-12)
    # a 10,000-cell map in one vectorised call (one scipy call per cell took ~1 ms each)
    big = np.random.default_rng(0).integers(0, 25, 10_000)
    t0 = time.perf_counter()
    lo, hi = stats.wilson_interval(np.minimum(big, 24), np.full(10_000, 24))
    assert time.perf_counter() - t0 < 0.5 and np.all(lo <= hi)


# -- the map -----------------------------------------------------------------------------------


def test_map_answers_at_a_glance(study_db: StudyDb, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(study_db.url, None, monkeypatch, study="dash-robust")
    spec = figure_spec(at)
    layout = spec["layout"]
    title = layout["title"]["text"]
    for words in ("dash-robust", "noise_free_2a", "p=4", "2,000", "literal", "4 seeds"):
        assert words in title, title
    heatmaps = [t for t in spec["data"] if t["type"] == "heatmap"]
    assert [h["name"] for h in heatmaps] == ["lstm1997", "gru"]  # spec order, not alphabetical
    # the most robust cell is outlined, and its legend entry shows
    assert layout.get("showlegend") is True
    legend = [t for t in spec["data"] if t.get("showlegend") and "most robust" in t["name"]]
    assert len(legend) == 1
    assert layout.get("shapes"), "the most robust cell should be outlined"
    assert stats.ROBUST_RULE.format(floor=stats.ROBUST_FLOOR) in text_of(at)
    robust = frame_with(at, "robust_cells", "neighbourhood_low")
    lstm = robust[robust["model"] == "lstm1997"].iloc[0]
    assert lstm["neighbourhood_low"] >= stats.ROBUST_FLOOR
    gru = robust[robust["model"] == "gru"].iloc[0]
    assert pd.isna(gru["neighbourhood_low"])  # nothing solved: no robust configuration
    assert "no robust configuration" in text_of(at)
    # labels: dark on the light (solved) end of the scale, light on the dark end
    labels = [t for t in spec["data"] if t["type"] == "scatter" and t.get("mode") == "text"]
    assert labels
    rows = db_rows(study_db.path, "dash-robust")
    rate = {(r["model"], r["params"]["lr"], r["params"].get("blocks", "n/a")): r for r in rows}
    for trace in labels:
        model = "lstm1997" if "lstm1997" in trace["name"] else "gru"
        for x, y, text, c in zip(
            trace["x"], trace["y"], trace["text"], trace["textfont"]["color"], strict=True
        ):
            r = rate[(model, x, y)]
            assert text == f"{r['n_solved']}/{r['n_seeds']}"
            assert c == ("#111111" if r["n_solved"] / r["n_seeds"] >= 0.55 else "#ffffff")
        # labels fit their cells: font size x characters well under the cell's width
        assert trace["textfont"]["size"] * 0.6 * 3 < 900 / 3 / 3
    # axes: y title on the lstm1997 panel (which has blocks), weights where they vary,
    # and the baseline panel one row high with no tall "n/a" row
    lstm_axis = layout["yaxis"]
    assert lstm_axis["title"]["text"].startswith("blocks")
    weights = {r["params"]["blocks"]: r["weights"] for r in rows if r["model"] == "lstm1997"}
    assert len(set(weights.values())) > 1
    for b, w in weights.items():
        assert f"{b} ({w} w)" in lstm_axis["ticktext"]
    gru_axis = layout["yaxis2"]
    assert gru_axis["ticktext"] == ["no blocks"]
    d0, d1 = gru_axis["domain"]
    l0, l1 = lstm_axis["domain"]
    assert (d1 - d0) == pytest.approx((l1 - l0) / 2)
    gru_w = {r["weights"] for r in rows if r["model"] == "gru"}
    (w,) = gru_w
    assert any(f"gru ({w} weights)" in a["text"] for a in layout["annotations"])


def test_csv_downloads_carry_their_context(
    study_db: StudyDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(study_db.url, None, monkeypatch, study="dash-robust")
    tables = at.get("download_button")
    assert tables
    # AppTest exposes the button, not the file: build the CSV the way the page does
    from dashboard import data, ui

    cells = frame_with(at, "n_solved", "n_seeds")
    studies = data.studies(study_db.url)
    csv = ui.with_context(cells, studies[studies["name"] == "dash-robust"].iloc[0])
    assert set(csv["study"]) == {"dash-robust"}
    assert "p=4" in csv["context"].iloc[0] and "literal" in csv["context"].iloc[0]


# -- lag curves --------------------------------------------------------------------------------


def test_lag_curves_name_no_best_when_nothing_solved_and_mark_censoring(
    study_db: StudyDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(study_db.url, "lag_curves", monkeypatch, study="dash-map")
    points = frame_with(at, "model", "which", "config")
    rows = db_rows(study_db.path, "dash-map")
    assert sum(r["n_solved"] for r in rows if r["model"] == "elman") == 0
    assert set(points.loc[points["model"] == "elman", "which"]) == {"median"}
    assert "elman**: no seed solved at any lag" in text_of(at)
    spec = figure_spec(at)
    assert "p swept" in spec["layout"]["title"]["text"]
    # elman's line at 0 does not sit exactly on another model's line at 0
    xs = {
        t["name"]: tuple(plotly_array(t["x"]).astype(float).round(6))
        for t in spec["data"]
        if t.get("xaxis", "x") == "x"
    }
    assert len(set(xs.values())) == len(xs)
    # lstm1997's median configuration solved fewer than half its seeds somewhere: censored
    censored = [t for t in spec["data"] if t["name"].endswith(": censored")]
    assert censored and all(t["marker"]["symbol"] == "triangle-up-open" for t in censored)
    assert spec["layout"]["xaxis"]["tickvals"] == [4.0, 8.0]


def test_lag_curves_single_lag_and_nothing_solved(
    study_db: StudyDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(study_db.url, "lag_curves", monkeypatch, study="dash-one")
    (one,) = db_rows(study_db.path, "dash-one")
    spec = figure_spec(at)
    assert spec["layout"]["xaxis"]["range"] == [0.0, 200.0]  # around p = 100, not 99..101
    if one["n_solved"] == 0:
        assert spec["layout"]["yaxis2"].get("type") != "log"  # no empty log axis
        assert any("no seed solved" in a["text"] for a in spec["layout"]["annotations"])
        assert "best" not in set(frame_with(at, "model", "which")["which"])


# -- sensitivity -------------------------------------------------------------------------------


def test_sensitivity_makes_no_claim_it_cannot_back(
    study_db: StudyDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(study_db.url, "sensitivity", monkeypatch, study="dash-map")
    # the task's lag is not a size of the net
    assert "p" not in at.selectbox(key="sens_size").options
    text = text_of(at)
    assert "black tick" not in text and "black horizontal bar" in text
    # 8 lstm1997 trials: numbers, no ranking
    assert "too few to rank" in text and "most important" not in text
    spec = figure_spec(at, 1)
    floor = [t for t in spec["data"] if t["type"] == "scatter"]
    assert floor and floor[0]["marker"]["color"] == "black"


def test_sensitivity_single_parameter_and_small_sample(
    study_db: StudyDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(study_db.url, "sensitivity", monkeypatch, study="dash-robust")
    text = text_of(at)
    imp = frame_with(at, "scope", "param", "importance")
    assert "most important" not in text  # 6 and 3 trials: no ranking either way
    if (imp.groupby("scope")["param"].count() == 1).any():
        assert "importance is 1 by construction" in text
    anova = frame_with(at, "model", "n_solved", "n_seeds")
    for r in anova.itertuples(index=False):
        if r.n_solved < 5 and pd.notna(getattr(r, "lr_share", float("nan"))):
            assert f"{r.model}: small sample" in text


# -- trial detail ------------------------------------------------------------------------------


def test_trial_detail_colours_markers_and_axis(
    study_db: StudyDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = db_rows(study_db.path, "dash-map")
    target = max(rows, key=lambda t: (t["n_solved"], -t["number"]))
    at = open_page(
        study_db.url, "trial_detail", monkeypatch, study="dash-map", trial=str(target["number"])
    )
    spec = figure_spec(at)
    lines = [t for t in spec["data"] if t.get("mode") == "lines" and t.get("xaxis") != "x2"]
    assert len({t["line"]["color"] for t in lines}) == len(target["seeds"])
    stops = [t for t in spec["data"] if t["name"].endswith(": literal held")]
    solved = [t for t in spec["data"] if t["name"].endswith(": solved")]
    assert len(stops) == sum(s["seq_literal"] is not None for s in target["seeds"])
    assert len(solved) == target["n_solved"] > 0
    assert spec["layout"]["yaxis"]["type"] == "log"
    assert spec["layout"]["yaxis"]["dtick"] in (1, "D2")  # labelled, uncluttered ticks
    assert "stopping rule" in text_of(at) and "Trial #" in spec["layout"]["title"]["text"]


def test_seed_colours_are_distinct_for_many_seeds() -> None:
    for n in (8, 24, 40):
        assert len(set(detail_charts.seed_colours(n))) == n


# -- studies and paper comparison --------------------------------------------------------------


def test_failed_counts_only_configurations_not_done(
    db_copy: StudyDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what an interrupt + resume leaves: a FAIL (interrupted) trial whose configuration ran
    # again and is COMPLETE; and one FAIL whose configuration never finished
    con = sqlite3.connect(db_copy.path)
    try:
        sid = con.execute("SELECT id FROM carousel_studies WHERE name = 'dash-map'").fetchone()[0]
        keys = [k for (k,) in con.execute(
            "SELECT config_key FROM carousel_trials WHERE study_id = ? ORDER BY number", (sid,)
        )]  # fmt: skip
        top = con.execute("SELECT MAX(number) FROM carousel_trials").fetchone()[0]
        for i, key in enumerate((keys[0], keys[1], "never-finished")):
            con.execute(
                "INSERT INTO carousel_trials (study_id, optuna_trial_id, number, config_key, "
                "model, state, config, error, started_at) VALUES (?, ?, ?, ?, 'elman', 'FAIL', "
                "'{}', 'interrupted', CURRENT_TIMESTAMP)",
                (sid, 10_000 + i, top + 1 + i, key),
            )
        con.commit()
    finally:
        con.close()
    at = open_page(db_copy.url, "studies", monkeypatch, study="dash-map")
    table = frame_with(at, "study", "failed")
    assert int(table.loc[table["study"] == "dash-map", "failed"].iloc[0]) == 1
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["failed"] == "1"
    assert len(table.columns) <= 10  # fits a 1400 px window (the browser test measures it)


def test_paper_comparison_axes_are_linear(
    study_db: StudyDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(study_db.url, "paper_comparison", monkeypatch, study="dash-map")
    layout = figure_spec(at)["layout"]
    assert layout["yaxis"].get("type") != "log"
    assert "dash-one" in layout["title"]["text"]


REBER_PAPER = """\
name = "dash-reber"
task = "embedded_reber"
models = ["lstm1997"]
seeds = 2
max_sequences = 250
paper_experiment = "1"

[space]
lr = [0.1, 0.5]

[space.lstm1997]
blocks = [3, 4]
cells_per_block = [1, 2]
"""


def test_paper_comparison_has_one_row_per_paper_row(
    db_copy: StudyDb, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    spec = tmp_path / "reber.toml"
    spec.write_text(REBER_PAPER)
    out = launch(spec, db_copy.url)
    assert out.returncode == 0, out.stdout + out.stderr
    from dashboard import data

    cmp = analysis.paper_table(data.paper_trials(db_copy.url))
    reber = cmp[cmp["study"] == "dash-reber"].set_index(["topology", "lr"])
    assert len(reber) == 8  # 4 topologies x 2 learning rates, never pooled
    # Table 1's rows, each with its own number; 3x1 and 4x2 are not rows of the paper
    assert reber.loc[("3x2", 0.1), "paper_row"] == "1-2"
    assert reber.loc[("3x2", 0.1), "paper_mean_seq"] == 21730
    assert reber.loc[("3x2", 0.5), "paper_mean_seq"] == 8440
    assert reber.loc[("4x1", 0.1), "paper_mean_seq"] == 39740
    assert reber.loc[("4x1", 0.5), "paper_success"] == pytest.approx(0.97)
    assert pd.isna(reber.loc[("3x1", 0.5), "paper_row"])
    assert (reber["n_seeds"] == 2).all()
    one = cmp[cmp["study"] == "dash-one"]  # an elman study: no LSTM row of the paper
    assert one["paper_mean_seq"].isna().all()
    at = open_page(db_copy.url, "paper_comparison", monkeypatch, study="dash-reber")
    table = frame_with(at, "paper_row", "ours_success")
    assert set(table["paper_row"].dropna()) >= {"1-1", "1-2", "1-4", "1-5"}


def test_context_and_model_order() -> None:
    row = {"name": "s", "task": "adding", "fixed_task": "T=20", "max_sequences": 20000,
           "reading": "frac99", "seeds": 8, "lag_param": "T"}  # fmt: skip
    assert analysis.context(row) == (
        "task adding (T=20) · budget 20,000 sequences/seed · reading frac99 · 8 seeds/config"
    )
    assert analysis.model_order(["elman", "gru", "lstm1997", "tcn"], ["lstm1997", "gru"]) == [
        "lstm1997",
        "gru",
        "elman",
        "tcn",
    ]


# -- comparing two studies ---------------------------------------------------------------------


def test_compare_two_studies_side_by_side(
    study_db: StudyDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(study_db.url, "compare", monkeypatch, study="dash-robust")
    at.selectbox(key="cmp_other").set_value("dash-map").run()
    assert not at.exception
    titles = [figure_spec(at, i)["layout"]["title"]["text"] for i in range(2)]
    assert "dash-robust" in titles[0] and "dash-map" in titles[1]
    shared = frame_with(at, "model", "lr", "blocks", "n_solved_a", "n_solved_b", "verdict")
    a = expected(db_rows(study_db.path, "dash-robust"))
    b = expected(db_rows(study_db.path, "dash-map"))
    assert set(zip(shared["model"], shared["lr"], shared["blocks"], strict=True)) == set(a) & set(b)
    for r in shared.itertuples(index=False):
        key = (r.model, r.lr, r.blocks)
        assert (r.n_solved_a, r.n_seeds_a) == a[key] and (r.n_solved_b, r.n_seeds_b) == b[key]
        lo_a, hi_a = stats.wilson_interval(*a[key])
        lo_b, hi_b = stats.wilson_interval(*b[key])
        apart = lo_a > hi_b or lo_b > hi_a
        assert (r.verdict != "intervals overlap") == apart


def expected(rows: list[dict]) -> dict[tuple, tuple[int, int]]:
    out: dict[tuple, list[int]] = {}
    for r in rows:
        key = (r["model"], r["params"]["lr"], r["params"].get("blocks", "n/a"))
        out.setdefault(key, [0, 0])
        out[key][0] += r["n_solved"]
        out[key][1] += r["n_seeds"]
    return {k: (v[0], v[1]) for k, v in out.items()}
