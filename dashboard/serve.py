"""``carousel-dashboard``: serve the dashboard for one study database.

    carousel-dashboard --storage sqlite:///carousel.db           # http://127.0.0.1:8501
    carousel-dashboard --storage postgresql+psycopg://u@db/carousel --host 0.0.0.0 --port 8080

It checks the URL (a malformed or unsupported one exits with code 2 and one line on stderr, before
anything starts), then replaces itself with ``streamlit run dashboard/app.py`` bound to
``--host`` (localhost unless told otherwise), with ``CAROUSEL_STORAGE`` set for the app. A
database that is missing or unreachable is not an error here: the page says so, and shows the
studies as soon as the database appears (e.g. while ``make demo`` starts its study).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from study.storage import STORAGE_ENV, StorageError, configured_url, parse_url, safe_url

APP = Path(__file__).resolve().parent / "app.py"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="carousel-dashboard", description="Serve the carousel robustness-map dashboard."
    )
    p.add_argument(
        "--storage",
        default=configured_url(),
        help="study database URL (default: $CAROUSEL_STORAGE or %(default)s)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    p.add_argument("--port", type=int, default=8501, help="port (default: %(default)s)")
    return p


def streamlit_command(host: str, port: int) -> list[str]:
    """The ``streamlit run`` command line (through this interpreter, so the venv's streamlit)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.showErrorDetails",
        "false",
        "--client.toolbarMode",
        "minimal",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        u = parse_url(args.storage)
    except StorageError as e:
        print(f"carousel-dashboard: error: --storage: {e}", file=sys.stderr)
        return 2
    if not 0 < args.port < 65536:
        print(f"carousel-dashboard: error: --port: out of range: {args.port}", file=sys.stderr)
        return 2
    if u.get_backend_name() == "sqlite":  # the app must find the same file from any cwd
        u = u.set(database=str(Path(u.database or "").resolve()))
    url = u.render_as_string(hide_password=False)
    env = dict(os.environ, **{STORAGE_ENV: url})
    # the app imports dashboard/ and study/ from the project root, wherever we are started
    root = str(APP.parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    cmd = streamlit_command(args.host, args.port)
    print(
        f"carousel-dashboard: serving {safe_url(url)} at http://{args.host}:{args.port}",
        flush=True,
    )
    os.execve(sys.executable, cmd, env)
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
