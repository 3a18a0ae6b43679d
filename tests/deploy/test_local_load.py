"""Load on the local stack (``make load-test``; opt-in: ``CAROUSEL_LOAD_TEST=1``): 2,000 tiny
trials, 8 in flight, every result written, and every dashboard page answering in a real browser
(headless Chromium against the served dashboard, on its read-only role) in under 2 s meanwhile.

A page "answers" when, after a click on its sidebar link (in-app navigation, as a reader moves
between pages), its script has finished and its figure, table or message is drawn
(`dashboard.screenshot.READY`); each page has been served once before the timing starts (a
running dashboard, not a cold start), and its query caches expire after 10 s, so most visits
query the growing study afresh. The trials run at ``nice 10`` (deploy/ray-worker.sh), as batch
work beside an interactive service should. Minutes on 2 cores, so not in ``make test``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
import sqlalchemy as sa
from local_stack import LocalStack
from optuna.trial import TrialState
from stack_helpers import trial_states, wait_for_states

from study.storage import make_engine

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(3600),
    pytest.mark.skipif(
        os.environ.get("CAROUSEL_LOAD_TEST") != "1",
        reason="opt-in load test (minutes on 2 cores): set CAROUSEL_LOAD_TEST=1",
    ),
]
LOAD = """\
name = "load"
task = "adding"
models = ["elman"]
seeds = 1
max_sequences = 20
reading = "frac99"
sampler = "random"
n_trials = {n}
seed = 0

[task_params]
T = 12

[space]
lr = {{low = 0.5, high = 4.0, log = true}}
"""
"""Many tiny trials (one seed, 20 sequences): the driver, Ray and PostgreSQL are what is loaded."""

N_LOAD = 2000
SLOW_S = 0.5
"""The dashboard logs each server run slower than this (``CAROUSEL_DASH_SLOW_S``): the slow
visits then show whether the server or the browser took the time."""


def _visit(page: Any, link: Any) -> float:
    """Seconds from clicking a sidebar link (in-app navigation, as a reader moves between pages)
    until the page's script has finished and its figure, table or message is drawn."""
    from dashboard.screenshot import READY

    at = time.strftime("%H:%M:%S")
    t0 = time.monotonic()
    link.click()
    page.wait_for_function(f"() => !document.querySelector({RUNNING!r})", timeout=60_000)
    page.wait_for_selector(READY, timeout=60_000)
    took = time.monotonic() - t0
    assert page.locator("[data-testid='stException']").count() == 0, page.content()[-2000:]
    SLOWEST.append((took, at, str(link.get_attribute("href"))))
    return took


SLOWEST: list[tuple[float, str, str]] = []
"""Every visit: (seconds, wall clock at the click, page address)."""


RUNNING = "[data-testid='stStatusWidget']"
"""Streamlit's "Running..." indicator: present while a page's script runs."""


def test_load_2000_trials_8_in_flight_while_the_dashboard_answers(
    stack: LocalStack, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    from dashboard.screenshot import CHROMIUM, CHROMIUM_ARGS, PAGES

    stack.start_worker("worker-load", cpus=6)  # with worker-a's 2: 8 trials run at once
    stack.wait_cpus(8)
    stack.wait_ready("dashboard")
    spec = tmp_path / "load.toml"
    spec.write_text(LOAD.format(n=N_LOAD))
    base = f"http://127.0.0.1:{stack.dashboard_port}"
    pages: dict[str, list[float]] = {}
    most_running = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            t0 = time.monotonic()
            proc = stack.launcher("launch-load", spec, "--max-in-flight 8")
            wait_for_states(stack.url(), "load", 1, 1, alive=lambda: proc.poll() is None)
            tab.goto(f"{base}/?study=load", timeout=60_000)  # the reader opens the dashboard
            tab.wait_for_selector("[data-testid='stSidebarNavLink']", timeout=60_000)
            links = tab.locator("[data-testid='stSidebarNavLink']")
            names = [str(links.nth(i).get_attribute("href")).rsplit("/", 1)[-1] or "map"
                     for i in range(links.count())]  # fmt: skip
            assert len(names) == len(PAGES), names
            pages = {n: [] for n in names}
            for i in range(len(names)):  # the dashboard has served each page once
                _visit(tab, links.nth(i))
            SLOWEST.clear()  # those first visits are cold starts, not timed
            while proc.poll() is None:  # every page, on the read-only role, while it runs
                for i, name in enumerate(names):
                    pages[name].append(_visit(tab, links.nth(i)))
                    states = trial_states(stack.url(), "load")
                    most_running = max(most_running, states.count("RUNNING"))
                    if proc.poll() is not None:
                        break
                    time.sleep(1.0)  # a reader's pace
            wall = time.monotonic() - t0
        finally:
            browser.close()
    assert proc.wait() == 0, stack.log("launch-load")[-4000:]
    study = optuna.load_study(study_name="load", storage=stack.url())
    states = [t.state for t in study.get_trials(deepcopy=False)]
    assert states.count(TrialState.COMPLETE) == N_LOAD == len(states)
    engine = make_engine(stack.url(), read_only=True)
    try:
        with engine.connect() as c:
            n_rows, n_seeds = c.execute(
                sa.text(
                    "SELECT count(DISTINCT t.id), count(s.id) FROM carousel_trials t "
                    "JOIN carousel_studies st ON t.study_id = st.id "
                    "LEFT JOIN carousel_seeds s ON s.trial_id = t.id "
                    "WHERE st.name = 'load' AND t.state = 'COMPLETE'"
                )
            ).one()
    finally:
        engine.dispose()
    assert (n_rows, n_seeds) == (N_LOAD, N_LOAD)  # every result written, one seed row each
    assert most_running >= 8
    visits = [s for times in pages.values() for s in times]
    assert len(visits) >= 2 * len(PAGES)
    worst = {p: max(t) for p, t in pages.items() if t}
    median = sorted(visits)[len(visits) // 2]
    slow_runs = [ln for ln in stack.log("dashboard").splitlines() if "slow run" in ln]
    print(
        f"\nload: {N_LOAD} trials in {wall:.0f} s ({N_LOAD / wall:.1f} trials/s), at most "
        f"{most_running} running; {len(visits)} page visits meanwhile, median {median:.2f} s; "
        "per page median / slowest: "
        + ", ".join(f"{p} {sorted(t)[len(t) // 2]:.2f} / {max(t):.2f} s" for p, t in pages.items())
        + f"; server runs over {SLOW_S} s: {len(slow_runs)}"
    )
    print(
        "slowest visits: " + ", ".join(f"{h} at {a} {t:.2f} s" for t, a, h in sorted(SLOWEST)[-8:])
    )
    print("\n".join(slow_runs[-20:]))
    assert max(visits) < 2.0, worst
