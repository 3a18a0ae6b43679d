"""The ``study-launch`` entry point: Ctrl-C and SIGTERM mean "stop, resumable" from the first
moment, before the heavy imports of `study.cli` (Optuna, SQLAlchemy) have even finished."""

from __future__ import annotations

import re
import shlex
import signal
import sys
from collections.abc import Sequence
from typing import Any

PROG = "study-launch"
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]*@")


def continue_command(argv: Sequence[str]) -> str:
    """The command line to run again, as it was given (a password in a URL shown as ***)."""
    return shlex.join([PROG, *(_PASSWORD.sub(r"\1***@", a) for a in argv)])


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        from study.cli import main as cli_main
    except KeyboardInterrupt:
        print(
            f"{PROG}: stopped before anything started; run `{continue_command(sys.argv[1:])}` "
            "to start",
            file=sys.stderr,
        )
        return 130
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
