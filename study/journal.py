"""Finished results that could not reach the database yet: a local append-only journal.

When the database stays unreachable past the retry bound (`study.retry`), the driver writes
every result it holds (and every result Ray has ready) to a JSON-lines file before it exits, so
a trained result is never dropped; the next launch of the study records the journal's entries
(those whose trials are still unfinished) before anything else, then deletes the file.

Where: beside a SQLite database (``carousel.db`` -> ``carousel.db.<study>.journal.jsonl``);
for a server database under ``$CAROUSEL_JOURNAL_DIR`` or ``~/.cache/carousel/journal``, named
after host, port, database and study. One line per result:
``{"optuna_trial_id", "row_id", "result"}`` with ``result`` a ``TrialResult.to_dict()``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from study.storage import parse_url


def journal_path(url: str, study: str) -> Path:
    """The journal file of one study in one database (see the module docstring)."""
    u = parse_url(url)
    if u.get_backend_name() == "sqlite":
        db = Path(u.database or "carousel.db").resolve()
        return db.with_name(f"{db.name}.{study}.journal.jsonl")
    folder = Path(
        os.environ.get("CAROUSEL_JOURNAL_DIR", Path.home() / ".cache" / "carousel" / "journal")
    )
    tag = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{u.host}_{u.port or 5432}_{u.database}_{study}")
    return folder / f"{tag}.journal.jsonl"


def append(path: Path, entries: list[dict[str, Any]]) -> None:
    """Append entries and fsync, so they survive the process and the machine's crash."""
    if not entries:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        for e in entries:
            f.write(json.dumps(e) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read(path: Path) -> list[dict[str, Any]]:
    """The journal's entries; a torn last line (a crash while appending) is skipped."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def clear(path: Path) -> None:
    path.unlink(missing_ok=True)
