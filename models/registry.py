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
  A forget gate (Gers 2000, not in the paper) starts at ``forget_bias`` when set, else at
  +1.0 under ``"paper"`` (`DEFAULT_FORGET_BIAS`, as ``lstm_forget``'s: a bias near 0 halves the
  state every step, and the net cannot hold anything over the paper's lags), 0 under
  ``"zero"`` and random under ``"random"``.
* baselines (``elman``, ``gru``, ``lstm_forget``): ``spec.hidden`` if set, else the hidden size
  whose weight count is closest to ``spec.match_weights``, else to the weight count of the 1997
  net this same spec would build (paper setup plus the spec's blocks/cells/gates overrides).
  Counts are *effective* parameters (`models.baselines.baseline_weights`: one bias per gate unit,
  not torch's b_ih and b_hh twice). ``lstm_forget``'s forget-gate bias starts at
  ``spec.forget_bias`` (default +1.0, Gers et al. 2000 / Jozefowicz et al. 2015).
* successors (``tcn``, ``transformer``; `models.tcn`, `models.transformer`): the same sizing rule
  on their width (TCN ``channels``, Transformer ``width``, a multiple of ``heads``), the other
  topology fields fixed by the spec or their defaults (TCN: kernel 3, dropout 0, the fewest
  levels whose receptive field covers the task's longest sequence ``seq_len``; Transformer: 1
  layer, 2 heads, causal attention, sinusoidal positions).

Seed k's weights come from ``rngs[k]`` alone (a fixed draw order), so a seed builds the same net
whether it is trained alone or in a batch.

Size note: ~410 lines, just over the usual ~400: the sizing rule of every family (the 1997 net,
three baselines, two successors) is here so that "matched at W weights" means one thing.
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
from models.names import GATE_BIAS_MODES, GRADIENTS
from models.tcn import TCN, init_tcn, levels_for, receptive_field, tcn_shapes, tcn_weights
from models.transformer import (
    Transformer,
    init_transformer,
    transformer_shapes,
    transformer_weights,
    width_for_weights,
)

SUCCESSORS: dict[str, type[nn.Module]] = {"tcn": TCN, "transformer": Transformer}
"""The review's successors (Bai et al. 2018; Vaswani et al. 2017), trained through torch only."""
MODELS: dict[str, type[nn.Module]] = {"lstm1997": Lstm1997, **BASELINES, **SUCCESSORS}
"""Model classes by registry name: lstm1997, elman, gru, lstm_forget, tcn, transformer."""
DEFAULT_FORGET_BIAS = 1.0
"""lstm_forget's initial forget-gate bias unless the spec sets one (Gers et al. 2000)."""
TCN_DEFAULTS = {"kernel_size": 3, "dropout": 0.0, "levels": 4}
"""TCN topology defaults; ``levels`` only when no sequence length is known."""
TRANSFORMER_DEFAULTS = {"layers": 1, "heads": 2, "attention": "causal", "positions": "sinusoidal"}
"""Transformer topology defaults."""


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


def _opt(spec: ModelSpecLike, name: str, default: Any = None) -> Any:
    """A spec field newer than `ModelSpecLike` (successor topology, forget_bias), or default."""
    v = getattr(spec, name, None)
    return default if v is None else v


def _positive(name: str, v: Any, low: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    return v


def _target(spec: ModelSpecLike, setup: PaperSetupLike, n_inputs: int, n_outputs: int) -> int:
    """The weight count a sized-by-matching net aims at."""
    if spec.match_weights is not None:
        target = spec.match_weights
        if isinstance(target, bool) or not isinstance(target, int) or target < 1:
            raise ValueError(f"match_weights must be a positive integer, got {target!r}")
        return target
    return lstm1997_layout(spec, setup, n_inputs, n_outputs).n_weights


def _closest(count: Any, target: int, start: int = 1, step: int = 1) -> int:
    """The size (start, start + step, ...) whose ``count(size)`` is closest to target; ties go
    to the smaller net. ``count`` grows strictly with the size."""
    best, gap, size = start, float("inf"), start
    while True:
        n = count(size)
        if abs(n - target) < gap:
            best, gap = size, abs(n - target)
        if n >= target:
            return best
        size += step


def _tcn_topology(
    spec: ModelSpecLike, setup: PaperSetupLike, n_inputs: int, n_outputs: int, seq_len: int | None
) -> dict[str, Any]:
    k = _positive("kernel_size", _opt(spec, "kernel_size", TCN_DEFAULTS["kernel_size"]), 2)
    if _opt(spec, "levels") is not None:
        levels = _positive("levels", spec.levels)  # type: ignore[attr-defined]
    else:
        levels = levels_for(seq_len, k) if seq_len else int(TCN_DEFAULTS["levels"])
    dropout = float(_opt(spec, "dropout", TCN_DEFAULTS["dropout"]))
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    target: int | None = None
    if _opt(spec, "channels") is not None:
        channels = _positive("channels", spec.channels)  # type: ignore[attr-defined]
    else:
        target = _target(spec, setup, n_inputs, n_outputs)
        channels = _closest(lambda c: tcn_weights(n_inputs, n_outputs, c, levels, k), target)
    return {
        "channels": channels,
        "levels": levels,
        "kernel_size": k,
        "dropout": dropout,
        "receptive_field": receptive_field(levels, k),
        "matched_to": target,
        "weights": tcn_weights(n_inputs, n_outputs, channels, levels, k),
    }


def _transformer_topology(
    spec: ModelSpecLike, setup: PaperSetupLike, n_inputs: int, n_outputs: int, seq_len: int | None
) -> dict[str, Any]:
    layers = _positive("layers", _opt(spec, "layers", TRANSFORMER_DEFAULTS["layers"]))
    heads = _positive("heads", _opt(spec, "heads", TRANSFORMER_DEFAULTS["heads"]))
    attention = _opt(spec, "attention", TRANSFORMER_DEFAULTS["attention"])
    positions = _opt(spec, "positions", TRANSFORMER_DEFAULTS["positions"])
    if attention not in ("causal", "full"):
        raise ValueError(f"attention must be causal or full, got {attention!r}")
    if positions not in ("sinusoidal", "learned"):
        raise ValueError(f"positions must be sinusoidal or learned, got {positions!r}")
    max_len = max(int(seq_len or 1), 1)
    target: int | None = None
    if _opt(spec, "width") is not None:
        width = _positive("width", spec.width)  # type: ignore[attr-defined]
        if width % heads:
            raise ValueError(f"width ({width}) must be a multiple of heads ({heads})")
    else:
        target = _target(spec, setup, n_inputs, n_outputs)
        width = width_for_weights(n_inputs, n_outputs, layers, heads, positions, max_len, target)
    return {
        "width": width,
        "layers": layers,
        "heads": heads,
        "attention": attention,
        "positions": positions,
        "max_len": max_len,
        "matched_to": target,
        "weights": transformer_weights(n_inputs, n_outputs, width, layers, positions, max_len),
    }


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
    target = _target(spec, setup, n_inputs, n_outputs)
    return hidden_for_weights(spec.name, n_inputs, n_outputs, target), target


def describe(
    spec: ModelSpecLike,
    setup: PaperSetupLike,
    n_inputs: int,
    n_outputs: int,
    seq_len: int | None = None,
) -> dict[str, Any]:
    """The resolved topology and weight count of one net, without building anything.

    Raises the same ValueErrors as `build_model` for an unknown name or invalid topology.
    ``seq_len`` (the task's longest sequence) sizes a TCN's default levels and a learned
    position table; the recurrent nets ignore it.

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
    if spec.name == "tcn":
        topo = _tcn_topology(spec, setup, n_inputs, n_outputs, seq_len)
        return {"name": spec.name, "n_inputs": n_inputs, "n_outputs": n_outputs, **topo}
    if spec.name == "transformer":
        topo = _transformer_topology(spec, setup, n_inputs, n_outputs, seq_len)
        return {"name": spec.name, "n_inputs": n_inputs, "n_outputs": n_outputs, **topo}
    hidden, target = _baseline_hidden(spec, setup, n_inputs, n_outputs)
    info = {
        "name": spec.name,
        "weights": baseline_weights(spec.name, hidden, n_inputs, n_outputs),
        "n_inputs": n_inputs,
        "n_outputs": n_outputs,
        "hidden": hidden,
        "matched_to": target,
        "gradient": "full",
    }
    if spec.name == "lstm_forget":
        info["forget_bias"] = float(_opt(spec, "forget_bias", DEFAULT_FORGET_BIAS))
    return info


def _gate_biases(
    spec: ModelSpecLike, setup: PaperSetupLike, blocks: int
) -> tuple[tuple[float, ...] | None, tuple[float, ...] | None, float | None]:
    """(input, output, forget) gate bias overrides for `models.layout.init_weights`."""
    if spec.gate_bias == "paper":  # the paper has no forget gate: Gers et al.'s positive bias
        return setup.input_gate_bias, setup.output_gate_bias, DEFAULT_FORGET_BIAS
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
    seq_len: int | None = None,
) -> Lstm1997 | Baseline | TCN | Transformer:
    """K = ``len(rngs)`` initialised nets of ``spec.name`` in one module.

    Args:
        spec: model family and topology (``workers.config.ModelSpec``).
        setup: the task's paper configuration (``workers.tasks.base.PaperSetup``).
        n_inputs, n_outputs: the task's input and output units.
        rngs: one numpy Generator per seed; net k draws only from ``rngs[k]``.
        init_range: initial weights uniform in ``[-init_range, init_range]``.
        dtype: float64 for tests and the oracle, float32 for speed.
        forget_bias: initial forget-gate bias of a 1997 net with ``forget_gate=True`` and of
            ``lstm_forget`` (overrides ``spec.forget_bias``); ``None`` = the spec's value:
            ``lstm_forget`` +1.0 by default, a 1997 forget gate +1.0 under ``gate_bias="paper"``
            (0 under ``"zero"``, random like every weight under ``"random"``).
        seq_len: the task's longest sequence (see `describe`).

    Returns:
        A `Lstm1997`, `Elman`, `GRU`, `LstmForget`, `TCN` or `Transformer`, ``K = len(rngs)``.
    """
    if not rngs:
        raise ValueError("rngs must hold at least one Generator (one per seed)")
    if not init_range > 0:
        raise ValueError(f"init_range must be > 0, got {init_range}")
    info = describe(spec, setup, n_inputs, n_outputs, seq_len)  # validates everything first
    K = len(rngs)
    if spec.name == "tcn":
        tcn = TCN(
            n_inputs, n_outputs, info["channels"], info["levels"], info["kernel_size"],
            info["dropout"], K=K, dtype=dtype,
        )  # fmt: skip
        shapes = tcn_shapes(
            n_inputs, n_outputs, info["channels"], info["levels"], info["kernel_size"]
        )
        weights = [init_tcn(shapes, rng, init_range) for rng in rngs]
        tcn.load_seeds(weights, [int(rng.integers(2**62)) for rng in rngs])  # dropout streams
        return tcn
    if spec.name == "transformer":
        tf = Transformer(
            n_inputs, n_outputs, info["width"], info["layers"], info["heads"], info["attention"],
            info["positions"], info["max_len"], K=K, dtype=dtype,
        )  # fmt: skip
        shapes = transformer_shapes(
            n_inputs, n_outputs, info["width"], info["layers"], info["positions"], info["max_len"]
        )
        tf.load_seeds([init_transformer(shapes, rng, init_range) for rng in rngs])
        return tf
    if spec.name == "lstm1997":
        lay = lstm1997_layout(spec, setup, n_inputs, n_outputs)
        igb, ogb, fgb = _gate_biases(spec, setup, lay.blocks)
        if forget_bias is None and getattr(spec, "forget_bias", None) is not None:
            forget_bias = float(spec.forget_bias)  # type: ignore[attr-defined]
        fgb = fgb if forget_bias is None else forget_bias
        nets = [init_weights(lay, rng, init_range, igb, ogb, fgb) for rng in rngs]
        model = Lstm1997(lay, K=K, g=setup.g, h=setup.h, gradient=spec.gradient, dtype=dtype)  # type: ignore[arg-type]
        model.load(np.stack([Wh for Wh, _ in nets]), np.stack([Wo for _, Wo in nets]))
        return model
    hidden = int(info["hidden"])
    fb = None
    if spec.name == "lstm_forget":
        fb = float(info["forget_bias"]) if forget_bias is None else forget_bias
    baseline = BASELINES[spec.name](n_inputs, n_outputs, hidden, K=K, dtype=dtype)
    baseline.load_seeds(
        [init_baseline(spec.name, hidden, n_inputs, n_outputs, rng, init_range, fb) for rng in rngs]
    )
    return baseline
