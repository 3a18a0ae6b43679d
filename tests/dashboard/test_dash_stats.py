"""The pure numbers: Wilson intervals, neighbourhood smoothing, the two-way decomposition,
binning, and the exact per-cell median computed in SQL."""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from dash_helpers import StudyDb, db_rows

from dashboard import analysis, map_queries, queries, stats
from dashboard.data import make_readonly_engine


def test_wilson_interval_known_values() -> None:
    lo, hi = stats.wilson_interval(np.array([0, 5, 10, 4]), np.array([10, 10, 10, 4]))
    assert lo == pytest.approx([0.0, 0.2366, 0.7225, 0.5101], abs=1e-4)
    assert hi == pytest.approx([0.2775, 0.7634, 1.0, 1.0], abs=1e-4)
    lo, hi = stats.wilson_interval(0, 0)
    assert np.isnan(lo) and np.isnan(hi)


def test_wilson_interval_narrows_with_seeds() -> None:
    widths = [np.subtract(*reversed(stats.wilson_interval(n // 2, n))) for n in (4, 16, 64, 256)]
    assert all(a > b for a, b in itertools.pairwise(widths))


def test_neighbourhood_prefers_a_flat_basin_over_a_thin_peak() -> None:
    # a lone perfect cell at the edge vs a plateau of 0.9 cells
    solved = np.array([[10, 0, 0, 0], [0, 9, 9, 9], [0, 9, 9, 9]], dtype=float)
    seeds = np.full_like(solved, 10.0)
    smooth = stats.neighbourhood_success(solved, seeds)
    assert stats.argmax_2d(solved / seeds) == (0, 0)  # the single best point
    assert stats.argmax_2d(smooth) == (2, 2)  # the most robust configuration
    assert smooth[2, 2] == pytest.approx(36 / 40)
    assert smooth[0, 0] == pytest.approx((10 + 9) / 40)


def test_neighbourhood_pools_seeds_and_skips_missing_cells() -> None:
    solved = np.array([[1.0, np.nan], [3.0, 8.0]])
    seeds = np.array([[2.0, np.nan], [4.0, 8.0]])
    smooth = stats.neighbourhood_success(solved, seeds)
    assert np.isnan(smooth[0, 1])
    assert smooth[0, 0] == pytest.approx(12 / 14)


def test_robust_fraction() -> None:
    grid = np.array([[1.0, 0.9, 0.89], [np.nan, 0.0, 0.95]])
    assert stats.robust_fraction(grid, 0.9) == (3, 5)
    assert stats.robust_fraction(grid, 0.0) == (5, 5)


def test_two_way_anova_additive_and_pure_interaction() -> None:
    additive = np.array([[0.1, 0.3], [0.5, 0.7], [0.6, 0.8]])  # rows + columns, no interaction
    a = stats.two_way_anova(additive)
    assert a is not None and a.interaction == pytest.approx(0.0, abs=1e-12)
    assert a.row_effect + a.col_effect == pytest.approx(1.0)
    checker = np.array([[1.0, 0.0], [0.0, 1.0]])  # only interaction
    c = stats.two_way_anova(checker)
    assert c is not None and c.interaction == pytest.approx(1.0)
    assert stats.two_way_anova(np.ones((2, 2))) is None
    assert stats.two_way_anova(np.array([[1.0, np.nan], [0.0, 1.0]])) is None


def test_two_way_anova_noise_floor() -> None:
    means = np.array([[0.5, 0.5], [0.5, 0.0]])
    a = stats.two_way_anova(means, np.full((2, 2), 4.0))
    # E[SS_int] = (1*1)/(2*2) * (3 * 0.25/4) against SS_total = 0.1875
    assert a is not None and a.noise_floor == pytest.approx((0.25 * 3 * 0.0625) / 0.1875)


def test_complete_subgrid() -> None:
    g = np.array([[1, 1, np.nan], [1, 1, 1], [np.nan, np.nan, np.nan]], dtype=float)
    rows, cols = stats.complete_subgrid(g)
    assert rows.tolist() == [True, True, False] and cols.tolist() == [True, True, False]


def test_median_index() -> None:
    assert stats.median_index([0.9, 0.1, 0.5]) == 2
    assert stats.median_index([0.9, 0.1, 0.5, 0.7]) == 2


def test_choose_dim_bins_continuous_axes() -> None:
    grid = pd.DataFrame({"name": ["lr"] * 5, "value_num": [0.01, 0.1, 1.0, 2.0, 5.0]})
    assert analysis.choose_dim("lr", grid) == ("lr", ())
    many = pd.DataFrame({"name": ["lr"] * 40, "value_num": np.geomspace(0.001, 10, 40)})
    name, edges = analysis.choose_dim("lr", many)
    assert name == "lr" and len(edges) == analysis.N_BINS + 1
    assert edges[0] == pytest.approx(0.001) and edges[-1] == pytest.approx(10)
    assert np.allclose(np.diff(np.log(edges)), np.log(10 / 0.001) / analysis.N_BINS, rtol=1e-4)


def test_sql_cells_and_medians_match_python(study_db: StudyDb) -> None:
    """The SQL GROUP BY and the window-function median against sums and statistics.median."""
    rows = db_rows(study_db.path, "dash-map")
    engine = make_readonly_engine(study_db.url)
    try:
        sid = int(queries.studies(engine).set_index("name").loc["dash-map", "id"])
        dims = (("model", ()), ("p", ()))
        cells = map_queries.aggregate(engine, sid, dims)
        medians = map_queries.cell_medians(engine, sid, dims)
    finally:
        engine.dispose()
    want_counts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    want_seq: dict[tuple, list[int]] = defaultdict(list)
    for t in rows:
        key = (t["model"], t["params"]["p"])
        want_counts[key][0] += t["n_solved"]
        want_counts[key][1] += t["n_seeds"]
        want_seq[key] += [s["sequences_to_solve"] for s in t["seeds"] if s["solved"]]
    got = {
        (r["model__text"], r["p__text"]): [r["n_solved"], r["n_seeds"]]
        for r in cells.to_dict("records")
    }
    assert got == dict(want_counts)
    got_med = {
        (r["model__text"], r["p__text"]): r["seq_median"] for r in medians.to_dict("records")
    }
    assert got_med == {k: pytest.approx(statistics.median(v)) for k, v in want_seq.items() if v}


def test_sql_binned_dimension(study_db: StudyDb) -> None:
    engine = make_readonly_engine(study_db.url)
    try:
        sid = int(queries.studies(engine).set_index("name").loc["dash-map", "id"])
        cells = map_queries.aggregate(engine, sid, (("lr", (0.05, 0.5, 5.0)),))
    finally:
        engine.dispose()
    # bin 0 = [0.05, 0.5) holds lr = 0.1, bin 1 = [0.5, 5] holds lr = 1.0: 6 trials each
    assert sorted(cells["lr__num"].tolist()) == [0.0, 1.0]
    assert cells["n_trials"].tolist() == [6, 6]


def test_argmax_ties_go_to_the_better_cell() -> None:
    solved = np.array([[0.0, 4.0], [1.0, 4.0]])
    seeds = np.full((2, 2), 8.0)
    smooth = stats.neighbourhood_success(solved, seeds)  # 2x2: every neighbourhood is the grid
    assert np.allclose(smooth, 9 / 32)
    assert stats.argmax_2d(smooth) == (0, 0)
    assert stats.argmax_2d(smooth, tie_break=solved / seeds) == (0, 1)
