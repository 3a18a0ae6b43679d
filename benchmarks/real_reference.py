"""Reference accuracies for the real-data tasks' success thresholds: 1-nearest-neighbour
classifiers (Euclidean and full-window DTW distance, the archive's classic baselines) on the same
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
from numba import njit

from workers.tasks import make_task

OUT = Path(__file__).resolve().parent / "results" / "real_reference.md"
TASKS = ("basic_motions", "pickup_gesture_wiimote_z", "japanese_vowels")


@njit(cache=True)  # type: ignore[misc]
def dtw(a: np.ndarray, b: np.ndarray) -> float:
    """Full-window dynamic time warping of (n, C) and (m, C): the least sum, over monotone
    alignments, of squared Euclidean distances between aligned steps (no square root: 1-NN only
    ranks distances)."""
    n, m = a.shape[0], b.shape[0]
    D = np.full((n + 1, m + 1), np.inf)
    D[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d = 0.0
            for c in range(a.shape[1]):
                d += (a[i - 1, c] - b[j - 1, c]) ** 2
            D[i, j] = d + min(D[i - 1, j], D[i, j - 1], D[i - 1, j - 1])
    return float(D[n, m])


def euclidean(a: np.ndarray, b: np.ndarray) -> float:
    """Squared lock-step distance of two equal-length (n, C) recordings."""
    return float(((a - b) ** 2).sum())


def one_nn_accuracy(
    train: list[np.ndarray], y_train: np.ndarray, test: list[np.ndarray], y_test: np.ndarray,
    distance: str,
) -> float:  # fmt: skip
    """Test accuracy of the 1-nearest-neighbour rule (ties to the earliest training case)."""
    dist = dtw if distance == "dtw" else euclidean
    pred = [y_train[int(np.argmin([dist(x, r) for r in train]))] for x in test]
    return float((np.array(pred) == y_test).mean())


def main() -> None:
    lines = [
        "# Reference accuracies for the real-data tasks",
        "",
        "`python -m benchmarks.real_reference`: 1-NN classifiers (squared Euclidean,",
        "full-window DTW) on the whole train split, normalised with the fit split's statistics,",
        f"tested on the test split. Measured {time.strftime('%Y-%m-%d %H:%M')}.",
        "",
        "| task | test cases | 1-NN Euclidean | 1-NN DTW | carousel threshold | seconds |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in TASKS:
        task = make_task(name)
        p = task.prepared
        X_train = [*p.fit.X, *p.validation.X]
        y_train = np.concatenate([p.fit.y, p.validation.y])
        X_test, y_test = list(p.test.X), p.test.y
        equal = len({x.shape[0] for x in (*X_train, *X_test)}) == 1
        t0 = time.perf_counter()
        acc = {}
        for dist in ("euclidean", "dtw"):
            if dist == "euclidean" and not equal:
                acc[dist] = float("nan")  # lock-step distance needs equal lengths
                continue
            acc[dist] = one_nn_accuracy(X_train, y_train, X_test, y_test, dist)
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
