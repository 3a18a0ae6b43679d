"""The long-time-lag tasks of Hochreiter & Schmidhuber (1997), one file per task, and a registry;
beside them the real-data tasks (`workers.tasks.real`: recorded sensor data, UEA/UCR archive sets
shipped in the package, and the user's own CSV file, `workers.tasks.user_csv`).

Example:
    >>> import numpy as np
    >>> from workers.tasks import make_task
    >>> task = make_task("adding", T=100)
    >>> batch = task.sample(np.random.default_rng(0), 4)
    >>> batch.idx.shape[0], batch.targets.shape
    (4, (4, 1, 1))
    >>> bool(task.correct(batch.targets, batch).all())
    True
"""

from __future__ import annotations

import dataclasses
from typing import Any

from workers.tasks.adding import Adding
from workers.tasks.base import (
    PaperSetup,
    SequenceBatch,
    StopKind,
    StopRule,
    Task,
    abs_correct,
    stack_batches,
)
from workers.tasks.embedded_reber import EmbeddedReber, fixed_sets, is_embedded_reber
from workers.tasks.long_lag_2c import LongLag2c
from workers.tasks.multiplication import Multiplication
from workers.tasks.noise_free_2a import NoiseFree2a
from workers.tasks.noise_free_2b import NoiseFree2b
from workers.tasks.real import BasicMotions, JapaneseVowels, PickupGestureWiimoteZ, RealTask
from workers.tasks.temporal_order_6a import TemporalOrder6a
from workers.tasks.temporal_order_6b import TemporalOrder6b
from workers.tasks.two_sequence_3a import TwoSequence3a
from workers.tasks.two_sequence_3b import TwoSequence3b
from workers.tasks.two_sequence_3c import TwoSequence3c
from workers.tasks.user_csv import CsvError, CsvTask

TASKS: dict[str, type[Task]] = {
    cls.name: cls
    for cls in (
        EmbeddedReber,
        NoiseFree2a,
        NoiseFree2b,
        LongLag2c,
        TwoSequence3a,
        TwoSequence3b,
        TwoSequence3c,
        Adding,
        Multiplication,
        TemporalOrder6a,
        TemporalOrder6b,
    )
}
"""Registry: task name -> task class, in the paper's order."""

REAL_TASKS: dict[str, type[Task]] = {
    cls.name: cls for cls in (BasicMotions, PickupGestureWiimoteZ, JapaneseVowels, CsvTask)
}
"""Real-data tasks: UEA/UCR archive sets (shipped in the package) and ``csv`` (the user's file)."""

ALL_TASKS: dict[str, type[Task]] = {**TASKS, **REAL_TASKS}
"""Every task ``make_task`` builds: the paper's, then the real-data ones."""


def task_params(name: str) -> tuple[str, ...]:
    """The constructor parameters of task ``name`` (what ``make_task`` accepts)."""
    return tuple(f.name for f in dataclasses.fields(_lookup(name)) if f.init)  # type: ignore[arg-type]


def _lookup(name: str) -> type[Task]:
    try:
        return ALL_TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(ALL_TASKS)}") from None


def make_task(name: str, **params: Any) -> Task:
    """Build the task ``name`` with its lag parameters, e.g. ``make_task("adding", T=500)``.

    Raises:
        ValueError: for an unknown name, an unknown parameter, or an invalid parameter value.
    """
    cls = _lookup(name)
    allowed = task_params(name)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(
            f"task {name!r} has no parameter(s) {', '.join(unknown)}; "
            f"its parameters are: {', '.join(allowed) or '(none)'}"
        )
    return cls(**params)


__all__ = [
    "ALL_TASKS",
    "REAL_TASKS",
    "TASKS",
    "Adding",
    "BasicMotions",
    "CsvError",
    "CsvTask",
    "EmbeddedReber",
    "JapaneseVowels",
    "LongLag2c",
    "Multiplication",
    "NoiseFree2a",
    "NoiseFree2b",
    "PaperSetup",
    "PickupGestureWiimoteZ",
    "RealTask",
    "SequenceBatch",
    "StopKind",
    "StopRule",
    "Task",
    "TemporalOrder6a",
    "TemporalOrder6b",
    "TwoSequence3a",
    "TwoSequence3b",
    "TwoSequence3c",
    "abs_correct",
    "fixed_sets",
    "is_embedded_reber",
    "make_task",
    "stack_batches",
    "task_params",
]
