"""The 1997 LSTM of Hochreiter & Schmidhuber, as K independent nets in one torch module.

This is the readable reference and the test oracle for the compiled kernel (`workers.kernel`).
Equations (paper Sec. 4 and Appendix A.1; f = logistic sigmoid)::

    u(t)        = [x(t), y(t-1), 1]                    # inputs, every hidden unit at t-1, bias
    y_in_j(t)   = f(w_in_j . u(t))                     # input gate of block j
    y_out_j(t)  = f(w_out_j . u(t))                    # output gate of block j
    s_jv(t)     = s_jv(t-1) + y_in_j(t) g(w_c_jv . u(t))   # the CEC: self-weight fixed at 1.0
    y_c_jv(t)   = y_out_j(t) h(s_jv(t))
    y_k(t)      = f(w_k . [y_c(t), x(t), 1])           # outputs see the cells at step t

with g(x) = 4f(x) - 2 in [-2, 2] and h(x) = 2f(x) - 1 in [-1, 1] ("g2"/"h1"; Exp. 2a/2b use
g = f and h = identity). No forget gate (optional here, Gers et al. 2000: s = y_fg s + ...).

Truncated gradient (the paper's learning rule): the error reaching net_in, net_out and net_c is
not propagated back in time, i.e. every recurrent input y(t-1) in u(t) is a constant for the
gradient; error flows back in time only through s(t-1). In autograd that is ``y(t-1).detach()``
with s kept in the graph, which is what ``gradient="truncated"`` does; ``"full"`` is plain BPTT.
All activations start at 0 for each sequence. Each of the K nets has its own weights; one torch
op serves all of them (batched matmul), so K nets cost little more than one.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import nn

from models.layout import Lstm1997Layout

Squash = Literal["g2", "g1", "h1", "id"]


def squash(kind: str, x: torch.Tensor) -> torch.Tensor:
    """The paper's squashing functions g and h."""
    if kind == "g2":
        return 4.0 * torch.sigmoid(x) - 2.0
    if kind == "g1":
        return torch.sigmoid(x)
    if kind == "h1":
        return 2.0 * torch.sigmoid(x) - 1.0
    if kind == "id":
        return x
    raise ValueError(f"unknown squashing function {kind!r}")


