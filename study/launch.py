"""The ``study-launch`` entry point: Ctrl-C and SIGTERM mean "stop, resumable" from the first
moment, before the heavy imports of `study.cli` (Optuna, SQLAlchemy) have even finished."""

from __future__ import annotations

import signal
import sys
from typing import Any

from study.command import PROG, continue_command


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
