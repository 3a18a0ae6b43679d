"""Temporal convolutional network (Bai, Kolter & Koltun 2018), as K independent nets in one module.

A stack of ``levels`` residual blocks of dilated *causal* 1-D convolutions; level i has dilation
2^i, so the receptive field is ``1 + 2 (k - 1) (2^L - 1)`` steps (k = kernel size, L = levels).
Each block (Bai et al., Fig. 1b, without weight normalisation)::

    z   = dropout(relu(conv_d(x)))           # causal: left padding (k - 1) d, no look-ahead
    z   = dropout(relu(conv_d(z)))
    out = relu(z + (x if C_in == C else W_down x))   # 1x1 convolution when the width changes
    y_t = f(W_o out_t + b_o)                 # logistic output at every step, as every model here

The K nets (seeds) run together: activations are lane-major (K, C, M, T), and one op serves all
K nets whatever K is: small convolutions as strided taps times one batched matmul
(`tap_conv`), wide ones as a *grouped* convolution (`grouped_conv`, ``groups=K``: lane k's
channels are block k of the channel axis and only see each other); `uses_taps` picks, by
measured cost. Inputs are (K, M, T, I): M sequences per net (a mini-batch; M = 1 for the
paper's on-line SGD).

Dropout masks are drawn per lane from a counter-based stream: lane k's mask at its u-th update is
a function of (lane seed, u) only, so a seed trains the same alone or beside others, and a replay
from a snapshot redraws the same masks.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as fn

TAPS_MAX_WEIGHTS_ONE_LANE = 192
"""`uses_taps`: one lane (K = 1) takes `tap_conv` up to this many weights per convolution."""
TAPS_MAX_WEIGHTS_TEST = 48
"""`uses_taps`: K > 1 lanes without autograd (a test) take `tap_conv` up to this many weights."""
TAPS_MAX_WORK_TRAIN = 400
"""`uses_taps`: K > 1 lanes in training take `tap_conv` while weights x M is at most this."""


def uses_taps(weights: int, K: int, M: int, grad: bool) -> bool:
    """Whether a convolution of ``weights`` (C_out x C_in x k) weights per lane over K lanes of M
    sequences runs faster by `tap_conv` than by `grouped_conv`.

    Read off `benchmarks.tcn_conv` (one thread, kernel 3, T = 102; two runs agreeing within
    their noise, `benchmarks/results/tcn_conv.md` prints the ratio beside each pick): the taps'
    copy and the backward of their strided view grow with C_in x k x M x T, the grouped
    convolution's per-group overhead with K. At K = 16 in training the taps take 0.3-0.9 of the
    grouped time up to ~400 weight-sequences (weights 192 at M = 1, 48 at M = 4, 12 at M = 32)
    and 1.2-3.3 beyond; without autograd 0.2-0.96 up to 48 weights (M = 32 and 256) and up to
    3.6 beyond; one lane (a per-seed loop, K = 1) 0.3-0.9 up to 192 weights and up to 2.4 beyond.
    """
    if K == 1:
        return weights <= TAPS_MAX_WEIGHTS_ONE_LANE
    if not grad:
        return weights <= TAPS_MAX_WEIGHTS_TEST
    return weights * M <= TAPS_MAX_WORK_TRAIN


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


def tap_conv(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, dilation: int) -> torch.Tensor:
    """K lanes' causal convolutions as one batched matmul over the taps, lane-major:
    x (K, C_in, M, T), w (K, C, C_in, k), b (K, C) -> (K, C, M, T).

    The k taps are one strided view (K, C_in, k, M, T) of the left-padded input (tap j of step
    t reads padded step t + j d), flattened to (K, C_in k, M T) (a view for one sequence of one
    channel, else one copy), times each lane's (C, C_in k) weights with the bias added in the
    same call (``baddbmm``): one op per convolution whatever K and M are. The same sums as a
    grouped ``conv1d`` (`grouped_conv`), in another order (rounding).
    """
    K, C, c_in, k = w.shape
    M, T = x.shape[2], x.shape[3]
    xp = fn.pad(x, ((k - 1) * dilation, 0))
    s0, s1, s2, s3 = xp.stride()
    taps = xp.as_strided(
        (K, c_in, k, M, T), (s0, s1, dilation * s3, s2, s3), xp.storage_offset()
    ).reshape(K, c_in * k, M * T)
    y = torch.baddbmm(b[:, :, None], w.reshape(K, C, c_in * k), taps)
    return y.reshape(K, C, M, T)


def grouped_conv(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, dilation: int) -> torch.Tensor:
    """The same convolutions as `tap_conv` by one grouped ``conv1d`` (``groups=K``: lane k's
    channels are block k of the channel axis): x (K, C_in, M, T) -> (K, C, M, T)."""
    K, C, c_in, k = w.shape
    M, T = x.shape[2], x.shape[3]
    xg = fn.pad(x.permute(2, 0, 1, 3).reshape(M, K * c_in, T), ((k - 1) * dilation, 0))
    y = fn.conv1d(xg, w.reshape(K * C, c_in, k), b.reshape(K * C), dilation=dilation, groups=K)
    return y.reshape(M, K, C, T).permute(1, 2, 0, 3)


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
        """Causal convolution of every lane: x (K, C_in, M, T), w (K, C, C_in, k) -> (K, C, M, T),
        by `tap_conv` or `grouped_conv`, whichever `uses_taps` says is faster."""
        K, C, c_in, k = w.shape
        if uses_taps(C * c_in * k, K, x.shape[2], torch.is_grad_enabled()):
            return tap_conv(x, w, b, dilation)
        return grouped_conv(x, w, b, dilation)

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
        h = x.permute(0, 3, 1, 2)  # (K, I, M, T): lane-major, channels before sequences
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
                    z = z * masks[:, 2 * i + j].permute(0, 2, 1, 3)  # (K, C, M, T)
            res = h
            if f"down_w{i}" in self.shapes:
                res = self._conv(h, self._p(f"down_w{i}"), self._p(f"down_b{i}"), 1)
            h = torch.relu(z + res)  # (K, C, M, T)
        y = torch.einsum("kcmt,koc->kmto", h, self._p("W_o")) + self._p("b_o")[:, None, None, :]
        return torch.sigmoid(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (K, T, I) -> (K, T, O): one sequence per net."""
        return self.forward_batch(x.unsqueeze(1))[:, 0]
