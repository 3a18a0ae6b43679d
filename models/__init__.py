"""The 1997 LSTM (memory blocks around a constant error carousel), the baseline nets, the
review's successors (TCN, Transformer), and the registry that builds them by name.

The public names below are loaded on first use (PEP 562), so `models.names` (what a spec may
name) imports without torch while ``from models import Lstm1997`` still works."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "models.baselines": (
        "GRU", "Baseline", "BaselineKind", "Elman", "LstmForget", "baseline_weights",
        "hidden_for_weights", "init_baseline", "stored_weights",
    ),
    "models.layout": ("Lstm1997Layout", "init_weights"),
    "models.lstm1997": ("Lstm1997", "squash"),
    "models.registry": (
        "MODELS", "SUCCESSORS", "ModelSpecLike", "PaperSetupLike", "build_model", "describe",
        "lstm1997_layout",
    ),
    "models.tcn": ("TCN",),
    "models.transformer": ("Transformer",),
}  # fmt: skip
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'models' has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value
    return value
