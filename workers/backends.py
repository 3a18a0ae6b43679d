"""Training backends: how K nets take one block of on-line SGD steps.

Every backend trains K independent nets, lane k on its own sequences, one sequence per weight
update (the paper's on-line protocol), and report the outputs at the error slots of every training
sequence as computed *before* its update (what "processed correctly" means in the paper).

* :class:`KernelBackend`: the 1997 LSTM with the paper's truncated gradient, computed by forward
  accumulation in a numba kernel (`workers.kernels.lstm1997`), K lanes vectorised. The fast path.
* :class:`BaselineKernelBackend`: Elman, GRU and forget-gate LSTM with full BPTT, compiled
  (`workers.kernels.baselines`), K lanes vectorised.
* :class:`TorchBackend`: any registered model (baselines, full-gradient or forget-gate 1997
  nets, TCN, Transformer) with batched torch autograd, under the paper's on-line SGD or a modern
  recipe (`workers.protocols`); runs on CUDA when asked. The general path, and the only one for
  softmax cross-entropy (real-data tasks with ``output = "softmax"``).

A lane's batch is a :class:`LaneBatch`: the K lanes' sequences stacked to (K, B, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from workers.kernels import Block
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

    def forward(self, lb: LaneBatch, lanes: np.ndarray | None = None) -> np.ndarray:
        """Outputs (K, B, E, O) without training; a backend may leave the rows of lanes not in
        ``lanes`` (bool (K,)) uncomputed (zeros)."""
        ...

    def snapshot(self) -> Any: ...

    def restore(self, state: Any, lanes: np.ndarray) -> None:
        """Put back the snapshot's weights of the given lanes."""
        ...

    def finite(self) -> np.ndarray:
        """(K,) bool: all weights of the lane finite."""
        ...


def _rows(lb: LaneBatch, lanes: np.ndarray | None) -> np.ndarray:
    """(K,) sequences each lane evaluates: all B, or none for a lane not in ``lanes``."""
    full = np.full(lb.K, lb.B, dtype=np.int64)
    return full if lanes is None else np.where(lanes, full, 0)


