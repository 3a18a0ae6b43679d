"""What a study will cost and whether its budget can work, before anything runs (``--dry-run``).

* :func:`budget_warnings`: the paper's mean sequences-to-solve for the task at the study's
  lags (``task.paper.paper_sequences``, from the paper's tables: Table 7's 74,000 for the adding
  problem at T = 100, ...) against the spec's ``max_sequences``. A budget below what the paper
  needed on average is named in a warning: such a study mostly measures the budget.
* :func:`probe`: trains each model once at the study's most expensive point (largest lag, largest
  size) for a few hundred sequences, twice, on this machine (``workers.trainer.train``, no Ray, no
  database), and fits ``seconds = fixed + per_sequence * sequences`` (the fixed part is set-up and
  the final test). The probe is bounded in time (``PROBE_BUDGET_S`` for all models): a model is
  first measured at a short lag, and only probed at the study's largest lag when that short
  measurement predicts it fits the model's share of the budget; otherwise the short-lag figures
  are scaled (a sequence's cost, the final test's too, is linear in its length).
* :func:`estimate_text`: wall time from the probe: every trial's seeds train their whole budget
  (an upper bound: a solved seed stops early, a pruned trial stops after its first stage), time
  scaled by the trial's lag over the probe's, trials spread over the workers.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from dataclasses import dataclass
from typing import Any

from study.space import MODEL_FIELDS, config_for, grid_points, n_planned
from study.spec import Choice, Range, Spec

PROBE_SEQUENCES = (200, 1500)
"""The two probe lengths (sequences per seed) of :func:`probe`."""
PROBE_BUDGET_S = 30.0
"""Seconds the probe of all models may take (it is over in seconds at the paper's lags)."""
SHORT_LAG = 100
"""The lag a model is first measured at when the study's largest lag is longer."""
COST_AXES = ("protocol", "gradient", "update", "forget_gate")
"""Axes that change how a trial trains (compiled kernel or autograd, on-line SGD or Adam on
mini-batches, the update moment; a forget gate takes the 1997 net off its compiled kernel), so
its cost per sequence, by an order of magnitude (the 1997 net's probe on 6a: 45,322
seed-sequences/s on-line, 2,920 under Adam): a model is probed at each combination of their
values in the spec, and each trial is charged its own combination's cost."""


def budget_warnings(spec: Spec) -> list[str]:
    """One line per lag at which ``max_sequences`` is below the paper's mean sequences-to-solve
    (none when the paper gives no figure for the task at that lag)."""
    from workers.tasks import make_task

    out = []
    for params in _task_settings(spec):
        try:
            need = make_task(spec.task, **params).paper.paper_sequences
        except (TypeError, ValueError):
            continue
        if need is None or spec.max_sequences >= need:
            continue
        at = ", ".join(f"{k}={v}" for k, v in params.items()) or "its default parameters"
        out.append(
            f"warning: the budget of {spec.max_sequences:,} sequences per seed is below the "
            f"{need:,.0f} sequences the paper needed on average to solve {spec.task} at {at}: "
            "expect few or no solved seeds (raise max_sequences)"
        )
    return out


def _task_settings(spec: Spec) -> list[dict[str, Any]]:
    """Every combination of the task's parameters the spec runs (fixed and swept)."""
    import itertools

    names = list(spec.task_param_names)
    values = []
    for n in names:
        axis = spec.common[n]
        if isinstance(axis, Choice):
            values.append(list(axis.values))
        else:  # a range: its ends
            lo, hi = (int(axis.low), int(axis.high)) if axis.integer else (axis.low, axis.high)
            values.append([lo, hi])
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]


@dataclass(frozen=True)
class Probe:
    """One model's measured cost on this machine at ``params``."""

    model: str
    params: dict[str, Any]
    fixed_s: float
    """Seconds per trial that do not grow with the budget (set-up, the final test)."""
    per_sequence_s: float
    """Seconds per training sequence of all ``seeds`` seeds together (they train as one)."""
    seeds: int
    lag: float | None
    """The lag the costs were measured at (the probe point's, or a shorter one, scaled)."""


