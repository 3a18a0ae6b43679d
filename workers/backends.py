"""Training backends: how K nets take one block of on-line SGD steps.

Both backends train K independent nets, lane k on its own sequences, one sequence per weight
update (the paper's on-line protocol), and report the outputs at the error slots of every training
sequence as computed *before* its update (what "processed correctly" means in the paper).

* :class:`KernelBackend`: the 1997 LSTM with the paper's truncated gradient, computed by forward
  accumulation in a numba kernel (`workers.kernel`), K lanes vectorised. The fast path.
* :class:`TorchBackend`: any registered model (baselines, full-gradient or forget-gate 1997
  nets) with batched torch autograd; runs on CUDA when asked. The general path, and the only one
  for softmax cross-entropy (real-data tasks with ``output = "softmax"``).

A lane's batch is a :class:`LaneBatch`: the K lanes' sequences stacked to (K, B, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from workers.tasks.base import SequenceBatch, stack_batches


@dataclass(frozen=True)
class LaneBatch:
    """B sequences for each of K lanes, padded to common T, A, E."""

    flat: SequenceBatch
    """The same data as one batch of K*B sequences (lane-major), for the task's criteria."""
    K: int
    B: int

    @classmethod
    def stack(cls, batches: list[SequenceBatch]) -> LaneBatch:
        B = batches[0].n
        return cls(flat=stack_batches(batches), K=len(batches), B=B)

    def lane(self, name: str) -> np.ndarray:
        """A field of ``flat`` reshaped to (K, B, ...)."""
        a = getattr(self.flat, name)
        return np.ascontiguousarray(a.reshape(self.K, self.B, *a.shape[1:]))


class Backend(Protocol):
    name: str

    def train_block(self, lb: LaneBatch, n_seq: np.ndarray, lr: float) -> np.ndarray:
        """Train lane k on its first n_seq[k] sequences; return outputs (K, B, E, O)."""
        ...

    def forward(self, lb: LaneBatch) -> np.ndarray:
        """Outputs (K, B, E, O) without training."""
        ...

    def snapshot(self) -> Any: ...

    def restore(self, state: Any, lanes: np.ndarray) -> None:
        """Put back the snapshot's weights of the given lanes."""
        ...

    def finite(self) -> np.ndarray:
        """(K,) bool: all weights of the lane finite."""
        ...


class KernelBackend:
    """The 1997 LSTM, truncated gradient, forward accumulation, compiled (numba)."""

    name = "kernel"

    def __init__(self, model: Any, dtype: type = np.float64) -> None:
        from workers import kernel  # numba compiles (or loads its cache) only when used

        self._kernel = kernel
        lay = model.layout
        Wh, Wo = model.weights()
        self.dtype = dtype
        self.Wh: np.ndarray = np.ascontiguousarray(Wh, dtype=dtype)
        self.Wo: np.ndarray = np.ascontiguousarray(Wo, dtype=dtype)
        self.mask_h: np.ndarray = np.ascontiguousarray(lay.mask_h, dtype=dtype)
        self.mask_o: np.ndarray = np.ascontiguousarray(lay.mask_o, dtype=dtype)
        self.cfg = kernel.kernel_config(lay, g=model.g, h=model.h)

    def _arrays(self, lb: LaneBatch) -> tuple[np.ndarray, ...]:
        # the kernel reads SequenceBatch's own dtypes (int32 indices, float64 values): no copies
        return (
            lb.lane("idx"),
            lb.lane("val"),
            lb.lane("lengths"),
            lb.lane("targets"),
            lb.lane("target_steps"),
        )

    def train_block(self, lb: LaneBatch, n_seq: np.ndarray, lr: float) -> np.ndarray:
        idx, val, lengths, targets, steps = self._arrays(lb)
        out: np.ndarray = np.zeros(
            (lb.K, lb.B, targets.shape[2], targets.shape[3]), dtype=self.dtype
        )
        self._kernel.train_block(
            self.Wh, self.Wo, self.mask_h, self.mask_o, idx, val, lengths, targets, steps,
            n_seq.astype(np.int64), lr, self.cfg, out,
        )  # fmt: skip
        return out.astype(np.float64)

    def forward(self, lb: LaneBatch) -> np.ndarray:
        idx, val, lengths, targets, steps = self._arrays(lb)
        out: np.ndarray = np.zeros(
            (lb.K, lb.B, targets.shape[2], targets.shape[3]), dtype=self.dtype
        )
        self._kernel.forward_block(
            self.Wh, self.Wo, self.mask_h, self.mask_o, idx, val, lengths, steps,
            np.full(lb.K, lb.B, dtype=np.int64), self.cfg, out,
        )  # fmt: skip
        return out.astype(np.float64)

    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        return self.Wh.copy(), self.Wo.copy()

    def restore(self, state: tuple[np.ndarray, np.ndarray], lanes: np.ndarray) -> None:
        self.Wh[lanes] = state[0][lanes]
        self.Wo[lanes] = state[1][lanes]

    def finite(self) -> np.ndarray:
        K = self.Wh.shape[0]
        return np.isfinite(self.Wh.reshape(K, -1)).all(1) & np.isfinite(self.Wo.reshape(K, -1)).all(
            1
        )


