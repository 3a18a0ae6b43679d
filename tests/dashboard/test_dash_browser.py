"""End to end: ``carousel-dashboard`` serves the map to a real headless Chromium.

The map renders, moving the robustness-threshold slider redraws the robust-region numbers, and
a screenshot is kept in ``artifacts/`` (ignored by git) for a human to look at.
"""

from __future__ import annotations

import re

import pytest
from dash_helpers import ROOT, StudyDb

from dashboard.screenshot import CHROMIUM, CHROMIUM_ARGS, serving

ARTIFACTS = ROOT / "artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (make sysdeps)"),
]


def robust_text(page) -> str:  # type: ignore[no-untyped-def]
    return (
        page.locator("[data-testid='stMarkdownContainer']", has_text="robust region")
        .filter(has_text="lstm1997")
        .first.inner_text()
    )


def test_map_in_a_real_browser(study_db: StudyDb) -> None:
    from playwright.sync_api import sync_playwright

    with serving(study_db.url) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/?study=dash-map", timeout=60_000)
            page.wait_for_selector(".js-plotly-plot .heatmaplayer", timeout=60_000)
            assert page.locator(".js-plotly-plot").count() == 1
            assert page.get_by_text("Robustness map", exact=True).first.is_visible()
            before = robust_text(page)
            m = re.search(r"robust region (\d+)/(\d+) cells", before)
            assert m, before
            robust, cells = int(m[1]), int(m[2])
            assert cells == 4
            # move the threshold to 0: every lstm1997 cell becomes robust
            slider = page.locator("[data-testid='stSlider'] input[type='range']").first
            slider.focus()
            slider.press("Home")
            page.wait_for_function(
                """() => [...document.querySelectorAll("[data-testid='stMarkdownContainer']")]
                        .some(e => e.innerText.includes("lstm1997: robust region 4/4 cells"))""",
                timeout=30_000,
            )
            after = robust_text(page)
            assert "4/4" in after and (robust == 4 or after != before)
            assert page.get_by_text("Robust region (≥ 0.00)").is_visible()
            # and the map itself: y axis blocks -> p redraws the heatmaps with p's ticks
            page.locator("[data-testid='stSelectbox']", has_text="y axis").click()
            page.get_by_role("option", name="p", exact=True).click()
            page.wait_for_function(
                """() => [...document.querySelectorAll(".js-plotly-plot .ytick text")]
                        .some(t => t.textContent === "8" || t.textContent.startsWith("8 ("))""",
                timeout=30_000,
            )
            page.wait_for_timeout(500)
            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / "dashboard-robustness-map.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    from PIL import Image, ImageStat

    img = Image.open(shot).convert("RGB")
    assert img.width >= 1400 and img.height >= 1000
    assert shot.stat().st_size > 30_000
    assert len(img.getcolors(maxcolors=1 << 20) or []) > 200  # a drawn page, not a blank one
    assert max(ImageStat.Stat(img).stddev) > 20


def test_every_page_in_a_real_browser(study_db: StudyDb) -> None:
    """Each page draws in Chromium at 1400 px without an error; the map's legend names the
    outlined cell; the studies table is not cut off on the right; screenshots of every page
    (the project's own tool, `dashboard.screenshot`) land in ``artifacts/pages/``."""
    from playwright.sync_api import sync_playwright

    from dashboard.screenshot import PAGES, READY

    shots = ARTIFACTS / "pages"
    shots.mkdir(parents=True, exist_ok=True)
    with serving(study_db.url) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for name, path in PAGES.items():
                study = "dash-one" if name == "paper-comparison" else "dash-robust"
                if name == "lag-curves":
                    study = "dash-map"
                page.goto(f"{base}/{path}?study={study}", timeout=60_000)
                page.wait_for_selector(READY, timeout=60_000)
                page.wait_for_timeout(1500)
                body = page.locator("[data-testid='stMain']").inner_text()
                assert "unexpected problem" not in body, (name, body[:500])
                assert "Traceback" not in body, name
                if name not in ("studies",):
                    assert page.locator(".js-plotly-plot").count() >= 1, name
                if name == "robustness-map":
                    legend = page.locator(".js-plotly-plot .legend").first.text_content()
                    assert "most robust" in (legend or "")
                    title = page.locator(".js-plotly-plot .gtitle").first.text_content()
                    assert (title or "").startswith("Robustness map: study dash-robust"), title
                if name == "studies":
                    grid = page.locator("[data-testid='stDataFrame']").first
                    box = grid.bounding_box()
                    assert box is not None and box["x"] + box["width"] <= 1400
                    overflow = page.evaluate(
                        """() => [...document.querySelectorAll(
                               "[data-testid='stDataFrame'] .dvn-scroller")]
                             .map(e => e.scrollWidth - e.clientWidth)"""
                    )
                    assert overflow and overflow[0] <= 2, overflow  # no hidden columns
                page.screenshot(path=str(shots / f"{name}.png"))
        finally:
            browser.close()
    assert {f.stem for f in shots.glob("*.png")} >= set(PAGES)
