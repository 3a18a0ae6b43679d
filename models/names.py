"""What a spec may name: the registered models and the 1997 net's option values. Plain data,
importable without torch, so parsing and validating a spec stays light (`study.validate`);
`models.registry` builds from the same names (a test holds the two together)."""

from __future__ import annotations

MODEL_NAMES = ("lstm1997", "elman", "gru", "lstm_forget", "tcn", "transformer")
"""Registry names, in the registry's order."""
GATE_BIAS_MODES = ("paper", "zero", "random")
"""How the 1997 net's gate biases start: the paper's per-block schedule, zero, or random."""
GRADIENTS = ("truncated", "full")
"""The 1997 net's gradient: the paper's truncated one, or full BPTT through the gates."""
