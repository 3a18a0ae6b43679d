"""How much memory one trial's worker needs, estimated from its configuration before it runs.

A worker materialises one training block at a time: K lanes x B sequences x the task's longest
sequence (`workers.trainer.block_size`: B shrinks as sequences grow, down to 1), as sparse inputs
(index + value per active input), targets at the error slots and the net's outputs there, plus
what the backend keeps per step (full-BPTT backends keep every step's activations; the 1997
net's truncated gradient keeps forward partials per weight instead). The final test runs in
chunks of the same block. So the peak is about one block's data and activations, counted twice
(each lane's draw and the stacked copy), plus the next block's data, which the trainer draws in
a background thread while the current one trains, whatever the budget.

The estimate is deliberately an upper bound: the study driver refuses a spec whose trials would
need more than a limit (``study-launch --max-trial-memory``) before a worker asks the operating
system for 17 GB and takes the machine down with it.

Example:
    >>> from workers.config import TrialConfig
    >>> est = estimate(TrialConfig(task="adding", task_params={"T": 1_000_000_000}, seeds=4))
    >>> est.bytes > 50 * 2**30
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from models.registry import describe
from workers.config import TrialConfig
from workers.tasks import make_task

PROBE_MAX_LENGTH = 1_000_000
"""Tasks up to this length are probed with one real sequence for their per-step sizes."""
BLOCK_STEPS = 250 * 110
"""`workers.trainer.STEPS_PER_BLOCK` (kept equal by a test; importing the trainer needs torch)."""
FIXED = 8 * 2**20
"""Per-trial buffers that do not grow with the block (curves, readings, small arrays)."""
DIVISORS = (250, 200, 125, 100, 50, 40, 25, 20, 10, 8, 5, 4, 2, 1)


@dataclass(frozen=True)
class Estimate:
    """A trial's estimated peak memory and what it is made of."""

    bytes: int
    lanes: int
    block: int
    """Sequences per lane per block."""
    length: int
    """The task's longest sequence (steps)."""

    def describe(self) -> str:
        return (
            f"about {self.bytes / 2**30:.1f} GiB ({self.lanes} seeds x {self.block} sequences "
            f"x {self.length:,} steps per block)"
        )


def estimate(config: TrialConfig) -> Estimate:
    """Estimated peak bytes of training ``config`` (see the module docstring)."""
    task = make_task(config.task, **config.task_params)
    L = max(1, int(task.max_length))
    B = next((d for d in DIVISORS if d * L <= BLOCK_STEPS), 1)
    O = int(task.n_outputs)
    if L <= PROBE_MAX_LENGTH:
        probe = task.sample(np.random.default_rng(0), 1)
        A = int(probe.idx.shape[2])
        slots = int(probe.targets.shape[1]) / max(1, int(probe.idx.shape[1]))
    else:
        A = 2
        slots = 1.0 / L if getattr(task, "error_at_end", True) else 1.0
    info = describe(config.model, task.paper, task.n_inputs, task.n_outputs)
    weights = int(info["weights"])
    units, attention = _units(info, L)
    bptt = config.model.name != "lstm1997" or config.model.gradient == "full"
    dense = config.backend == "torch" or (bptt and config.model.name not in _KERNELS)
    per_step = (
        4 * A * (4 + 8)  # sparse inputs (int32 index + float64 value): drawn, stacked, lanes
        + slots * (8 * O * 8 + 8)  # targets, outputs and the criteria's temporaries per slot
        + units * 8 * (8 if bptt else 0)  # activations kept per step (BPTT: every gate)
        + (task.n_inputs * 8 if dense else 0)  # the torch backend's dense inputs
    )
    K = int(config.seeds)
    # a Transformer's attention rows (scores, softmax, gradients) exist for the sequences of one
    # update at a time: one sequence on-line, a mini-batch of at most 32 under "modern"
    attn = K * min(B, 32) * L * attention * 8 * 3
    # the next block, drawn while this one trains: its inputs and targets, drawn and stacked
    ahead = 2 * A * (4 + 8) + slots * 2 * O * 8
    total = FIXED + K * B * L * (per_step + ahead) + K * weights * (units + 4) * 8 + attn
    return Estimate(bytes=math.ceil(total), lanes=K, block=B, length=L)


def _units(info: dict[str, object], length: int) -> tuple[int, int]:
    """(activations kept per step, attention entries per step) of a described net."""
    get = info.get
    if get("hidden"):
        return int(str(get("hidden"))), 0
    if get("blocks"):
        return int(str(get("blocks"))) * (int(str(get("cells_per_block"))) + 2), 0
    if get("channels"):  # TCN: each level's channels, before and after its residual
        return 2 * int(str(get("channels"))) * int(str(get("levels"))), 0
    if get("width"):  # Transformer: its layers' activations, attention over the sequence
        layers = int(str(get("layers")))
        return 6 * int(str(get("width"))) * layers, int(str(get("heads"))) * layers * length
    return int(str(get("weights"))), 0


_KERNELS = ("elman", "gru", "lstm_forget")
"""Baselines with a compiled kernel (sparse inputs, no dense copy)."""
