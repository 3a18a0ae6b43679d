"""A small Transformer encoder (Vaswani et al. 2017), as K independent nets in one module.

Pre-LayerNorm blocks (the variant that trains without warm-up tricks at this size)::

    h_0   = W_in x_t + b_in + pos_t            # pos: sinusoidal (no weights) or a learned table
    a     = h + MHA(LN(h))                     # causal (a step sees steps <= t) or full attention
    h'    = a + W_2 gelu(W_1 LN(a) + b_1) + b_2   # feed-forward width 2 d
    y_t   = f(W_o LN(h_L)_t + b_o)             # logistic output at every step, as every model

Full attention sees the whole sequence, padding excluded (a key mask from the lengths); causal
attention is the encoder a sequence model needs when it must answer before the end. A learned
table has one row per step of the task's longest probed sequence; a longer sequence reuses the
last row for its extra steps.

The K nets (seeds) share every op: weights are stacked (K, ...) and each product is one einsum
over the lane axis; attention runs as one batched ``scaled_dot_product_attention`` over K x M x
heads. Inputs are (K, M, T, I): M sequences per net (M = 1 for the paper's on-line SGD).
LayerNorm gains start at 1 and their biases at 0; every other weight uniform in +-init_range.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as fn

ATTENTION = ("causal", "full")
POSITIONS = ("sinusoidal", "learned")
FF_MULT = 2
"""Feed-forward width as a multiple of the model width."""


def transformer_shapes(
    n_inputs: int, n_outputs: int, width: int, layers: int, positions: str, max_len: int
) -> dict[str, tuple[int, ...]]:
    """Shape of every parameter of one net, in the fixed draw order of `init_transformer`."""
    d, f = width, FF_MULT * width
    shapes: dict[str, tuple[int, ...]] = {"W_in": (d, n_inputs), "b_in": (d,)}
    if positions == "learned":
        shapes["pos"] = (max_len, d)
    for i in range(layers):
        shapes |= {
            f"ln1_g{i}": (d,), f"ln1_b{i}": (d,),
            f"W_qkv{i}": (3 * d, d), f"b_qkv{i}": (3 * d,),
            f"W_att{i}": (d, d), f"b_att{i}": (d,),
            f"ln2_g{i}": (d,), f"ln2_b{i}": (d,),
            f"W_1{i}": (f, d), f"b_1{i}": (f,),
            f"W_2{i}": (d, f), f"b_2{i}": (d,),
        }  # fmt: skip
    shapes |= {"lnf_g": (d,), "lnf_b": (d,), "W_o": (n_outputs, d), "b_o": (n_outputs,)}
    return shapes


def transformer_weights(
    n_inputs: int, n_outputs: int, width: int, layers: int, positions: str, max_len: int
) -> int:
    """Trainable weights of one net."""
    shapes = transformer_shapes(n_inputs, n_outputs, width, layers, positions, max_len)
    return sum(int(np.prod(s)) for s in shapes.values())


def init_transformer(
    shapes: dict[str, tuple[int, ...]], rng: np.random.Generator, init_range: float
) -> dict[str, np.ndarray]:
    """One net's initial weights: LayerNorm gains 1 and biases 0, the rest uniform +-r."""
    out = {}
    for n, s in shapes.items():
        w = rng.uniform(-init_range, init_range, size=s)  # drawn for every name: fixed order
        if n.startswith("ln"):
            w = np.ones(s) if "_g" in n else np.zeros(s)
        out[n] = w
    return out


