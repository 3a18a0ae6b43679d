"""From query results to what the pages show: pandas in, pandas out, no Streamlit, no SQL.

* :func:`choose_dim`: exact values for a grid axis, bins for a continuous one (TPE / random).
* :func:`with_success`: success rate and Wilson interval per cell.
* :func:`robust_summary`: per panel, the robust-region size and the most robust configuration.
* :func:`lag_points`: each model's best and median configuration across the lag.
* :func:`interaction_table`: the lr x size two-way decomposition per model.
* :func:`paper_table`: our mean sequences-to-success and success fraction beside the paper's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from dashboard import stats
from dashboard.map_queries import Dim
from dashboard.queries import LR, MODEL

MAX_LEVELS = 30
"""An axis with more distinct values than this is binned (TPE / random / QMC samplers)."""
N_BINS = 8


def context(study: Any, swept_lag: bool | None = None) -> str:
    """One line naming what a figure shows: task and lag, budget, reading and seeds.

    ``study``: a row of `data.studies` (task, fixed_task, lag_param, max_sequences, reading,
    seeds). ``swept_lag``: say that the lag is swept (lag curves) rather than naming a value.

    Example:
        >>> context({"task": "adding", "fixed_task": "T=20", "max_sequences": 300000,
        ...          "reading": "literal", "seeds": 24})
        'task adding (T=20) · budget 300,000 sequences/seed · reading literal · 24 seeds/config'
    """
    get = study.get
    task = f"task {get('task')}"
    fixed = str(get("fixed_task") or "")
    lag = get("lag_param")
    if swept_lag and isinstance(lag, str) and lag:
        task += f" ({lag} swept{', ' + fixed if fixed else ''})"
    elif fixed:
        task += f" ({fixed})"
    parts = [task]
    if get("max_sequences") is not None and not pd.isna(get("max_sequences")):
        parts.append(f"budget {int(get('max_sequences')):,} sequences/seed")
    if get("reading"):
        parts.append(f"reading {get('reading')}")
    if get("seeds") is not None and not pd.isna(get("seeds")):
        parts.append(f"{int(get('seeds'))} seeds/config")
    return " · ".join(parts)


def figure_title(what: str, study: Any, swept_lag: bool | None = None) -> str:
    """'<what>: study NAME' over the `context` line (plotly title HTML)."""
    return f"{what}: study {study.get('name')}<br><sup>{context(study, swept_lag)}</sup>"


def model_order(models: Sequence[str], spec_models: Any) -> list[str]:
    """``models`` in the study spec's order (lstm1997 first in the shipped specs); names the
    spec does not list (none, normally) follow alphabetically."""
    listed = [str(m) for m in spec_models] if isinstance(spec_models, list | tuple) else []
    rank = {m: i for i, m in enumerate(listed)}
    return sorted(models, key=lambda m: (rank.get(str(m), len(rank)), str(m)))


def choose_dim(name: str, values: pd.DataFrame) -> Dim:
    """``(name, ())`` for an axis of few values; ``(name, edges)`` with N_BINS log- or
    linear-spaced bins for a numeric axis of many (log when positive and spanning >= 20x).

    ``values``: `data.param_values` rows (name, value_num, ...)."""
    if name == MODEL:
        return (name, ())
    v = values.loc[values["name"] == name, "value_num"].dropna().to_numpy(dtype=float)
    if len(v) <= MAX_LEVELS:
        return (name, ())
    lo, hi = float(v.min()), float(v.max())
    if lo > 0 and hi / lo >= 20:
        edges = np.geomspace(lo, hi, N_BINS + 1)
    else:
        edges = np.linspace(lo, hi, N_BINS + 1)
    return (name, tuple(float(f"{e:.6g}") for e in edges))


def swept(values: pd.DataFrame) -> list[str]:
    """Parameters with two or more values among the finished trials, model first."""
    counts = values.groupby("name")["label"].nunique()
    names = sorted(n for n, c in counts.items() if c > 1)
    return sorted(names, key=lambda n: n != MODEL)


def with_success(cells: pd.DataFrame) -> pd.DataFrame:
    """Add success = n_solved / n_seeds and its Wilson 95% interval (ci_low, ci_high)."""
    cells = cells.copy()
    k = cells["n_solved"].to_numpy(dtype=float)
    n = cells["n_seeds"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        cells["success"] = np.where(n > 0, k / n, np.nan)
    cells["ci_low"], cells["ci_high"] = stats.wilson_interval(k, n)
    return cells


def panel_grid(
    sub: pd.DataFrame, x: str, y: str
) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """(x labels, y labels, solved grid, seeds grid) of one panel, axes in numeric order."""
    xs = axis_order(sub, x)
    ys = axis_order(sub, y)
    solved = np.full((len(ys), len(xs)), np.nan)
    seeds = np.full_like(solved, np.nan)
    xi = {v: j for j, v in enumerate(xs)}
    yi = {v: i for i, v in enumerate(ys)}
    for xv, yv, k, n in zip(sub[x], sub[y], sub["n_solved"], sub["n_seeds"], strict=True):
        solved[yi[yv], xi[xv]] = k
        seeds[yi[yv], xi[xv]] = n
    return xs, ys, solved, seeds


def axis_order(df: pd.DataFrame, col: str) -> list[str]:
    """Axis labels ordered by their numeric sort key (``<col>__sort``, missing last), then by
    text."""
    keys = df[[col, f"{col}__sort"]].drop_duplicates(col)
    keys = keys.assign(_nan=keys[f"{col}__sort"].isna())
    return list(keys.sort_values(["_nan", f"{col}__sort", col])[col])


def robust_summary(
    cells: pd.DataFrame, x: str, y: str, panels: Sequence[str], threshold: float
) -> pd.DataFrame:
    """One row per panel: cells run, cells with success >= threshold and their fraction (the
    robust-region size), the most robust configuration (`stats.robust_optimum`: the highest
    lower Wilson bound of the success pooled over the cell and its grid neighbours, none below
    `stats.ROBUST_FLOOR`) and, for contrast, the single best cell.
    """
    rows = []
    groups = cells.groupby(list(panels), sort=True) if panels else [((), cells)]
    for key, sub in groups:
        key = key if isinstance(key, tuple) else (key,)
        xs, ys, solved, seeds = panel_grid(sub, x, y)
        with np.errstate(divide="ignore", invalid="ignore"):
            success = np.where(seeds > 0, solved / seeds, np.nan)
        n_robust, n_cells = stats.robust_fraction(success, threshold)
        best_s, low = stats.robust_optimum(solved, seeds)
        smooth = stats.neighbourhood_success(solved, seeds)
        best_p = stats.argmax_2d(success)
        row: dict[str, Any] = dict(zip(panels, key, strict=True))
        row.update(
            cells=n_cells,
            robust_cells=n_robust,
            robust_fraction=n_robust / n_cells if n_cells else float("nan"),
        )
        if best_s is not None:
            i, j = best_s
            row.update(
                {
                    x: xs[j],
                    y: ys[i],
                    "neighbourhood_low": float(low[i, j]),
                    "neighbourhood_success": float(smooth[i, j]),
                    "cell_success": float(success[i, j]),
                }
            )
        if best_p is not None and success[best_p] > 0:
            i, j = best_p
            where = ", ".join(
                f"{a}={v}" for a, v in ((x, xs[j]), (y, ys[i])) if v not in ("", "n/a")
            )
            row.update(best_point=where or "the only cell", best_point_success=float(success[i, j]))
        rows.append(row)
    return pd.DataFrame(rows)


def lag_points(cells: pd.DataFrame, lag: str, config_dims: Sequence[str]) -> pd.DataFrame:
    """Each model's best and median configuration, followed across the lag.

    ``cells``: `data.aggregate` over (model, lag, *config_dims) with success added. A
    configuration is a tuple of ``config_dims`` values; its score is its success pooled over all
    lags it was run at, among the configurations run at the most lags (so a configuration seen at
    one easy lag only cannot win). Best = highest score (ties: fewer median sequences); median =
    the configuration with the (lower) median score. Returns one row per (model, which, lag).
    """
    out = []
    cfg_cols = list(config_dims)
    for model, sub in cells.groupby(MODEL, sort=True):
        keyed = sub.assign(_cfg=_config_text(sub, cfg_cols))
        per = keyed.groupby("_cfg").agg(
            n_solved=("n_solved", "sum"),
            n_seeds=("n_seeds", "sum"),
            n_lags=(lag, "nunique"),
            seq=("seq_median", "mean"),
        )
        per = per[per["n_lags"] == per["n_lags"].max()]
        per = per.assign(score=per["n_solved"] / per["n_seeds"].where(per["n_seeds"] > 0))
        per = per.sort_values(["score", "seq"], ascending=[False, True], na_position="last")
        # nothing solved anywhere: no configuration is "best"; show the median one only
        picks = {"best": per.index[0]} if per["n_solved"].sum() > 0 else {}
        picks["median"] = per.index[stats.median_index(list(per["score"].fillna(0.0)))]
        for which, cfg in picks.items():
            pts = keyed[keyed["_cfg"] == cfg]
            for r in pts.itertuples(index=False):
                out.append(
                    {
                        "model": model,
                        "which": which,
                        "config": cfg,
                        lag: getattr(r, f"{lag}__sort"),
                        f"{lag}_label": getattr(r, lag),
                        "n_solved": r.n_solved,
                        "n_seeds": r.n_seeds,
                        "success": r.success,
                        "ci_low": r.ci_low,
                        "ci_high": r.ci_high,
                        "seq_median": r.seq_median,
                    }
                )
    return pd.DataFrame(out)


def _config_text(df: pd.DataFrame, cols: Sequence[str]) -> list[str]:
    if not cols:
        return ["(all trials)"] * len(df)
    return [
        ", ".join(f"{c}={v}" for c, v in zip(cols, vals, strict=True) if v != "n/a") or "(default)"
        for vals in df[list(cols)].itertuples(index=False)
    ]


def interaction_table(cells: pd.DataFrame, lr: str, size: str) -> pd.DataFrame:
    """Per model, the two-way decomposition (`stats.two_way_anova`) of success over the lr x size
    grid (success pooled over every other parameter), on the largest complete subgrid."""
    rows = []
    for model, sub in cells.groupby(MODEL, sort=True):
        sub = sub[(sub[lr] != "n/a") & (sub[size] != "n/a")]
        if sub.empty:
            continue
        _, _, solved, seeds = panel_grid(sub, lr, size)
        with np.errstate(divide="ignore", invalid="ignore"):
            means = np.where(seeds > 0, solved / seeds, np.nan)
        keep_r, keep_c = stats.complete_subgrid(means)
        res = stats.two_way_anova(means[np.ix_(keep_r, keep_c)], seeds[np.ix_(keep_r, keep_c)])
        kept = np.ix_(keep_r, keep_c)
        row: dict[str, Any] = {
            "model": model,
            "grid": f"{int(keep_c.sum())} {lr} × {int(keep_r.sum())} {size}",
            "n_solved": int(np.nansum(solved[kept])),
            "n_seeds": int(np.nansum(seeds[kept])),
        }
        if res is None:
            row["note"] = "needs a complete grid of at least 2 × 2 cells with some variation"
        else:
            row.update(
                lr_share=res.col_effect,
                size_share=res.row_effect,
                interaction_share=res.interaction,
                noise_floor=res.noise_floor,
            )
        rows.append(row)
    return pd.DataFrame(rows)


def paper_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Our results per paper row beside the paper's numbers (`workers.tasks.paper_rows`).

    ``trials``: `queries.paper_trials`. Trials are grouped by (study, model, task parameters,
    blocks, cells per block, learning rate) as trained (unset values: the task's paper setup),
    so each of the paper's rows (Exp. 1: five, two topologies x three learning rates) is a row
    of its own. Ours: success = solved seeds / seeds; mean sequences to success = mean of the
    solved seeds' sequences-to-solve (the paper reports the mean over its successful trials).
    Paper: the matching row's mean sequences and success fraction (None where the paper has no
    such row or states no rate)."""
    from workers.tasks.paper_rows import row_for, trained_net

    if trials.empty:
        return pd.DataFrame()
    rows = []
    net = [trained_net(t, c) for c, t in zip(trials["config"], trials["task"], strict=True)]
    trials = trials.assign(
        task_params=[json.dumps(_task_params(c), sort_keys=True) for c in trials["config"]],
        blocks=[n[0] for n in net],
        cells_per_block=[n[1] for n in net],
        lr=[n[2] for n in net],
    )
    keys = ["study", "task", "paper_experiment", "model", "task_params", "blocks",
            "cells_per_block", LR]  # fmt: skip
    for key, sub in trials.groupby(keys, sort=True, dropna=False):
        study, task, exp, model, tp, blocks, cells, lr = key
        n_seeds = int(sub["n_seeds"].fillna(0).sum())
        n_solved = int(sub["n_solved"].fillna(0).sum())
        seq_n = float(sub["solved_seq_n"].fillna(0).sum())
        seq_sum = float(sub["solved_seq_sum"].fillna(0).sum())
        row = row_for(task, sub["config"].iloc[0])  # the group shares what decides the row
        budget = max((_config(c).get("max_sequences") or 0) for c in sub["config"])
        params_text = ", ".join(f"{k}={v}" for k, v in json.loads(tp).items())
        topo = "" if pd.isna(blocks) else f"{int(blocks)}x{int(cells)}"
        label = row.label if row is not None else f"{exp} {params_text} {topo} lr {lr:g}".strip()
        rows.append(
            {
                "study": study,
                "experiment": exp,
                "paper_row": row.key if row is not None else None,
                "task": task,
                "task_params": params_text,
                "model": model,
                "topology": topo,
                LR: lr,
                "row": label + ("" if model == "lstm1997" else f" ({model})"),
                "n_seeds": n_seeds,
                "budget": int(budget) or None,
                "n_solved": n_solved,
                "ours_success": n_solved / n_seeds if n_seeds else float("nan"),
                "ours_mean_seq": seq_sum / seq_n if seq_n else float("nan"),
                "paper_mean_seq": row.sequences if row is not None else None,
                "paper_success": row.success if row is not None else None,
                "paper_trials": row.trials if row is not None else None,
            }
        )
    out = pd.DataFrame(rows)
    out["ratio_seq"] = out["ours_mean_seq"] / pd.to_numeric(out["paper_mean_seq"], errors="coerce")
    return out


def _config(config: Any) -> dict[str, Any]:
    if isinstance(config, str):
        config = json.loads(config)
    return dict(config or {})


def _task_params(config: Any) -> dict[str, Any]:
    return dict(_config(config).get("task_params") or {})
