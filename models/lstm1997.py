"""The 1997 LSTM of Hochreiter & Schmidhuber, as K independent nets in one torch module.

This is the readable reference and the test oracle for the compiled kernel
(`workers.kernels.lstm1997`).
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


State = tuple[torch.Tensor, torch.Tensor]
"""A cell's state between steps: (y_hidden (K, Hn), the CECs s (K, C*S))."""


class Lstm1997Cell(nn.Module):
    """One time step of K 1997 LSTM nets: ``(x(t), state) -> (y(t), state)``, the equations of the
    module docstring in the layout's unit order. Holds no weights: the layer passes its masked
    ``Wh (K, Hn, U)`` and ``Wo (K, O, Uo)`` to every step.

    Example:
        >>> lay = Lstm1997Layout(n_inputs=2, n_outputs=1)
        >>> cell = Lstm1997Cell(lay)
        >>> state = cell.zero_state(3, torch.float64)
        >>> Wh, Wo = torch.zeros(3, lay.n_hidden, lay.U), torch.zeros(3, 1, lay.Uo)
        >>> y, state = cell(torch.zeros(3, 2), state, Wh.double(), Wo.double())
        >>> y.shape, state[1].shape
        (torch.Size([3, 1]), torch.Size([3, 4]))
    """

    _cell: torch.Tensor
    _blk: torch.Tensor
    _in: torch.Tensor | None
    _out: torch.Tensor | None
    _fg: torch.Tensor | None

    def __init__(
        self,
        layout: Lstm1997Layout,
        g: str = "g2",
        h: str = "h1",
        gradient: Literal["truncated", "full"] = "truncated",
    ) -> None:
        super().__init__()
        if gradient not in ("truncated", "full"):
            raise ValueError(f"gradient must be 'truncated' or 'full', got {gradient!r}")
        self.layout, self.g, self.h, self.gradient = layout, g, h, gradient
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

    def zero_state(self, K: int, dtype: torch.dtype, device: torch.device | str = "cpu") -> State:
        """All activations 0 at the start of a sequence (paper Sec. 5)."""
        lay = self.layout
        return (
            torch.zeros(K, lay.n_hidden, dtype=dtype, device=device),
            torch.zeros(K, lay.n_cells, dtype=dtype, device=device),
        )

    def forward(
        self, x: torch.Tensor, state: State, Wh: torch.Tensor, Wo: torch.Tensor
    ) -> tuple[torch.Tensor, State]:
        """x (K, I) -> outputs (K, O) and the next state."""
        y_prev, s = state
        one = torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device)
        rec = y_prev.detach() if self.gradient == "truncated" else y_prev
        u = torch.cat([x, rec, one], dim=1)  # (K, U)
        net = torch.bmm(Wh, u.unsqueeze(2)).squeeze(2)  # (K, Hn)
        f_in = torch.sigmoid(net[:, self._in]) if self._in is not None else None  # (K, C)
        f_out = torch.sigmoid(net[:, self._out]) if self._out is not None else None
        y_in = f_in[:, self._blk] if f_in is not None else 1.0  # per cell (K, CS)
        y_out = f_out[:, self._blk] if f_out is not None else 1.0
        z = squash(self.g, net[:, self._cell])  # (K, CS)
        if self._fg is not None:
            f_fg = torch.sigmoid(net[:, self._fg])
            s = f_fg[:, self._blk] * s + y_in * z
        else:
            s = s + y_in * z  # the CEC
        y_c = y_out * squash(self.h, s)  # (K, CS)
        v = torch.cat([y_c, x, one], dim=1)  # (K, Uo)
        y = torch.sigmoid(torch.bmm(Wo, v.unsqueeze(2)).squeeze(2))  # (K, O)
        y_hidden = torch.zeros_like(net).index_copy(1, self._cell, y_c)
        for units, act in ((self._in, f_in), (self._out, f_out)):
            if units is not None and act is not None:
                y_hidden = y_hidden.index_copy(1, units, act)
        if self._fg is not None:
            y_hidden = y_hidden.index_copy(1, self._fg, f_fg)
        return y, (y_hidden, s)


