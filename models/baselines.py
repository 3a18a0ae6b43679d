"""The baseline nets the 1997 LSTM is compared with, each as K independent nets in one module.

All three share the interface of `models.lstm1997.Lstm1997`: ``forward(x (K, T, I)) -> (K, T, O)``
logistic output activations at every step (so the tasks' targets and criteria apply unchanged),
weights loaded from per-seed numpy arrays, and ``n_weights`` for one net. They are trained by full
BPTT (plain autograd). Equations (torch's, so the control tests can copy weights into
``torch.nn.RNN/GRU/LSTM``; ``*`` is elementwise, f = logistic sigmoid)::

    Elman:       h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
    GRU:         r, z = f(W_i{r,z} x_t + b_i{r,z} + W_h{r,z} h_{t-1} + b_h{r,z})
                 n    = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))
                 h_t  = (1 - z) * n + z * h_{t-1}
    LstmForget:  i, f, o = f(W_i. x_t + b_i. + W_h. h_{t-1} + b_h.),  g = tanh(... same ...)
                 c_t = f * c_{t-1} + i * g                          # Gers et al. (2000)
                 h_t = o * tanh(c_t)
    every net:   y_t = f(W_o h_t + b_o)

Gate blocks are stacked in torch's order (GRU: r, z, n; LSTM: i, f, g, o) and both bias vectors
are kept, as in torch (so the control tests can copy them). Weight *counts*, which size a baseline
against the 1997 net, count the **effective** parameters: where only ``b_ih + b_hh`` enters the
equations (Elman; every LSTM gate; GRU's r and z) that is one bias per unit, not two; GRU's
``b_hn`` sits inside the reset product and is a parameter of its own. So an Elman net with H
hidden units has ``H (I + H + 1) + O (H + 1)`` weights, a forget-gate LSTM
``4 H (I + H + 1) + O (H + 1)``, a GRU ``3 H (I + H + 1) + H + O (H + 1)``
(`baseline_weights`; torch's stored count is `stored_weights`). The paper's failing baseline
(Sec. 5, "BPTT") is the Elman net; GRU and the forget-gate LSTM are the modern references. State
starts at 0 for each sequence.

Initialisation is uniform in ``[-r, r]`` from a numpy Generator per seed (`init_baseline`), drawn
in a fixed order, so seed k gets the same net whether it is trained alone or in a batch of K.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import nn

BaselineKind = Literal["elman", "gru", "lstm_forget"]
GATE_BLOCKS: dict[str, int] = {"elman": 1, "gru": 3, "lstm_forget": 4}
"""Stacked weight blocks per kind (torch's gate_size / hidden_size)."""
PARAM_NAMES: tuple[str, ...] = ("W_ih", "W_hh", "b_ih", "b_hh", "W_o", "b_o")
"""Parameter names, also the fixed draw order of `init_baseline`."""


def _blocks(kind: str) -> int:
    if kind not in GATE_BLOCKS:
        raise ValueError(f"unknown baseline {kind!r}; known: {sorted(GATE_BLOCKS)}")
    return GATE_BLOCKS[kind]


def param_shapes(
    kind: str, hidden: int, n_inputs: int, n_outputs: int
) -> dict[str, tuple[int, ...]]:
    """Shape of every parameter of one net."""
    G = _blocks(kind) * hidden
    return {
        "W_ih": (G, n_inputs),
        "W_hh": (G, hidden),
        "b_ih": (G,),
        "b_hh": (G,),
        "W_o": (n_outputs, hidden),
        "b_o": (n_outputs,),
    }


def stored_weights(kind: str, hidden: int, n_inputs: int, n_outputs: int) -> int:
    """Numbers stored per net, torch's count: ``G H (I + H + 2) + O (H + 1)``, G = gate blocks."""
    shapes = param_shapes(kind, hidden, n_inputs, n_outputs)
    return sum(int(np.prod(s)) for s in shapes.values())


def baseline_weights(kind: str, hidden: int, n_inputs: int, n_outputs: int) -> int:
    """Effective trainable weights of one net: ``G H (I + H + 1) + O (H + 1)`` (one bias per
    gate unit, since only ``b_ih + b_hh`` matters), plus H for GRU's separate ``b_hn``.

    Example:
        >>> baseline_weights("elman", 7, 2, 1), stored_weights("elman", 7, 2, 1)
        (78, 85)
    """
    G = _blocks(kind)
    n = G * hidden * (n_inputs + hidden + 1) + n_outputs * (hidden + 1)
    return n + (hidden if kind == "gru" else 0)


def hidden_for_weights(kind: str, n_inputs: int, n_outputs: int, target_weights: int) -> int:
    """The hidden size (>= 1) whose weight count is closest to ``target_weights``.

    Used to size a baseline like the 1997 net it is compared with. Ties go to the smaller net.

    Example:
        >>> hidden_for_weights("elman", 2, 1, 93)  # 8 units: 8*(2+8+1) + 9 = 97; 7 units: 78
        8
    """
    if target_weights < 1:
        raise ValueError(f"target_weights must be >= 1, got {target_weights}")
    H = 1
    # The count grows strictly with H, so walk up to the first count >= target.
    while baseline_weights(kind, H, n_inputs, n_outputs) < target_weights:
        H += 1
    if H > 1:
        below = baseline_weights(kind, H - 1, n_inputs, n_outputs)
        above = baseline_weights(kind, H, n_inputs, n_outputs)
        if target_weights - below <= above - target_weights:
            return H - 1
    return H


def init_baseline(
    kind: str,
    hidden: int,
    n_inputs: int,
    n_outputs: int,
    rng: np.random.Generator,
    init_range: float,
    forget_bias: float | None = None,
) -> dict[str, np.ndarray]:
    """One net's initial weights (float64), every one uniform in ``[-init_range, init_range]``.

    Args:
        forget_bias: ``lstm_forget`` only. ``None`` (default) leaves the forget-gate biases random
            like every other weight, the analogue of torch's default init. A number sets
            ``b_ih``'s forget block to it and ``b_hh``'s to 0 (Jozefowicz et al. 2015 use 1.0).
            Draws happen before the override, so the other weights do not depend on it.
    """
    if hidden < 1:
        raise ValueError(f"hidden must be >= 1, got {hidden}")
    shapes = param_shapes(kind, hidden, n_inputs, n_outputs)
    params = {n: rng.uniform(-init_range, init_range, size=shapes[n]) for n in PARAM_NAMES}
    if forget_bias is not None:
        if kind != "lstm_forget":
            raise ValueError(f"forget_bias applies to lstm_forget only, not {kind!r}")
        params["b_ih"][hidden : 2 * hidden] = forget_bias  # gate order i, f, g, o
        params["b_hh"][hidden : 2 * hidden] = 0.0
    return params


class Baseline(nn.Module):
    """K independent recurrent nets of one kind with a logistic output layer.

    Subclasses define ``kind`` and ``step``: one time step from the input projection
    ``xi = W_ih x_t + b_ih`` (K, G H) and the state to ``(h_t, state)``.
    """

    kind: str = ""

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        hidden: int,
        K: int = 1,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        for name, v in (("n_inputs", n_inputs), ("n_outputs", n_outputs), ("hidden", hidden)):
            if v < 1:
                raise ValueError(f"{name} must be >= 1, got {v}")
        self.n_inputs, self.n_outputs, self.hidden, self.K = n_inputs, n_outputs, hidden, K
        self.gradient = "full"
        shapes = param_shapes(self.kind, hidden, n_inputs, n_outputs)
        self.W_ih = nn.Parameter(torch.zeros(K, *shapes["W_ih"], dtype=dtype))
        self.W_hh = nn.Parameter(torch.zeros(K, *shapes["W_hh"], dtype=dtype))
        self.b_ih = nn.Parameter(torch.zeros(K, *shapes["b_ih"], dtype=dtype))
        self.b_hh = nn.Parameter(torch.zeros(K, *shapes["b_hh"], dtype=dtype))
        self.W_o = nn.Parameter(torch.zeros(K, *shapes["W_o"], dtype=dtype))
        self.b_o = nn.Parameter(torch.zeros(K, *shapes["b_o"], dtype=dtype))

    @property
    def n_weights(self) -> int:
        """Effective trainable weights of one of the K nets (`baseline_weights`)."""
        return baseline_weights(self.kind, self.hidden, self.n_inputs, self.n_outputs)

    @torch.no_grad()
    def load(self, params: dict[str, np.ndarray]) -> None:
        """Set the weights from arrays stacked over the K nets (each ``(K, ...)``)."""
        for name in PARAM_NAMES:
            p = getattr(self, name)
            value = torch.as_tensor(np.asarray(params[name]), dtype=p.dtype)
            if value.shape != p.shape:
                want, got = tuple(p.shape), tuple(value.shape)
                raise ValueError(f"{name}: expected shape {want}, got {got}")
            p.copy_(value)

    def load_seeds(self, per_seed: list[dict[str, np.ndarray]]) -> None:
        """Set the weights from K per-seed dicts (as `init_baseline` returns)."""
        if len(per_seed) != self.K:
            raise ValueError(f"expected {self.K} per-seed dicts, got {len(per_seed)}")
        self.load({n: np.stack([d[n] for d in per_seed]) for n in PARAM_NAMES})

    def weights(self) -> dict[str, np.ndarray]:
        """The current weights as float64 numpy arrays stacked over the K nets."""
        return {n: getattr(self, n).detach().cpu().double().numpy().copy() for n in PARAM_NAMES}

    def init_state(self, K: int, like: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (like.new_zeros(K, self.hidden),)

    def step(
        self, xi: torch.Tensor, state: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        raise NotImplementedError

    def _rec(self, h: torch.Tensor) -> torch.Tensor:
        """``W_hh h + b_hh`` for all K nets: (K, G H)."""
        return torch.bmm(self.W_hh, h.unsqueeze(2)).squeeze(2) + self.b_hh

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run all K nets over their sequences.

        Args:
            x: (K, T, I) dense inputs, net k reads x[k].

        Returns:
            (K, T, O) logistic output activations at every step.
        """
        K, T, _ = x.shape
        # The input projection of every step at once; only the recurrence is sequential.
        xi = torch.einsum("kgi,kti->ktg", self.W_ih, x) + self.b_ih.unsqueeze(1)  # (K, T, G H)
        state = self.init_state(K, x)
        hs = []
        for t in range(T):
            h, state = self.step(xi[:, t], state)  # (K, H)
            hs.append(h)
        H = torch.stack(hs, dim=1)  # (K, T, H)
        return torch.sigmoid(torch.einsum("koh,kth->kto", self.W_o, H) + self.b_o.unsqueeze(1))


class Elman(Baseline):
    """K vanilla tanh RNNs (Elman 1990), the paper's BPTT/RTRL baseline.

    Example:
        >>> net = Elman(n_inputs=2, n_outputs=1, hidden=4, K=3)
        >>> net(torch.zeros(3, 10, 2, dtype=torch.float64)).shape
        torch.Size([3, 10, 1])
    """

    kind = "elman"

    def step(
        self, xi: torch.Tensor, state: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        h = torch.tanh(xi + self._rec(state[0]))  # (K, H)
        return h, (h,)


class GRU(Baseline):
    """K gated recurrent units nets (Cho et al. 2014), torch's equations and gate order r, z, n."""

    kind = "gru"

    def step(
        self, xi: torch.Tensor, state: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        (h_prev,) = state
        hh = self._rec(h_prev)  # (K, 3H)
        xr, xz, xn = xi.chunk(3, dim=1)
        hr, hz, hn = hh.chunk(3, dim=1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)  # b_hn sits inside the reset product, as in torch
        h = (1.0 - z) * n + z * h_prev
        return h, (h,)


class LstmForget(Baseline):
    """K modern LSTMs with forget gate (Gers et al. 2000), torch's equations, gates i, f, g, o.

    No peepholes; trained by full BPTT, unlike the 1997 cell's truncated gradient.
    """

    kind = "lstm_forget"

    def init_state(self, K: int, like: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (like.new_zeros(K, self.hidden), like.new_zeros(K, self.hidden))

    def step(
        self, xi: torch.Tensor, state: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        h_prev, c_prev = state
        i, f, g, o = (xi + self._rec(h_prev)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)


BASELINES: dict[str, type[Baseline]] = {"elman": Elman, "gru": GRU, "lstm_forget": LstmForget}
"""Baseline classes by registry name."""
