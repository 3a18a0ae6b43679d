"""Plotly figure builders: plain DataFrames in, ``go.Figure`` out. No Streamlit, no SQL.

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

SUCCESS_SCALE = "Viridis"
PANEL_H = 300
MODEL_COLOURS = {
    "lstm1997": "#1f77b4",
    "lstm_forget": "#2ca02c",
    "gru": "#ff7f0e",
    "elman": "#d62728",
}
_FALLBACK = ["#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
_SEEDS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def colour(model: str, i: int = 0) -> str:
    return MODEL_COLOURS.get(model, _FALLBACK[i % len(_FALLBACK)])


def _order(df: pd.DataFrame, col: str) -> list[str]:
    """Axis labels ordered by their numeric sort key (``<col>__sort``), then by text."""
    keys = df[[col, f"{col}__sort"]].drop_duplicates(col)
    keys = keys.assign(_nan=keys[f"{col}__sort"].isna())
    return list(keys.sort_values(["_nan", f"{col}__sort", col])[col])


def robustness_map(
    cells: pd.DataFrame,
    x: str,
    y: str,
    panels: Sequence[str],
    robust: pd.DataFrame | None = None,
    title: str | None = None,
) -> go.Figure:
    """Heatmaps of success rate over ``x`` by ``y``, one panel per combination of ``panels``
    (e.g. model, or model and a topology option), all on one colour scale [0, 1].

    ``cells`` has one row per cell: the label columns ``x``, ``y`` and ``panels`` (plus
    ``<x>__sort``/``<y>__sort``), n_solved, n_seeds, success, ci_low, ci_high, seq_median,
    n_trials. Each cell is annotated n_solved/n_seeds; hovering shows the Wilson 95% interval and
    the median sequences to solve. ``robust`` (optional: panel columns, x, y) outlines each
    panel's most robust configuration. An axis whose labels are all "" (no axis) is hidden.
    """
    panel_keys: list[tuple[Any, ...]] = (
        [tuple(r) for r in cells[list(panels)].drop_duplicates().itertuples(index=False)]
        if panels
        else [()]
    )
    panel_keys.sort(key=lambda k: tuple(str(v) for v in k))
    cols = min(len(panel_keys), 3)
    rows = math.ceil(len(panel_keys) / cols)
    titles = [
        " · ".join(f"{v}" if p == "model" else f"{p}={v}" for p, v in zip(panels, k, strict=True))
        for k in panel_keys
    ]
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=titles or None,
        horizontal_spacing=0.08,
        vertical_spacing=min(0.25, 0.5 / rows),
    )
    marked = False
    for i, key in enumerate(panel_keys):
        sub = cells
        for p, v in zip(panels, key, strict=True):
            sub = sub[sub[p] == v]
        xs, ys = _order(sub, x), _order(sub, y)
        z = np.full((len(ys), len(xs)), np.nan)
        text = np.full(z.shape, "", dtype=object)
        custom = np.full((*z.shape, 5), np.nan, dtype=object)
        xi = {v: j for j, v in enumerate(xs)}
        yi = {v: i for i, v in enumerate(ys)}
        for r in sub.to_dict("records"):
            row, col = yi[r[y]], xi[r[x]]
            z[row, col] = r["success"]
            text[row, col] = f"{r['n_solved']}/{r['n_seeds']}"
            custom[row, col] = [
                r["ci_low"],
                r["ci_high"],
                _fmt_seq(r.get("seq_median")),
                r["n_trials"],
                r["n_seeds"],
            ]
        font = _cell_font(len(xs), max((len(t) for t in text.flat), default=1), cols)
        rr, cc = divmod(i, cols)
        fig.add_trace(
            go.Heatmap(
                z=z,
                x=xs,
                y=ys,
                text=text,
                texttemplate="%{text}" if font else "",
                textfont={"size": font or 10},
                customdata=custom,
                coloraxis="coloraxis",
                xgap=2,
                ygap=2,
                name=titles[i] if titles else "",
                hovertemplate=(
                    f"{x}=%{{x}}<br>{y}=%{{y}}<br>success %{{z:.2f}} (%{{text}} seeds)"
                    "<br>Wilson 95%: [%{customdata[0]:.2f}, %{customdata[1]:.2f}]"
                    "<br>median sequences to solve: %{customdata[2]}"
                    "<br>trials: %{customdata[3]}<extra>%{fullData.name}</extra>"
                ),
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
                fig.add_shape(
                    type="rect",
                    x0=j - 0.5,
                    x1=j + 0.5,
                    y0=i_ - 0.5,
                    y1=i_ + 0.5,
                    line={"color": "white", "width": 4},
                    row=rr + 1,
                    col=cc + 1,
                )
                fig.add_shape(
                    type="rect",
                    x0=j - 0.5,
                    x1=j + 0.5,
                    y0=i_ - 0.5,
                    y1=i_ + 0.5,
                    line={"color": "black", "width": 1.5, "dash": "dot"},
                    row=rr + 1,
                    col=cc + 1,
                )
                marked = True
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
            title_text=y if ys != [""] and cc == 0 else "",
            showticklabels=ys != [""],
            row=rr + 1,
            col=cc + 1,
        )
    if marked:  # a legend entry for the outlined cells
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name="most robust (neighbourhood)",
                marker={"symbol": "square-open", "size": 14, "color": "black"},
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
        height=120 + PANEL_H * rows,
        margin={"l": 60, "r": 20, "t": 80 if title else 50, "b": 50},
        title=title,
        legend={"orientation": "h", "y": 1.02 + 0.08 / rows, "x": 1, "xanchor": "right"},
    )
    return fig


def _cell_font(n_x: int, chars: int, panel_cols: int, width_px: float = 1000.0) -> int:
    """Font size for the n_solved/n_seeds text that fits a cell (0: too narrow, hover only)."""
    cell = width_px / panel_cols / max(n_x, 1)
    size = min(12.0, cell / (0.62 * max(chars, 1)))
    return int(size) if size >= 7 else 0


def _fmt_seq(v: float | None) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:,.0f}"


def lag_curves(points: pd.DataFrame, lag: str) -> go.Figure:
    """Success rate (with Wilson 95% bars) and median sequences to solve against the lag.

    ``points``: model, which ("best" / "median"), lag (numeric), success, ci_low, ci_high,
    seq_median, config (text for the hover).
    """
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("success rate", "median sequences to solve")
    )
    models = sorted(points["model"].unique())
    for i, m in enumerate(models):
        for which, dash in (("best", "solid"), ("median", "dot")):
            sub = points[(points["model"] == m) & (points["which"] == which)].sort_values(lag)
            if sub.empty:
                continue
            name = f"{m} ({which})"
            common = {
                "name": name,
                "legendgroup": name,
                "line": {"color": colour(m, i), "dash": dash},
                "customdata": sub[["config"]],
                "mode": "lines+markers",
            }
            fig.add_trace(
                go.Scatter(
                    x=sub[lag],
                    y=sub["success"],
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": sub["ci_high"] - sub["success"],
                        "arrayminus": sub["success"] - sub["ci_low"],
                    },
                    hovertemplate=f"{lag}=%{{x}}<br>success %{{y:.2f}}<br>%{{customdata[0]}}",
                    **common,
                ),
                row=1,
                col=1,
            )
            fig.add_trace(
                go.Scatter(
                    x=sub[lag],
                    y=sub["seq_median"],
                    showlegend=False,
                    hovertemplate=f"{lag}=%{{x}}<br>median %{{y:,.0f}}<br>%{{customdata[0]}}",
                    **common,
                ),
                row=1,
                col=2,
            )
    fig.update_xaxes(title_text=lag)
    fig.update_yaxes(range=[-0.05, 1.05], row=1, col=1)
    fig.update_yaxes(type="log", row=1, col=2)
    fig.update_layout(height=420, margin={"l": 60, "r": 20, "t": 50, "b": 50})
    return fig


def importance_bars(imp: pd.DataFrame) -> go.Figure:
    """Horizontal bars of importance per parameter, one colour per scope (model or 'all')."""
    fig = go.Figure()
    params = list(imp.groupby("param")["importance"].max().sort_values().index)
    for i, (scope, sub) in enumerate(imp.groupby("scope", sort=True)):
        sub = sub.set_index("param").reindex(params)
        fig.add_trace(
            go.Bar(
                y=params,
                x=sub["importance"],
                name=str(scope),
                orientation="h",
                marker_color=colour(str(scope), i),
                hovertemplate="%{y}: %{x:.3f}<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_layout(
        barmode="group",
        height=120 + 28 * max(len(params), 1) * max(imp["scope"].nunique(), 1),
        xaxis_title="importance for success (normalised, sums to 1 per scope)",
        margin={"l": 120, "r": 20, "t": 30, "b": 50},
    )
    return fig


def interaction_bars(anova: pd.DataFrame, size: str) -> go.Figure:
    """Stacked shares of the variance of success over the lr x size grid, per model, with the
    binomial-noise floor of the interaction as a marker."""
    fig = go.Figure()
    parts = (
        ("lr_share", "learning rate", "#1f77b4"),
        ("size_share", size, "#ff7f0e"),
        ("interaction_share", f"lr × {size}", "#7f7f7f"),
    )
    for col, name, c in parts:
        fig.add_trace(
            go.Bar(
                x=anova["model"],
                y=anova[col],
                name=name,
                marker_color=c,
                hovertemplate="%{x}: %{y:.2f}<extra>" + name + "</extra>",
            )
        )
    if "noise_floor" in anova and anova["noise_floor"].notna().any():
        fig.add_trace(
            go.Scatter(
                x=anova["model"],
                y=anova["lr_share"] + anova["size_share"] + anova["noise_floor"],
                mode="markers",
                marker={
                    "symbol": "line-ew-open",
                    "size": 40,
                    "line": {"width": 3, "color": "black"},
                },
                name="interaction expected from seed noise alone",
                hovertemplate="noise floor<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="stack",
        yaxis={"title": "share of variance of success", "range": [0, 1.02]},
        height=380,
        margin={"l": 60, "r": 20, "t": 30, "b": 50},
    )
    return fig


def learning_curves(seeds: pd.DataFrame) -> go.Figure:
    """Window training error (log) and fraction correct against sequences, one line per seed:
    solid for solved seeds, dotted for the others."""
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("training error (window mean)", "fraction correct (window)")
    )
    for i, r in enumerate(seeds.itertuples(index=False)):
        pts = np.asarray(r.curve or [], dtype=float).reshape(-1, 3)
        if pts.size == 0:
            continue
        name = f"seed {r.replicate}" + (" ✓" if r.solved else "")
        line = {
            "color": _SEEDS[i % len(_SEEDS)],
            "dash": "solid" if r.solved else "dot",
            "width": 1.8 if r.solved else 1.2,
        }
        for col, k in ((1, 1), (2, 2)):
            fig.add_trace(
                go.Scatter(
                    x=pts[:, 0],
                    y=pts[:, k],
                    mode="lines",
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                    line=line,
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(title_text="training sequences")
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_yaxes(range=[-0.02, 1.02], row=1, col=2)
    fig.update_layout(height=400, margin={"l": 60, "r": 20, "t": 50, "b": 50})
    return fig


def paper_bars(cmp: pd.DataFrame) -> go.Figure:
    """Mean sequences to success, ours beside the paper's, and our success fraction."""
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("mean sequences to success", "fraction of seeds solved")
    )
    x = cmp["row"]
    fig.add_trace(go.Bar(x=x, y=cmp["ours_mean_seq"], name="ours", marker_color="#1f77b4"), 1, 1)
    fig.add_trace(go.Bar(x=x, y=cmp["paper_mean_seq"], name="paper", marker_color="#bbbbbb"), 1, 1)
    fig.add_trace(
        go.Bar(x=x, y=cmp["ours_success"], name="ours", marker_color="#1f77b4", showlegend=False),
        1,
        2,
    )
    fig.add_trace(
        go.Bar(x=x, y=cmp["paper_success"], name="paper", marker_color="#bbbbbb", showlegend=False),
        1,
        2,
    )
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_yaxes(range=[0, 1.05], row=1, col=2)
    fig.update_layout(barmode="group", height=420, margin={"l": 60, "r": 20, "t": 50, "b": 80})
    return fig


def confusion_matrix(counts: pd.DataFrame, title: str) -> go.Figure:
    """A confusion matrix (rows: true class, columns: predicted class, as in the table beside
    it) as a heatmap; each cell shows its count, and hovering adds the row's share."""
    z = counts.to_numpy(dtype=float)
    share = z / np.maximum(z.sum(axis=1, keepdims=True), 1.0)
    rows, cols = [str(c) for c in counts.index], [str(c) for c in counts.columns]
    fig = go.Figure(
        go.Heatmap(
            z=share,
            x=cols,
            y=rows,
            text=z.astype(int).astype(str),
            texttemplate="%{text}",
            customdata=z,
            colorscale="Blues",
            zmin=0.0,
            zmax=1.0,
            colorbar={"title": "row share"},
            hovertemplate="true %{y}, predicted %{x}: %{customdata:.0f} (%{z:.0%} of row)"
            "<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="predicted class", type="category")
    fig.update_yaxes(title_text="true class", type="category", autorange="reversed")
    fig.update_layout(
        title=title, height=120 + 40 * len(rows), margin={"l": 80, "r": 20, "t": 50, "b": 60}
    )
    return fig