class BaselineKernelBackend:
    """Elman, GRU and forget-gate LSTM with full BPTT, compiled (`workers.kernel_baselines`)."""

    name = "kernel"

    def __init__(self, model: Any, kind: str, dtype: type = np.float64) -> None:
        from workers import kernel_baselines  # numba loads its cache only when used

        self._kb, self.kind = kernel_baselines, kind
        self.params: dict[str, np.ndarray] = {
            n: np.ascontiguousarray(a, dtype=dtype) for n, a in model.weights().items()
        }
        self.dtype = dtype

    def _arrays(self, lb: LaneBatch) -> tuple[np.ndarray, ...]:
        return (
            lb.lane("idx").astype(np.int32),
            lb.lane("val").astype(self.dtype),
            lb.lane("lengths").astype(np.int32),
            lb.lane("targets").astype(self.dtype),
            lb.lane("target_steps").astype(np.int32),
        )

    def train_block(self, lb: LaneBatch, n_seq: np.ndarray, lr: float) -> np.ndarray:
        idx, val, lengths, targets, steps = self._arrays(lb)
        out: np.ndarray = np.zeros(targets.shape, dtype=self.dtype)
        self._kb.train_block(
            self.kind, self.params, idx, val, lengths, targets, steps,
            n_seq.astype(np.int64), lr, out,
        )  # fmt: skip
        return out.astype(np.float64)

    def forward(self, lb: LaneBatch) -> np.ndarray:
        idx, val, lengths, targets, steps = self._arrays(lb)
        out: np.ndarray = np.zeros(targets.shape, dtype=self.dtype)
        full = np.full(lb.K, lb.B, dtype=np.int64)
        self._kb.forward_block(self.kind, self.params, idx, val, lengths, steps, full, out)
        return out.astype(np.float64)

    def snapshot(self) -> dict[str, np.ndarray]:
        return {n: a.copy() for n, a in self.params.items()}

    def restore(self, state: dict[str, np.ndarray], lanes: np.ndarray) -> None:
        for n, a in self.params.items():
            a[lanes] = state[n][lanes]

    def finite(self) -> np.ndarray:
        ok = np.ones(next(iter(self.params.values())).shape[0], dtype=bool)
        for a in self.params.values():
            ok &= np.isfinite(a.reshape(a.shape[0], -1)).all(1)
        return ok


