"""Training protocols: the paper's on-line SGD, or the modern recipe each family is trained with.

``paper`` (Sec. 5 of the 1997 paper): plain SGD, one sequence per weight update, learning rate
``lr``. ``modern``: mini-batches, Adam or AdamW, gradient clipping by global norm, per family:

=============================  =========  =====  =====  ============  ======================
family                         optimiser  batch  clip   weight decay  reference
=============================  =========  =====  =====  ============  ======================
lstm1997, elman, gru,          Adam       32     1.0    0             common RNN practice
lstm_forget
tcn                            Adam       32     1.0    0             Bai et al. 2018 (adding:
                                                                      Adam, clipping)
transformer                    AdamW      32     1.0    0.01          Loshchilov & Hutter 2019
=============================  =========  =====  =====  ============  ======================

A study's ``lr`` is then Adam's step size (unset: 1e-2 for the recurrent nets, 2e-3 for TCN as
in Bai et al.'s adding problem, 1e-3 for the Transformer; typically 1e-4 .. 1e-2, against
0.1 .. 10 for the paper's SGD: a study sweeping both protocols wants a log grid over several
decades, or per-model lr axes).
Betas (0.9, 0.999), eps 1e-8. A study leaves ``protocol`` unset to take each family's default:
``paper`` for the 1997 net and the recurrent baselines, ``modern`` for TCN and Transformer.

What does not change: a budget is a number of *sequences* per seed, the readings are computed on
the outputs every training sequence got before the update that used it, and a seed stopped
inside a mini-batch is replayed up to its stopping sequence (the last update uses the partial
batch), then judged on the same fresh test set.

`LaneAdam` keeps K optimisers in stacked tensors: Adam is elementwise, so lane k's moments only
ever see lane k's gradients; clipping norms are per lane; a lane with no sequence in an update
is left exactly as it was (its step counter included).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from workers.config import PROTOCOLS, TrialConfig


@dataclass(frozen=True)
class Recipe:
    """How one family is trained under one protocol."""

    optimizer: str
    """sgd, adam or adamw."""
    batch: int
    """Sequences per update per seed."""
    clip: float | None = None
    """Global gradient-norm bound per seed (None = no clipping)."""
    weight_decay: float = 0.0
    """AdamW's decoupled weight decay."""
    lr: float | None = None
    """Learning rate when the study sets none (None: the paper's for the task, Table 10)."""


PAPER = Recipe("sgd", 1)
MODERN: dict[str, Recipe] = {
    "lstm1997": Recipe("adam", 32, 1.0, lr=1e-2),
    "elman": Recipe("adam", 32, 1.0, lr=1e-2),
    "gru": Recipe("adam", 32, 1.0, lr=1e-2),
    "lstm_forget": Recipe("adam", 32, 1.0, lr=1e-2),
    "tcn": Recipe("adam", 32, 1.0, lr=2e-3),
    "transformer": Recipe("adamw", 32, 1.0, 0.01, lr=1e-3),
}


def update_moment(config: TrialConfig, error_at_end: bool, paper_update: str | None = None) -> str:
    """When on-line SGD changes the weights of this trial: ``sequence`` or ``step``.

    The paper says "on-line" and that "each weight's total update is the sum of the
    contributions of all time steps", but not whether a sequence's contributions are applied
    at its end or as they arise. Its learning rule is a truncated RTRL, and RTRL updates in
    real time, after every step; an independent per-step RTRL run solved Exp. 1 where the
    per-sequence update did not. So the default is ``step`` for the 1997 net on tasks with
    error before the end (Exp. 1, 2a, 2b: next-symbol prediction), and ``sequence`` otherwise:
    with error only at the end (Exp. 2c-6) the two give the same weights, and the baselines'
    full BPTT (the paper's BPTT rows) updates per sequence. A task's paper setup may say
    otherwise for the 1997 net (``paper_update``, `PaperSetup.update`): Exp. 2a/2b update per
    sequence, because with the paper's sequential construction the per-sequence update solves
    2a at p = 100 where the per-step one turns the cell into a ramp that saturates the outputs
    (`workers.tasks.noise_free_2a`).

    Raises:
        ValueError: ``step`` asked of a model other than lstm1997 or under the modern protocol.
    """
    if config.update is None:
        one_step = config.model.is_lstm1997 and config.protocol == "paper" and not error_at_end
        if one_step and paper_update is not None:
            return paper_update
        return "step" if one_step else "sequence"
    if config.update == "step" and not (config.model.is_lstm1997 and config.protocol == "paper"):
        raise ValueError(
            "update 'step' is the 1997 net's real-time rule under the paper protocol;"
            f" {config.model.name} ({config.protocol} protocol) updates per sequence"
        )
    return config.update


def recipe(model: str, protocol: str) -> Recipe:
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    return PAPER if protocol == "paper" else MODERN.get(model, Recipe("adam", 32, 1.0, lr=1e-3))


class LaneAdam:
    """Adam / AdamW over parameters stacked (K, ...) along the lane axis, one optimiser a lane."""

    def __init__(
        self,
        params: Sequence[torch.Tensor],
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params, self.wd, self.betas, self.eps = params, weight_decay, betas, eps
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        K = params[0].shape[0]
        self.t = torch.zeros(K, dtype=params[0].dtype, device=params[0].device)

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor], lr: float, active: torch.Tensor) -> None:
        """One update of the lanes where ``active`` (K,) is True."""
        b1, b2 = self.betas
        t = self.t + active.to(self.t.dtype)
        c1 = 1.0 - b1 ** t.clamp(min=1.0)
        c2 = 1.0 - b2 ** t.clamp(min=1.0)
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            shape = (-1,) + (1,) * (p.dim() - 1)
            act = active.view(shape)
            m_new = b1 * m + (1 - b1) * g
            v_new = b2 * v + (1 - b2) * g * g
            upd = (m_new / c1.view(shape)) / ((v_new / c2.view(shape)).sqrt() + self.eps)
            p_new = p * (1.0 - lr * self.wd) - lr * upd
            m.copy_(torch.where(act, m_new, m))
            v.copy_(torch.where(act, v_new, v))
            p.copy_(torch.where(act, p_new, p))
        self.t = t

    def state(self) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
        return [m.clone() for m in self.m], [v.clone() for v in self.v], self.t.clone()

    @torch.no_grad()
    def restore(
        self,
        state: tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor],
        lanes: torch.Tensor,
    ) -> None:
        ms, vs, t = state
        for m, v, m0, v0 in zip(self.m, self.v, ms, vs, strict=True):
            m[lanes], v[lanes] = m0[lanes], v0[lanes]
        self.t[lanes] = t[lanes]


def clip_per_lane(grads: list[torch.Tensor], bound: float) -> list[torch.Tensor]:
    """Scale each lane's gradient so its global norm (over all parameters) is <= bound."""
    sq = sum(g.reshape(g.shape[0], -1).pow(2).sum(1) for g in grads)
    assert isinstance(sq, torch.Tensor)
    scale = (bound / (sq.sqrt() + 1e-6)).clamp(max=1.0)
    return [g * scale.view((-1,) + (1,) * (g.dim() - 1)) for g in grads]
