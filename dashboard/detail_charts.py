"""Plotly figures of the sensitivity, trial detail and paper pages: importance and interaction
bars, per-seed learning curves, the paper comparison bars and a confusion matrix. Plain
DataFrames in, ``go.Figure`` out, no Streamlit, no SQL (the maps and lag curves are in
`dashboard.charts`, whose colours these share).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.charts import colour


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
                    "color": "black",
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


READING_MARKS = {"literal": "diamond", "mae": "triangle-up", "frac99": "circle-open"}


def seed_colours(n: int) -> list[str]:
    """``n`` distinct colours: plotly's 26-colour Alphabet set, sampled Turbo beyond it."""
    from plotly.colors import qualitative, sample_colorscale

    if n <= len(qualitative.Alphabet):
        return list(qualitative.Alphabet[:n])
    return list(sample_colorscale("Turbo", [i / max(n - 1, 1) for i in range(n)]))


def learning_curves(seeds: pd.DataFrame, reading: str = "literal") -> go.Figure:
    """Window training error (log) and fraction correct against sequences, one line per seed in
    its own colour: solid for solved seeds, dotted for the others. On the fraction-correct panel
    each seed's markers show where each success reading first held (◆ literal, ▲ mae,
    ○ frac99; the study's ``reading`` is the stopping rule) and ★ where a solved seed stopped
    and passed its final test."""
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("training error (window mean)", "fraction correct (window)")
    )
    colours = seed_colours(len(seeds))
    for i, r in enumerate(seeds.itertuples(index=False)):
        pts = np.asarray(r.curve or [], dtype=float).reshape(-1, 3)
        if pts.size == 0:
            continue
        name = f"seed {r.replicate}" + (" ✓" if r.solved else "")
        c = colours[i]
        line = {
            "color": c,
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
                col=2 if col == 2 else 1,
            )
        for rd, symbol in READING_MARKS.items():
            at = getattr(r, f"seq_{rd}", None)
            if at is None or pd.isna(at):
                continue
            yv = float(np.interp(float(at), pts[:, 0], pts[:, 2]))
            fig.add_trace(
                go.Scatter(
                    x=[float(at)],
                    y=[yv],
                    mode="markers",
                    name=f"{name}: {rd} held",
                    legendgroup=name,
                    showlegend=False,
                    marker={"symbol": symbol, "size": 11 if rd == reading else 8, "color": c},
                    hovertemplate=f"{name}<br>{rd} reading held at %{{x:,.0f}} sequences"
                    + (" (the stopping rule)" if rd == reading else "")
                    + "<extra></extra>",
                ),
                row=1,
                col=2,
            )
        if r.solved and r.sequences_to_solve is not None and not pd.isna(r.sequences_to_solve):
            at = float(r.sequences_to_solve)
            fig.add_trace(
                go.Scatter(
                    x=[at],
                    y=[1.04],
                    mode="markers",
                    name=f"{name}: solved",
                    legendgroup=name,
                    showlegend=False,
                    marker={"symbol": "star", "size": 13, "color": c,
                            "line": {"width": 1, "color": "black"}},
                    hovertemplate=f"{name}<br>solved: stopped at %{{x:,.0f}} sequences and "
                    "passed the final test<extra></extra>",
                ),
                row=1,
                col=2,
            )  # fmt: skip
    fig.update_xaxes(title_text="training sequences")
    errors = [
        v
        for c in seeds["curve"]
        for v in np.asarray(c or [], dtype=float).reshape(-1, 3)[:, 1]
        if v > 0
    ]
    decades = math.log10(max(errors) / min(errors)) if errors else 0.0
    # one labelled tick per decade when the errors span two or more, else 1-2-5 ticks
    fig.update_yaxes(
        type="log", dtick=1 if decades >= 2 else "D2", exponentformat="power", row=1, col=1
    )
    fig.update_yaxes(range=[-0.02, 1.08], row=1, col=2)
    fig.update_layout(height=440, margin={"l": 60, "r": 20, "t": 50, "b": 50})
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
    fig.update_yaxes(rangemode="tozero", title_text="sequences", row=1, col=1)  # linear: bars
    # on a log scale from ~20k would make 22k vs 31k look like 1:10
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
