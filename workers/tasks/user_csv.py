"""The ``csv`` task: the user's own recordings, from one long-format CSV file.

Format: a header line, then one row per time step of one sequence::

    sequence,label,split,t,acc_x,acc_y
    walk1,walk,train,0,0.12,0.93
    walk1,walk,train,1,0.31,0.84
    run1,run,test,0,1.20,-0.41

* ``sequence`` (required): the sequence's id (any text). Its rows need not be adjacent.
* ``label`` (required): its class (any text); one label per sequence.
* ``split`` (optional): ``train`` or ``test``, one per sequence. Without it, a seeded stratified
  split (``test_frac`` of each class's sequences, ``split_seed``) puts sequences in the test
  split, always leaving each class at least one training sequence.
* ``t`` (optional): a number; a sequence's rows are sorted by it (stable; a repeated value within
  one sequence is refused). Without it, the file's order.
* every other column: a numeric channel (finite numbers; no empty cells, no NaN).

Sequence lengths may differ (ragged). Optional resampling and windowing turn one long recording
per subject into labelled sequences: ``downsample = k`` keeps every k-th step, then
``window = w`` cuts each sequence into windows of w steps every ``stride`` steps (default: w,
no overlap); a window keeps its sequence's label and split, so windows of one recording never
straddle train and test. Everything else (validation carve, normalisation, the long-lag
variant, outputs, success at ``threshold`` test accuracy) is `workers.tasks.real`'s protocol.

A malformed file is refused when the task is built (for a study: at spec validation, exit 2,
nothing written) with one ``ValueError`` line naming the file, the row (the file's line number,
the header being row 1) and the column: missing columns, non-numeric or missing (NaN) channel
values, a sequence with two labels or two splits, a class with no sequence in the training
split, and the like. The path is read where the task is built: a study resolves a relative path
against its spec file's folder (`study.validate`); on a Ray cluster the file must be readable at
that path on every worker.
"""

from __future__ import annotations

import csv
import functools
import os
import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from workers.tasks._common import check_int
from workers.tasks.real import RealTask
from workers.tasks.recordings import Recordings, stratified_split

RESERVED = ("sequence", "label", "split", "t")
SPLITS = ("train", "test")


class CsvError(ValueError):
    """A malformed CSV file: ``file: row R, column 'C': problem`` in one line."""

    def __init__(self, path: str, problem: str, row: int | None = None, column: str | None = None):
        where = ", ".join(
            p for p in (f"row {row}" if row else "", f"column {column!r}" if column else "") if p
        )
        super().__init__(f"{path}: {where}: {problem}" if where else f"{path}: {problem}")


@dataclass(frozen=True)
class Sequences:
    """The file's sequences in order of first appearance, each sorted by ``t``."""

    ids: tuple[str, ...]
    labels: tuple[str, ...]
    splits: tuple[str | None, ...]
    X: tuple[np.ndarray, ...]
    """(length, channels) per sequence."""
    first_row: tuple[int, ...]
    """File row of each sequence's first line (for messages)."""
    channels: tuple[str, ...]


