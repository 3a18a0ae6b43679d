"""The 1997 LSTM (memory blocks around a constant error carousel), the baseline nets, the
review's successors (TCN, Transformer), and the registry that builds them by name."""

from models.baselines import (
    GRU,
    Baseline,
    BaselineKind,
    Elman,
    LstmForget,
    baseline_weights,
    hidden_for_weights,
    init_baseline,
    stored_weights,
)
from models.layout import Lstm1997Layout, init_weights
from models.lstm1997 import Lstm1997, squash
from models.registry import (
    MODELS,
    SUCCESSORS,
    ModelSpecLike,
    PaperSetupLike,
    build_model,
    describe,
    lstm1997_layout,
)
from models.tcn import TCN
from models.transformer import Transformer

__all__ = [
    "GRU",
    "MODELS",
    "SUCCESSORS",
    "TCN",
    "Baseline",
    "BaselineKind",
    "Elman",
    "Lstm1997",
    "Lstm1997Layout",
    "LstmForget",
    "ModelSpecLike",
    "PaperSetupLike",
    "Transformer",
    "baseline_weights",
    "build_model",
    "describe",
    "hidden_for_weights",
    "init_baseline",
    "init_weights",
    "lstm1997_layout",
    "squash",
    "stored_weights",
]
