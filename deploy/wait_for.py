"""Wait until a service of the stack answers; used by the service scripts in this folder.

    python deploy/wait_for.py tcp HOST:PORT [--timeout S]    # something listens there
    python deploy/wait_for.py db URL [--timeout S]           # the database accepts this URL's login

Exit 0 as soon as it answers, 1 (one line on stderr, the last error) when the timeout passes.
``--timeout 0`` tries once (a container healthcheck). Only the standard library and, for ``db``,
SQLAlchemy + psycopg (installed with carousel); a password may come from ``$PGPASSWORD``.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time


def _tcp(target: str) -> None:
    host, _, port = target.rpartition(":")
    socket.create_connection((host or "127.0.0.1", int(port)), timeout=3).close()


def _db(url: str) -> None:
    import sqlalchemy as sa

    if url.startswith("sqlite"):  # a file: nothing to wait for
        return
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3}, poolclass=sa.NullPool)
    try:
        with engine.connect() as c:
            c.execute(sa.text("SELECT 1"))
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="wait_for.py", description=__doc__.splitlines()[0])
    p.add_argument("kind", choices=("tcp", "db"))
    p.add_argument("target")
    p.add_argument("--timeout", type=float, default=300.0)
    args = p.parse_args(argv)
    check = _tcp if args.kind == "tcp" else _db
    what = args.target if args.kind == "tcp" else args.target.split("@")[-1]
    deadline = time.monotonic() + args.timeout
    while True:
        try:
            check(args.target)
            return 0
        except Exception as e:  # not up yet: refused, DNS not ready, starting up, ...
            last = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e) else ''}"
        if time.monotonic() >= deadline:
            print(
                f"wait_for: {what} did not answer within {args.timeout:g} s: {last}",
                file=sys.stderr,
            )
            return 1
        time.sleep(1.0)


if __name__ == "__main__":
    sys.exit(main())
