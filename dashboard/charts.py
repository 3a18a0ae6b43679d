"""Plotly figures of a study: the robustness map and the lag curves (the model colours every
figure shares). Plain DataFrames in, ``go.Figure`` out. No Streamlit, no SQL; the bars and
per-seed curves of the other pages are in `dashboard.detail_charts`.

Every builder takes the frame a page already shows as a table, so what is plotted and what can be
downloaded as CSV are the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.analysis import axis_order

SUCCESS_SCALE = "Viridis"
PANEL_H = 300
MODEL_COLOURS = {
    "lstm1997": "#1f77b4",
    "lstm_forget": "#2ca02c",
    "gru": "#ff7f0e",
    "elman": "#d62728",
}
_FALLBACK = ["#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def colour(model: str, i: int = 0) -> str:
    return MODEL_COLOURS.get(model, _FALLBACK[i % len(_FALLBACK)])


def robustness_map(
    cells: pd.DataFrame,
    x: str,
    y: str,
    panels: Sequence[str],
    robust: pd.DataFrame | None = None,
    title: str | None = None,
    model_order: Sequence[str] | None = None,
) -> go.Figure:
    """Heatmaps of success rate over ``x`` by ``y``, one panel per combination of ``panels``
    (e.g. model, or model and a topology option), all on one colour scale [0, 1].

    ``cells`` has one row per cell: the label columns ``x``, ``y`` and ``panels`` (plus
    ``<x>__sort``/``<y>__sort``), n_solved, n_seeds, success, ci_low, ci_high, seq_median,
    n_trials (and optionally weights). Each cell is labelled n_solved/n_seeds in a colour that
    contrasts with its fill; hovering shows the Wilson 95% interval and the median sequences to
    solve. ``robust`` (optional: panel columns, x, y) outlines each panel's most robust
    configuration, with a legend entry. Panels follow ``model_order`` (the spec's order), then
    the other panel values. A panel without the y parameter (a baseline has no ``blocks``) is one
    row high, not stretched over the panel. Where a panel's weight count changes along y, the y
    tick labels carry it; a constant count goes into the panel's title.
    """
    panel_keys: list[tuple[Any, ...]] = (
        [tuple(r) for r in cells[list(panels)].drop_duplicates().itertuples(index=False)]
        if panels
        else [()]
    )
    rank = {m: i for i, m in enumerate(model_order or [])}

    def sort_key(k: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(
            (rank.get(str(v), len(rank)), str(v)) if p == "model" else (0, str(v))
            for p, v in zip(panels, k, strict=True)
        )

    panel_keys.sort(key=sort_key)
    n_x = max((len(axis_order(_panel(cells, panels, k), x)) for k in panel_keys), default=1)
    cols = min(len(panel_keys), 3 if n_x <= 4 else 2)
    rows = math.ceil(len(panel_keys) / cols)
    max_y = max((len(axis_order(_panel(cells, panels, k), y)) for k in panel_keys), default=1)
    titles = []
    for k in panel_keys:
        sub = _panel(cells, panels, k)
        t = " · ".join(
            f"{v}" if p == "model" else f"{p}={v}" for p, v in zip(panels, k, strict=True)
        )
        w = _weights(sub)
        if w.nunique() == 1:
            t += f" ({int(w.iloc[0])} weights)"
        titles.append(t)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=titles or None,
        horizontal_spacing=0.1,
        vertical_spacing=min(0.25, 0.6 / rows),
    )
    marked = False
    for i, key in enumerate(panel_keys):
        sub = _panel(cells, panels, key)
        xs, ys = axis_order(sub, x), axis_order(sub, y)
        z = np.full((len(ys), len(xs)), np.nan)
        text = np.full(z.shape, "", dtype=object)
        custom = np.full((*z.shape, 6), np.nan, dtype=object)
        xi = {v: j for j, v in enumerate(xs)}
        yi = {v: i for i, v in enumerate(ys)}
        for r in sub.to_dict("records"):
            row, col = yi[r[y]], xi[r[x]]
            z[row, col] = r["success"]
            text[row, col] = f"{r['n_solved']}/{r['n_seeds']}"
            w = r.get("weights")
            custom[row, col] = [
                r["ci_low"],
                r["ci_high"],
                _fmt_seq(r.get("seq_median")),
                r["n_trials"],
                r["n_seeds"],
                "—" if w is None or pd.isna(w) else f"{float(w):,.0f}",
            ]
        font = _cell_font(len(xs), max((len(t) for t in text.flat), default=1), cols)
        rr, cc = divmod(i, cols)
        name = titles[i] if titles else ""
        fig.add_trace(
            go.Heatmap(
                z=z,
                x=xs,
                y=ys,
                text=text,
                customdata=custom,
                coloraxis="coloraxis",
                xgap=2,
                ygap=2,
                name=name.split(" (")[0],
                hovertemplate=(
                    f"{x}=%{{x}}<br>{y}=%{{y}}<br>success %{{z:.2f}} (%{{text}} seeds)"
                    "<br>Wilson 95%: [%{customdata[0]:.2f}, %{customdata[1]:.2f}]"
                    "<br>median sequences to solve: %{customdata[2]}"
                    "<br>weights: %{customdata[5]}"
                    "<br>trials: %{customdata[3]}<extra>%{fullData.name}</extra>"
                ),
            ),
            row=rr + 1,
            col=cc + 1,
        )
        if font:  # labels as a text trace: one colour per cell, dark on light fills
            pts = [
                (xs[c], ys[r], text[r, c], z[r, c]) for r in range(len(ys)) for c in range(len(xs))
            ]
            pts = [p for p in pts if p[2]]
            fig.add_trace(
                go.Scatter(
                    x=[p[0] for p in pts],
                    y=[p[1] for p in pts],
                    text=[p[2] for p in pts],
                    mode="text",
                    textfont={"size": font, "color": [label_colour(p[3]) for p in pts]},
                    hoverinfo="skip",
                    showlegend=False,
                    name=f"labels {name}",
                ),
                row=rr + 1,
                col=cc + 1,
            )
        if robust is not None and not robust.empty:
            hit = robust
            for p, v in zip(panels, key, strict=True):
                hit = hit[hit[p] == v]
            if not hit.empty and x in hit and pd.notna(hit.iloc[0][x]):
                j, i_ = xi[hit.iloc[0][x]], yi[hit.iloc[0][y]]
                for colour_, width, dash in (("white", 4, "solid"), ("black", 1.5, "dot")):
                    fig.add_shape(
                        type="rect",
                        x0=j - 0.5,
                        x1=j + 0.5,
                        y0=i_ - 0.5,
                        y1=i_ + 0.5,
                        line={"color": colour_, "width": width, "dash": dash},
                        row=rr + 1,
                        col=cc + 1,
                    )
                marked = True
        real_y = ys not in ([""], ["n/a"])
        ticktext = ys
        w = _weights(sub)
        if real_y and w.nunique() > 1:
            per_y = sub.groupby(y)["weights"].agg(["min", "max"])
            if (per_y["min"] == per_y["max"]).all():  # the count is a function of y
                ticktext = [f"{v} ({int(per_y.loc[v, 'max'])} w)" for v in ys]
        fig.update_xaxes(
            type="category",
            categoryorder="array",
            categoryarray=xs,
            title_text=x if xs != [""] else "",
            showticklabels=xs != [""],
            row=rr + 1,
            col=cc + 1,
        )
        fig.update_yaxes(
            type="category",
            categoryorder="array",
            categoryarray=ys,
            tickvals=ys,
            ticktext=ticktext if real_y else [f"no {y}" if ys == ["n/a"] else ""],
            title_text=(y + (" (weights)" if ticktext is not ys else "")) if real_y else "",
            showticklabels=ys != [""],
            row=rr + 1,
            col=cc + 1,
        )
        if len(ys) < max_y:  # fewer rows than the tallest panel: keep the cells' height
            axis = fig.get_subplot(rr + 1, cc + 1).yaxis
            d0, d1 = axis.domain
            axis.domain = [d1 - (d1 - d0) * len(ys) / max_y, d1]
    if marked:  # a legend entry for the outlined cells
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name="most robust (highest 95% lower bound of its neighbourhood)",
                marker={"symbol": "square-open", "size": 14, "color": "black"},
                showlegend=True,
                hoverinfo="skip",
            ),
            row=1,
            col=1,
        )
    fig.update_layout(
        coloraxis={
            "colorscale": SUCCESS_SCALE,
            "cmin": 0.0,
            "cmax": 1.0,
            "colorbar": {"title": {"text": "success"}},
        },
        height=170 + PANEL_H * rows,
        margin={"l": 90, "r": 20, "t": 110 if title else 60, "b": 90},
        title=title,
        showlegend=marked,
        # below the panels: above them it would cover the title's context line
        legend={"orientation": "h", "y": -0.12 - 0.1 / rows, "x": 0, "yanchor": "top"},
    )
    return fig


def _panel(cells: pd.DataFrame, panels: Sequence[str], key: tuple[Any, ...]) -> pd.DataFrame:
    sub = cells
    for p, v in zip(panels, key, strict=True):
        sub = sub[sub[p] == v]
    return sub


def _weights(sub: pd.DataFrame) -> pd.Series:
    if "weights" not in sub:
        return pd.Series(dtype=float)
    return pd.to_numeric(sub["weights"], errors="coerce").dropna().round()


def label_colour(success: float) -> str:
    """Cell label colour readable on the Viridis fill: dark on the light (yellow-green) end."""
    return (
        "#111111" if success is not None and not pd.isna(success) and success >= 0.55 else "#ffffff"
    )


def _cell_font(n_x: int, chars: int, panel_cols: int, width_px: float = 900.0) -> int:
    """Font size for the n_solved/n_seeds text that fits a cell with room to spare (0: too
    narrow, hover only); the figure is about ``width_px`` wide (the page's left column)."""
    cell = width_px * 0.85 / panel_cols / max(n_x, 1)
    size = min(13.0, cell * 0.75 / (0.6 * max(chars, 1)))
    return int(size) if size >= 7 else 0


def _fmt_seq(v: float | None) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:,.0f}"


SYMBOLS = ["circle", "square", "diamond", "triangle-up", "cross", "x", "star", "hexagon"]


def lag_curves(
    points: pd.DataFrame,
    lag: str,
    budget: float | None = None,
    title: str | None = None,
    model_order: Sequence[str] | None = None,
) -> go.Figure:
    """Success rate (with Wilson 95% bars) and median sequences to solve against the lag.

    ``points``: model, which ("best" / "median"), lag (numeric), success, ci_low, ci_high,
    seq_median, n_solved, n_seeds, config (text for the hover). Lines are dodged sideways a
    little and carry one marker symbol per model, so lines that coincide (all at 0) stay
    distinguishable. A median of the solved seeds where fewer than half the seeds solved is
    censored (the median over all seeds lies beyond ``budget``): drawn as an open triangle at the
    budget. When no seed solved at all, the median panel says so instead of drawing an empty log
    axis. A single lag gets an axis around it; ticks sit at the lags run.
    """
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("success rate", "median sequences to solve (solved seeds)")
    )
    models = list(model_order or sorted(points["model"].unique()))
    models = [m for m in models if m in set(points["model"])]
    lags = sorted(points[lag].dropna().unique()) if not points.empty else []
    span = (lags[-1] - lags[0]) if len(lags) > 1 else (abs(lags[0]) if lags else 1.0)
    n_lines = max(1, len(models) * 2)
    step = 0.012 * (span or 1.0)
    any_seq = False
    has_medians = bool(points["seq_median"].notna().any()) if not points.empty else False
    k = 0
    for i, m in enumerate(models):
        for which, dash in (("best", "solid"), ("median", "dot")):
            sub = points[(points["model"] == m) & (points["which"] == which)].sort_values(lag)
            if sub.empty:
                continue
            name = f"{m} ({which})"
            dodge = (k - (n_lines - 1) / 2) * step
            k += 1
            common = {
                "name": name,
                "legendgroup": name,
                "line": {"color": colour(m, i), "dash": dash},
                "marker": {"symbol": SYMBOLS[i % len(SYMBOLS)], "size": 8},
                "customdata": sub[["config"]],
                "mode": "lines+markers",
            }
            fig.add_trace(
                go.Scatter(
                    x=sub[lag] + dodge,
                    y=sub["success"],
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": sub["ci_high"] - sub["success"],
                        "arrayminus": sub["success"] - sub["ci_low"],
                    },
                    hovertemplate=f"{lag}=%{{x:.3g}}<br>success %{{y:.2f}}<br>%{{customdata[0]}}",
                    **common,
                ),
                row=1,
                col=1,
            )
            solved = pd.to_numeric(sub["n_solved"], errors="coerce").fillna(0)
            seeds = pd.to_numeric(sub["n_seeds"], errors="coerce").fillna(0)
            censored = (solved * 2 < seeds) & (seeds > 0)
            ok = sub[~censored & sub["seq_median"].notna()]
            if not ok.empty:
                any_seq = True
                fig.add_trace(
                    go.Scatter(
                        x=ok[lag] + dodge,
                        y=ok["seq_median"],
                        showlegend=False,
                        hovertemplate=(
                            f"{lag}=%{{x:.3g}}<br>median %{{y:,.0f}}<br>%{{customdata[0]}}"
                        ),
                        **{**common, "customdata": ok[["config"]]},
                    ),
                    row=1,
                    col=2,
                )
            cens = sub[censored]
            if budget and not cens.empty and has_medians:
                any_seq = True
                fig.add_trace(
                    go.Scatter(
                        x=cens[lag] + dodge,
                        y=[float(budget)] * len(cens),
                        mode="markers",
                        name=f"{name}: censored",
                        legendgroup=name,
                        showlegend=False,
                        marker={"symbol": "triangle-up-open", "size": 11, "color": colour(m, i)},
                        customdata=cens[["config", "n_solved", "n_seeds"]],
                        hovertemplate=(
                            f"{lag}=%{{x:.3g}}<br>censored: only %{{customdata[1]}}/"
                            "%{customdata[2]} seeds solved, the median lies beyond the budget"
                            "<br>%{customdata[0]}"
                        ),
                    ),
                    row=1,
                    col=2,
                )
    if budget and any_seq:
        fig.add_hline(
            y=float(budget), line={"color": "#888", "dash": "dash", "width": 1}, row=1, col=2,
            annotation_text="budget (△ = censored)", annotation_position="bottom right",
        )  # fmt: skip
    xaxis: dict[str, Any] = {"title_text": lag, "tickvals": lags}
    if len(lags) == 1:
        v = float(lags[0])
        xaxis["range"] = [0.0, 2 * v] if v > 0 else [v - 1, v + 1]
    fig.update_xaxes(**xaxis)
    fig.update_yaxes(range=[-0.05, 1.05], title_text="success (Wilson 95%)", row=1, col=1)
    if any_seq:
        fig.update_yaxes(type="log", dtick=1, exponentformat="power", row=1, col=2)
    else:
        fig.update_yaxes(showticklabels=False, row=1, col=2)
        fig.add_annotation(
            text="no seed solved: nothing to plot",
            showarrow=False,
            xref="x2 domain",
            yref="y2 domain",
            x=0.5,
            y=0.5,
        )
    fig.update_layout(
        height=460, title=title, margin={"l": 60, "r": 20, "t": 100 if title else 50, "b": 50}
    )
    return fig