class Lstm1997(nn.Module):
    """K independent 1997 LSTM nets sharing one layout: the weights, and `Lstm1997Cell` run over
    time.

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
        self.cell = Lstm1997Cell(layout, g, h, gradient)
        self.layout, self.K, self.g, self.h, self.gradient = layout, K, g, h, gradient
        self.Wh = nn.Parameter(torch.zeros(K, layout.n_hidden, layout.U, dtype=dtype))
        self.Wo = nn.Parameter(torch.zeros(K, layout.n_outputs, layout.Uo, dtype=dtype))
        self.register_buffer("mask_h", torch.tensor(layout.mask_h, dtype=dtype))
        self.register_buffer("mask_o", torch.tensor(layout.mask_o, dtype=dtype))

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
        Wh = self.Wh * self.mask_h  # (K, Hn, U); masked weights get no gradient
        Wo = self.Wo * self.mask_o  # (K, O, Uo)
        state = self.cell.zero_state(K, x.dtype, x.device)
        outs = []
        for t in range(T):
            y, state = self.cell(x[:, t], state, Wh, Wo)
            outs.append(y)
        return torch.stack(outs, dim=1)


def train_per_step(
    net: Lstm1997,
    x: torch.Tensor,
    lengths: torch.Tensor,
    steps: torch.Tensor,
    targets: torch.Tensor,
    lr: float,
    on: torch.Tensor,
    loss: str = "squared",
) -> torch.Tensor:
    """One sequence per lane with on-line SGD applied after every step that has an error slot
    (RTRL's real-time update, ``update = "step"``), by autograd: the readable reference of the
    kernel's ``per_step`` mode.

    Each step runs on weights of its own (fresh leaves), so the gradient of a step's error,
    summed over the weights of every step so far, is exactly the truncated RTRL gradient with
    the weights changing inside the sequence: a term of an earlier step was computed with that
    step's weights, as the kernel's forward partials P_c, P_in are. Cost O(T^2) per sequence
    (every error step backpropagates to the sequence start); for tests and small nets.

    Args:
        net: the K nets; their weights are updated in place (masked weights never change).
        x: (K, T, I) dense inputs.
        lengths: (K,) steps ``t >= lengths[k]`` are padding (no slot counts there).
        steps: (K, E) step of each error slot, -1 unused.
        targets: (K, E, O) targets at the slots.
        lr: learning rate; the loss of a step is 1/2 sum (y - target)^2 over its slots.
        on: (K,) bool: lanes that train this sequence (the others keep their weights).
        loss: "squared" (1/2 SSE, the paper's) or "logistic" (the outputs' cross-entropy, whose
            output delta is y - t: the paper's delta without f').

    Returns:
        (K, E, O) outputs at the used slots before their step's update (0 elsewhere).
    """
    K, T, _ = x.shape
    E, O = steps.shape[1], net.layout.n_outputs
    Wh, Wo = net.Wh.detach().clone(), net.Wo.detach().clone()
    out = torch.zeros(K, E, O, dtype=x.dtype, device=x.device)
    used = (steps >= 0) & (steps < lengths[:, None]) & on[:, None]  # (K, E)
    state = net.cell.zero_state(K, x.dtype, x.device)
    leaves: list[torch.Tensor] = []
    for t in range(T):
        lh, lo = Wh.clone().requires_grad_(True), Wo.clone().requires_grad_(True)
        leaves += [lh, lo]
        y, state = net.cell(x[:, t], state, lh * net.mask_h, lo * net.mask_o)
        at = used & (steps == t)  # (K, E)
        if not bool(at.any()):
            continue
        yy = y[:, None, :].expand(K, E, O)
        per = output_loss(yy, targets, loss)
        total = torch.where(at[:, :, None], per, torch.zeros_like(per)).sum()
        # earlier steps' output weights do not reach this step's outputs: no gradient (None)
        grads = torch.autograd.grad(total, leaves, retain_graph=True, allow_unused=True)
        with torch.no_grad():
            out = torch.where(at[:, :, None], y.detach()[:, None, :].expand(K, E, O), out)
            for W, part, mask in ((Wh, grads[0::2], net.mask_h), (Wo, grads[1::2], net.mask_o)):
                W.sub_(lr * sum(g for g in part if g is not None) * mask)
    with torch.no_grad():
        net.Wh.copy_(Wh)
        net.Wo.copy_(Wo)
    return out


def output_loss(y: torch.Tensor, t: torch.Tensor, loss: str) -> torch.Tensor:
    """Elementwise loss of logistic outputs ``y`` against targets ``t``: ``squared`` is
    1/2 (y - t)^2 (output delta (y - t) f'(net), the paper's); ``logistic`` is the cross-entropy
    -t log y - (1 - t) log(1 - y), whose output delta is y - t (f' dropped)."""
    if loss == "squared":
        return 0.5 * (y - t) ** 2
    if loss == "logistic":
        return -(t * torch.log(y) + (1.0 - t) * torch.log1p(-y))
    raise ValueError(f"loss must be squared or logistic, got {loss!r}")
