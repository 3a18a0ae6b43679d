"""Screenshot a dashboard page in headless Chromium (for the README and for reports).

    python -m dashboard.screenshot --storage sqlite:///carousel.db --study demo \\
        --out dashboard/docs/robustness-map.png
    python -m dashboard.screenshot --storage sqlite:///carousel.db --study demo --all \\
        --out dashboard/docs/        # every page: dashboard/docs/<page>.png

It serves the dashboard with ``carousel-dashboard`` on a free local port, opens the page in
Chromium (``/usr/bin/chromium``, through Playwright; nothing is downloaded), waits for the plots
to draw and saves a PNG. The end-to-end test uses the same :func:`serving` helper.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from study.storage import configured_url

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(storage: str, port: int | None = None, timeout: float = 60) -> Iterator[str]:
    """Run ``carousel-dashboard --storage URL`` on a local port; yields the base address."""
    port = port or free_port()
    exe = Path(sys.executable).with_name("carousel-dashboard")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "dashboard.serve"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [*cmd, "--storage", storage, "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_healthy(port, proc, timeout)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait_healthy(port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise RuntimeError(f"carousel-dashboard exited with {proc.returncode}: {out}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"carousel-dashboard did not answer on port {port} within {timeout} s")


PAGES = {
    "robustness-map": "",
    "studies": "studies",
    "lag-curves": "lag",
    "sensitivity": "sensitivity",
    "trial-detail": "trial",
    "compare": "compare",
    "paper-comparison": "paper",
}
"""Screenshot name -> the page's url path (every page of the dashboard)."""
READY = ".js-plotly-plot, [data-testid='stDataFrame'], [data-testid='stAlert']"
"""What a drawn page shows: a figure, a table, or a message."""


def capture(address: str, out: Path, width: int = 1400, height: int = 1000) -> None:
    """Open ``address``, wait for its figures (or table), save a PNG of the window to ``out``."""
    capture_many([(address, out)], width, height)


def capture_many(shots: list[tuple[str, Path]], width: int = 1400, height: int = 1000) -> None:
    """Like :func:`capture` for several pages, in one browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            for address, out in shots:
                page.goto(address, timeout=60_000)
                page.wait_for_selector(READY, timeout=60_000)
                page.wait_for_timeout(2500)  # let the last rerun and the plots settle
                out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(out), full_page=False)
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dashboard.screenshot", description=__doc__)
    ap.add_argument("--storage", default=configured_url())
    ap.add_argument("--study", default="demo")
    ap.add_argument("--page", default="", help="url path of the page ('' = the map)")
    ap.add_argument("--out", type=Path, default=ROOT / "dashboard/docs/robustness-map.png")
    ap.add_argument("--all", action="store_true", help="every page, as OUT/<page>.png")
    args = ap.parse_args(argv)
    if args.all:
        folder = args.out if args.out.suffix == "" else args.out.parent
        shots = [
            (f"{{base}}/{path}?study={args.study}", folder / f"{name}.png")
            for name, path in PAGES.items()
        ]
    else:
        shots = [(f"{{base}}/{args.page}?study={args.study}", args.out)]
    with serving(args.storage) as base:
        capture_many([(a.format(base=base), out) for a, out in shots])
    for _, out in shots:
        print(f"saved {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
