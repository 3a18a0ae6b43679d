"""Temporal convolutional network (Bai, Kolter & Koltun 2018), as K independent nets in one module.

A stack of ``levels`` residual blocks of dilated *causal* 1-D convolutions; level i has dilation
2^i, so the receptive field is ``1 + 2 (k - 1) (2^L - 1)`` steps (k = kernel size, L = levels).
Each block (Bai et al., Fig. 1b, without weight normalisation)::

    z   = dropout(relu(conv_d(x)))           # causal: left padding (k - 1) d, no look-ahead
    z   = dropout(relu(conv_d(z)))
    out = relu(z + (x if C_in == C else W_down x))   # 1x1 convolution when the width changes
    y_t = f(W_o out_t + b_o)                 # logistic output at every step, as every model here

The K nets (seeds) run as *grouped* convolutions (``groups=K``): lane k's channels are block k
of the channel axis and only see each other, so one conv op serves all K nets, whatever K is.
Inputs are (K, M, T, I): M sequences per net (a mini-batch; M = 1 for the paper's on-line SGD).

Dropout masks are drawn per lane from a counter-based stream: lane k's mask at its u-th update is
a function of (lane seed, u) only, so a seed trains the same alone or beside others, and a replay
from a snapshot redraws the same masks.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as fn

TAP_MATMUL_MAX = 512
"""Weights of one net's convolution (C_out x C_in x k) up to which K > 1 lanes of one sequence
each (M = 1: the paper's on-line SGD) convolve as k stacked shifted views times one batched
matmul instead of one grouped ``conv1d``. Measured by `benchmarks.tcn_conv` (one thread, K = 16,
forward + backward; `benchmarks/results/tcn_conv.md`, and an earlier run of the same code
for the other ends of the ranges): taps / grouped is 0.57-0.58 at 1 channel and
M = 1 (the paper-sized nets), 0.8-1.1 at 8 channels, 1.1 at 32; 0.75-0.94 at 1 channel and
M = 8, 1.3-1.7 at M = 4-32 with 2-8 channels. Mini-batches and wide nets keep ``conv1d``, as does
one lane (K = 1), its fastest path. Both compute the same sums; they differ by rounding."""


def tcn_shapes(
    n_inputs: int, n_outputs: int, channels: int, levels: int, kernel_size: int
) -> dict[str, tuple[int, ...]]:
    """Shape of every parameter of one net, in the fixed draw order of `init_tcn`."""
    shapes: dict[str, tuple[int, ...]] = {}
    c_in = n_inputs
    for i in range(levels):
        shapes[f"conv1_w{i}"] = (channels, c_in, kernel_size)
        shapes[f"conv1_b{i}"] = (channels,)
        shapes[f"conv2_w{i}"] = (channels, channels, kernel_size)
        shapes[f"conv2_b{i}"] = (channels,)
        if c_in != channels:
            shapes[f"down_w{i}"] = (channels, c_in, 1)
            shapes[f"down_b{i}"] = (channels,)
        c_in = channels
    shapes["W_o"] = (n_outputs, channels)
    shapes["b_o"] = (n_outputs,)
    return shapes


def tcn_weights(n_inputs: int, n_outputs: int, channels: int, levels: int, kernel_size: int) -> int:
    """Trainable weights of one net."""
    shapes = tcn_shapes(n_inputs, n_outputs, channels, levels, kernel_size)
    return sum(int(np.prod(s)) for s in shapes.values())


def receptive_field(levels: int, kernel_size: int) -> int:
    """Steps an output can see: ``1 + 2 (k - 1) (2^L - 1)``."""
    return 1 + 2 * (kernel_size - 1) * (2**levels - 1)


def levels_for(seq_len: int, kernel_size: int) -> int:
    """The fewest levels whose receptive field covers ``seq_len`` steps (Bai et al.'s rule)."""
    L = 1
    while receptive_field(L, kernel_size) < seq_len:
        L += 1
    return L


def init_tcn(
    shapes: dict[str, tuple[int, ...]], rng: np.random.Generator, init_range: float
) -> dict[str, np.ndarray]:
    """One net's initial weights, every one uniform in ``[-init_range, init_range]``."""
    return {n: rng.uniform(-init_range, init_range, size=s) for n, s in shapes.items()}


def lane_masks(
    seeds: torch.Tensor, steps: torch.Tensor, shape: tuple[int, ...], p: float, like: torch.Tensor
) -> torch.Tensor:
    """(K, *shape) inverted-dropout masks; lane k's depends only on (seeds[k], steps[k])."""
    out = []
    for s, u in zip(seeds.tolist(), steps.tolist(), strict=True):  # RNG only; compute is batched
        g = torch.Generator().manual_seed((int(s) * 1_000_003 + int(u)) % (2**63 - 1))
        out.append(torch.rand(shape, generator=g, dtype=torch.float64) >= p)
    keep = torch.stack(out).to(device=like.device, dtype=like.dtype)
    return keep / (1.0 - p)


class TCN(nn.Module):
    """K independent temporal convolutional networks with a logistic output layer.

    Example:
        >>> net = TCN(n_inputs=2, n_outputs=1, channels=4, levels=3, kernel_size=3, K=5)
        >>> net(torch.zeros(5, 30, 2, dtype=torch.float64)).shape
        torch.Size([5, 30, 1])
    """

    kind = "tcn"
    lane_seed: torch.Tensor

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        channels: int,
        levels: int,
        kernel_size: int,
        dropout: float = 0.0,
        K: int = 1,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        if channels < 1 or levels < 1 or kernel_size < 2:
            raise ValueError(
                f"need channels >= 1, levels >= 1, kernel_size >= 2; got {channels}, {levels}, "
                f"{kernel_size}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.n_inputs, self.n_outputs, self.K = n_inputs, n_outputs, K
        self.channels, self.levels, self.kernel_size, self.dropout = (
            channels,
            levels,
            kernel_size,
            dropout,
        )
        self.gradient = "full"
        self.shapes = tcn_shapes(n_inputs, n_outputs, channels, levels, kernel_size)
        for name, s in self.shapes.items():
            self.register_parameter(name, nn.Parameter(torch.zeros(K, *s, dtype=dtype)))
        self.register_buffer("lane_seed", torch.zeros(K, dtype=torch.int64))

    @property
    def n_weights(self) -> int:
        return tcn_weights(
            self.n_inputs, self.n_outputs, self.channels, self.levels, self.kernel_size
        )

    def _p(self, name: str) -> torch.Tensor:
        """Parameter ``name`` (stacked over the K lanes)."""
        t = getattr(self, name)
        assert isinstance(t, torch.Tensor)
        return t

    @torch.no_grad()
    def load_seeds(self, per_seed: list[dict[str, np.ndarray]], seeds: list[int]) -> None:
        """Set the weights from K per-seed dicts and each lane's dropout seed."""
        if len(per_seed) != self.K or len(seeds) != self.K:
            raise ValueError(f"expected {self.K} per-seed dicts and seeds")
        for name in self.shapes:
            p = getattr(self, name)
            p.copy_(torch.as_tensor(np.stack([d[name] for d in per_seed]), dtype=p.dtype))
        self.lane_seed.copy_(torch.as_tensor(seeds, dtype=torch.int64))

    def _conv(
        self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, dilation: int
    ) -> torch.Tensor:
        """Grouped causal convolution: x (M, K*C_in, T), w (K, C, C_in, k) -> (M, K*C, T)."""
        K, C, c_in, k = w.shape
        pad = (k - 1) * dilation
        x = fn.pad(x, (pad, 0))  # left padding only: output t reads inputs <= t
        M, T = x.shape[0], x.shape[-1] - pad
        if K > 1 and M == 1 and C * c_in * k <= TAP_MATMUL_MAX:
            # small nets on-line: the k shifted views stacked, one batched matmul per lane
            xk = x.reshape(M, K, c_in, T + pad)
            taps = torch.stack([xk[..., j * dilation : j * dilation + T] for j in range(k)], 3)
            y = torch.matmul(w.reshape(K, C, c_in * k), taps.reshape(M, K, c_in * k, T))
            return (y + b[None, :, :, None]).reshape(M, K * C, T)
        w2 = w.reshape(K * C, c_in, k)
        return fn.conv1d(x, w2, b.reshape(K * C), dilation=dilation, groups=K)

    def forward_batch(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor | None = None,
        steps: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x (K, M, T, I) -> (K, M, T, O) logistic outputs at every step.

        ``lengths`` is unused (the convolutions are causal: padding after a sequence's end never
        reaches its outputs); ``steps`` (K,) is each lane's update counter for dropout masks.
        """
        K, M, T, _ = x.shape
        h = x.permute(1, 0, 3, 2).reshape(M, K * self.n_inputs, T)  # (M, K*I, T), lane-major
        drop = self.training and self.dropout > 0.0
        masks: torch.Tensor | None = None
        if drop:
            steps = steps if steps is not None else torch.zeros(K, dtype=torch.int64)
            masks = lane_masks(
                self.lane_seed, steps, (2 * self.levels, M, self.channels, T), self.dropout, h
            )  # (K, 2L, M, C, T)
        for i in range(self.levels):
            d = 2**i
            z = h
            for j, conv in enumerate(("conv1", "conv2")):
                z = torch.relu(self._conv(z, self._p(f"{conv}_w{i}"), self._p(f"{conv}_b{i}"), d))
                if masks is not None:
                    m = masks[:, 2 * i + j].permute(1, 0, 2, 3).reshape(M, K * self.channels, T)
                    z = z * m
            res = h
            if f"down_w{i}" in self.shapes:
                res = self._conv(h, self._p(f"down_w{i}"), self._p(f"down_b{i}"), 1)
            h = torch.relu(z + res)  # (M, K*C, T)
        h4 = h.reshape(M, K, self.channels, T)
        y = torch.einsum("mkct,koc->kmto", h4, self._p("W_o")) + self._p("b_o")[:, None, None, :]
        return torch.sigmoid(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (K, T, I) -> (K, T, O): one sequence per net."""
        return self.forward_batch(x.unsqueeze(1))[:, 0]
