"""Per-model search-space sections and the training-protocol axis of a spec.

Besides ``[space]`` (every model), ``[space.lstm1997]`` and ``[space.baselines]`` (elman, gru,
lstm_forget together), a spec may give any model a section of its own::

    protocol = "modern"          # every trial; or sweep: [space] protocol = ["paper", "modern"]

    [space]
    lr = [0.1, 1.0, 10.0]        # every model, unless its section sets its own

    [space.gru]
    lr = [0.01, 0.1, 1.0]        # gru trials sweep these instead (a per-model lr axis)

    [space.lstm_forget]
    forget_bias = [0.0, 1.0, 2.0]

    [space.tcn]
    kernel_size = [3, 5]         # also levels, channels, dropout, match_weights
    protocol = "modern"

    [space.transformer]
    layers = [1, 2]              # also heads, width, attention, positions, match_weights

Precedence for a model's trials: ``[space]`` < its group (``[space.lstm1997]`` or
``[space.baselines]``) < its own section; a name set in a narrower section replaces the wider
one. A section's parameters reach Optuna as ``<section>.<name>`` (``gru.lr``, ``tcn.levels``),
since one Optuna study cannot give one parameter name two value lists; carousel's own tables
(and so the dashboard's maps) store the plain name (``lr``), so a map's lr axis shows each model
at its own learning rates. ``protocol`` unset: each family's default (`workers.protocols`).
"""

from __future__ import annotations

from typing import Any

from workers.config import LR

RECURRENT_BASELINES = ("elman", "gru", "lstm_forget")
"""Models of ``[space.baselines]``."""
OVERRIDABLE = (LR, "init_range", "protocol")
"""Axes of every trial that a group or model section may set for its own trials."""
SECTION_PARAMS: dict[str, tuple[str, ...]] = {
    "elman": ("hidden", "match_weights"),
    "gru": ("hidden", "match_weights"),
    "lstm_forget": ("hidden", "match_weights", "forget_bias"),
    "tcn": ("kernel_size", "levels", "channels", "dropout", "match_weights"),
    "transformer": ("layers", "heads", "width", "attention", "positions", "match_weights"),
}
"""Parameters of each model's own section ``[space.<model>]`` (besides `OVERRIDABLE`)."""
CATEGORICAL = {
    "protocol": ("paper", "modern"),
    "update": ("sequence", "step"),
    "output_delta": ("paper", "no_fprime"),
    "construction": ("at_once", "sequential"),
    "attention": ("causal", "full"),
    "positions": ("sinusoidal", "learned"),
}
"""New parameters with a fixed set of values (never a range)."""
INTEGERS = {"kernel_size": 2, "levels": 1, "channels": 1, "layers": 1, "heads": 1, "width": 1}
"""New integer parameters and their least value."""


def canonical(name: str) -> str:
    """The parameter name carousel stores: ``gru.lr`` -> ``lr``, ``blocks`` -> ``blocks``."""
    return name.rsplit(".", 1)[-1]


def canonical_params(params: dict[str, Any]) -> dict[str, Any]:
    """A trial's params with section prefixes dropped (what `study.record` stores)."""
    return {canonical(k): v for k, v in params.items()}


def overlay(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra``'s axes; an axis of ``extra`` replaces base's of the same name."""
    names = {canonical(k) for k in extra}
    return {**{k: v for k, v in base.items() if canonical(k) not in names}, **extra}


def check_value(where: str, name: str, x: Any) -> str | None:
    """The problem with value ``x`` of a parameter this module adds, or None if fine."""
    if name in CATEGORICAL:
        if x not in CATEGORICAL[name]:
            return f"must be one of {', '.join(CATEGORICAL[name])}, got {x!r} ({type(x).__name__})"
        return None
    if name in INTEGERS:
        if isinstance(x, bool) or not isinstance(x, int):
            return f"expected an integer, got {x!r} ({type(x).__name__})"
        if x < INTEGERS[name]:
            return f"must be >= {INTEGERS[name]}, got {x}"
        return None
    if name in ("dropout", "forget_bias"):
        if isinstance(x, bool) or not isinstance(x, int | float):
            return f"expected a number, got {x!r} ({type(x).__name__})"
        if name == "dropout" and not 0.0 <= x < 1.0:
            return f"must be in [0, 1), got {x}"
        if name == "forget_bias" and not abs(x) < 1e6:
            return f"must be a finite number, got {x}"
    return None


def new_names() -> tuple[str, ...]:
    """Every parameter name this module validates."""
    return (*CATEGORICAL, *INTEGERS, "dropout", "forget_bias")


TOP_LEVEL_AXES = ("protocol", "update", "output_delta", "construction")
"""Axes a spec may set for every trial at the top level (one value) or sweep under ``[space]``:
the training protocol, the paper protocol's update moment (``sequence`` or ``step``; unset:
`workers.protocols.update_moment`'s default), the output delta (``paper`` or
``no_fprime``, a reproduction variant) and the 1997 net's construction (``at_once`` or
``sequential``; unset: the task's paper setup, `workers.construction`)."""


def top_level_axis(
    v: Any, raw: dict[str, Any], space: dict[str, Any], grid: bool, name: str
) -> dict[str, Any]:
    """The common axis ``name`` (`TOP_LEVEL_AXES`) from a top-level value or a ``[space]`` list
    (validator ``v`` of `study.validate`); empty when neither is set (the default)."""
    if name in raw and name in space:
        raise v.fail(name, "set at the top level or under [space], not both")
    if name in raw:
        if isinstance(raw[name], list | dict):
            raise v.fail(name, f"one value here; sweep a list under [space] {name}")
        return {name: v.axis(name, raw[name], name, grid)}
    if name in space:
        return {name: v.axis(f"space.{name}", space[name], name, grid)}
    return {}


def prefixed(group: str, axes: dict[str, Any]) -> dict[str, Any]:
    """A group's axes with its `OVERRIDABLE` ones renamed ``<group>.<name>`` for Optuna."""
    return {(f"{group}.{k}" if k in OVERRIDABLE else k): a for k, a in axes.items()}


def model_sections(
    v: Any, space: dict[str, Any], models: tuple[str, ...], grid: bool
) -> dict[str, dict[str, Any]]:
    """``[space.<model>]`` sections, validated by ``v`` (`study.validate.Validator`), their axes
    keyed ``<model>.<name>``."""
    out: dict[str, dict[str, Any]] = {}
    for model, names in SECTION_PARAMS.items():
        if model not in space:
            continue
        if model not in models:
            t = space[model]
            if isinstance(t, dict) and t:
                raise v.fail(f"space.{model}", f"{model} is not in models")
        axes = v.group(space, model, (*OVERRIDABLE, *names), grid, model in models)
        out[model] = {f"{model}.{k}": a for k, a in axes.items()}
    return out


def check_sizing(v: Any, spec: Any) -> None:
    """A model's trials may be sized by ``hidden`` or by ``match_weights``, not both."""
    for m in spec.models:
        names = {canonical(k) for k in spec.axes_for(m)}
        if {"hidden", "match_weights"} <= names:
            raise v.fail(f"space.{m}", "set hidden or match_weights, not both")
