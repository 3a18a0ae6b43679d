"""Helpers shared by the task files: parameter checks and the two batch layouts the tasks use.

* :func:`end_batch`: error only at the sequence end (``E == 1``, Exp. 2c-6).
* :func:`next_symbol_batch`: one-hot symbol streams with a next-symbol target at every step
  (Exp. 1, 2a, 2b).

Everything is vectorised over sequences and steps; nothing here draws random numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workers.tasks.base import SequenceBatch


def check_int(task: str, name: str, value: object, lo: int, hi: int | None = None) -> int:
    """``value`` as a plain int in ``[lo, hi]``, else a ValueError naming ``task`` and ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{task}: parameter {name!r} must be an integer, got {value!r}")
    v = int(value)
    if v < lo or (hi is not None and v > hi):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{task}: parameter {name!r} must be {rng}, got {v}")
    return v


def step_mask(lengths: np.ndarray, T: int) -> np.ndarray:
    """(n, T) bool: True on the real steps ``t < lengths[i]``."""
    return np.arange(T)[None, :] < lengths[:, None]


def one_hot_inputs(sym: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sparse one-hot inputs (A = 1) for a padded (n, T) symbol array; padding is (0, 0.0)."""
    mask = step_mask(lengths, sym.shape[1])
    idx = np.where(mask, sym, 0).astype(np.int32)[:, :, None]  # (n, T, 1)
    val = mask.astype(np.float64)[:, :, None]  # (n, T, 1)
    return idx, val


def one_hot(classes: np.ndarray, n_classes: int, on: float = 1.0) -> np.ndarray:
    """(n, n_classes) float64 one-hot rows of ``classes`` (n,)."""
    out = np.zeros((classes.shape[0], n_classes))
    out[np.arange(classes.shape[0]), classes] = on
    return out


def end_batch(
    idx: np.ndarray,
    val: np.ndarray,
    lengths: np.ndarray,
    targets: np.ndarray,
    n_inputs: int,
    clean_targets: np.ndarray | None = None,
    info: dict[str, Any] | None = None,
) -> SequenceBatch:
    """A batch with one error slot at the last step of each sequence; ``targets`` is (n, O)."""
    return SequenceBatch(
        idx=idx,
        val=val,
        lengths=lengths.astype(np.int32),
        targets=targets[:, None, :].astype(np.float64),  # (n, 1, O)
        target_steps=(lengths - 1).astype(np.int32)[:, None],  # (n, 1)
        n_inputs=n_inputs,
        clean_targets=None if clean_targets is None else clean_targets[:, None, :],
        info=info or {},
    )


def next_symbol_batch(
    sym: np.ndarray,
    lengths: np.ndarray,
    n_symbols: int,
    legal: np.ndarray | None = None,
    info: dict[str, Any] | None = None,
) -> SequenceBatch:
    """Next-symbol prediction: the whole string is input; slot ``e`` sits at step ``e`` and its
    target is the one-hot of symbol ``e + 1``. The last symbol has no successor, so slot
    ``lengths - 1`` (and every padded slot) is unused (``-1``). ``E == T``."""
    n, T = sym.shape
    idx, val = one_hot_inputs(sym, lengths)
    used = step_mask(lengths - 1, T)  # (n, T): steps that have a successor
    rows, steps = np.nonzero(used)
    targets = np.zeros((n, T, n_symbols))
    targets[rows, steps, sym[rows, steps + 1]] = 1.0
    target_steps = np.where(used, np.arange(T, dtype=np.int32)[None, :], -1).astype(np.int32)
    return SequenceBatch(
        idx=idx,
        val=val,
        lengths=lengths.astype(np.int32),
        targets=targets,
        target_steps=target_steps,
        n_inputs=n_symbols,
        legal=legal,
        info=info or {},
    )
