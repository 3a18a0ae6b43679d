"""Compiled on-line SGD for K nets as SIMD lanes: the 1997 LSTM (`lstm1997`, truncated gradient
by forward accumulation) and the baselines (`baselines`, full BPTT), on shared helpers (`simd`).
Each family's compiled loop is a short orchestrator of named stages that follow its equations
(`lstm1997_stages`; `baselines_stages` and `baselines_bptt`), inlined into the loop by numba.

Both families are called alike: ``train_block(nets, block, n_seq, lr, out_y)`` and
``forward_block(nets, block, n_seq, out_y)``, with the family's ``Nets`` (weights and settings)
and one :class:`Block` of data, defined here so that importing it loads no numba.

numba compiles a kernel (or loads it from its on-disk cache) on its first call; import the module
you need (``from workers.kernels import lstm1997``)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Block(NamedTuple):
    """One block of training data for K lanes x B sequences, as every kernel family reads it
    (each lane's `workers.tasks.SequenceBatch`, stacked): the second argument of each family's
    ``train_block(nets, block, n_seq, lr, out_y)`` and ``forward_block(nets, block, n_seq,
    out_y)``."""

    idx: np.ndarray
    """(K, B, T, A) int: active input units per step."""
    val: np.ndarray
    """(K, B, T, A) float: their values (duplicate indices add up)."""
    lengths: np.ndarray
    """(K, B) int: steps ``t >= lengths`` are padding."""
    targets: np.ndarray
    """(K, B, E, O) float: targets at the error slots (read by ``train_block`` only)."""
    target_steps: np.ndarray
    """(K, B, E) int: step of each error slot, -1 = unused (slots at or past the sequence's
    length are ignored as well)."""
