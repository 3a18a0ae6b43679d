"""The carousel dashboard's entrypoint: ``streamlit run dashboard/app.py`` (or carousel-dashboard).

It registers the pages under ``app_pages/`` with ``st.navigation``, checks the study database
(read-only, `dashboard.data`) and draws the shared sidebar (study picker, figure format), then
runs the selected page. The robustness map is the default page. When there is nothing to show
(a mistyped URL, an empty database) the page area says why and how to fix it.

A run (sidebar and page) slower than ``$CAROUSEL_DASH_SLOW_S`` seconds (default 1) is logged to
stderr with its page, its wall time, its script thread's CPU time and its time in database reads
(`data.database_seconds`), so a slow dashboard tells which page, and whether the server computed,
waited on the database, or waited for the CPU (or the browser was slow).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run dashboard/app.py` from anywhere
    sys.path.insert(0, str(ROOT))

from dashboard import data, ui  # noqa: E402

HERE = Path(__file__).resolve().parent
SLOW_S = float(os.environ.get("CAROUSEL_DASH_SLOW_S", "1.0"))
log = logging.getLogger("carousel.dashboard")
if not log.handlers:  # the script reruns on every interaction: one handler per process
    _h = logging.StreamHandler()
    _h.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    log.addHandler(_h)
    log.propagate = False
started, started_cpu = time.perf_counter(), time.thread_time()
data.reset_database_seconds()

st.set_page_config(
    page_title="carousel: robustness maps", page_icon=":material/grid_on:", layout="wide"
)

pages = [
    st.Page(
        HERE / "app_pages/studies.py", title="Studies", icon=":material/list:", url_path="studies"
    ),
    st.Page(
        HERE / "app_pages/robustness_map.py",
        title="Robustness map",
        icon=":material/grid_on:",
        default=True,  # served at the root: make demo ends on the map
    ),
    st.Page(
        HERE / "app_pages/lag_curves.py",
        title="Lag curves",
        icon=":material/show_chart:",
        url_path="lag",
    ),
    st.Page(
        HERE / "app_pages/sensitivity.py",
        title="Sensitivity",
        icon=":material/tune:",
        url_path="sensitivity",
    ),
    st.Page(
        HERE / "app_pages/trial_detail.py",
        title="Trial detail",
        icon=":material/science:",
        url_path="trial",
    ),
    st.Page(
        HERE / "app_pages/compare.py",
        title="Compare studies",
        icon=":material/compare:",
        url_path="compare",
    ),
    st.Page(
        HERE / "app_pages/paper_comparison.py",
        title="Paper comparison",
        icon=":material/menu_book:",
        url_path="paper",
    ),
]
page = st.navigation(pages)
try:
    cur = ui.sidebar(data.storage_url())
    if cur is None:
        st.stop()
    st.session_state["_current"] = cur
    any_live = any(ui.is_running(r) for _, r in cur.studies.iterrows())
    ui.auto_refresh(cur.running or (page.url_path == "studies" and any_live))
    try:
        page.run()
    except Exception as e:  # a bug or a database surprise: say so on the page, not a traceback
        st.error(
            f"**This page hit an unexpected problem** ({type(e).__name__}: {e}). The other pages "
            "may still work; please report it with the study name and the page address."
        )
finally:  # also when the page stops early (st.stop) or a rerun interrupts it
    took = time.perf_counter() - started
    if took > SLOW_S:  # CPU far below the wall time: the run waited (CPU, locks, database)
        cpu = time.thread_time() - started_cpu
        db, n = data.database_seconds()
        log.warning(
            "slow run: page %s took %.2f s (%.2f s CPU; %.2f s in %d database reads)",
            page.url_path or "map", took, cpu, db, n,
        )  # fmt: skip