def sinusoidal(T: int, d: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(T, d) Vaswani et al.'s positions: sin/cos at wavelengths 2 pi .. 10000 * 2 pi."""
    pos = torch.arange(T, dtype=torch.float64, device=device)[:, None]
    i = torch.arange((d + 1) // 2, dtype=torch.float64, device=device)[None, :]
    ang = pos / (10000.0 ** (2 * i / d))
    pe = torch.zeros(T, 2 * ((d + 1) // 2), dtype=torch.float64, device=device)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(ang), torch.cos(ang)
    return pe[:, :d].to(dtype)


class Transformer(nn.Module):
    """K independent Transformer encoders with a logistic output layer.

    Example:
        >>> net = Transformer(n_inputs=2, n_outputs=1, width=8, layers=1, heads=2, K=3)
        >>> net(torch.zeros(3, 12, 2, dtype=torch.float64)).shape
        torch.Size([3, 12, 1])
    """

    kind = "transformer"
    reads_slots = True
    """``forward_batch`` takes ``at``: it can compute the outputs at the error slots alone."""

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        width: int,
        layers: int,
        heads: int,
        attention: str = "causal",
        positions: str = "sinusoidal",
        max_len: int = 1,
        K: int = 1,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        if width < 1 or layers < 1 or heads < 1 or width % heads:
            raise ValueError(
                f"need width, layers, heads >= 1 and width divisible by heads; got width={width}"
                f", layers={layers}, heads={heads}"
            )
        if attention not in ATTENTION:
            raise ValueError(f"attention must be one of {ATTENTION}, got {attention!r}")
        if positions not in POSITIONS:
            raise ValueError(f"positions must be one of {POSITIONS}, got {positions!r}")
        self.n_inputs, self.n_outputs, self.K = n_inputs, n_outputs, K
        self.width, self.layers, self.heads = width, layers, heads
        self.attention, self.positions, self.max_len = attention, positions, max_len
        self.gradient = "full"
        self.shapes = transformer_shapes(n_inputs, n_outputs, width, layers, positions, max_len)
        for name, s in self.shapes.items():
            self.register_parameter(name, nn.Parameter(torch.zeros(K, *s, dtype=dtype)))

    @property
    def n_weights(self) -> int:
        return transformer_weights(
            self.n_inputs, self.n_outputs, self.width, self.layers, self.positions, self.max_len
        )

    def _p(self, name: str) -> torch.Tensor:
        """Parameter ``name`` (stacked over the K lanes)."""
        t = getattr(self, name)
        assert isinstance(t, torch.Tensor)
        return t

    @torch.no_grad()
    def load_seeds(self, per_seed: list[dict[str, np.ndarray]]) -> None:
        if len(per_seed) != self.K:
            raise ValueError(f"expected {self.K} per-seed dicts, got {len(per_seed)}")
        for name in self.shapes:
            p = getattr(self, name)
            p.copy_(torch.as_tensor(np.stack([d[name] for d in per_seed]), dtype=p.dtype))

    def _ln(self, h: torch.Tensor, g: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Per-lane LayerNorm: h (K, M, T, d), g/b (K, d)."""
        return fn.layer_norm(h, (self.width,)) * g[:, None, None] + b[:, None, None]

    @staticmethod
    def _lin(h: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Per-lane linear map: h (K, M, T, i), W (K, o, i) -> (K, M, T, o)."""
        return torch.einsum("kmti,koi->kmto", h, W) + b[:, None, None]

    def forward_batch(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor | None = None,
        steps: torch.Tensor | None = None,
        at: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x (K, M, T, I) -> (K, M, T, O); ``lengths`` (K, M) masks padding under full
        attention; ``steps`` is unused (no dropout).

        ``at`` (K, M, E): only the outputs at these steps are wanted (the error slots; a
        negative step stands for an unused slot and returns step 0's output). Then the last
        layer attends from those E queries alone and everything after its attention runs at
        E positions, not T: the same outputs (to rounding) as the full pass gathered at ``at``,
        ``(K, M, E, O)``, for a fraction of the cost when E << T (error at the sequence end:
        one query, not T, in Exp. 2c-6)."""
        K, M, T, _ = x.shape
        d, nh = self.width, self.heads
        h = self._lin(x, self._p("W_in"), self._p("b_in"))  # (K, M, T, d)
        if self.positions == "learned":
            rows = torch.arange(T, device=x.device).clamp(max=self.max_len - 1)
            h = h + self._p("pos")[:, rows][:, None]  # (K, 1, T, d)
        else:
            h = h + sinusoidal(T, d, x.dtype, x.device)
        keys: torch.Tensor | None = None  # (K, M, T) keys inside the sequence (full attention)
        if self.attention == "full" and lengths is not None:
            keys = torch.arange(T, device=x.device)[None, None, :] < lengths[..., None]
        for i in range(self.layers):
            a = self._ln(h, self._p(f"ln1_g{i}"), self._p(f"ln1_b{i}"))
            qkv = self._lin(a, self._p(f"W_qkv{i}"), self._p(f"b_qkv{i}"))
            q, k, v = qkv.split(d, dim=3)  # each (K, M, T, d)
            causal = self.attention == "causal"
            mask = None if keys is None else keys.reshape(K * M, 1, 1, T)
            if at is not None and i == self.layers - 1:  # queries at the wanted steps only
                idx = at.clamp(min=0)
                q, h = (self._gather(t, idx) for t in (q, h))  # (K, M, E, d)
                if causal:  # key j is visible from query step t when j <= t
                    allowed = torch.arange(T, device=x.device) <= idx[..., None]  # (K, M, E, T)
                    if keys is not None:
                        allowed = allowed & keys[:, :, None, :]
                elif keys is not None:
                    allowed = keys[:, :, None, :].expand(K, M, idx.shape[2], T)
                else:
                    allowed = torch.ones(K, M, idx.shape[2], T, dtype=torch.bool, device=x.device)
                mask, causal = allowed.reshape(K * M, 1, idx.shape[2], T), False
            Tq = q.shape[2]
            q, k, v = (
                t.reshape(K * M, t.shape[2], nh, d // nh).transpose(1, 2) for t in (q, k, v)
            )  # each (K*M, nh, T or E, dh)
            att = fn.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
            att = att.transpose(1, 2).reshape(K, M, Tq, d)
            h = h + self._lin(att, self._p(f"W_att{i}"), self._p(f"b_att{i}"))
            a = self._ln(h, self._p(f"ln2_g{i}"), self._p(f"ln2_b{i}"))
            ff = fn.gelu(self._lin(a, self._p(f"W_1{i}"), self._p(f"b_1{i}")))
            h = h + self._lin(ff, self._p(f"W_2{i}"), self._p(f"b_2{i}"))
        h = self._ln(h, self._p("lnf_g"), self._p("lnf_b"))
        return torch.sigmoid(self._lin(h, self._p("W_o"), self._p("b_o")))

    @staticmethod
    def _gather(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Rows ``idx`` (K, M, E) of t (K, M, T, d) along the step axis -> (K, M, E, d)."""
        return torch.gather(t, 2, idx[..., None].expand(*idx.shape, t.shape[3]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (K, T, I) -> (K, T, O): one sequence per net."""
        return self.forward_batch(x.unsqueeze(1))[:, 0]


def width_for_weights(
    n_inputs: int,
    n_outputs: int,
    layers: int,
    heads: int,
    positions: str,
    max_len: int,
    target: int,
) -> int:
    """The width (a multiple of ``heads``) whose weight count is closest to ``target``; ties
    go to the smaller net."""
    best, best_gap = heads, math.inf
    w = heads
    while True:
        n = transformer_weights(n_inputs, n_outputs, w, layers, positions, max_len)
        gap = abs(n - target)
        if gap < best_gap:
            best, best_gap = w, gap
        if n >= target:
            return best
        w += heads
