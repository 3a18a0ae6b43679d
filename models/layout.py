"""Where every weight of a 1997 LSTM net lives: unit order, connection masks, paper weight counts.

The torch reference (`models.lstm1997`) and the compiled kernel (`workers.kernels.lstm1997`) share
this one layout, so weights can be copied between them and compared element by element.

Hidden units, block by block (block j of C, S cells each)::

    [in_j] [out_j] [fg_j] c_j1 .. c_jS        # a gate is present only if the topology has it

Recurrent input vector u(t) of every hidden unit (``U = I + Hn + 1`` columns)::

    u(t) = [ x(t) (I) | y_hidden(t-1) (Hn) | 1 (bias) ]

Output units read ``v(t) = [ y_c(t) (C*S) | x(t) (I) | 1 ]`` (``Uo = C*S + I + 1`` columns).

Which of these connections exist is a 0/1 mask (paper Table 10):

* connectivity "F": hidden units read inputs + all hidden units (fully recurrent hidden layer);
  outputs read the cells only. Connectivity "B" (Exp. 2a/2b): each layer reads all layers
  below: hidden units read the inputs only, outputs read inputs and cells.
* bias: "none"; "gates" (Table 10 "ga"); "hidden" ("b1": every hidden unit); "all" (every
  non-input unit, outputs included).

The paper's weight count is ``mask_h.sum() + mask_o.sum()``; tests check it against Table 10.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np

Gates = Literal["both", "input", "output", "none"]
Connectivity = Literal["F", "B"]
Bias = Literal["none", "gates", "hidden", "all"]


@dataclass(frozen=True)
class Lstm1997Layout:
    """Shape and connectivity of one 1997 LSTM net (not its weights)."""

    n_inputs: int
    """I: input units."""
    n_outputs: int
    """O: output units (logistic)."""
    blocks: int = 2
    """C: memory blocks."""
    cells_per_block: int = 2
    """S: cells sharing one input gate and one output gate."""
    gates: Gates = "both"
    """Which multiplicative gates exist: both / input only / output only / none."""
    forget_gate: bool = False
    """Add a Gers (2000) forget gate per block; the 1997 cell has none."""
    connectivity: Connectivity = "F"
    """Table 10 connectivity code."""
    bias: Bias = "all"
    """Which units have a bias weight."""

    def __post_init__(self) -> None:
        for name in ("n_inputs", "n_outputs", "blocks", "cells_per_block"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.gates not in ("both", "input", "output", "none"):
            raise ValueError(f"gates must be both/input/output/none, got {self.gates!r}")
        if self.connectivity not in ("F", "B"):
            raise ValueError(f"connectivity must be 'F' or 'B', got {self.connectivity!r}")
        if self.bias not in ("none", "gates", "hidden", "all"):
            raise ValueError(f"bias must be none/gates/hidden/all, got {self.bias!r}")

    @property
    def has_input_gate(self) -> bool:
        return self.gates in ("both", "input")

    @property
    def has_output_gate(self) -> bool:
        return self.gates in ("both", "output")

    @property
    def units_per_block(self) -> int:
        return (
            self.cells_per_block
            + int(self.has_input_gate)
            + int(self.has_output_gate)
            + int(self.forget_gate)
        )

    @property
    def n_hidden(self) -> int:
        """Hn: gates and cells."""
        return self.blocks * self.units_per_block

    @property
    def n_cells(self) -> int:
        return self.blocks * self.cells_per_block

    @property
    def U(self) -> int:
        """Columns of the hidden weight matrix: inputs, hidden(t-1), bias."""
        return self.n_inputs + self.n_hidden + 1

    @property
    def Uo(self) -> int:
        """Columns of the output weight matrix: cells(t), inputs(t), bias."""
        return self.n_cells + self.n_inputs + 1

    def _unit(self, j: int, offset: int) -> int:
        return j * self.units_per_block + offset

    @cached_property
    def in_gate(self) -> np.ndarray:
        """(C,) hidden index of each block's input gate, -1 if absent."""
        return np.array(
            [self._unit(j, 0) if self.has_input_gate else -1 for j in range(self.blocks)],
            dtype=np.int64,
        )

    @cached_property
    def out_gate(self) -> np.ndarray:
        """(C,) hidden index of each block's output gate, -1 if absent."""
        off = int(self.has_input_gate)
        return np.array(
            [self._unit(j, off) if self.has_output_gate else -1 for j in range(self.blocks)],
            dtype=np.int64,
        )

    @cached_property
    def forget(self) -> np.ndarray:
        """(C,) hidden index of each block's forget gate, -1 if absent."""
        off = int(self.has_input_gate) + int(self.has_output_gate)
        return np.array(
            [self._unit(j, off) if self.forget_gate else -1 for j in range(self.blocks)],
            dtype=np.int64,
        )

    @cached_property
    def cell(self) -> np.ndarray:
        """(C*S,) hidden index of every cell, block-major."""
        off = self.units_per_block - self.cells_per_block
        S = self.cells_per_block
        return np.array(
            [self._unit(j, off + v) for j in range(self.blocks) for v in range(S)], dtype=np.int64
        )

    @cached_property
    def cell_block(self) -> np.ndarray:
        """(C*S,) block index of every cell."""
        return np.repeat(np.arange(self.blocks), self.cells_per_block)

    @cached_property
    def gate_units(self) -> np.ndarray:
        g = np.concatenate([self.in_gate, self.out_gate, self.forget])
        return np.sort(g[g >= 0])

    @cached_property
    def mask_h(self) -> np.ndarray:
        """(Hn, U) float64 0/1: which hidden-unit weights exist."""
        I, Hn = self.n_inputs, self.n_hidden
        m = np.zeros((Hn, self.U))
        m[:, :I] = 1.0
        if self.connectivity == "F":
            m[:, I : I + Hn] = 1.0
        if self.bias in ("hidden", "all"):
            m[:, -1] = 1.0
        elif self.bias == "gates":
            m[self.gate_units, -1] = 1.0
        return m

    @cached_property
    def mask_o(self) -> np.ndarray:
        """(O, Uo) float64 0/1: which output-unit weights exist."""
        m = np.zeros((self.n_outputs, self.Uo))
        m[:, : self.n_cells] = 1.0
        if self.connectivity == "B":
            m[:, self.n_cells : self.n_cells + self.n_inputs] = 1.0
        if self.bias == "all":
            m[:, -1] = 1.0
        return m

    @property
    def n_weights(self) -> int:
        """Trainable weights: the paper's count (Table 10)."""
        return int(self.mask_h.sum() + self.mask_o.sum())