class Lstm1997(nn.Module):
    """K independent 1997 LSTM nets sharing one layout.

    Args:
        layout: units and connectivity (`models.layout.Lstm1997Layout`).
        K: number of independent nets (seeds).
        g: cell-input squashing ("g2" or "g1").
        h: cell-output squashing ("h1" or "id").
        gradient: "truncated" (the paper's rule) or "full" (BPTT through everything).
        dtype: float64 for the oracle, float32 for speed.

    Example:
        >>> lay = Lstm1997Layout(n_inputs=2, n_outputs=1, blocks=2, cells_per_block=2)
        >>> net = Lstm1997(lay, K=3)
        >>> net(torch.zeros(3, 10, 2, dtype=torch.float64)).shape
        torch.Size([3, 10, 1])
    """

    mask_h: torch.Tensor
    mask_o: torch.Tensor
    _cell: torch.Tensor
    _blk: torch.Tensor
    _in: torch.Tensor | None
    _out: torch.Tensor | None
    _fg: torch.Tensor | None

    def __init__(
        self,
        layout: Lstm1997Layout,
        K: int = 1,
        g: str = "g2",
        h: str = "h1",
        gradient: Literal["truncated", "full"] = "truncated",
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        if gradient not in ("truncated", "full"):
            raise ValueError(f"gradient must be 'truncated' or 'full', got {gradient!r}")
        self.layout, self.K, self.g, self.h, self.gradient = layout, K, g, h, gradient
        self.Wh = nn.Parameter(torch.zeros(K, layout.n_hidden, layout.U, dtype=dtype))
        self.Wo = nn.Parameter(torch.zeros(K, layout.n_outputs, layout.Uo, dtype=dtype))
        self.register_buffer("mask_h", torch.tensor(layout.mask_h, dtype=dtype))
        self.register_buffer("mask_o", torch.tensor(layout.mask_o, dtype=dtype))
        lay = layout
        # Index buffers (not plain attributes) so that .to(device) moves them: index_copy needs
        # its index on the same device as the state.
        for name, idx in (
            ("_cell", lay.cell),
            ("_blk", lay.cell_block),
            ("_in", lay.in_gate if lay.has_input_gate else None),
            ("_out", lay.out_gate if lay.has_output_gate else None),
            ("_fg", lay.forget if lay.forget_gate else None),
        ):
            self.register_buffer(name, None if idx is None else torch.tensor(idx), persistent=False)

    @property
    def n_weights(self) -> int:
        """Trainable weights of one of the K nets (the paper's count, Table 10)."""
        return self.layout.n_weights

    @torch.no_grad()
    def load(self, Wh: np.ndarray, Wo: np.ndarray) -> None:
        """Set the weights from arrays shaped (K, Hn, U) and (K, O, Uo)."""
        self.Wh.copy_(torch.as_tensor(Wh, dtype=self.Wh.dtype))
        self.Wo.copy_(torch.as_tensor(Wo, dtype=self.Wo.dtype))

    def weights(self) -> tuple[np.ndarray, np.ndarray]:
        """The current weights as float64 numpy arrays (K, Hn, U), (K, O, Uo)."""
        return (
            self.Wh.detach().cpu().double().numpy().copy(),
            self.Wo.detach().cpu().double().numpy().copy(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run all K nets over their sequences.

        Args:
            x: (K, T, I) dense inputs, net k reads x[k].

        Returns:
            (K, T, O) output activations at every step.
        """
        K, T, _ = x.shape
        lay = self.layout
        Wh = self.Wh * self.mask_h  # (K, Hn, U); masked weights get no gradient
        Wo = self.Wo * self.mask_o  # (K, O, Uo)
        one = torch.ones(K, 1, dtype=x.dtype, device=x.device)
        y_prev = torch.zeros(K, lay.n_hidden, dtype=x.dtype, device=x.device)
        s = torch.zeros(K, lay.n_cells, dtype=x.dtype, device=x.device)
        outs = []
        for t in range(T):
            rec = y_prev.detach() if self.gradient == "truncated" else y_prev
            u = torch.cat([x[:, t], rec, one], dim=1)  # (K, U)
            net = torch.bmm(Wh, u.unsqueeze(2)).squeeze(2)  # (K, Hn)
            y_in = torch.sigmoid(net[:, self._in])[:, self._blk] if self._in is not None else 1.0
            y_out = torch.sigmoid(net[:, self._out])[:, self._blk] if self._out is not None else 1.0
            z = squash(self.g, net[:, self._cell])  # (K, CS)
            if self._fg is not None:
                s = torch.sigmoid(net[:, self._fg])[:, self._blk] * s + y_in * z
            else:
                s = s + y_in * z  # the CEC
            y_c = y_out * squash(self.h, s)  # (K, CS)
            v = torch.cat([y_c, x[:, t], one], dim=1)  # (K, Uo)
            outs.append(torch.sigmoid(torch.bmm(Wo, v.unsqueeze(2)).squeeze(2)))  # (K, O)
            y_new = torch.zeros_like(net)
            y_new = y_new.index_copy(1, self._cell, y_c)
            if self._in is not None:
                y_new = y_new.index_copy(1, self._in, torch.sigmoid(net[:, self._in]))
            if self._out is not None:
                y_new = y_new.index_copy(1, self._out, torch.sigmoid(net[:, self._out]))
            if self._fg is not None:
                y_new = y_new.index_copy(1, self._fg, torch.sigmoid(net[:, self._fg]))
            y_prev = y_new
        return torch.stack(outs, dim=1)
