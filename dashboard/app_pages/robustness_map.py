"""Robustness map: success rate over two swept axes, one panel per model (and topology option).

Each cell pools every finished trial at that (x, y) (and panel): n_solved / n_seeds, summed in
SQL. Beside the map: per panel, the robust-region size (share of cells with success >= the
threshold) and the most robust configuration (`dashboard.stats.ROBUST_RULE`: the highest lower
Wilson bound of the success pooled over the cell and its grid neighbours, none when that bound
stays below a floor), not the single best point.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import analysis, charts, data, stats, ui
from dashboard.queries import LR, MODEL

NONE = "(none)"

cur = ui.current()
st.title("Robustness map")
st.caption(
    f"Study `{cur.name}` · task `{cur.study['task']}` · {int(cur.study['seeds'])} seeds per "
    "configuration. Cell = solved seeds / seeds over all finished trials at that point; hover "
    "for the Wilson 95% interval and the median sequences to solve."
)

try:
    values = data.param_values(cur.url, cur.study_id)
except data.QueryError as e:
    ui.query_error(e)
    st.stop()
if values.empty:
    st.info(
        f"Study `{cur.name}` has no finished trial yet"
        + (" (it is running: this page refreshes)." if cur.running else ".")
    )
    st.stop()

axes = [n for n in analysis.swept(values) if n != MODEL]
options = [*axes, NONE]
default_x = LR if LR in axes else options[0]
rest = [o for o in options if o != default_x] or [NONE]
default_y = "blocks" if "blocks" in rest else rest[0]

# Widget values live in session state (set before the widgets, so the browser gets them): a
# value no longer offered falls back to its default, and when a running study grows new axes
# (its first trial has one value of everything) an axis left at "(none)" takes its default.
state = st.session_state
grown = state.get("_map_axes") != options
state["_map_axes"] = options
if state.get("map_x") not in options or (grown and state.get("map_x") == NONE):
    state["map_x"] = default_x
y_options = [o for o in options if o != state["map_x"] or o == NONE]
if state.get("map_y") not in y_options or (grown and state.get("map_y") == NONE):
    state["map_y"] = default_y if default_y in y_options else y_options[-1]

c1, c2, c3, c4 = st.columns([1, 1, 1, 2])
x = c1.selectbox("x axis", options, key="map_x")
y = c2.selectbox("y axis", y_options, key="map_y")
facet_options = [NONE, *[a for a in axes if a not in (x, y)]]
if state.get("map_facet") not in facet_options:
    state["map_facet"] = NONE
facet = c3.selectbox(
    "panels also by",
    facet_options,
    key="map_facet",
    help="A topology option (e.g. cells_per_block, gates) to split panels by.",
)
threshold = c4.slider(
    "robust if success ≥",
    0.0,
    1.0,
    0.9,
    0.05,
    key="map_threshold",
    help="Robust region = share of the swept grid at or above this success rate.",
)

used = {x, y, facet}
filters: list[tuple[str, tuple[str, ...]]] = []
others = [a for a in axes if a not in used]
if others:
    with st.expander(f"Filter the other swept parameters ({', '.join(others)})"):
        st.caption("Cells pool all trials over the parameters not on an axis; restrict them here.")
        cols = st.columns(min(len(others), 4))
        for i, name in enumerate(others):
            labels = list(values.loc[values["name"] == name, "label"])
            if len(labels) > analysis.MAX_LEVELS:
                cols[i % len(cols)].caption(f"{name}: continuous, pooled")
                continue
            chosen = cols[i % len(cols)].multiselect(
                name, labels, default=labels, key=f"map_f_{name}"
            )
            if chosen and len(chosen) < len(labels):
                texts = values.loc[
                    (values["name"] == name) & values["label"].isin(chosen), "value_text"
                ]
                filters.append((name, tuple(str(t) for t in texts)))

axis_dims = [d for d in (x, y) if d != NONE]
panels = [MODEL] + ([facet] if facet != NONE else [])
dims = tuple(analysis.choose_dim(d, values) for d in (*panels, *axis_dims))


def render() -> None:
    try:
        cells = data.aggregate(cur.url, cur.study_id, dims, tuple(filters))
    except data.QueryError as e:
        ui.query_error(e)
        return
    if cells.empty:
        st.info("No finished trial matches these filters.")
        return
    for axis in (x, y):
        if axis == NONE:
            cells[NONE] = ""
            cells[f"{NONE}__sort"] = 0.0
    cells = analysis.with_success(cells)
    n_trials = int(cells["n_trials"].sum())
    if n_trials == 1:
        st.info(
            f"Study `{cur.name}` has a single finished trial, so the map is one cell. "
            "Sweep more configurations (or wait for the study) for a real map."
        )
    robust = analysis.robust_summary(cells, x, y, panels, threshold)
    order = analysis.model_order(list(robust[MODEL].unique()), cur.study.get("models"))
    robust = robust.sort_values(MODEL, key=lambda c: c.map(order.index), kind="stable")
    left, right = st.columns([3, 1])
    with left:
        title = analysis.figure_title("Robustness map", cur.study)
        fig = charts.robustness_map(cells, x, y, panels, robust, title=title, model_order=order)
        ui.figure(fig, f"{cur.name}-robustness-map", key="map_figure")
    with right:
        st.subheader(f"Robust region (≥ {threshold:.2f})")
        st.caption(stats.ROBUST_RULE.format(floor=stats.ROBUST_FLOOR))
        for r in robust.to_dict("records"):
            title = " · ".join(str(r[p]) if p == MODEL else f"{p}={r[p]}" for p in panels)
            st.markdown(
                f"**{title}**: robust region {r['robust_cells']}/{r['cells']} cells "
                f"(**{r['robust_fraction']:.0%}**)"
            )
            best = (
                f"single best point: {r['best_point']} ({r['best_point_success']:.2f})"
                if pd.notna(r.get("best_point_success"))
                else "no seed solved anywhere"
            )
            if pd.isna(r.get("neighbourhood_low")):
                st.caption(
                    f"no robust configuration: no neighbourhood reaches a lower bound of "
                    f"{stats.ROBUST_FLOOR:.2f}; {best}"
                )
            else:
                where = ", ".join(f"{a}={r[a]}" for a in axis_dims if r[a] != "n/a")
                where = where or "the only cell"
                st.caption(
                    f"most robust: {where} (neighbourhood success "
                    f"{r['neighbourhood_success']:.2f}, lower bound "
                    f"{r['neighbourhood_low']:.2f}; cell {r['cell_success']:.2f}); {best}"
                )
    st.subheader("Robust region per panel")
    ui.table(
        robust.drop(columns=[NONE], errors="ignore"),
        f"{cur.name}-robust-region",
        key="robust_table",
    )
    st.subheader("Cells")
    shown = ["n_solved", "n_seeds", "success", "ci_low", "ci_high", "seq_median", "n_trials"]
    order = [*panels, *[f"{d}__sort" for d in axis_dims]]
    table = cells.sort_values(order)[[*panels, *axis_dims, *shown]]
    ui.table(
        table.rename(
            columns={
                "ci_low": "wilson_low",
                "ci_high": "wilson_high",
                "seq_median": "median_seq_to_solve",
            }
        ),
        f"{cur.name}-map-cells",
        key="cells_table",
    )


ui.live(cur, render)
