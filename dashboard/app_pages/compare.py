"""Compare two studies side by side: the same grid under two protocols, budgets or tasks.

Both robustness maps on the same axes and colour scale, then one row per cell the two studies
share: each study's solved / seeds with its Wilson 95% interval, the difference, and whether the
intervals are apart (a difference the seeds can back) or overlap.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import analysis, charts, data, ui
from dashboard.queries import LR, MODEL

cur = ui.current()
st.title("Compare studies")
others = [n for n in cur.studies["name"] if n != cur.name]
if not others:
    st.info(
        "This database holds one study only; comparing needs two (e.g. the same grid under two "
        "readings or budgets: launch the spec again under a new name)."
    )
    st.stop()
same_task = [n for n in others if cur.studies.set_index("name").loc[n, "task"] == cur.study["task"]]
if st.session_state.get("cmp_other") not in others:
    st.session_state["cmp_other"] = (same_task or others)[0]
other = st.selectbox(
    f"compare `{cur.name}` (sidebar) with", others, key="cmp_other", help="The second study."
)
b_row = cur.studies[cur.studies["name"] == other].iloc[0]
rows = {cur.name: cur.study, other: b_row}

try:
    values = {n: data.param_values(cur.url, int(r["id"])) for n, r in rows.items()}
except data.QueryError as e:
    ui.query_error(e)
    st.stop()
if any(v.empty for v in values.values()):
    st.info("One of the two studies has no finished trial yet.")
    st.stop()
swept = [set(analysis.swept(v)) - {MODEL} for v in values.values()]
common = sorted(swept[0] & swept[1], key=lambda n: (n != LR, n != "blocks", n))
both_axes = sorted(swept[0] | swept[1], key=lambda n: (n != LR, n != "blocks", n))
axes = common or both_axes
if not axes:
    st.info("Neither study sweeps a parameter besides the model: nothing to lay out.")
    st.stop()
c1, c2 = st.columns(2)
x = c1.selectbox("x axis", axes, key="cmp_x")
y_opts = [a for a in axes if a != x] or [x]
y = c2.selectbox("y axis", y_opts, key="cmp_y")
if y == x:
    st.info(f"Only `{x}` is swept: the maps are single rows.")


def cells_of(name: str) -> pd.DataFrame:
    r = rows[name]
    v = values[name]
    dims = tuple(analysis.choose_dim(d, v) for d in dict.fromkeys((MODEL, x, y)))
    cells = data.aggregate(cur.url, int(r["id"]), dims)
    for axis in (x, y):
        if axis not in cells:
            cells[axis], cells[f"{axis}__sort"] = "n/a", float("nan")
    return analysis.with_success(cells)


def render() -> None:
    try:
        got = {n: cells_of(n) for n in rows}
    except data.QueryError as e:
        ui.query_error(e)
        return
    left, right = st.columns(2)
    for col, (name, cells) in zip((left, right), got.items(), strict=True):
        study = rows[name]
        robust = analysis.robust_summary(cells, x, y, [MODEL], 0.9)
        order = analysis.model_order(list(cells[MODEL].unique()), study.get("models"))
        fig = charts.robustness_map(
            cells, x, y, [MODEL], robust, analysis.figure_title("Robustness map", study), order
        )
        with col:
            ui.figure(fig, f"{name}-robustness-map", key=f"cmp_fig_{name}")
    keys = [MODEL, x, y] if y != x else [MODEL, x]
    a, b = (got[n][[*keys, "n_solved", "n_seeds", "success", "ci_low", "ci_high"]] for n in rows)
    merged = a.merge(b, on=keys, suffixes=("_a", "_b"))
    if merged.empty:
        st.info(f"The two studies share no cell on {x} × {y}; compare the maps above by eye.")
        return
    merged["difference"] = merged["success_a"] - merged["success_b"]
    apart = (merged["ci_low_a"] > merged["ci_high_b"]) | (merged["ci_low_b"] > merged["ci_high_a"])
    merged["verdict"] = [
        ("A higher" if d > 0 else "B higher") if s else "intervals overlap"
        for d, s in zip(merged["difference"], apart, strict=True)
    ]
    st.subheader(f"Shared cells: A = `{cur.name}`, B = `{other}`")
    st.caption(
        f"{int(apart.sum())} of {len(merged)} shared cells differ beyond both Wilson 95% "
        "intervals; in the others the seeds cannot tell the two studies apart."
    )
    ui.table(merged, f"{cur.name}-vs-{other}", key="cmp_table")


ui.live(cur, render)