class TorchBackend:
    """Any registered model, on-line SGD by batched autograd (CPU or CUDA)."""

    name = "torch"

    def __init__(self, model: torch.nn.Module, device: str = "cpu", loss: str = "squared") -> None:
        if loss not in ("squared", "cross_entropy"):
            raise ValueError(f"loss must be squared or cross_entropy, got {loss!r}")
        self.loss = loss
        """``squared``: the paper's 0.5 (y - t)^2 on the logistic outputs; ``cross_entropy``:
        softmax cross-entropy over the output units' net inputs, logit(y) (real-data tasks with
        ``output = "softmax"``)."""
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.name = "torch" if self.device.type == "cpu" else f"torch-{self.device.type}"

    def _dense(self, lb: LaneBatch, b: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sequence b of every lane: x (K, T, I), steps (K, E) and targets (K, E, O)."""
        f = lb.flat
        rows = np.arange(lb.K) * lb.B + b
        T = int(f.lengths[rows].max())
        idx = f.idx[rows, :T]  # (K, T, A)
        val = f.val[rows, :T]
        dtype = self.params[0].dtype
        x = torch.zeros(lb.K, T, f.n_inputs, dtype=dtype, device=self.device)
        x.scatter_add_(
            2,
            torch.as_tensor(idx, dtype=torch.int64, device=self.device),
            torch.as_tensor(val, dtype=dtype, device=self.device),
        )
        steps = torch.as_tensor(f.target_steps[rows], dtype=torch.int64, device=self.device)
        tgt = torch.as_tensor(f.targets[rows], dtype=dtype, device=self.device)
        return x, steps, tgt

    @staticmethod
    def _at_slots(y: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        """Outputs y (K, T, O) gathered at the error slots (K, E) -> (K, E, O)."""
        s = steps.clamp(min=0).unsqueeze(2).expand(-1, -1, y.shape[2])
        return torch.gather(y, 1, s)

    def train_block(self, lb: LaneBatch, n_seq: np.ndarray, lr: float) -> np.ndarray:
        E, O = lb.flat.targets.shape[1:]
        out: np.ndarray = np.zeros((lb.K, lb.B, E, O))
        for b in range(int(n_seq.max(initial=0))):
            active = torch.as_tensor(b < n_seq, device=self.device)  # (K,)
            x, steps, tgt = self._dense(lb, b)
            y = self._at_slots(self.model(x), steps)  # (K, E, O)
            used = (steps >= 0).unsqueeze(2) & active.view(-1, 1, 1)
            # where(), not multiplication: a diverged lane's NaN must not leak into the sum
            if self.loss == "squared":
                loss = 0.5 * torch.where(used, (y - tgt) ** 2, torch.zeros_like(y)).sum()
            else:
                eps = 1e-12 if y.dtype == torch.float64 else 1e-6
                logp = torch.log_softmax(torch.logit(y, eps=eps), dim=2)
                ce = -(tgt * logp).sum(dim=2, keepdim=True)  # (K, E, 1)
                loss = torch.where(used, ce, torch.zeros_like(ce)).sum()
            grads = torch.autograd.grad(loss, self.params)
            with torch.no_grad():
                for p, g in zip(self.params, grads, strict=True):
                    p.sub_(lr * g)
            out[:, b] = y.detach().cpu().double().numpy()
        return out

    @torch.no_grad()
    def forward(self, lb: LaneBatch, chunk: int = 256) -> np.ndarray:
        """All B sequences of every lane at once: each lane's weights are repeated per sequence
        (``functional_call``), so a 2560-sequence test set is a few dozen batched passes."""
        E, O = lb.flat.targets.shape[1:]
        out: np.ndarray = np.zeros((lb.K, lb.B, E, O))
        named = dict(self.model.named_parameters())
        dtype = self.params[0].dtype
        f = lb.flat
        for b0 in range(0, lb.B, chunk):
            M = min(chunk, lb.B - b0)
            rows = (np.arange(lb.K)[:, None] * lb.B + b0 + np.arange(M)[None, :]).reshape(-1)
            T = int(f.lengths[rows].max())
            x = torch.zeros(len(rows), T, f.n_inputs, dtype=dtype, device=self.device)
            x.scatter_add_(
                2,
                torch.as_tensor(f.idx[rows, :T], dtype=torch.int64, device=self.device),
                torch.as_tensor(f.val[rows, :T], dtype=dtype, device=self.device),
            )
            params = {n: p.repeat_interleave(M, dim=0) for n, p in named.items()}
            y = torch.func.functional_call(self.model, params, (x,))  # (K*M, T, O)
            steps = torch.as_tensor(f.target_steps[rows], dtype=torch.int64, device=self.device)
            ys = self._at_slots(y, steps).cpu().double().numpy()
            out[:, b0 : b0 + M] = ys.reshape(lb.K, M, E, O)
        return out

    def snapshot(self) -> list[torch.Tensor]:
        return [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def restore(self, state: list[torch.Tensor], lanes: np.ndarray) -> None:
        sel = torch.as_tensor(lanes, device=self.device)
        for p, s in zip(self.params, state, strict=True):
            p[sel] = s[sel]

    @torch.no_grad()
    def finite(self) -> np.ndarray:
        ok = torch.ones(self.params[0].shape[0], dtype=torch.bool, device=self.device)
        for p in self.params:
            ok &= torch.isfinite(p.reshape(p.shape[0], -1)).all(1)
        return ok.cpu().numpy()