def _largest(axis: Any) -> Any:
    if isinstance(axis, Range):
        return int(axis.high) if axis.integer else axis.high
    values = list(axis.values)
    numeric = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return max(numeric) if numeric else values[0]


def _bare(name: str) -> str:
    """An axis name without its model section (``tcn.match_weights`` -> ``match_weights``)."""
    return name.rsplit(".", 1)[-1]


def probe_point(spec: Spec, model: str) -> dict[str, Any]:
    """The most expensive configuration of ``model`` in the spec: every lag and size axis at its
    largest value (a model section's own axes too), the others at their first (a learning rate
    does not change the cost)."""
    params: dict[str, Any] = {"model": model}
    for name, axis in spec.axes_for(model).items():
        if name in spec.task_param_names or _bare(name) in MODEL_FIELDS:
            params[name] = _largest(axis)
        elif isinstance(axis, Range):
            params[name] = math.sqrt(axis.low * axis.high) if axis.log else axis.low
        else:
            params[name] = axis.values[0]
    return params


def probe_key(params: dict[str, Any]) -> str:
    """What a probe is filed under: the model and its values of the `COST_AXES`
    (``"gru protocol=modern"``); the model alone when the point has none."""
    cost = [f"{_bare(k)}={params[k]}" for k in sorted(params) if _bare(k) in COST_AXES]
    return " ".join([str(params["model"]), *cost])


def probe_points(spec: Spec) -> list[dict[str, Any]]:
    """:func:`probe_point` of every model at every combination of its `COST_AXES` values."""
    points = []
    for model in spec.models:
        base = probe_point(spec, model)
        cost = [
            (name, axis.values)
            for name, axis in spec.axes_for(model).items()
            if _bare(name) in COST_AXES and isinstance(axis, Choice)
        ]
        for combo in itertools.product(*(values for _, values in cost)):
            points.append({**base, **{name: v for (name, _), v in zip(cost, combo, strict=True)}})
    return points


def probe(
    spec: Spec, sequences: tuple[int, int] = PROBE_SEQUENCES, budget_s: float = PROBE_BUDGET_S
) -> dict[str, Probe]:
    """Measure every model of the spec at :func:`probe_points`, within about ``budget_s``
    seconds (see the module docstring); filed under :func:`probe_key`."""
    out = {}
    deadline = time.perf_counter() + budget_s
    points = probe_points(spec)
    for i, params in enumerate(points):
        share = max(deadline - time.perf_counter(), 0.0) / (len(points) - i)
        lag = params.get(spec.lag_param) if spec.lag_param else None
        short = _short_point(spec, params)
        if short is None:
            fixed, per = _measure(spec, params, sequences)
        else:
            fixed, per = _measure(spec, short, sequences)
            ratio = float(lag) / float(short[str(spec.lag_param)])  # type: ignore[arg-type]
            if ratio * (2 * fixed + per * sum(sequences)) <= share:
                fixed, per = _measure(spec, params, sequences)
            else:
                lag = short[str(spec.lag_param)]
        out[probe_key(params)] = Probe(str(params["model"]), params, fixed, per, spec.seeds, lag)
    return out


def _short_point(spec: Spec, params: dict[str, Any]) -> dict[str, Any] | None:
    """``params`` at ``SHORT_LAG`` when the probe point's lag is longer and the task takes that
    lag; None when the point is to be measured as it is."""
    from workers.tasks import make_task

    name = spec.lag_param
    lag = params.get(name) if name else None
    if name is None or not isinstance(lag, int | float) or lag <= SHORT_LAG:
        return None
    short = {**params, name: type(lag)(SHORT_LAG)}
    try:
        make_task(spec.task, **{k: short[k] for k in spec.task_param_names})
    except (TypeError, ValueError):
        return None
    return short


