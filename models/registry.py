"""Build K nets of any model family by name, from a model spec, a task's paper setup and K rngs.

`build_model` is the one place where a spec (``workers.config.ModelSpec``) and the task's paper
configuration (``workers.tasks.base.PaperSetup``, one row of Table 10) become a torch module. The
models package must not import ``workers``, so both arrive as any objects with the right attribute
names (`ModelSpecLike`, `PaperSetupLike`).

Resolution rules:

* ``lstm1997``: every unset topology field of the spec (blocks, cells per block, gates) takes the
  paper setup's value; connectivity, bias units and g/h always come from the setup. Gate biases:
  ``"paper"`` = the setup's staggered input/output gate biases (Table 10 igb/ogb; "r" stays
  random), ``"zero"`` = every gate bias 0, ``"random"`` = no override (uniform like all weights).
  A forget gate (Gers 2000, not in the paper) keeps a random bias except under ``"zero"`` or
  an explicit ``forget_bias``.
* baselines (``elman``, ``gru``, ``lstm_forget``): ``spec.hidden`` if set, else the hidden size
  whose weight count is closest to ``spec.match_weights``, else to the weight count of the 1997
  net this same spec would build (paper setup plus the spec's blocks/cells/gates overrides).

Seed k's weights come from ``rngs[k]`` alone (a fixed draw order), so a seed builds the same net
whether it is trained alone or in a batch.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from models.baselines import (
    BASELINES,
    Baseline,
    baseline_weights,
    hidden_for_weights,
    init_baseline,
)
from models.layout import Lstm1997Layout, init_weights
from models.lstm1997 import Lstm1997

MODELS: dict[str, type[nn.Module]] = {"lstm1997": Lstm1997, **BASELINES}
"""Model classes by registry name: lstm1997, elman, gru, lstm_forget."""

GATE_BIAS_MODES = ("paper", "zero", "random")
GRADIENTS = ("truncated", "full")


class ModelSpecLike(Protocol):
    """The attributes of ``workers.config.ModelSpec`` that building a model reads."""

    @property
    def name(self) -> str: ...
    @property
    def blocks(self) -> int | None: ...
    @property
    def cells_per_block(self) -> int | None: ...
    @property
    def gates(self) -> str | None: ...
    @property
    def gate_bias(self) -> str: ...
    @property
    def gradient(self) -> str: ...
    @property
    def forget_gate(self) -> bool: ...
    @property
    def hidden(self) -> int | None: ...
    @property
    def match_weights(self) -> int | None: ...


class PaperSetupLike(Protocol):
    """The attributes of ``workers.tasks.base.PaperSetup`` (a Table 10 row) used here."""

    @property
    def blocks(self) -> int: ...
    @property
    def cells_per_block(self) -> int: ...
    @property
    def connectivity(self) -> str: ...
    @property
    def bias(self) -> str: ...
    @property
    def input_gate_bias(self) -> tuple[float, ...] | None: ...
    @property
    def output_gate_bias(self) -> tuple[float, ...] | None: ...
    @property
    def gates(self) -> str: ...
    @property
    def g(self) -> str: ...
    @property
    def h(self) -> str: ...


def _check_name(name: str) -> None:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(MODELS)}")


def lstm1997_layout(
    spec: ModelSpecLike, setup: PaperSetupLike, n_inputs: int, n_outputs: int
) -> Lstm1997Layout:
    """The 1997 layout of ``spec``: its topology overrides on top of the paper setup."""
    for field in ("blocks", "cells_per_block"):
        v = getattr(spec, field)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValueError(f"{field} must be a positive integer or None, got {v!r}")
    return Lstm1997Layout(
        n_inputs=n_inputs,
        n_outputs=n_outputs,
        blocks=spec.blocks if spec.blocks is not None else setup.blocks,
        cells_per_block=(
            spec.cells_per_block if spec.cells_per_block is not None else setup.cells_per_block
        ),
        gates=(spec.gates if spec.gates is not None else setup.gates),  # type: ignore[arg-type]
        forget_gate=bool(spec.forget_gate),
        connectivity=setup.connectivity,  # type: ignore[arg-type]
        bias=setup.bias,  # type: ignore[arg-type]
    )


def _check_lstm1997(spec: ModelSpecLike, setup: PaperSetupLike) -> None:
    if spec.gate_bias not in GATE_BIAS_MODES:
        raise ValueError(f"gate_bias must be one of {GATE_BIAS_MODES}, got {spec.gate_bias!r}")
    if spec.gradient not in GRADIENTS:
        raise ValueError(f"gradient must be one of {GRADIENTS}, got {spec.gradient!r}")
    if setup.g not in ("g2", "g1") or setup.h not in ("h1", "id"):
        raise ValueError(f"setup squashing must be g2/g1 and h1/id, got {setup.g!r}/{setup.h!r}")


def _baseline_hidden(
    spec: ModelSpecLike, setup: PaperSetupLike, n_inputs: int, n_outputs: int
) -> tuple[int, int | None]:
    """(hidden, weight count it was matched to or None when ``spec.hidden`` was given)."""
    if spec.hidden is not None:
        if isinstance(spec.hidden, bool) or not isinstance(spec.hidden, int) or spec.hidden < 1:
            raise ValueError(f"hidden must be a positive integer or None, got {spec.hidden!r}")
        return spec.hidden, None
    if spec.match_weights is not None:
        target = spec.match_weights
        if isinstance(target, bool) or not isinstance(target, int) or target < 1:
            raise ValueError(f"match_weights must be a positive integer, got {target!r}")
    else:
        target = lstm1997_layout(spec, setup, n_inputs, n_outputs).n_weights
    return hidden_for_weights(spec.name, n_inputs, n_outputs, target), target


def describe(
    spec: ModelSpecLike, setup: PaperSetupLike, n_inputs: int, n_outputs: int
) -> dict[str, Any]:
    """The resolved topology and weight count of one net, without building anything.

    Raises the same ValueErrors as `build_model` for an unknown name or invalid topology.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> spec = NS(name="lstm1997", blocks=None, cells_per_block=None, gates=None,
        ...           gate_bias="paper", gradient="truncated", forget_gate=False,
        ...           hidden=None, match_weights=None)
        >>> setup = NS(blocks=2, cells_per_block=2, connectivity="F", bias="all", gates="both",
        ...            input_gate_bias=(-3.0, -6.0), output_gate_bias=None, g="g2", h="h1")
        >>> describe(spec, setup, n_inputs=2, n_outputs=1)["weights"]  # Exp. 4, Table 10
        93
    """
    _check_name(spec.name)
    if spec.name == "lstm1997":
        _check_lstm1997(spec, setup)
        lay = lstm1997_layout(spec, setup, n_inputs, n_outputs)
        return {
            "name": spec.name,
            "weights": lay.n_weights,
            "n_inputs": n_inputs,
            "n_outputs": n_outputs,
            "blocks": lay.blocks,
            "cells_per_block": lay.cells_per_block,
            "gates": lay.gates,
            "forget_gate": lay.forget_gate,
            "connectivity": lay.connectivity,
            "bias": lay.bias,
            "gate_bias": spec.gate_bias,
            "g": setup.g,
            "h": setup.h,
            "gradient": spec.gradient,
        }
    hidden, target = _baseline_hidden(spec, setup, n_inputs, n_outputs)
    return {
        "name": spec.name,
        "weights": baseline_weights(spec.name, hidden, n_inputs, n_outputs),
        "n_inputs": n_inputs,
        "n_outputs": n_outputs,
        "hidden": hidden,
        "matched_to": target,
        "gradient": "full",
    }


def _gate_biases(
    spec: ModelSpecLike, setup: PaperSetupLike, blocks: int
) -> tuple[tuple[float, ...] | None, tuple[float, ...] | None, float | None]:
    """(input, output, forget) gate bias overrides for `models.layout.init_weights`."""
    if spec.gate_bias == "paper":
        return setup.input_gate_bias, setup.output_gate_bias, None
    if spec.gate_bias == "zero":
        return (0.0,) * blocks, (0.0,) * blocks, 0.0
    return None, None, None


def build_model(
    spec: ModelSpecLike,
    setup: PaperSetupLike,
    n_inputs: int,
    n_outputs: int,
    rngs: list[np.random.Generator],
    init_range: float,
    dtype: torch.dtype = torch.float64,
    forget_bias: float | None = None,
) -> Lstm1997 | Baseline:
    """K = ``len(rngs)`` initialised nets of ``spec.name`` in one module.

    Args:
        spec: model family and topology (``workers.config.ModelSpec``).
        setup: the task's paper configuration (``workers.tasks.base.PaperSetup``).
        n_inputs, n_outputs: the task's input and output units.
        rngs: one numpy Generator per seed; net k draws only from ``rngs[k]``.
        init_range: initial weights uniform in ``[-init_range, init_range]``.
        dtype: float64 for tests and the oracle, float32 for speed.
        forget_bias: initial forget-gate bias of ``lstm_forget`` and of a 1997 net with
            ``forget_gate=True`` (1.0 is the common modern choice); ``None`` = no override
            (random like every weight, or 0 under ``gate_bias="zero"``).

    Returns:
        A `Lstm1997`, `Elman`, `GRU` or `LstmForget` with ``K = len(rngs)``.
    """
    if not rngs:
        raise ValueError("rngs must hold at least one Generator (one per seed)")
    if not init_range > 0:
        raise ValueError(f"init_range must be > 0, got {init_range}")
    info = describe(spec, setup, n_inputs, n_outputs)  # validates everything first
    K = len(rngs)
    if spec.name == "lstm1997":
        lay = lstm1997_layout(spec, setup, n_inputs, n_outputs)
        igb, ogb, fgb = _gate_biases(spec, setup, lay.blocks)
        fgb = fgb if forget_bias is None else forget_bias
        nets = [init_weights(lay, rng, init_range, igb, ogb, fgb) for rng in rngs]
        model = Lstm1997(lay, K=K, g=setup.g, h=setup.h, gradient=spec.gradient, dtype=dtype)  # type: ignore[arg-type]
        model.load(np.stack([Wh for Wh, _ in nets]), np.stack([Wo for _, Wo in nets]))
        return model
    hidden = int(info["hidden"])
    fb = forget_bias if spec.name == "lstm_forget" else None
    baseline = BASELINES[spec.name](n_inputs, n_outputs, hidden, K=K, dtype=dtype)
    baseline.load_seeds(
        [init_baseline(spec.name, hidden, n_inputs, n_outputs, rng, init_range, fb) for rng in rngs]
    )
    return baseline
