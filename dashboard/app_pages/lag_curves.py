"""Lag curves: success rate and median sequences-to-solve against the task's lag, per model.

Each model is followed at two configurations: its best (highest success pooled over the lags)
and its median one, so the page shows both what the architecture can do and what it typically
does as the time lag grows (the paper's central claim: LSTM keeps solving as the lag grows).
"""

from __future__ import annotations

import streamlit as st

from dashboard import analysis, charts, data, ui
from dashboard.queries import MODEL

cur = ui.current()
st.title("Lag curves")
lag = cur.study["lag_param"]
if not isinstance(lag, str) or not lag:
    st.info(
        f"Task `{cur.study['task']}` of study `{cur.name}` has no lag parameter (T, q, p), "
        "so there is no lag to plot against. Pick a study of a long-lag task."
    )
    st.stop()

try:
    values = data.param_values(cur.url, cur.study_id)
except data.QueryError as e:
    ui.query_error(e)
    st.stop()
if values.empty:
    st.info(f"Study `{cur.name}` has no finished trial yet.")
    st.stop()
swept = analysis.swept(values)
lags = sorted(values.loc[values["name"] == lag, "value_num"].dropna().unique())
if len(lags) < 2:
    st.info(
        f"Study `{cur.name}` runs a single lag ({lag} = "
        f"{', '.join(f'{v:g}' for v in lags) or 'n/a'}): the curves below are single points. "
        f"Sweep `{lag}` under `[space.task]` in the spec for real lag curves."
    )
config_dims = [n for n in swept if n not in (MODEL, lag)]
st.caption(
    f"Study `{cur.name}`: lag parameter `{lag}`; a configuration is a combination of "
    f"{', '.join(config_dims) or 'nothing else (every model has one configuration)'}. "
    "Solid: each model's best configuration (none when nothing solved); dotted: its median "
    "one. Bars: Wilson 95%."
)
dims = tuple(analysis.choose_dim(d, values) for d in (MODEL, lag, *config_dims))


def render() -> None:
    try:
        cells = data.aggregate(cur.url, cur.study_id, dims)
    except data.QueryError as e:
        ui.query_error(e)
        return
    if cells.empty:
        st.info("No finished trial yet.")
        return
    cells = analysis.with_success(cells[cells[lag] != "n/a"])
    points = analysis.lag_points(cells, lag, config_dims)
    order = analysis.model_order(list(points["model"].unique()), cur.study.get("models"))
    title = analysis.figure_title("Lag curves", cur.study, swept_lag=True)
    budget = cur.study.get("max_sequences")
    fig = charts.lag_curves(points, lag, budget=budget, title=title, model_order=order)
    ui.figure(fig, f"{cur.name}-lag-curves", key="lag_figure")
    st.caption(
        "Lines are dodged sideways a little so that coinciding ones (e.g. all at 0) stay "
        "visible. Median sequences to solve are over the solved seeds; where fewer than half "
        "the seeds solved, the median over all seeds lies beyond the budget (censored): drawn "
        "as △ at the budget."
    )
    picks = points.drop_duplicates(["model", "which"])[["model", "which", "config"]]
    for m in order:
        mine = picks[picks["model"] == m]
        for r in mine.itertuples(index=False):
            st.markdown(f"**{r.model}** {r.which}: {r.config}")
        if "best" not in set(mine["which"]):
            st.markdown(f"**{m}**: no seed solved at any lag, so no configuration is best")
    table = points.rename(
        columns={
            "ci_low": "wilson_low",
            "ci_high": "wilson_high",
            "seq_median": "median_seq_to_solve",
        }
    )
    ui.table(table.drop(columns=[f"{lag}_label"]), f"{cur.name}-lag-curves", key="lag_table")


ui.live(cur, render)
