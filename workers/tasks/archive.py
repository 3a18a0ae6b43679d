"""The UEA/UCR archive sets the real-data tasks train on, read from files inside this package.

Three sets ship as gzip'd copies of the archive's own ``.ts`` files in ``workers/tasks/data/``
(BasicMotions, PickupGestureWiimoteZ, JapaneseVowels, 632 KiB; provenance and citation in
``data/README.md``), so a fresh offline machine has them and nothing is downloaded at run time.
They used to come from aeon's wheel, which bundles the same files; aeon pins numba below 0.64, and
numba 0.63 halves the compiled kernel's lane-vectorised speed (`benchmarks.trainer_speed`), so
carousel reads the files itself.

The ``.ts`` format (sktime/aeon's): ``#`` comment lines, ``@key value`` header lines ending with
``@data``, then one case per line: each dimension's values comma-separated, dimensions separated
by ``:``, the class label last (after the final ``:``); ``?`` is a missing value (NaN). Cases may
differ in length (``@equalLength false``), dimensions of one case may not.

Example:
    >>> X, y = read_ts(["@dimensions 2", "@data", "1,2,3:4,5,6:a", "7,8:9,?:b"])
    >>> [x.shape for x in X], y
    ([(3, 2), (2, 2)], ['a', 'b'])
    >>> X[1][:, 1]
    array([ 9., nan])
"""

from __future__ import annotations

import functools
import gzip
from collections.abc import Iterable
from importlib import resources

import numpy as np

SETS = ("BasicMotions", "PickupGestureWiimoteZ", "JapaneseVowels")
"""The archive sets shipped in ``workers/tasks/data/`` (each as ``<name>_{TRAIN,TEST}.ts.gz``)."""


class ArchiveFormatError(ValueError):
    """A ``.ts`` file that does not follow the format; the message names the line."""


def read_ts(lines: Iterable[str], source: str = "<ts>") -> tuple[list[np.ndarray], list[str]]:
    """(cases, labels) of a classification ``.ts`` text: each case a (length, dimensions) float64
    array (steps along the first axis, as carousel's tasks hold them), each label a string."""
    X: list[np.ndarray] = []
    y: list[str] = []
    in_data = False
    for no, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            in_data = line.lower() == "@data"
            if not in_data and not line.startswith("@"):
                raise ArchiveFormatError(f"{source}:{no}: data before the @data line")
            continue
        *dims, label = line.split(":")
        if not dims:
            raise ArchiveFormatError(f"{source}:{no}: a case without a class label")
        try:
            cols = [[float("nan") if v == "?" else float(v) for v in d.split(",")] for d in dims]
        except ValueError as e:
            raise ArchiveFormatError(f"{source}:{no}: {e}") from None
        if len({len(c) for c in cols}) != 1:
            raise ArchiveFormatError(f"{source}:{no}: dimensions of unequal length")
        X.append(np.array(cols, dtype=np.float64).T.copy())
        y.append(label.strip())
    if not in_data:
        raise ArchiveFormatError(f"{source}: no @data line")
    return X, y


@functools.lru_cache(maxsize=8)
def load_split(name: str, split: str) -> tuple[tuple[np.ndarray, ...], tuple[str, ...]]:
    """(cases, labels) of one archive set's ``"train"`` or ``"test"`` split, read once."""
    if name not in SETS:
        raise KeyError(f"unknown archive set {name!r}; shipped: {', '.join(SETS)}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    fname = f"{name}_{split.upper()}.ts.gz"
    source = resources.files(__package__) / "data" / fname
    with resources.as_file(source) as path, gzip.open(path, "rt", encoding="utf-8") as f:
        X, y = read_ts(f, fname)
    return tuple(X), tuple(y)