def _measure(spec: Spec, params: dict[str, Any], sequences: tuple[int, int]) -> tuple[float, float]:
    """(fixed seconds, seconds per sequence of all seeds) of one configuration on this machine."""
    from workers.trainer import train

    base = config_for(spec, params)
    train(dataclasses.replace(base, max_sequences=10, seeds=1))  # load the compiled kernels
    times = []
    for n in sequences:
        cfg = dataclasses.replace(base, max_sequences=n, reading="literal")
        t0 = time.perf_counter()
        train(cfg)
        times.append(time.perf_counter() - t0)
    (n1, n2), (t1, t2) = sequences, times
    per = (t2 - t1) / (n2 - n1)
    if per <= 0.1 * t2 / n2:  # timing noise (a loaded machine): charge all of it to training
        return 0.0, t2 / n2
    return max(t1 - per * n1, 0.0), per


def _trials_per_model(spec: Spec) -> dict[str, list[dict[str, Any]]]:
    if spec.sampler == "grid":
        per: dict[str, list[dict[str, Any]]] = {m: [] for m in spec.models}
        for p in grid_points(spec):
            per[str(p["model"])].append(p)
        return per
    n = n_planned(spec)
    share = {m: n // len(spec.models) + (i < n % len(spec.models)) for i, m in
             enumerate(spec.models)}  # fmt: skip
    return {m: [probe_point(spec, m)] * share[m] for m in spec.models}


def estimate_seconds(spec: Spec, probes: dict[str, Probe], workers: int) -> tuple[float, float]:
    """(wall seconds on ``workers`` workers, CPU seconds): every seed trains its whole budget."""
    cpu = 0.0
    longest = 0.0
    for model, points in _trials_per_model(spec).items():
        for p in points:
            pr = probes.get(probe_key(p)) or probes[model]  # or probes filed by model alone
            scale = 1.0
            if pr.lag and spec.lag_param and isinstance(p.get(spec.lag_param), int | float):
                scale = float(p[spec.lag_param]) / float(pr.lag)
            t = (pr.fixed_s + pr.per_sequence_s * spec.max_sequences) * scale  # linear in lag
            cpu += t
            longest = max(longest, t)
    return max(cpu / max(workers, 1), longest), cpu


def fmt_duration(seconds: float) -> str:
    """'1h 05m', '3m 20s', '12 s'."""
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s} s"


def estimate_text(spec: Spec, workers: int, probes: dict[str, Probe] | None = None) -> str:
    """The dry run's time estimate, with the probe it rests on (runs the probe if not given)."""
    t0 = time.perf_counter()
    probes = probes if probes is not None else probe(spec)
    took = time.perf_counter() - t0
    wall, cpu = estimate_seconds(spec, probes, workers)
    lines = [
        f"  time: at most {fmt_duration(wall)} on {workers} worker{'s' if workers != 1 else ''}"
        f" ({fmt_duration(cpu)} of CPU) if every seed trains its whole budget; solved seeds "
        "stop early" + (", pruned trials after their first stage" if spec.pruning else ""),
    ]
    for pr in probes.values():
        shown = ", ".join(
            f"{k}={v}" for k, v in pr.params.items() if (k != "model" and (_bare(k) in MODEL_FIELDS
            or _bare(k) in COST_AXES)) or k in spec.task_param_names
        )  # fmt: skip
        rate = pr.seeds / pr.per_sequence_s
        at = pr.params.get(spec.lag_param) if spec.lag_param else None
        scaled = f", measured at {spec.lag_param}={pr.lag} and scaled" if pr.lag != at else ""
        lines.append(
            f"    probe {pr.model} ({shown or 'paper setup'}, {pr.seeds} seeds{scaled}): "
            f"{rate:,.0f} seed-sequences/s, {pr.fixed_s:.1f} s per trial besides training"
        )
    lines.append(f"    (measured on this machine in {took:.1f} s)")
    return "\n".join(lines)
