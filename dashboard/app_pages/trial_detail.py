"""Trial detail: one configuration's per-seed results and learning curves; for real-data tasks
also each seed's test accuracy and macro-F1 and the test split's confusion matrix.

A configuration may span several trials (a re-queued configuration adds seeds); the page pools
every trial of the study with the chosen trial's configuration key. ``?trial=N`` in the address
opens trial N.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import analysis, data, detail_charts, stats, ui

cur = ui.current()
st.title("Trial detail")

try:
    top = data.top_trials(cur.url, cur.study_id, 20)
except data.QueryError as e:
    ui.query_error(e)
    st.stop()

wanted = st.query_params.get("trial")
default = int(top["number"].iloc[0]) if not top.empty else 0
if wanted is not None:
    try:
        default = int(wanted)
    except ValueError:
        st.error(f"`trial={wanted}` in the address is not a trial number.")
number = int(
    st.number_input(
        "trial number",
        min_value=0,
        value=default,
        step=1,
        key="trial_number",
        help="Optuna's trial number within the study; the table below lists the best ones.",
    )
)
st.query_params["trial"] = str(number)


def _metrics(seeds: pd.DataFrame) -> list[dict | None]:
    col = seeds["metrics"] if "metrics" in seeds else pd.Series([None] * len(seeds))
    return [m if isinstance(m, dict) else None for m in col]


def seed_table(seeds: pd.DataFrame) -> pd.DataFrame:
    out = seeds.drop(columns=["curve", "metrics"], errors="ignore")
    metrics = _metrics(seeds)
    if any(m is not None for m in metrics):  # real-data tasks: the test split's scores
        for key in ("test_accuracy", "macro_f1"):
            out[key] = [None if m is None else m.get(key) for m in metrics]
    return out.rename(columns={"sequences_to_solve": "seq_to_solve"})


def confusion_table(seeds: pd.DataFrame, replicate: int | None) -> tuple[pd.DataFrame, int]:
    """The test split's confusion matrix (rows true, columns predicted) of one seed, or summed
    over every seed that has one; and how many seeds it covers."""
    total, classes, n = None, None, 0
    for r, m in zip(seeds["replicate"], _metrics(seeds), strict=True):
        if m is None or (replicate is not None and int(r) != replicate):
            continue
        c = pd.DataFrame(m["confusion"]).to_numpy()
        total = c if total is None else total + c
        classes, n = [str(x) for x in m.get("classes") or range(len(c))], n + 1
    if total is None or classes is None:
        return pd.DataFrame(), 0
    df = pd.DataFrame(total, index=classes, columns=classes)
    df.index.name = "true class"
    return df, n


def classification(seeds: pd.DataFrame) -> None:
    """Real-data tasks: test accuracy, macro-F1 and the confusion matrix of the test split."""
    metrics = [m for m in _metrics(seeds) if m is not None]
    if not metrics:
        return
    st.subheader("Classification on the test split")
    acc = [float(m["test_accuracy"]) for m in metrics]
    f1 = [float(m["macro_f1"]) for m in metrics]
    c = st.columns(3)
    c[0].metric("test accuracy (mean over seeds)", f"{sum(acc) / len(acc):.3f}")
    c[1].metric("macro-F1 (mean over seeds)", f"{sum(f1) / len(f1):.3f}")
    c[2].metric("best seed's accuracy", f"{max(acc):.3f}")
    options = ["all seeds (summed)"] + [
        f"seed {int(r)}" for r, m in zip(seeds["replicate"], _metrics(seeds), strict=True) if m
    ]
    pick = st.selectbox("confusion matrix of", options, key="confusion_of")
    replicate = None if pick == options[0] else int(pick.split()[1])
    table, n = confusion_table(seeds, replicate)
    title = f"test split, {'summed over ' + str(n) + ' seeds' if replicate is None else pick}"
    ui.figure(
        detail_charts.confusion_matrix(table, title),
        f"{cur.name}-trial{number}-confusion",
        key="conf",
    )
    ui.table(table.reset_index(), f"{cur.name}-trial{number}-confusion", key="confusion_table")


def curve_table(seeds: pd.DataFrame) -> pd.DataFrame:
    rows = [
        {
            "trial": r.trial,
            "replicate": r.replicate,
            "sequences": p[0],
            "train_error": p[1],
            "fraction_correct": p[2],
        }
        for r in seeds.itertuples(index=False)
        for p in (r.curve or [])
    ]
    return pd.DataFrame(
        rows, columns=["trial", "replicate", "sequences", "train_error", "fraction_correct"]
    )


def render() -> None:
    try:
        row, params = data.trial(cur.url, cur.study_id, number)
    except data.QueryError as e:
        ui.query_error(e)
        return
    if row.empty:
        st.warning(
            f"Study `{cur.name}` has no trial #{number}"
            + (f"; its best is #{default}." if not top.empty else " (no trial has finished yet).")
        )
    else:
        t = row.iloc[0]
        settings = ", ".join(
            f"{p.name}={data.label(p.value_text, p.value_num)}"
            for p in params.itertuples(index=False)
        )
        st.subheader(f"Trial #{number}: {t['model']}")
        st.markdown(f"{settings}  \nstate **{t['state']}**")
        if t["state"] == "FAIL" and isinstance(t["error"], str):
            st.error(f"This trial failed:\n\n```\n{t['error'][-2000:]}\n```")
        seeds = data.seeds_of_config(cur.url, cur.study_id, str(t["config_key"]))
        if seeds.empty:
            st.info("No seed of this configuration has finished yet.")
        else:
            n, k = len(seeds), int(seeds["solved"].astype(bool).sum())
            lo, hi = stats.wilson_interval(k, n)
            solved_seq = seeds.loc[seeds["solved"].astype(bool), "sequences_to_solve"].dropna()
            m = st.columns(4)
            m[0].metric("solved seeds", f"{k}/{n}")
            m[1].metric(
                "success (Wilson 95%)", f"{k / n:.2f}", help=f"[{float(lo):.2f}, {float(hi):.2f}]"
            )
            m[2].metric(
                "median sequences to solve",
                f"{solved_seq.median():,.0f}" if len(solved_seq) else "—",
            )
            m[3].metric("weights", "—" if pd.isna(t["weights"]) else f"{int(t['weights'])}")
            trials = sorted(seeds["trial"].unique())
            if len(trials) > 1:
                st.caption(
                    f"Seeds pooled from trials {', '.join(f'#{x}' for x in trials)} "
                    "(same configuration)."
                )
            reading = str(cur.study.get("reading") or "literal")
            ui.figure(
                detail_charts.learning_curves(seeds, reading),
                f"{cur.name}-trial{number}-curves",
                key="curves",
                title=analysis.figure_title(f"Trial #{number} ({t['model']})", cur.study),
            )
            st.caption(
                f"Markers on the right: where each success reading first held for a seed "
                f"(◆ literal, ▲ mae, ○ frac99; large = `{reading}`, this study's stopping rule) "
                "and ★ where a solved seed stopped and then passed its final test on fresh "
                "sequences. The window's fraction correct can reach ~1 long before the "
                "stopping rule holds: the literal rule also needs the mean training error below "
                "the task's bound over the whole window (e.g. ST3: every one of the last 2000 "
                "sequences correct), and a seed counts as solved only after that test."
            )
            ui.table(seed_table(seeds), f"{cur.name}-trial{number}-seeds", key="seeds_table")
            classification(seeds)
            with st.expander("learning-curve points"):
                ui.table(curve_table(seeds), f"{cur.name}-trial{number}-curves", key="curve_points")
    st.subheader("Best trials")
    ui.table(
        top[
            [
                "number",
                "model",
                "params",
                "n_solved",
                "n_seeds",
                "success_rate",
                "seq_to_solve_median",
                "weights",
                "wall_s",
            ]
        ],
        f"{cur.name}-best-trials",
        key="top_table",
    )


ui.live(cur, render)
