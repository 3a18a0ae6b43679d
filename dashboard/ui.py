"""Widgets and messages every page shares: the study picker, figure and table output with
downloads, and the auto-refresh of running studies.

The entrypoint (`dashboard/app.py`) checks the database and draws the sidebar once per run; the
pages then ask :func:`current` for the URL and the selected study. All messages a reader may see
instead of a page (bad URL, empty database, unknown study) come from here, never a traceback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import data

STUDY_KEY = "study"
FORMAT_KEY = "figure_format"


@dataclass(frozen=True)
class Current:
    """What a page draws from: the storage URL, all studies, the selected one."""

    url: str
    studies: pd.DataFrame
    study: pd.Series

    @property
    def study_id(self) -> int:
        return int(self.study["id"])

    @property
    def name(self) -> str:
        return str(self.study["name"])

    @property
    def running(self) -> bool:
        return is_running(self.study)


def is_running(study: pd.Series) -> bool:
    """A study is live while its status says running or a trial is still RUNNING."""
    return str(study.get("status")) == "running" or int(study.get("n_running") or 0) > 0


def sidebar(url: str) -> Current | None:
    """Check the database, draw the study picker; None (with a message shown) if there is
    nothing to display."""
    state = data.storage_state(url)
    st.sidebar.caption(f"Storage: `{state.url}` (read-only)")
    if state.error:
        st.error(
            f"**Cannot open the study database.** {state.error}\n\n"
            "Check the URL given to `carousel-dashboard --storage URL` (or `CAROUSEL_STORAGE`), "
            "e.g. `sqlite:///carousel.db` or `postgresql+psycopg://user@host:5432/carousel`."
        )
        return None
    if not state.has_tables:
        extra = ""
        if state.optuna_only:
            extra = (
                f" It holds Optuna studies carousel did not launch: {', '.join(state.optuna_only)}."
            )
        st.info(
            f"**The database `{state.url}` holds no carousel studies yet.**{extra}\n\n"
            "Launch one with `study-launch studies/demo.toml --storage URL` (or `make demo`); "
            "this page shows it as soon as its first trial is recorded."
        )
        return None
    try:
        studies = data.studies(url)
    except data.QueryError as e:
        st.error(f"**Cannot read the studies.** {e}")
        return None
    if studies.empty:
        st.info(
            f"**The database `{state.url}` has carousel's tables but no study yet.** "
            "Launch one with `study-launch studies/demo.toml --storage URL`."
        )
        return None
    names = list(studies["name"])
    wanted = st.query_params.get(STUDY_KEY)
    if wanted is not None and wanted not in names:
        st.error(
            f"**Unknown study `{wanted}`** (from the page address). This database holds "
            f"{len(names)} stud{'y' if len(names) == 1 else 'ies'}: {', '.join(names[:10])}"
            f"{' …' if len(names) > 10 else ''}. Showing "
            f"`{st.session_state.get(STUDY_KEY) or names[0]}`; pick another in the sidebar."
        )
    if st.session_state.get(STUDY_KEY) not in names:
        # first run of a session (or the study vanished): the address decides, else the newest
        st.session_state[STUDY_KEY] = wanted if wanted in names else names[0]
    st.sidebar.selectbox(
        "Study",
        names,
        key=STUDY_KEY,
        format_func=lambda n: n + ("  ● running" if is_running(_row(studies, n)) else ""),
    )
    st.query_params[STUDY_KEY] = st.session_state[STUDY_KEY]
    st.sidebar.radio(
        "Figure download format",
        ["png", "svg"],
        key=FORMAT_KEY,
        horizontal=True,
        help="What the camera button in each figure's toolbar saves.",
    )
    st.sidebar.caption(f"Data are at most {data.TTL_S} s old.")
    return Current(url, studies, _row(studies, st.session_state[STUDY_KEY]))


def _row(studies: pd.DataFrame, name: str) -> pd.Series:
    return studies[studies["name"] == name].iloc[0]


def current() -> Current:
    """The page's context, set by the entrypoint before the page runs."""
    return st.session_state["_current"]


def figure(fig: go.Figure, name: str, key: str | None = None, title: str | None = None) -> None:
    """Draw a figure; its toolbar camera button saves it as PNG or SVG (sidebar choice).

    ``title`` (e.g. `analysis.figure_title`) goes into the figure itself, so an exported image
    names its study, task, lag, budget, reading and seeds."""
    if title is not None:
        top = max(int(fig.layout.margin.t or 0), 100)
        fig.update_layout(title=title, margin={"t": top})
    fmt = st.session_state.get(FORMAT_KEY, "png")
    config = {
        "displaylogo": False,
        "toImageButtonOptions": {
            "format": fmt,
            "filename": name,
            "scale": 2 if fmt == "png" else 1,
        },
    }
    st.plotly_chart(fig, config=config, key=key, width="stretch")


def table(
    df: pd.DataFrame,
    name: str,
    key: str | None = None,
    csv: pd.DataFrame | None = None,
    **kwargs: Any,
) -> None:
    """Show a table with a CSV download button under it (of ``csv`` if given: more columns than
    fit the page). The CSV carries its context (study, task, lag, budget, reading, seeds) in two
    trailing columns, so a downloaded file still says what it holds."""
    st.dataframe(df, hide_index=True, width="stretch", key=key, **kwargs)
    st.download_button(
        f"Download {name}.csv",
        with_context(df if csv is None else csv).to_csv(index=False).encode(),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"csv-{key or name}",
    )


def with_context(df: pd.DataFrame, study: pd.Series | None = None) -> pd.DataFrame:
    """``df`` plus ``study`` and ``context`` columns naming ``study`` (default: the selected
    one); unchanged when it already has a ``study`` column or there is no study."""
    from dashboard.analysis import context

    if study is None:
        cur = st.session_state.get("_current")
        study = None if cur is None else cur.study
    if study is None or "study" in df.columns:
        return df
    return df.assign(study=str(study["name"]), context=context(study))


def live(cur: Current, render: Callable[[], None]) -> None:
    """Draw the page body, under a note when the study is still running."""
    if cur.running:
        st.caption(
            f"● Study `{cur.name}` is still running ({int(cur.study['n_complete'])} trials done, "
            f"{int(cur.study['n_running'])} running): this page refreshes every {data.TTL_S} s."
        )
    render()


def auto_refresh(live: bool) -> None:
    """While ``live``, rerun the whole app every TTL_S seconds (new trials, new axis values,
    a finished status all show up), through a fragment timer in the sidebar.

    A fragment's own reruns would leave everything outside it stale (the sidebar, the widgets'
    options), so the timer triggers full reruns; the queries are cached for TTL_S, so a rerun
    costs one round of small queries. The fragment's first run, part of the full run, does not
    rerun again."""
    st.session_state["_full_run_at"] = time.monotonic()
    if not live:
        return

    @st.fragment(run_every=data.TTL_S)
    def tick() -> None:
        if time.monotonic() - st.session_state.get("_full_run_at", 0.0) >= data.TTL_S - 0.5:
            st.rerun(scope="app")
        st.caption(f"● live: refreshing every {data.TTL_S} s (last {time.strftime('%H:%M:%S')})")

    with st.sidebar:
        tick()


def query_error(e: Exception) -> None:
    st.error(f"**The query failed.** {e}")