def read_long_csv(path: str) -> Sequences:
    """Parse and check a long-format CSV; raises :class:`CsvError` naming row and column."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f), None)
    except FileNotFoundError:
        raise CsvError(path, "file not found") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as e:
        raise CsvError(path, f"cannot read: {e}") from None
    except csv.Error as e:
        raise CsvError(path, f"not a CSV file: {e}", row=1) from None
    if not header or all(not h.strip() for h in header):
        raise CsvError(path, "empty file: expected a header line", row=1)
    names = [h.strip() for h in header]
    for i, h in enumerate(names):
        if not h:
            raise CsvError(path, f"header field {i + 1} is empty", row=1)
        if h in names[:i]:
            raise CsvError(path, "appears twice in the header", row=1, column=h)
    for req in ("sequence", "label"):
        if req not in names:
            raise CsvError(path, f"missing (the header has: {', '.join(names)})", row=1, column=req)
    channels = tuple(h for h in names if h not in RESERVED)
    if not channels:
        raise CsvError(
            path, "no channel column: every column besides sequence, label, split, t is a "
            "numeric channel", row=1,
        )  # fmt: skip
    try:
        df = pd.read_csv(
            path, dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=False,
            header=0, names=names, skipinitialspace=True, encoding="utf-8-sig",
        )  # fmt: skip
    except pd.errors.ParserError as e:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(e))
        if m:
            raise CsvError(
                path, f"{m.group(3)} fields where the header has {m.group(1)}", row=int(m.group(2))
            ) from None
        raise CsvError(path, f"cannot parse: {e}") from None
    if df.empty:
        raise CsvError(path, "no data rows after the header", row=2)
    rows = np.arange(len(df)) + 2  # file line of each data row (the header is row 1)
    text = {c: df[c].astype(str).str.strip().to_numpy() for c in names}

    for c in ("sequence", "label"):
        empty = np.flatnonzero(text[c] == "")
        if empty.size:
            raise CsvError(path, "empty value", row=int(rows[empty[0]]), column=c)
    numeric = {c: _numbers(path, c, text[c], rows) for c in (*channels, *(["t"] * ("t" in names)))}
    # report the earliest bad cell of the file (row first, then column order)
    bad = [(int(r), names.index(c), c, p) for c, (_, r, p) in numeric.items() if r is not None]
    if bad:
        r, _, c, p = min(bad)
        raise CsvError(path, p, row=r, column=c)
    if "split" in names:
        wrong = np.flatnonzero(~np.isin(text["split"], SPLITS))
        if wrong.size:
            v = text["split"][wrong[0]]
            raise CsvError(
                path, f"must be train or test, got {v!r}", row=int(rows[wrong[0]]), column="split"
            )

    seq = text["sequence"]
    _, first, inverse = np.unique(seq, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # sequences in order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    gid = rank[inverse]  # (rows,) sequence number of each row
    by_seq = np.argsort(gid, kind="stable")
    bounds = np.searchsorted(gid[by_seq], np.arange(len(order) + 1))
    values = np.stack([numeric[c][0] for c in channels], axis=1)  # (rows, C)
    t = numeric["t"][0] if "t" in names else None

    out_ids, labels, splits, X, first_rows = [], [], [], [], []
    for g in range(len(order)):
        members = by_seq[bounds[g] : bounds[g + 1]]  # file order
        sid = str(seq[members[0]])
        for col in ("label", "split"):
            if col not in names:
                continue
            v = text[col][members]
            diff = np.flatnonzero(v != v[0])
            if diff.size:
                r = int(rows[members[diff[0]]])
                raise CsvError(
                    path,
                    f"sequence {sid!r} has two {col}s: {v[0]!r} (row {int(rows[members[0]])})"
                    f" and {v[diff[0]]!r}",
                    row=r,
                    column=col,
                )
        if t is not None:
            tt = t[members]
            srt = np.argsort(tt, kind="stable")
            rep = np.flatnonzero(np.diff(tt[srt]) == 0)
            if rep.size:
                r = int(rows[members[srt[rep[0] + 1]]])
                raise CsvError(
                    path, f"t = {tt[srt[rep[0]]]:g} repeats within sequence {sid!r}",
                    row=r, column="t",
                )  # fmt: skip
            members = members[srt]
        out_ids.append(sid)
        labels.append(str(text["label"][members[0]]))
        splits.append(str(text["split"][members[0]]) if "split" in names else None)
        X.append(np.ascontiguousarray(values[members]))
        first_rows.append(int(rows[by_seq[bounds[g]]]))
    return Sequences(
        tuple(out_ids), tuple(labels), tuple(splits), tuple(X), tuple(first_rows), channels
    )


def _numbers(
    path: str, column: str, text: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, int | None, str]:
    """(values, first bad row or None, its problem) of one numeric column."""
    v = pd.to_numeric(pd.Series(text), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(v))
    if not bad.size:
        return v, None, ""
    i = int(bad[0])
    raw = str(text[i])
    if raw == "" or raw.lower() in ("nan", "na", "n/a", "null", "none", "-nan"):
        problem = f"missing value (NaN): {raw!r}" if raw else "missing value (NaN): empty cell"
    elif np.isinf(v[i]):
        problem = f"not a finite number: {raw!r}"
    else:
        problem = f"not a number: {raw!r}"
    return v, int(rows[i]), problem


@functools.lru_cache(maxsize=16)
def _load_cached(
    path: str, stamp: tuple[int, int], window: int, stride: int, downsample: int,
    test_frac: float, split_seed: int,
) -> tuple[Recordings, Recordings, tuple[str, ...]]:  # fmt: skip
    del stamp  # part of the cache key only: a rewritten file is read again
    s = read_long_csv(path)
    classes = tuple(sorted(set(s.labels)))
    if len(classes) < 2:
        raise CsvError(
            path, f"only one class ({classes[0]!r}); classification needs two",
            row=s.first_row[0], column="label",
        )  # fmt: skip
    code = {c: i for i, c in enumerate(classes)}
    y = np.array([code[lab] for lab in s.labels], dtype=np.int64)
    if s.splits[0] is not None:
        is_test = np.array([sp == "test" for sp in s.splits])
        if not is_test.any():
            raise CsvError(path, "no sequence is in the test split", row=1, column="split")
    else:
        rng = np.random.default_rng([split_seed, 0x7E57])
        _, test_rows = stratified_split(y, test_frac, rng)
        is_test = np.zeros(len(y), dtype=bool)
        is_test[test_rows] = True
        if not is_test.any():
            raise CsvError(
                path, "no sequence left for the test split (every class has a single sequence);"
                " add a split column", row=1,
            )  # fmt: skip

    def cut(i: int) -> list[np.ndarray]:
        x = s.X[i][::downsample]
        if not window:
            return [x]
        step = stride or window
        return [x[a : a + window] for a in range(0, x.shape[0] - window + 1, step)]

    parts: dict[bool, tuple[list[np.ndarray], list[int]]] = {False: ([], []), True: ([], [])}
    for i in range(len(y)):
        for w in cut(i):
            parts[bool(is_test[i])][0].append(w)
            parts[bool(is_test[i])][1].append(int(y[i]))
    for c, name in enumerate(classes):
        if c not in parts[False][1]:
            i = next(j for j in range(len(y)) if y[j] == c)
            why = "no sequence in the train split"
            if window and any(y[j] == c and not is_test[j] for j in range(len(y))):
                why = f"no train sequence of at least window = {window} steps"
            raise CsvError(path, f"class {name!r} has {why}", row=s.first_row[i], column="label")
    if not parts[True][0]:
        raise CsvError(path, f"no test sequence of at least window = {window} steps")

    def rec(split: bool) -> Recordings:
        X, lab = parts[split]
        return Recordings(tuple(X), np.array(lab, dtype=np.int64))

    return rec(False), rec(True), classes


@dataclass(frozen=True)
class CsvTask(RealTask):
    """The user's recordings from a long-format CSV file (see the module docstring)."""

    path: str = ""
    """The CSV file (a study resolves a relative path against its spec file's folder)."""
    threshold: float = 0.9
    """Test accuracy at or above which a seed is solved."""
    test_frac: float = 0.25
    """Without a split column: share of each class's sequences put in the test split."""
    window: int = 0
    """Cut sequences into windows of this many steps (0: whole sequences)."""
    stride: int = 0
    """Steps between window starts (0: the window length, no overlap)."""
    downsample: int = 1
    """Keep every k-th step (before windowing)."""

    name = "csv"
    paper_ref = "user data (CSV)"
    path_params: ClassVar[tuple[str, ...]] = ("path",)
    """Parameters that are file paths (a study resolves them against its spec's folder)."""

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path.strip():
            raise ValueError("csv: parameter 'path' is required: the CSV file to read")
        th = self.threshold
        if isinstance(th, bool) or not isinstance(th, int | float) or not 0.0 < th <= 1.0:
            raise ValueError(f"csv: parameter 'threshold' must be in (0, 1], got {th!r}")
        object.__setattr__(self, "threshold", float(th))
        tf = self.test_frac
        if isinstance(tf, bool) or not isinstance(tf, int | float) or not 0.0 < tf < 1.0:
            raise ValueError(f"csv: parameter 'test_frac' must be in (0, 1), got {tf!r}")
        object.__setattr__(self, "test_frac", float(tf))
        object.__setattr__(self, "window", check_int("csv", "window", self.window, 0))
        object.__setattr__(self, "stride", check_int("csv", "stride", self.stride, 0))
        object.__setattr__(self, "downsample", check_int("csv", "downsample", self.downsample, 1))
        if self.stride and not self.window:
            raise ValueError("csv: parameter 'stride' needs a 'window'")
        super().__post_init__()

    def load(self) -> tuple[Recordings, Recordings, tuple[str, ...]]:
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = (0, 0)  # read_long_csv reports the problem
        return _load_cached(
            self.path, stamp, self.window, self.stride, self.downsample, self.test_frac,
            self.split_seed,
        )  # fmt: skip

    def accuracy_threshold(self) -> float:
        return self.threshold
