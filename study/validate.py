"""Field-by-field validation of a study spec (TOML -> `study.spec.Spec`).

Every failure is a `SpecError` naming the file, the field (``space.lr``,
``space.lstm1997.blocks``, ``task_params.T``, ...) and the problem, before Ray or a database is
touched. Task parameters are checked by building the task (``workers.tasks.make_task``), model
choices against ``models.registry``, so the spec never drifts from what the trainer accepts.

Why not pydantic models: the type checks (an int, a list, a table) are the small part of this
file. Most refusals are rules no field type expresses: values compared after numeric
normalisation (``lr = [1, 1.0]``), axes that only some models may have, task parameters checked
by building the task, size bounds, sampler / pruner combinations. These would become validators
anyway, and pydantic's error reports would need mapping back to one ``file: field: problem``
line each (exit 2), so neither this file nor `study.spec` would shrink. (Size note: ~440 lines,
just over the usual ~400: one `Validator`, a method per spec section.)
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import typing
from typing import Any

from study import model_space as ms
from study.spec import (
    BACKENDS,
    PRECISIONS,
    PRUNERS,
    SAMPLERS,
    Axis,
    Choice,
    Pruning,
    Range,
    Spec,
    SpecError,
)
from workers.config import LR

_TOP = {
    "name", "description", "task", "models", "seeds", "max_sequences", "reading", "seed",
    "backend", "precision", "curve_points", "paper_experiment", "sampler", "n_trials",
    "task_params", "space", "pruning", "protocol", "update", "output_delta", "construction",
}  # fmt: skip
_SPACE_GROUPS = ("task", "lstm1997", "baselines")
_COMMON = (LR, "init_range")
_LSTM1997 = (
    "blocks", "cells_per_block", "gates", "gate_bias", "gradient", "forget_gate", "forget_bias",
    "update",
)  # fmt: skip
_BASELINE = ("hidden", "match_weights")
_MODEL_SECTIONS = tuple(ms.SECTION_PARAMS)
"""``[space.<model>]`` sections (`study.model_space`)."""
_T = typing.TypeVar("_T")
MAX_SEEDS = 10_000
"""Seeds per configuration: the value of a point is a success rate; 10k seeds read it to 1%."""
MAX_SEQUENCES = 10_000_000_000
"""Budget per seed: ~15 h of one lane at the kernel's fastest; the paper's largest is ~10^7."""
MAX_TRIALS = 100_000
"""Grid points or n_trials of one study (the dashboard is measured at 10k+ trials)."""
MAX_CURVE_POINTS = 10_000
MAX_UNITS = 4096
"""blocks, cells_per_block and hidden: far above any net a CPU lane trains (the paper's: <= 4)."""
MAX_MATCH_WEIGHTS = 10_000_000
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


class Validator:
    """Field-by-field validation; every failure names its field."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, field: str, problem: str) -> SpecError:
        return SpecError(self.file, field, problem)

    def spec(self, raw: dict[str, Any], text: str) -> Spec:
        for key in raw:
            if key not in _TOP:
                raise self.fail(key, f"unknown field; known: {', '.join(sorted(_TOP))}")
        name = self.need(self.string(raw, "name", required=True))
        if not _NAME_RE.match(name):
            raise self.fail("name", "use letters, digits, '_', '-' or '.' (at most 128)")
        task = self.task(raw)
        models = self.models(raw)
        seeds = self.need(self.integer(raw, "seeds", 1, required=True, high=MAX_SEEDS))
        max_sequences = self.need(
            self.integer(raw, "max_sequences", 1, required=True, high=MAX_SEQUENCES)
        )
        reading = self.string(raw, "reading") or "literal"
        from workers.config import READINGS

        if reading not in READINGS:
            raise self.fail("reading", f"must be one of {', '.join(READINGS)}, got {reading!r}")
        sampler = self.string(raw, "sampler") or "grid"
        if sampler not in SAMPLERS:
            raise self.fail("sampler", f"unknown sampler {sampler!r}; use {', '.join(SAMPLERS)}")
        if sampler == "qmc" and importlib.util.find_spec("scipy") is None:
            raise self.fail("sampler", "qmc needs scipy, which is not installed")
        n_trials = self.integer(raw, "n_trials", 1, high=MAX_TRIALS)
        if sampler == "grid" and n_trials is not None:
            raise self.fail("n_trials", "a grid runs every point once; drop n_trials")
        if sampler != "grid" and n_trials is None:
            raise self.fail("n_trials", f"required for the {sampler} sampler")
        backend = self.string(raw, "backend") or "auto"
        if backend not in BACKENDS:
            raise self.fail("backend", f"must be one of {', '.join(BACKENDS)}, got {backend!r}")
        precision = self.string(raw, "precision") or "float64"
        if precision not in PRECISIONS:
            raise self.fail("precision", f"use {' or '.join(PRECISIONS)}, got {precision!r}")
        space = self.table(raw, "space") or {}
        for key in space:
            if key not in (*_COMMON, *ms.TOP_LEVEL_AXES, *_SPACE_GROUPS, *_MODEL_SECTIONS):
                known = ", ".join((*_COMMON, *ms.TOP_LEVEL_AXES, *_SPACE_GROUPS, *_MODEL_SECTIONS))
                raise self.fail(f"space.{key}", f"unknown field; known: {known}")
        grid = sampler == "grid"
        common = {k: self.axis(f"space.{k}", space[k], k, grid) for k in _COMMON if k in space}
        task_axes = self.task_axes(raw, space, task, grid)
        for axis_name in ms.TOP_LEVEL_AXES:
            common |= ms.top_level_axis(self, raw, space, grid, axis_name)
        delta = common.get("output_delta")
        successors = set(models) & {"tcn", "transformer"}
        if isinstance(delta, Choice) and "no_fprime" in delta.values and successors:
            raise self.fail(
                "output_delta" if "output_delta" in raw else "space.output_delta",
                "'no_fprime' changes the recurrent nets' squared-error delta; tcn and"
                " transformer have none",
            )
        built = common.get("construction")
        if (
            isinstance(built, Choice)
            and "sequential" in built.values
            and set(models) - {"lstm1997"}
        ):
            raise self.fail(
                "construction" if "construction" in raw else "space.construction",
                "'sequential' adds the 1997 net's cells during training; the other models in"
                " the study have none (leave it unset: each task's paper default applies)",
            )
        update = common.get("update")
        if isinstance(update, Choice) and "step" in update.values and set(models) - {"lstm1997"}:
            raise self.fail(
                "update" if "update" in raw else "space.update",
                "'step' is the 1997 net's real-time update; with other models in the study, set"
                " it under [space.lstm1997] update",
            )
        lstm_names = (*_LSTM1997, *ms.OVERRIDABLE)
        lstm1997 = ms.prefixed(
            "lstm1997", self.group(space, "lstm1997", lstm_names, grid, "lstm1997" in models)
        )
        baselines = ms.prefixed(
            "baselines",
            self.group(
                space, "baselines", (*_BASELINE, *ms.OVERRIDABLE), grid,
                any(m in ms.RECURRENT_BASELINES for m in models),
            ),
        )  # fmt: skip
        per_model = ms.model_sections(self, space, models, grid)
        if "hidden" in baselines and "match_weights" in baselines:
            raise self.fail("space.baselines", "set hidden or match_weights, not both")
        spec = Spec(
            name=name,
            task=task,
            models=models,
            seeds=seeds,
            max_sequences=max_sequences,
            sampler=sampler,
            common={**common, **task_axes},
            lstm1997=lstm1997,
            baselines=baselines,
            task_param_names=tuple(task_axes),
            n_trials=n_trials,
            reading=reading,
            seed=self.integer(raw, "seed", 0, high=2**63 - 1) or 0,
            backend=backend,
            precision=precision,
            curve_points=self.integer(raw, "curve_points", 2, high=MAX_CURVE_POINTS) or 40,
            pruning=self.pruning(raw, seeds),
            per_model=per_model,
            paper_experiment=self.string(raw, "paper_experiment"),
            description=self.string(raw, "description") or "",
            file=self.file,
            source=text,
        )
        self.check_size(spec)
        ms.check_sizing(self, spec)
        return spec

    def check_size(self, spec: Spec) -> None:
        """Bound the number of trials: a grid's points, and n_trials against the distinct
        configurations a discrete search space holds (more would only repeat them)."""
        from study.space import n_distinct, n_grid_points

        if spec.sampler == "grid":
            n = n_grid_points(spec)
            if n > MAX_TRIALS:
                raise self.fail("space", f"the grid has {n:,} points; at most {MAX_TRIALS:,}")
            return
        distinct = n_distinct(spec)
        if distinct is not None and spec.n_trials is not None and spec.n_trials > distinct:
            raise self.fail(
                "n_trials",
                f"{spec.n_trials} trials but the space holds only {distinct} distinct "
                "configurations (a configuration never runs twice); lower n_trials or use "
                'sampler = "grid"',
            )

    # -- scalars -----------------------------------------------------------------------------
    @staticmethod
    def need(v: _T | None) -> _T:
        assert v is not None  # required=True raised already
        return v

    def string(self, raw: dict[str, Any], key: str, required: bool = False) -> str | None:
        if key not in raw:
            if required:
                raise self.fail(key, "missing")
            return None
        v = raw[key]
        if not isinstance(v, str) or (required and not v.strip()):
            raise self.fail(key, f"expected a non-empty string, got {_show(v)}")
        return v

    def integer(
        self, raw: dict[str, Any], key: str, low: int, required: bool = False, prefix: str = "",
        high: int | None = None,
    ) -> int | None:  # fmt: skip
        where = prefix + key
        if key not in raw:
            if required:
                raise self.fail(where, "missing")
            return None
        v = raw[key]
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(where, f"expected an integer, got {_show(v)}")
        if v < low:
            raise self.fail(where, f"must be >= {low}, got {v}")
        if high is not None and v > high:
            raise self.fail(where, f"must be <= {high:,}, got {v:,}")
        return v

    def table(self, raw: dict[str, Any], key: str) -> dict[str, Any] | None:
        if key not in raw:
            return None
        if not isinstance(raw[key], dict):
            raise self.fail(key, f"expected a table ([{key}]), got {_show(raw[key])}")
        return raw[key]

    def task(self, raw: dict[str, Any]) -> str:
        from workers.tasks import ALL_TASKS

        task = self.need(self.string(raw, "task", required=True))
        if task not in ALL_TASKS:
            raise self.fail("task", f"unknown task {task!r}; known: {', '.join(ALL_TASKS)}")
        return task

    def models(self, raw: dict[str, Any]) -> tuple[str, ...]:
        from models.names import MODEL_NAMES

        v = raw.get("models")
        if v is None:
            raise self.fail("models", "missing")
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not v:
            raise self.fail("models", f"expected a non-empty list of model names, got {_show(v)}")
        for m in v:
            if not isinstance(m, str):
                raise self.fail("models", f"expected model names (strings), got {_show(m)}")
            if m not in MODEL_NAMES:
                raise self.fail("models", f"unknown model {m!r}; known: {', '.join(MODEL_NAMES)}")
        if len(set(v)) != len(v):
            raise self.fail("models", "a model is listed twice")
        return tuple(v)

    def pruning(self, raw: dict[str, Any], seeds: int) -> Pruning | None:
        t = self.table(raw, "pruning")
        if t is None:
            return None
        known = ("pruner", "stage_seeds", "min_success", "n_startup_trials")
        for key in t:
            if key not in known:
                raise self.fail(f"pruning.{key}", f"unknown field; known: {', '.join(known)}")
        pruner = t.get("pruner")
        if pruner not in PRUNERS:
            raise self.fail("pruning.pruner", f"use {' or '.join(PRUNERS)}, got {_show(pruner)}")
        stage = self.need(self.integer(t, "stage_seeds", 1, required=True, prefix="pruning."))
        if stage >= seeds:
            raise self.fail("pruning.stage_seeds", f"must be below seeds ({seeds}), got {stage}")
        min_success = t.get("min_success", 0.0)
        if isinstance(min_success, bool) or not isinstance(min_success, int | float):
            raise self.fail("pruning.min_success", f"expected a number, got {_show(min_success)}")
        if not 0.0 <= min_success <= 1.0:
            raise self.fail("pruning.min_success", f"must be in [0, 1], got {min_success}")
        if pruner == "threshold" and "min_success" not in t:
            raise self.fail("pruning.min_success", "required for the threshold pruner")
        startup = self.integer(t, "n_startup_trials", 0, prefix="pruning.")
        return Pruning(pruner, stage, float(min_success), 5 if startup is None else startup)

    # -- axes --------------------------------------------------------------------------------
    def group(
        self, space: dict[str, Any], group: str, names: tuple[str, ...], grid: bool, used: bool
    ) -> dict[str, Axis]:
        t = space.get(group)
        if t is None:
            return {}
        where = f"space.{group}"
        if not isinstance(t, dict):
            raise self.fail(where, f"expected a table ([{where}]), got {_show(t)}")
        if t and not used:
            raise self.fail(where, "no model in models uses these parameters")
        for key in t:
            if key not in names:
                raise self.fail(f"{where}.{key}", f"unknown parameter; known: {', '.join(names)}")
        return {k: self.axis(f"{where}.{k}", v, k, grid) for k, v in t.items()}

    def task_axes(
        self, raw: dict[str, Any], space: dict[str, Any], task: str, grid: bool
    ) -> dict[str, Axis]:
        from workers.tasks import ALL_TASKS, make_task, task_params

        fixed = self.table(raw, "task_params") or {}
        swept = space.get("task") or {}
        if not isinstance(swept, dict):
            raise self.fail("space.task", f"expected a table ([space.task]), got {_show(swept)}")
        allowed = task_params(task)
        axes: dict[str, Axis] = {}
        for where, table in (("task_params", fixed), ("space.task", swept)):
            for k, v in table.items():
                if k not in allowed:
                    known = ", ".join(allowed) or "(none)"
                    raise self.fail(f"{where}.{k}", f"not a parameter of {task!r} ({known})")
                if k in axes:
                    raise self.fail(f"{where}.{k}", "set in both [task_params] and [space.task]")
                if where == "task_params" and isinstance(v, list | dict):
                    raise self.fail(f"{where}.{k}", "fixed values only; sweep it in [space.task]")
                if k in getattr(ALL_TASKS[task], "path_params", ()):
                    v = self.path(v)  # a data file (csv task): relative to the spec's folder
                axes[k] = self.axis(f"{where}.{k}", v, k, grid)
        # every value must build the task together with the other parameters' first values
        base = {k: (a.values[0] if isinstance(a, Choice) else a.low) for k, a in axes.items()}
        for k, a in axes.items():
            values = a.values if isinstance(a, Choice) else (a.low, a.high)
            where = f"task_params.{k}" if k in fixed else f"space.task.{k}"
            for v in values:
                try:
                    make_task(task, **{**base, k: v})
                except (ValueError, TypeError) as e:
                    raise self.fail(where, str(e)) from None
        return axes

    def path(self, v: Any) -> Any:
        """A file path parameter, made absolute against the spec file's folder (lists too)."""
        if isinstance(v, list):
            return [self.path(x) for x in v]
        if not isinstance(v, str) or not v.strip() or os.path.isabs(v):
            return v  # make_task reports a wrong type or an empty path
        return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(self.file)), v))

    def axis(self, where: str, v: Any, name: str, grid: bool) -> Axis:
        if isinstance(v, dict):
            if grid:
                raise self.fail(where, "a range needs a tpe/random/qmc sampler; list grid values")
            return self.range(where, v, name)
        values = v if isinstance(v, list) else [v]
        if not values:
            raise self.fail(where, "empty list: the grid would have no points")
        for x in values:
            self.check_value(where, name, x)
        seen: dict[tuple[str, Any], Any] = {}
        for x in values:
            key = _normal(x)
            if key in seen:
                raise self.fail(where, f"{_show(x)} repeats {_show(seen[key])}: same value twice")
            seen[key] = x
        return Choice(tuple(float(x) if name in _COMMON else x for x in values))

    def check_value(self, where: str, name: str, x: Any) -> None:
        from models.layout import Gates
        from models.names import GATE_BIAS_MODES, GRADIENTS

        gates = typing.get_args(Gates)
        choices = {"gates": gates, "gate_bias": GATE_BIAS_MODES, "gradient": GRADIENTS}
        if name in _COMMON:
            if isinstance(x, bool) or not isinstance(x, int | float):
                raise self.fail(where, f"expected a number, got {_show(x)}")
            if not (math.isfinite(x) and x > 0):
                raise self.fail(where, f"must be a positive number, got {x}")
        elif name in ("blocks", "cells_per_block", "hidden", "match_weights"):
            if isinstance(x, bool) or not isinstance(x, int):
                raise self.fail(where, f"expected an integer, got {_show(x)}")
            if x < 1:
                raise self.fail(where, f"must be >= 1, got {x}")
            high = MAX_MATCH_WEIGHTS if name == "match_weights" else MAX_UNITS
            if x > high:
                raise self.fail(where, f"must be <= {high:,}, got {x:,}")
        elif name in choices:
            if x not in choices[name]:
                raise self.fail(where, f"must be one of {', '.join(choices[name])}, got {_show(x)}")
        elif name in ms.new_names():
            problem = ms.check_value(where, name, x)
            if problem:
                raise self.fail(where, problem)
        elif name == "forget_gate":
            if not isinstance(x, bool):
                raise self.fail(where, f"expected true or false, got {_show(x)}")
        elif not isinstance(x, bool | int | float | str):  # task parameters: make_task checks
            raise self.fail(where, f"expected a number, string or boolean, got {_show(x)}")

    def range(self, where: str, t: dict[str, Any], name: str) -> Range:
        for key in t:
            if key not in ("low", "high", "log", "step"):
                raise self.fail(f"{where}.{key}", "unknown field; known: low, high, log, step")
        if name in ("gates", "gate_bias", "gradient", "forget_gate", *ms.CATEGORICAL):
            raise self.fail(where, "a categorical parameter takes a value or a list, not a range")
        for key in ("low", "high"):
            if key not in t:
                raise self.fail(f"{where}.{key}", "missing")
            self.check_value(f"{where}.{key}", name, t[key])
        low, high, log, step = t["low"], t["high"], t.get("log", False), t.get("step")
        if not isinstance(log, bool):
            raise self.fail(f"{where}.log", f"expected true or false, got {_show(log)}")
        integer = (
            isinstance(low, int)
            and isinstance(high, int)
            and name not in (*_COMMON, "dropout", "forget_bias")
        )
        if not low < high:
            raise self.fail(where, f"low must be below high, got {low} >= {high}")
        if log and low <= 0:
            raise self.fail(where, "a log range needs low > 0")
        if step is not None:
            if isinstance(step, bool) or not isinstance(step, int | float) or step <= 0:
                raise self.fail(f"{where}.step", f"expected a positive number, got {_show(step)}")
            if log:
                raise self.fail(f"{where}.step", "step and log cannot be combined")
            if integer and not isinstance(step, int):
                raise self.fail(f"{where}.step", "an integer range needs an integer step")
        return Range(float(low), float(high), log, None if step is None else step, integer)


def _normal(x: Any) -> tuple[str, Any]:
    """The value as the trainer sees it: 1, 1.0 and 1e0 are one learning rate."""
    if isinstance(x, bool):
        return ("bool", x)
    if isinstance(x, int | float):
        return ("num", float(x))
    return (type(x).__name__, x)


def _show(v: Any) -> str:
    return f"{v!r} ({type(v).__name__})"
