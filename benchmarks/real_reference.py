"""Reference accuracies for the real-data tasks' success thresholds: 1-nearest-neighbour
classifiers (Euclidean and DTW distance, aeon's ``KNeighborsTimeSeriesClassifier``) on the same
data, splits and normalisation the carousel tasks serve.

A success threshold (``workers.tasks.real``) should be a bar that a good classifier of the data
reaches, not one no method can. 1-NN DTW is the archive's classic baseline; this script prints
its test accuracy, and 1-NN Euclidean's, next to each task's threshold. The classifiers see the
fit + validation recordings (all of the archive's train split), normalised with the fit split's
statistics, and are judged on the test split, exactly what a carousel seed is judged on.

Run: ``.venv/bin/python -m benchmarks.real_reference``; writes
``benchmarks/results/real_reference.md``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from workers.tasks import make_task

OUT = Path(__file__).resolve().parent / "results" / "real_reference.md"
TASKS = ("basic_motions", "pickup_gesture_wiimote_z", "japanese_vowels")


def as_list(X: tuple[np.ndarray, ...]) -> list[np.ndarray]:
    """aeon's collection layout: one (channels, length) array per case."""
    return [np.ascontiguousarray(x.T) for x in X]


def main() -> None:
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

    lines = [
        "# Reference accuracies for the real-data tasks",
        "",
        "`python -m benchmarks.real_reference`: 1-NN classifiers (aeon) trained on the whole",
        "train split, normalised with the fit split's statistics, tested on the test split.",
        "",
        "| task | test cases | 1-NN Euclidean | 1-NN DTW | carousel threshold | seconds |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in TASKS:
        task = make_task(name)
        p = task.prepared
        X_train = as_list((*p.fit.X, *p.validation.X))
        y_train = np.concatenate([p.fit.y, p.validation.y])
        X_test, y_test = as_list(p.test.X), p.test.y
        equal = len({x.shape[1] for x in (*X_train, *X_test)}) == 1
        t0 = time.perf_counter()
        acc = {}
        for dist in ("euclidean", "dtw"):
            if dist == "euclidean" and not equal:
                acc[dist] = float("nan")  # lock-step distance needs equal lengths
                continue
            train_in = np.stack(X_train) if equal else X_train
            test_in = np.stack(X_test) if equal else X_test
            clf = KNeighborsTimeSeriesClassifier(n_neighbors=1, distance=dist)
            clf.fit(train_in, y_train)
            acc[dist] = float((clf.predict(test_in) == y_test).mean())
        dt = time.perf_counter() - t0
        row = (
            f"| `{name}` | {len(y_test)} | "
            + " | ".join("n/a (ragged)" if np.isnan(acc[d]) else f"{acc[d]:.3f}"
                         for d in ("euclidean", "dtw"))
            + f" | {task.accuracy_threshold():.2f} | {dt:.1f} |"
        )  # fmt: skip
        print(row, flush=True)
        lines.append(row)
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
