"""What a study may ask of a machine: each trial's memory, estimated before anything runs.

A spec is refused (exit 2) when its largest trial would need more memory than the limit
(``study-launch --max-trial-memory GIB``; default half of this machine's memory, at most
16 GiB), with the estimate in the message. The largest trial of a spec is found without
enumerating the grid: every size (lag parameters, blocks, cells, hidden units, seeds) grows the
trial, so for each model the largest value of every numeric axis is taken together with every
combination of the categorical ones (gates, gradient, ...).

Example:
    >>> from study.specfile import parse_spec
    >>> spec = parse_spec('''
    ... name = "x"
    ... task = "adding"
    ... models = ["lstm1997"]
    ... seeds = 4
    ... max_sequences = 100
    ... [task_params]
    ... T = 1000000000
    ... ''')
    >>> try:
    ...     check_memory(spec, 4 * 2**30)
    ... except SpecError as e:
    ...     print(e.field, "|", e.problem.split("(")[0].strip())
    task_params.T | a trial needs about 590.1 GiB
"""

from __future__ import annotations

import itertools
import os
from typing import Any

from study.space import config_for
from study.spec import Choice, Spec, SpecError
from workers.memory import Estimate, estimate

MAX_DEFAULT = 16 * 2**30


def default_limit() -> int:
    """Half of this machine's physical memory, at most 16 GiB."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return MAX_DEFAULT
    return int(min(MAX_DEFAULT, total // 2))


def largest_points(spec: Spec) -> list[dict[str, Any]]:
    """Per model, the largest value of each numeric axis with every categorical combination."""
    points = []
    for model in spec.models:
        numeric: dict[str, Any] = {}
        categorical: dict[str, tuple[Any, ...]] = {}
        for name, axis in spec.axes_for(model).items():
            if not isinstance(axis, Choice):
                numeric[name] = int(axis.high) if axis.integer else axis.high
            elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in axis.values):
                numeric[name] = max(axis.values)
            else:
                categorical[name] = axis.values
        for combo in itertools.product(*categorical.values()):
            points.append({"model": model, **numeric, **dict(zip(categorical, combo, strict=True))})
    return points


def check_memory(spec: Spec, limit: int) -> Estimate:
    """The largest trial's estimate; SpecError naming the lag (or seeds) when above ``limit``."""
    worst: Estimate | None = None
    for params in largest_points(spec):
        try:
            est = estimate(config_for(spec, params))
        except ValueError as e:  # an invalid topology the trainer would refuse too
            raise SpecError(spec.file, "space", str(e)) from None
        if worst is None or est.bytes > worst.bytes:
            worst = est
    assert worst is not None
    if worst.bytes > limit:
        lag = spec.lag_param
        where = "seeds"
        if lag is not None and lag in spec.task_param_names:
            axis = spec.common[lag]
            fixed = isinstance(axis, Choice) and len(axis.values) == 1
            where = f"task_params.{lag}" if fixed else f"space.task.{lag}"
        raise SpecError(
            spec.file,
            where,
            f"a trial needs {worst.describe()}; the limit is {limit / 2**30:.1f} GiB "
            "(--max-trial-memory)",
        )
    return worst
