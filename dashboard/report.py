"""``study-report STUDY --out DIR``: a study's figures and tables in one go, without a browser.

    study-report demo --out report/ [--storage sqlite:///carousel.db] [--format png svg]

Writes the dashboard's default views of the study: the robustness map (lr x blocks, or the
first two swept axes, one panel per model), the lag curves (when the lag is swept), the
learning curves of the best trial and the lr x size decomposition (when both are swept), each
as PNG and SVG through plotly's static export (kaleido driving the installed Chromium,
``/usr/bin/chromium``; nothing is downloaded), each titled with its context (study, task, lag,
budget, reading, seeds); beside them the numbers as CSV (with ``study`` and ``context``
columns) and ``summary.txt`` (the success table ``study-launch`` prints). It reads through the
dashboard's read-only engine, so it can run beside a live study.

Exit codes: 0 written; 2 an unknown study or an unreadable storage (one line on stderr).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

# The cached queries run outside a server here: Streamlit's "no runtime found" notices (logged
# when the page modules' caches are created at import) are noise on a command line.
QUIET_LOGGERS = (
    "streamlit.runtime.caching.cache_data_api",
    "streamlit.runtime.caching.cache_resource_api",
    "streamlit.runtime.scriptrunner_utils.script_run_context",
    "streamlit.runtime.state.session_state_proxy",
)
for _name in QUIET_LOGGERS:
    logging.getLogger(_name).disabled = True

from dashboard import analysis, charts, data, detail_charts, ui  # noqa: E402
from dashboard.queries import LR, MODEL  # noqa: E402
from study.storage import configured_url  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
SIZE_PARAMS = ("blocks", "cells_per_block", "hidden", "match_weights")


def build(url: str, name: str) -> tuple[dict[str, go.Figure], dict[str, pd.DataFrame], str]:
    """(figures by file stem, tables by file stem, summary text) of study ``name``."""
    studies = data.studies(url)
    if name not in set(studies["name"]):
        known = ", ".join(studies["name"]) or "none"
        raise LookupError(f"no study {name!r} in {data.storage_state(url).url} (it holds: {known})")
    study = studies[studies["name"] == name].iloc[0]
    sid = int(study["id"])
    figs: dict[str, go.Figure] = {}
    tables: dict[str, pd.DataFrame] = {}
    values = data.param_values(url, sid)
    if values.empty:
        return figs, tables, f"study {name}: no finished trial yet"
    axes = [n for n in analysis.swept(values) if n != MODEL]
    task_names = data.task_param_names(study.get("spec_toml")) | {str(study.get("lag_param"))}
    x = LR if LR in axes else (axes[0] if axes else None)
    rest = [a for a in axes if a != x]
    y = "blocks" if "blocks" in rest else (rest[0] if rest else None)
    dims = tuple(analysis.choose_dim(d, values) for d in (MODEL, *[a for a in (x, y) if a]))
    cells = data.aggregate(url, sid, dims)
    for axis, label in ((x, "_x"), (y, "_y")):
        if axis is None:
            cells[label], cells[f"{label}__sort"] = "", 0.0
    xa, ya = x or "_x", y or "_y"
    cells = analysis.with_success(cells)
    robust = analysis.robust_summary(cells, xa, ya, [MODEL], 0.9)
    order = analysis.model_order(list(cells[MODEL].unique()), study.get("models"))
    figs["robustness-map"] = charts.robustness_map(
        cells, xa, ya, [MODEL], robust, analysis.figure_title("Robustness map", study), order
    )
    tables["map-cells"] = cells.drop(columns=[c for c in cells if c.endswith("__sort")])
    tables["robust-region"] = robust

    lag = study.get("lag_param")
    if isinstance(lag, str) and lag and lag in axes:
        config_dims = [n for n in analysis.swept(values) if n not in (MODEL, lag)]
        ldims = tuple(analysis.choose_dim(d, values) for d in (MODEL, lag, *config_dims))
        lcells = analysis.with_success(data.aggregate(url, sid, ldims))
        points = analysis.lag_points(lcells[lcells[lag] != "n/a"], lag, config_dims)
        figs["lag-curves"] = charts.lag_curves(
            points,
            lag,
            budget=study.get("max_sequences"),
            title=analysis.figure_title("Lag curves", study, swept_lag=True),
            model_order=order,
        )
        tables["lag-curves"] = points

    top = data.top_trials(url, sid, 1)
    if not top.empty:
        best = top.iloc[0]
        seeds = data.seeds_of_config(url, sid, str(best["config_key"]))
        stem = f"trial-{int(best['number'])}"
        fig = detail_charts.learning_curves(seeds, str(study.get("reading") or "literal"))
        what = f"Trial #{int(best['number'])} ({best['model']}, best)"
        fig.update_layout(title=analysis.figure_title(what, study), margin={"t": 100})
        figs[f"{stem}-curves"] = fig
        tables[f"{stem}-seeds"] = seeds.drop(columns=["curve"])

    sizes = [n for n in axes if n in SIZE_PARAMS and n not in task_names]
    if LR in axes and sizes:
        adims = (
            (MODEL, ()),
            analysis.choose_dim(LR, values),
            analysis.choose_dim(sizes[0], values),
        )
        anova = analysis.interaction_table(data.aggregate(url, sid, adims), LR, sizes[0])
        tables["interaction"] = anova
        ok = anova.dropna(subset=["lr_share"]) if "lr_share" in anova else anova.iloc[0:0]
        if not ok.empty:
            fig = detail_charts.interaction_bars(ok, sizes[0])
            title = analysis.figure_title(f"Learning rate × {sizes[0]}", study)
            fig.update_layout(title=title, margin={"t": 100})
            figs["interaction"] = fig
    tables = {k: ui.with_context(v, study) for k, v in tables.items()}
    return figs, tables, _summary(url, name)


def _summary(url: str, name: str) -> str:
    from study.queries import format_table, success_table

    engine = data.make_readonly_engine(url)
    try:
        return format_table(*success_table(engine, name))
    finally:
        engine.dispose()


def write(
    figs: dict[str, go.Figure],
    tables: dict[str, pd.DataFrame],
    summary: str,
    out: Path,
    formats: tuple[str, ...] = ("png", "svg"),
) -> list[Path]:
    """Write everything under ``out``; returns the files written."""
    import plotly.io as pio

    out.mkdir(parents=True, exist_ok=True)
    if CHROMIUM.exists():  # kaleido drives this browser; it never downloads one
        os.environ.setdefault("BROWSER_PATH", str(CHROMIUM))
    written: list[Path] = []
    items = [(fig, out / f"{stem}.{fmt}", fmt) for stem, fig in figs.items() for fmt in formats]
    if items:
        width = [1400 if "robustness" in str(p) else 1200 for _, p, _ in items]
        pio.write_images(
            [f for f, _, _ in items],
            [p for _, p, _ in items],
            format=[fmt for _, _, fmt in items],
            width=width,
            scale=[2 if fmt == "png" else 1 for _, _, fmt in items],
        )
        written += [p for _, p, _ in items]
    for stem, df in tables.items():
        path = out / f"{stem}.csv"
        df.to_csv(path, index=False)
        written.append(path)
    (out / "summary.txt").write_text(summary + "\n")
    written.append(out / "summary.txt")
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="study-report", description=__doc__.split("\n\n")[0])
    ap.add_argument("study", help="the study's name")
    ap.add_argument("--out", type=Path, required=True, help="folder to write into")
    ap.add_argument("--storage", default=configured_url(), help="database URL")
    ap.add_argument("--format", nargs="+", default=["png", "svg"], choices=["png", "svg", "pdf"])
    args = ap.parse_args(argv)
    state = data.storage_state(args.storage)
    if state.error or not state.has_tables:
        print(f"study-report: error: {state.error or 'no carousel tables'}", file=sys.stderr)
        return 2
    try:
        figs, tables, summary = build(args.storage, args.study)
    except LookupError as e:
        print(f"study-report: error: {e.args[0]}", file=sys.stderr)
        return 2
    files = write(figs, tables, summary, args.out, tuple(args.format))
    print(f"wrote {len(files)} files to {args.out}:")
    for f in files:
        print(f"  {f.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