class KernelBackend:
    """The 1997 LSTM compiled (numba): the paper's truncated gradient by forward accumulation,
    or by BPTT per sequence the full gradient (the model's ``gradient="full"``) and any net
    with a forget gate."""

    name = "kernel"

    def __init__(
        self, model: Any, dtype: type = np.float64, per_step: bool = False,
        output_fprime: bool = True,
    ) -> None:  # fmt: skip
        from workers.kernels import lstm1997  # numba compiles (or loads its cache) when used

        lay = model.layout
        self.full = getattr(model, "gradient", "truncated") == "full"
        """The full gradient instead of the paper's truncated one."""
        self.bptt = self.full or bool(lay.forget_gate)
        """BPTT per sequence (`workers.kernels.lstm1997_bptt`): the full gradient or a forget
        gate; else the truncated gradient forward in time (`workers.kernels.lstm1997`)."""
        if self.bptt and per_step:
            raise ValueError(
                "the full gradient and the forget gate train by BPTT, once per sequence, not"
                " per step (the torch backend has that)"
            )
        self._kernel: Any = lstm1997
        self.per_step = per_step
        """Update after every step with an error slot (``update = "step"``)."""
        Wh, Wo = model.weights()
        self.dtype = dtype
        self.Wh: np.ndarray = np.ascontiguousarray(Wh, dtype=dtype)
        self.Wo: np.ndarray = np.ascontiguousarray(Wo, dtype=dtype)
        self.mask_h: np.ndarray = np.ascontiguousarray(lay.mask_h, dtype=dtype)
        self.mask_o: np.ndarray = np.ascontiguousarray(lay.mask_o, dtype=dtype)
        self.cfg = lstm1997.kernel_config(lay, g=model.g, h=model.h, output_fprime=output_fprime)
        self.nets: Any = lstm1997.Nets(
            self.Wh, self.Wo, self.mask_h, self.mask_o, self.cfg, per_step
        )
        if self.bptt:
            from workers.kernels import lstm1997_bptt

            self._kernel = lstm1997_bptt
            self.nets = lstm1997_bptt.BpttNets(
                self.Wh, self.Wo, self.mask_h, self.mask_o, self.cfg, self.full
            )
        self.n_cells = int(lay.n_cells)
        self._held: np.ndarray | None = None

    def hold_cells(self) -> None:
        """Sequential construction (`workers.construction`): the cells' output weights are kept
        aside and held at zero (masked) until `add_cells`."""
        n = self.n_cells
        self._held = self.Wo[:, :, :n].copy()
        self.Wo[:, :, :n] = 0.0
        mask = self.mask_o.copy()
        mask[:, :n] = 0.0
        self.nets = self.nets._replace(mask_o=np.ascontiguousarray(mask))

    def add_cells(self) -> None:
        """Puts the held cells' initial output weights in and unmasks them."""
        assert self._held is not None, "hold_cells first"
        self.Wo[:, :, : self.n_cells] = self._held
        self.nets = self.nets._replace(mask_o=self.mask_o)

    def _block(self, lb: LaneBatch) -> Block:
        # the kernel reads SequenceBatch's own dtypes (int32 indices, float64 values): no copies
        return Block(*(lb.lane(n) for n in Block._fields))

    def train_block(self, lb: LaneBatch, n_seq: np.ndarray, lr: float) -> np.ndarray:
        block = self._block(lb)
        out: np.ndarray = np.zeros(block.targets.shape, dtype=self.dtype)
        self._kernel.train_block(self.nets, block, n_seq.astype(np.int64), lr, out)
        return out.astype(np.float64)

    def forward(self, lb: LaneBatch, lanes: np.ndarray | None = None) -> np.ndarray:
        block = self._block(lb)
        out: np.ndarray = np.zeros(block.targets.shape, dtype=self.dtype)
        self._kernel.forward_block(self.nets, block, _rows(lb, lanes), out)
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
    """Elman, GRU and forget-gate LSTM with full BPTT, compiled (`workers.kernels.baselines`)."""

    name = "kernel"

    def __init__(self, model: Any, kind: str, dtype: type = np.float64) -> None:
        from workers.kernels import baselines  # numba loads its cache only when used

        self._kb, self.kind = baselines, kind
        self.params: dict[str, np.ndarray] = {
            n: np.ascontiguousarray(a, dtype=dtype) for n, a in model.weights().items()
        }
        self.dtype = dtype
        self.nets = baselines.Nets(kind, self.params)

    def _block(self, lb: LaneBatch) -> Block:
        return Block(
            lb.lane("idx").astype(np.int32),
            lb.lane("val").astype(self.dtype),
            lb.lane("lengths").astype(np.int32),
            lb.lane("targets").astype(self.dtype),
            lb.lane("target_steps").astype(np.int32),
        )

    def train_block(self, lb: LaneBatch, n_seq: np.ndarray, lr: float) -> np.ndarray:
        block = self._block(lb)
        out: np.ndarray = np.zeros(block.targets.shape, dtype=self.dtype)
        self._kb.train_block(self.nets, block, n_seq.astype(np.int64), lr, out)
        return out.astype(np.float64)

    def forward(self, lb: LaneBatch, lanes: np.ndarray | None = None) -> np.ndarray:
        block = self._block(lb)
        out: np.ndarray = np.zeros(block.targets.shape, dtype=self.dtype)
        self._kb.forward_block(self.nets, block, _rows(lb, lanes), out)
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
    """Any registered model by batched autograd (CPU or CUDA), under either protocol.

    ``recipe`` (`workers.protocols`) says how weights change: the paper's on-line SGD (one
    sequence per update) or mini-batches with a per-lane Adam/AdamW and per-lane clipping.
    Models with a ``forward_batch(x (K, M, T, I), lengths, steps)`` (the successors) take a
    mini-batch directly; the recurrent nets run M sequences per lane by repeating each lane's
    weights M times (``functional_call``), gradients flowing back to the K lanes.
    """

    name = "torch"

    def __init__(
        self, model: torch.nn.Module, device: str = "cpu", recipe: Any = None,
        loss: str = "squared", per_step: bool = False,
    ) -> None:  # fmt: skip
        from models.lstm1997 import Lstm1997
        from workers.protocols import PAPER, LaneAdam

        if loss not in ("squared", "cross_entropy", "logistic"):
            raise ValueError(f"loss must be squared, logistic or cross_entropy, got {loss!r}")
        if per_step and not (isinstance(model, Lstm1997) and loss in ("squared", "logistic")):
            raise ValueError("the per-step update trains the 1997 net's squared error only")
        self.per_step = per_step
        """Update after every step with an error slot (`models.lstm1997.train_per_step`)."""
        self.loss = loss
        """``squared``: the paper's 0.5 (y - t)^2 on the logistic outputs; ``logistic``: their
        cross-entropy (output delta y - t, the paper's without f'; ``output_delta =
        "no_fprime"``); ``cross_entropy``: softmax cross-entropy over the output units' net
        inputs, logit(y) (real-data tasks with ``output = "softmax"``)."""
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.name = "torch" if self.device.type == "cpu" else f"torch-{self.device.type}"
        self.recipe = PAPER if recipe is None else recipe
        self.batched = hasattr(self.model, "forward_batch")
        self.reads_slots = bool(getattr(self.model, "reads_slots", False))
        """The model computes the outputs at the error slots alone (``forward_batch(at=)``)."""
        self.opt = (
            LaneAdam(self.params, self.recipe.weight_decay)
            if self.recipe.optimizer != "sgd"
            else None
        )
        K = self.params[0].shape[0]
        self.updates = torch.zeros(K, dtype=torch.int64)
        """Per-lane update counter: a lane's dropout stream position (`models.tcn`)."""

    def _dense(self, lb: LaneBatch, b: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sequence b of every lane: x (K, T, I), steps (K, E) and targets (K, E, O)."""
        x, steps, tgt, _ = self._dense_rows(lb, np.arange(lb.K)[:, None] * lb.B + b)
        return x[:, 0], steps[:, 0], tgt[:, 0]

    def _dense_rows(
        self, lb: LaneBatch, rows: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Rows (K, M) of the flat batch: x (K, M, T, I), steps (K, M, E), targets
        (K, M, E, O) and lengths (K, M), T the longest of these rows."""
        f = lb.flat
        K, M = rows.shape
        flat = rows.reshape(-1)
        T = int(f.lengths[flat].max())
        dtype = self.params[0].dtype
        dev = self.device
        x = torch.zeros(K * M, T, f.n_inputs, dtype=dtype, device=dev)
        x.scatter_add_(
            2,
            torch.as_tensor(f.idx[flat, :T], dtype=torch.int64, device=dev),
            torch.as_tensor(f.val[flat, :T], dtype=dtype, device=dev),
        )
        steps = torch.as_tensor(f.target_steps[flat], dtype=torch.int64, device=dev)
        tgt = torch.as_tensor(f.targets[flat], dtype=dtype, device=dev)
        lengths = torch.as_tensor(f.lengths[flat], dtype=torch.int64, device=dev)
        E = steps.shape[1]
        return (
            x.reshape(K, M, T, -1),
            steps.reshape(K, M, E),
            tgt.reshape(K, M, E, -1),
            lengths.reshape(K, M),
        )

    @staticmethod
    def _at_slots(y: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        """Outputs y (K, T, O) gathered at the error slots (K, E) -> (K, E, O); also
        (K, M, T, O) with steps (K, M, E) -> (K, M, E, O)."""
        ax = y.dim() - 2
        s = steps.clamp(min=0).unsqueeze(-1).expand(*steps.shape, y.shape[-1])
        return torch.gather(y, ax, s)

    def _slots(self, x: torch.Tensor, lengths: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        """x (K, M, T, I) -> the outputs at the error slots steps (K, M, E) -> (K, M, E, O).
        A model that can compute only those (``reads_slots``: the Transformer's last layer
        attends from the slots alone) is asked for them; any other runs every step."""
        if self.reads_slots:
            return self.model.forward_batch(x, lengths, self.updates, at=steps)  # type: ignore[operator]
        return self._at_slots(self._run(x, lengths), steps)

    def _run(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x (K, M, T, I) -> outputs (K, M, T, O) with the current weights."""
        K, M, T, _ = x.shape
        if self.batched:
            return self.model.forward_batch(x, lengths, self.updates)  # type: ignore[operator]
        if M == 1:
            return self.model(x[:, 0]).unsqueeze(1)
        named = dict(self.model.named_parameters())
        params = {n: p.repeat_interleave(M, dim=0) for n, p in named.items()}
        y = torch.func.functional_call(self.model, params, (x.reshape(K * M, T, -1),))
        return y.reshape(K, M, T, -1)

    def train_block(self, lb: LaneBatch, n_seq: np.ndarray, lr: float) -> np.ndarray:
        E, O = lb.flat.targets.shape[1:]
        out: np.ndarray = np.zeros((lb.K, lb.B, E, O))
        if self.per_step:
            return self._train_per_step(lb, n_seq, lr, out)
        M = self.recipe.batch
        self.model.train()
        lane = np.arange(lb.K)[:, None] * lb.B
        for b0 in range(0, int(n_seq.max(initial=0)), M):
            pos = b0 + np.arange(min(M, lb.B - b0))  # (m,)
            x, steps, tgt, lengths = self._dense_rows(lb, lane + pos[None, :])
            seq_used = torch.as_tensor(pos[None, :] < n_seq[:, None], device=self.device)  # (K, m)
            y = self._slots(x, lengths, steps)  # (K, m, E, O)
            used = (steps >= 0).unsqueeze(3) & seq_used[:, :, None, None]
            # where(), not multiplication: a diverged lane's NaN must not leak into the sum
            if self.loss in ("squared", "logistic"):
                from models.lstm1997 import output_loss

                per = torch.where(used, output_loss(y, tgt, self.loss), torch.zeros_like(y))
            else:
                eps = 1e-12 if y.dtype == torch.float64 else 1e-6
                logp = torch.log_softmax(torch.logit(y, eps=eps), dim=3)
                ce = -(tgt * logp).sum(dim=3, keepdim=True)  # (K, m, E, 1)
                per = torch.where(used, ce, torch.zeros_like(ce))
            active = seq_used.any(1)
            if self.opt is None:
                loss = per.sum()  # on-line SGD: one sequence per lane, its summed error
            else:  # mean over the lane's sequences in this batch
                loss = (per.sum((1, 2, 3)) / seq_used.sum(1).clamp(min=1)).sum()
            grads = list(torch.autograd.grad(loss, self.params))
            with torch.no_grad():
                if self.opt is None:
                    for p, g in zip(self.params, grads, strict=True):
                        p.sub_(lr * g)
                else:
                    if self.recipe.clip is not None:
                        from workers.protocols import clip_per_lane

                        grads = clip_per_lane(grads, self.recipe.clip)
                    self.opt.step(grads, lr, active)
            self.updates += active.to("cpu", torch.int64)
            out[:, pos] = y.detach().cpu().double().numpy()
        return out

    def _train_per_step(
        self, lb: LaneBatch, n_seq: np.ndarray, lr: float, out: np.ndarray
    ) -> np.ndarray:
        from models.lstm1997 import train_per_step

        lane = np.arange(lb.K)[:, None] * lb.B
        for b in range(int(n_seq.max(initial=0))):
            x, steps, tgt, lengths = self._dense_rows(lb, lane + b)
            on = torch.as_tensor(b < n_seq, device=self.device)
            net: Any = self.model
            y = train_per_step(
                net, x[:, 0], lengths[:, 0], steps[:, 0], tgt[:, 0], lr, on, self.loss
            )
            out[:, b] = y.cpu().double().numpy()
        return out

    @torch.no_grad()
    def forward(
        self, lb: LaneBatch, lanes: np.ndarray | None = None, chunk: int = 256
    ) -> np.ndarray:
        """All B sequences of every lane at once: each lane's weights are repeated per sequence
        (``functional_call``), so a 2560-sequence test set is a few dozen batched passes.
        ``lanes`` is accepted for the protocol; every lane is computed (one batched pass)."""
        E, O = lb.flat.targets.shape[1:]
        out: np.ndarray = np.zeros((lb.K, lb.B, E, O))
        if self.batched:
            self.model.eval()  # no dropout at test time
            lane = np.arange(lb.K)[:, None] * lb.B
            for b0 in range(0, lb.B, chunk):
                pos = b0 + np.arange(min(chunk, lb.B - b0))
                x, steps, _, lengths = self._dense_rows(lb, lane + pos[None, :])
                y = self._slots(x, lengths, steps)
                out[:, pos] = y.cpu().double().numpy()
            return out
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

    def snapshot(self) -> tuple[list[torch.Tensor], Any, torch.Tensor]:
        opt = None if self.opt is None else self.opt.state()
        return [p.detach().clone() for p in self.params], opt, self.updates.clone()

    @torch.no_grad()
    def restore(
        self, state: tuple[list[torch.Tensor], Any, torch.Tensor], lanes: np.ndarray
    ) -> None:
        params, opt, updates = state
        sel = torch.as_tensor(lanes, device=self.device)
        for p, s in zip(self.params, params, strict=True):
            p[sel] = s[sel]
        if self.opt is not None:
            self.opt.restore(opt, sel)
        self.updates[torch.as_tensor(lanes)] = updates[torch.as_tensor(lanes)]

    @torch.no_grad()
    def finite(self) -> np.ndarray:
        ok = torch.ones(self.params[0].shape[0], dtype=torch.bool, device=self.device)
        for p in self.params:
            ok &= torch.isfinite(p.reshape(p.shape[0], -1)).all(1)
        return ok.cpu().numpy()