GateBias = Literal["paper", "zero", "random"]


def init_weights(
    layout: Lstm1997Layout,
    rng: np.random.Generator,
    init_range: float,
    input_gate_bias: tuple[float, ...] | None = None,
    output_gate_bias: tuple[float, ...] | None = None,
    forget_gate_bias: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One net's initial weights ``(Wh (Hn, U), Wo (O, Uo))`` in float64.

    All existing weights uniform in ``[-init_range, init_range]`` (paper: +-0.2 in Exp. 1-2,
    +-0.1 in Exp. 3-6), then the staggered gate biases overwrite the bias weights of the gates
    (block j gets ``input_gate_bias[j]``); ``None`` keeps the random bias ("r" in Table 10).
    Draw order is fixed (Wh then Wo, full matrices) so a seed gives the same net on every path.
    """
    Wh = rng.uniform(-init_range, init_range, size=(layout.n_hidden, layout.U)) * layout.mask_h
    Wo = rng.uniform(-init_range, init_range, size=(layout.n_outputs, layout.Uo)) * layout.mask_o
    for units, biases in (
        (layout.in_gate, input_gate_bias),
        (layout.out_gate, output_gate_bias),
    ):
        if biases is None or units[0] < 0:
            continue
        if len(biases) < layout.blocks:
            # More blocks than the paper's schedule: continue the staggering arithmetically.
            step = biases[-1] - biases[-2] if len(biases) > 1 else biases[-1]
            biases = tuple(biases) + tuple(
                biases[-1] + step * (i + 1) for i in range(layout.blocks - len(biases))
            )
        for j in range(layout.blocks):
            if layout.mask_h[units[j], -1]:
                Wh[units[j], -1] = biases[j]
    if forget_gate_bias is not None and layout.forget_gate:
        for u in layout.forget:
            if layout.mask_h[u, -1]:
                Wh[u, -1] = forget_gate_bias
    return Wh, Wo
