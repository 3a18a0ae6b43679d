"""The ``study-launch`` command line as the user typed it: the program's name and the command
to run again after a stop. Light (no third-party import), for `study.launch`'s first moment."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

PROG = "study-launch"
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]*@")


def continue_command(argv: Sequence[str]) -> str:
    """The command line to run again, as it was given (a password in a URL shown as ***)."""
    return shlex.join([PROG, *(_PASSWORD.sub(r"\1***@", a) for a in argv)])
