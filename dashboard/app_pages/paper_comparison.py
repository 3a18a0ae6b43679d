"""Paper comparison: studies run from ``studies/paper/`` beside Hochreiter & Schmidhuber's tables.

One row per paper row: trials are grouped by study, model, task parameters, topology and learning
rate as trained, and each LSTM group is matched to its row of Tables 1-9
(`workers.tasks.paper_rows`; Exp. 1 has five). Ours: the fraction of seeds solved and the mean
sequences to success over the solved seeds, with the seeds and budget used; paper: its mean
sequences, success fraction and trials for that row (blank where the paper has no such row).
"""

from __future__ import annotations

import streamlit as st

from dashboard import analysis, data, detail_charts, ui

cur = ui.current()
st.title("Paper comparison")

try:
    trials = data.paper_trials(cur.url)
except data.QueryError as e:
    ui.query_error(e)
    st.stop()
if trials.empty:
    st.info(
        "No study in this database was run from `studies/paper/` (or none has a finished trial "
        "yet). Launch one, e.g. `study-launch studies/paper/<experiment>.toml --storage URL`; "
        "its rows appear here with the paper's values beside them."
    )
    st.stop()

cmp = analysis.paper_table(trials)
st.caption(
    "One row per paper row (task parameters, topology and learning rate as the paper lists "
    "them). Ours: solved seeds / seeds and the mean sequences to success over solved seeds, "
    "with our seeds and budget; paper: its mean sequences to success, success fraction and "
    "trials for that row (blank where the paper has no such row or gives no number)."
)
ui.figure(
    detail_charts.paper_bars(cmp),
    "paper-comparison",
    key="paper_figure",
    title="Paper comparison: ours beside Hochreiter & Schmidhuber (1997)<br><sup>"
    + " · ".join(sorted(set(trials["study"].astype(str))))
    + "</sup>",
)
ui.table(
    cmp.drop(columns=["row"]),
    "paper-comparison",
    key="paper_table",
    column_config={
        "ours_success": st.column_config.NumberColumn(format="%.2f"),
        "ours_mean_seq": st.column_config.NumberColumn(format="%.0f"),
        "paper_mean_seq": st.column_config.NumberColumn(format="%.0f"),
        "ratio_seq": st.column_config.NumberColumn("ours / paper", format="%.2f"),
    },
)
