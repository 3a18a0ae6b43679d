"""The driver's terminal progress: a live bar on a terminal, one line per trial otherwise.

The bar (tqdm, on stderr) shows trials finished out of planned (previous runs included), trials
running and failed, seeds solved so far in this run, and tqdm's ETA from this run's rate. When
stderr is not a terminal (CI, logs, tests) each finished trial prints one plain line instead.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

from tqdm import tqdm


class Progress:
    """Counts of one driver run, drawn as a bar or as lines."""

    def __init__(
        self, name: str, planned: int, finished: int, live: bool | None = None,
        stream: TextIO | None = None,
    ) -> None:  # fmt: skip
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.planned, self.finished = planned, finished
        self.running = self.failed = self.solved = self.seeds = 0
        self.bar = (
            tqdm(
                total=planned,
                initial=finished,
                desc=name,
                unit="trial",
                file=self.stream,
                # a pty of unknown size (0 x 0) would hide the bar: assume 110 x 24
                dynamic_ncols=_width(self.stream) > 0,
                ncols=None if _width(self.stream) > 0 else 110,
                nrows=None if _width(self.stream) > 0 else 24,
                smoothing=0.1,
            )
            if self.live
            else None
        )
        self._refresh()

    def started(self) -> None:
        self.running += 1
        self._refresh()

    def stopped(self) -> None:
        """A trial left the running set without a result (cancelled)."""
        self.running -= 1
        self._refresh()

    def done(self, line: str, failed: bool = False, n_solved: int = 0, n_seeds: int = 0) -> None:
        """A trial finished (COMPLETE, PRUNED or FAIL); ``line`` describes it for plain output."""
        self.running -= 1
        self.finished += 1
        self.failed += failed
        self.solved += n_solved
        self.seeds += n_seeds
        if self.bar is not None:
            self.bar.update(1)
            self._refresh()
        else:
            print(f"[{self.finished}/{self.planned}] {line}", file=self.stream, flush=True)

    def note(self, line: str) -> None:
        """A message that must not garble the bar."""
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def _refresh(self) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(
                f"running {self.running}, failed {self.failed}, "
                f"seeds solved {self.solved}/{self.seeds}",
                refresh=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _width(stream: TextIO) -> int:
    """The terminal's columns, 0 when unknown (e.g. under `script` or some CI ptys)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 0
