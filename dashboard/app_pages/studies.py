"""Studies: every study in the database with its task, models, progress and best configuration.

While a study runs (status running, or trials still RUNNING) this page refreshes itself.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data, ui

cur = ui.current()
st.title("Studies")


def status_label(row: pd.Series) -> str:
    if ui.is_running(row):
        return "● running"
    return {"done": "✓ done", "failed": "✗ failed", "stopped": "■ stopped"}.get(
        str(row["status"]), str(row["status"])
    )


def overview(df: pd.DataFrame) -> pd.DataFrame:
    """The table shown: one row per study."""
    planned = df["n_planned"].astype("Float64")
    best = [
        ""
        if pd.isna(r.best_trial)
        else f"{r.best_model} {r.best_params or ''} → {int(r.best_n_solved)}/{int(r.best_n_seeds)} "
        f"(#{int(r.best_trial)})"
        for r in df.itertuples(index=False)
    ]
    return pd.DataFrame(
        {
            "study": df["name"],
            "status": [status_label(r) for _, r in df.iterrows()],
            "task": df["task"],
            "models": [", ".join(m) if isinstance(m, list) else str(m) for m in df["models"]],
            "sampler": df["sampler"],
            "seeds": df["seeds"],
            "progress": df["n_configs_done"] / planned.where(planned > 0),
            "done": df["n_complete"],
            "pruned": df["n_pruned"],
            "running": df["n_running"],
            "failed": df["n_failed"],
            "planned": df["n_planned"],
            "best success": df["best_success"],
            "best configuration": best,
            "paper experiment": df["paper_experiment"],
            "created": df["created_at"],
            "updated": df["updated_at"],
        }
    )


# columns of the on-screen table (it fits a 1400 px window); the CSV has them all
SHOWN = ["study", "status", "task", "models", "seeds", "progress", "done", "failed",
         "best success", "best configuration"]  # fmt: skip


def render() -> None:
    try:
        df = data.studies(cur.url)
    except data.QueryError as e:
        ui.query_error(e)
        return
    n_live = sum(ui.is_running(r) for _, r in df.iterrows())
    st.caption(
        f"{len(df)} stud{'y' if len(df) == 1 else 'ies'} in `{data.storage_state(cur.url).url}`"
        + (f", {n_live} still running (refreshing every {data.TTL_S} s)" if n_live else "")
    )
    full = overview(df)
    ui.table(
        full[SHOWN],
        "studies",
        key="studies_table",
        csv=full,
        column_config={
            "progress": st.column_config.ProgressColumn(
                "progress", min_value=0.0, max_value=1.0, format="percent"
            ),
            "best success": st.column_config.NumberColumn(format="%.2f"),
            # long texts get a fixed width (full text on hover), so the table fits the page
            "best configuration": st.column_config.TextColumn(width="medium"),
            "models": st.column_config.TextColumn(width="small"),
        },
    )
    row = df[df["name"] == cur.name].iloc[0]
    st.subheader(f"`{cur.name}`")
    done = int(row["n_configs_done"])  # configurations with all their seeds (grown studies)
    planned = int(row["n_planned"]) if pd.notna(row["n_planned"]) else None
    m = st.columns(5)
    m[0].metric("status", status_label(row))
    m[1].metric("trials done", f"{done}" + (f" / {planned}" if planned else ""))
    m[2].metric("running", int(row["n_running"]))
    m[3].metric(
        "failed",
        int(row["n_failed"]),
        help="Failed trials whose configuration has not been finished by a later trial (an "
        "interrupted trial that ran again on resume is not counted).",
    )
    if pd.notna(row["best_success"]):
        m[4].metric(
            "best success",
            f"{int(row['best_n_solved'])}/{int(row['best_n_seeds'])}",
            help=f"trial #{int(row['best_trial'])}: {row['best_model']} {row['best_params'] or ''}",
        )
        st.markdown(
            f"Best configuration: **{row['best_model']}** {row['best_params'] or ''} "
            f"(trial #{int(row['best_trial'])}, success {row['best_success']:.2f})"
        )
    if planned:
        st.progress(min(done / planned, 1.0), text=f"{done} of {planned} configurations finished")
    if done == 0:
        st.info("No trial has finished yet.")
    elif done == 1:
        st.info("Only one trial has finished: the map will be a single cell.")
    state = data.storage_state(cur.url)
    if state.optuna_only:
        st.caption(
            "Optuna studies in this database that carousel did not launch (not shown): "
            + ", ".join(state.optuna_only)
        )


render()
