"""Paper comparison: studies run from ``studies/paper/`` beside Hochreiter & Schmidhuber's tables.

Ours: the fraction of seeds solved and the mean sequences to success over the solved seeds, per
study, model and task parameters. Paper: the mean training sequences to success and the success
fraction the paper reports for that task and lag (Tables 1-9), as recorded with each task in
`workers.tasks` (PaperSetup).
"""

from __future__ import annotations

import streamlit as st

from dashboard import analysis, charts, data, ui

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
    "Ours: solved seeds / seeds and the mean sequences to success over solved seeds. Paper: "
    "the reported mean sequences to success and success fraction for the task at that lag "
    "(blank where the paper gives no number)."
)
ui.figure(
    charts.paper_bars(cmp),
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
