"""What goes into one trial and what comes out, as plain frozen data.

A trial is one configuration (task + lag parameters, model + topology, learning rate, init range,
budget) trained for K seeds. `workers.trainer.train` maps a :class:`TrialConfig` to a
:class:`TrialResult`. Both convert to and from plain dicts (``to_dict``/``from_dict``) so they cross
process boundaries (Ray) and land in SQL as JSON without pickling code objects.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

Reading = Literal["literal", "mae", "frac99"]
READINGS: tuple[Reading, ...] = ("literal", "mae", "frac99")
"""Success readings recorded for every seed:
* ``literal``: the paper's stopping criterion read literally (e.g. ST3: average training error
  below beta AND the 2000 most recent sequences all correct);
* ``mae``: mean absolute error over the recent window below the task's ABS bound;
* ``frac99``: at least 99% of the recent window correct.
"""


@dataclass(frozen=True)
class ModelSpec:
    """A model family and its topology. Unset fields take the task's paper setup (Table 10)."""

    name: str = "lstm1997"
    """Registry name: lstm1997, elman, gru, lstm_forget."""
    blocks: int | None = None
    """LSTM family: memory blocks (None = paper's)."""
    cells_per_block: int | None = None
    """LSTM family: cells per block (None = paper's)."""
    gates: str | None = None
    """lstm1997: which gates exist, both/input/output/none (None = paper's)."""
    gate_bias: str = "paper"
    """lstm1997: initial gate biases, paper (staggered negative) / zero / random."""
    gradient: str = "truncated"
    """lstm1997: truncated (the paper's, error only through the CEC) or full BPTT."""
    forget_gate: bool = False
    """lstm1997: add a Gers (2000) forget gate to each block."""
    hidden: int | None = None
    """Baselines: hidden units (None: sized by ``match_weights`` or the paper net's count)."""
    match_weights: int | None = None
    """Baselines and successors: choose their width so the (effective) weight count is closest
    to this."""
    forget_bias: float | None = None
    """Initial forget-gate bias: lstm_forget (None = +1.0) or a 1997 net's forget gate (None =
    random like every weight)."""
    kernel_size: int | None = None
    """tcn: convolution kernel size (None = 3)."""
    levels: int | None = None
    """tcn: residual blocks, dilations 1, 2, 4, ... (None = fewest covering the sequence)."""
    channels: int | None = None
    """tcn: channels per level (None = matched to the weight count)."""
    dropout: float | None = None
    """tcn: dropout after each convolution (None = 0)."""
    layers: int | None = None
    """transformer: encoder layers (None = 1)."""
    heads: int | None = None
    """transformer: attention heads (None = 2)."""
    width: int | None = None
    """transformer: model width, a multiple of heads (None = matched to the weight count)."""
    attention: str | None = None
    """transformer: causal (None) or full attention over the sequence."""
    positions: str | None = None
    """transformer: sinusoidal (None) or learned positions."""

    @property
    def is_lstm1997(self) -> bool:
        return self.name == "lstm1997"

    def to_key_dict(self) -> dict[str, Any]:
        """The fields that identify the net: the original nine always, a newer field only when
        set, so configurations that predate it keep their keys (and seeds)."""
        d = asdict(self)
        for k in NEW_MODEL_FIELDS:
            if d[k] is None:
                d.pop(k)
        return d


NEW_MODEL_FIELDS = (
    "forget_bias", "kernel_size", "levels", "channels", "dropout",
    "layers", "heads", "width", "attention", "positions",
)  # fmt: skip
"""ModelSpec fields added after the first stored studies (left out of keys when unset)."""
LR = "lr"
"""The learning rate's name: the `TrialConfig` field, the spec axis and the stored parameter."""
PROTOCOLS = ("paper", "modern")
"""Training protocols: the paper's on-line SGD, or a modern optimiser (`workers.protocols`)."""
DEFAULT_PROTOCOL: dict[str, str] = {"tcn": "modern", "transformer": "modern"}
"""Families whose default is not the paper's protocol."""


def default_protocol(model: str) -> str:
    """The protocol a study uses for ``model`` when it sets none (`workers.protocols`)."""
    return DEFAULT_PROTOCOL.get(model, "paper")


OUTPUT_DELTAS = ("paper", "no_fprime")
"""The output delta: the paper's (y - t) f'(net), or y - t (`TrialConfig.output_delta`)."""
CONSTRUCTIONS = ("at_once", "sequential")
"""How the 1997 net's memory cells enter training (`TrialConfig.construction`)."""
UPDATES = ("sequence", "step")
"""When the paper protocol's on-line SGD changes the weights: after each sequence, or after each
step with an error slot (`workers.protocols.update_moment`)."""


@dataclass(frozen=True)
class TrialConfig:
    """One configuration, trained for ``seeds`` independent seeds."""

    task: str = "adding"
    """Task registry name (`workers.tasks`)."""
    task_params: dict[str, Any] = field(default_factory=lambda: {"T": 20})
    """The task's lag parameters (T, q, p, N, ...)."""
    model: ModelSpec = field(default_factory=ModelSpec)
    """Model family and topology."""
    lr: float | None = None
    """Learning rate of on-line SGD (None = paper's for the task)."""
    init_range: float | None = None
    """Initial weights uniform in [-r, r] (None = paper's: 0.2 in Exp. 1-2, 0.1 in Exp. 3-6)."""
    max_sequences: int = 20_000
    """Budget: training sequences per seed."""
    seeds: int = 4
    """K: seeds trained together."""
    seed_base: int = 0
    """Root of the seed derivation; the driver sets it from (study, configuration)."""
    replicate_offset: int = 0
    """Replicate index of the first seed (seed i has replicate ``replicate_offset + i``)."""
    reading: Reading = "literal"
    """Which success reading decides ``solved`` (all three are recorded)."""
    backend: Literal["auto", "kernel", "torch"] = "auto"
    """Training backend: the compiled lstm1997 kernel, batched torch autograd, or automatic."""
    device: str = "auto"
    """Torch backend device: cpu, cuda, or auto (cuda when present and the net is large)."""
    curve_points: int = 40
    """Points of the coarse learning curve kept per seed."""
    precision: Literal["float64", "float32"] = "float64"
    """Arithmetic of the weights and activations: float64 (default, the oracle's precision) or
    float32 (about 1.9x the kernel's throughput; results differ from float64 at ~1e-6)."""
    protocol: str = "paper"
    """How weights are updated: ``paper`` (on-line SGD, one sequence per update) or ``modern``
    (Adam/AdamW, mini-batches, gradient clipping; the family's settings in
    `workers.protocols`). Budgets and readings count sequences either way."""
    update: str | None = None
    """The paper protocol's update moment: ``sequence`` (the summed gradient of a sequence at its
    end), ``step`` (each step's gradient right after it: RTRL's real-time update; the 1997 net
    only), or None: the task's and model's default (`workers.protocols.update_moment`)."""
    output_delta: str | None = None
    """The output units' delta: ``paper`` (None): (y - t) f'(net), the gradient of 1/2 SSE;
    ``no_fprime``: y - t (f' dropped; the logistic outputs' cross-entropy gradient), a measured
    variant of the paper reproduction (the 1997 net and the torch path only)."""
    construction: str | None = None
    """How the 1997 net's memory cells enter training: ``at_once`` (present from the first
    sequence) or ``sequential`` (the paper's remedy 1 for the abuse problem, Exp. 2a/2b: the
    cells' output weights are held at zero, so the cells neither act nor learn, until the
    training error stops decreasing; then they are added with their initial weights:
    `workers.construction`). None: the task's paper setup (``sequential`` in Exp. 2a/2b)."""

    def __post_init__(self) -> None:
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr}")
        if self.init_range is not None and not self.init_range > 0:
            raise ValueError(f"init_range must be > 0, got {self.init_range}")
        if self.max_sequences < 1:
            raise ValueError(f"max_sequences must be >= 1, got {self.max_sequences}")
        if self.seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {self.seeds}")
        if self.precision not in ("float64", "float32"):
            raise ValueError(f"precision must be float64 or float32, got {self.precision!r}")
        if self.reading not in READINGS:
            raise ValueError(f"reading must be one of {READINGS}, got {self.reading!r}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {self.protocol!r}")
        if self.update is not None and self.update not in UPDATES:
            raise ValueError(f"update must be one of {UPDATES}, got {self.update!r}")
        if self.construction not in (None, *CONSTRUCTIONS):
            raise ValueError(
                f"construction must be one of {CONSTRUCTIONS}, got {self.construction!r}"
            )
        if self.output_delta not in (None, *OUTPUT_DELTAS):
            raise ValueError(
                f"output_delta must be one of {OUTPUT_DELTAS}, got {self.output_delta!r}"
            )

    def seed_of(self, i: int) -> int:
        """Seed of lane i: a hash of (seed_base, configuration, replicate), worker-independent."""
        return derive_seed(self.seed_base, self.seed_key(), self.replicate_offset + i)

    def seed_key(self) -> str:
        """The configuration as far as seeds are concerned: the budget, the success reading and
        the learning-rule variants (update moment, output delta, construction) do not change a
        seed, so the same net sees the same data whichever reading stops it and whichever rule
        trains it (paired variants)."""
        d = json.loads(self.key())
        for k in ("max_sequences", "reading", "update", "output_delta", "construction"):
            d.pop(k, None)
        return json.dumps(d, sort_keys=True)

    def key(self) -> str:
        """A stable text key of the configuration (without seeds and budget bookkeeping)."""
        d = self.to_dict()
        d["model"] = self.model.to_key_dict()
        if d["protocol"] == "paper":
            d.pop("protocol")  # the only protocol before it became an axis: old keys stay
        for k in ("update", "output_delta", "construction"):  # unset: old keys stay
            if d[k] is None:
                d.pop(k)
        for k in (
            "seeds",
            "seed_base",
            "replicate_offset",
            "curve_points",
            "backend",
            "device",
            "precision",
        ):
            d.pop(k)
        return json.dumps(d, sort_keys=True)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrialConfig:
        d = dict(d)
        d["model"] = ModelSpec(**d.get("model", {}))
        return cls(**d)


def derive_seed(base: int, key: str, replicate: int) -> int:
    """A 63-bit seed from (base, configuration key, replicate): order- and worker-independent."""
    h = hashlib.sha256(f"{base}|{key}|{replicate}".encode()).digest()
    return int.from_bytes(h[:8], "little") >> 1


@dataclass
class SeedResult:
    """The outcome of one seed."""

    replicate: int
    seed: int
    solved: bool
    """Stopping reading ``TrialConfig.reading`` met within budget and the test set passed."""
    sequences_to_solve: int | None
    """Training sequences until the chosen reading first held (None if never)."""
    readings: dict[str, int | None]
    """Sequences until each reading (literal, mae, frac99) first held, None if never."""
    sequences_trained: int
    final_train_error: float
    """Mean training error over the most recent window when training stopped."""
    test_error: float
    """Mean absolute error on the fresh test set (NaN if diverged)."""
    test_wrong: int
    test_n: int
    diverged: bool
    """NaN/inf appeared: a failed seed, never a crash."""
    wall_s: float
    curve: list[tuple[int, float, float]] = field(default_factory=list)
    """(sequences, window mean training error, window fraction correct) points."""
    metrics: dict[str, Any] | None = None
    """Task-specific results of the final test (real-data classification: ``test_accuracy``,
    ``macro_f1``, ``confusion`` [true][predicted], ``classes``); None for the paper's tasks."""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["curve"] = [list(p) for p in self.curve]
        return _finite(d)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SeedResult:
        d = dict(d)
        d["curve"] = [tuple(p) for p in d.get("curve", [])]
        for k in ("final_train_error", "test_error"):
            if d.get(k) is None:
                d[k] = float("nan")
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class TrialResult:
    """All seeds of one configuration plus what the study reports about them."""

    config: TrialConfig
    seeds: list[SeedResult]
    weights: int
    """Trainable weights of one net."""
    backend: str
    wall_s: float
    update: str = "sequence"
    """The update moment the seeds trained with (``config.update`` resolved)."""
    trained: dict[str, Any] = field(default_factory=dict)
    """What the seeds actually trained with, every default resolved: the net (topology and
    weight count, `models.registry.describe`), ``lr``, ``init_range``, ``update``,
    ``output_delta``, ``protocol``. A spec that leaves lr to the paper's default still has its
    lr stored (`study.record` writes this into the trial's config as ``trained``)."""

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)

    @property
    def n_solved(self) -> int:
        return sum(s.solved for s in self.seeds)

    @property
    def n_diverged(self) -> int:
        return sum(s.diverged for s in self.seeds)

    @property
    def success_rate(self) -> float:
        return self.n_solved / self.n_seeds if self.seeds else 0.0

    @property
    def sequences_to_solve_median(self) -> float | None:
        v = sorted(s.sequences_to_solve for s in self.seeds if s.sequences_to_solve is not None)
        if not v:
            return None
        m = len(v) // 2
        return float(v[m]) if len(v) % 2 else (v[m - 1] + v[m]) / 2.0

    def summary(self) -> dict[str, Any]:
        """The per-trial attributes the study stores (Optuna user attrs)."""
        return {
            "success_rate": self.success_rate,
            "n_seeds": self.n_seeds,
            "n_solved": self.n_solved,
            "n_diverged": self.n_diverged,
            "sequences_to_solve_median": self.sequences_to_solve_median,
            "weights": self.weights,
            "wall_s": self.wall_s,
            "backend": self.backend,
            "reading": self.config.reading,
            "update": self.update,
            "trained": self.trained,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "seeds": [s.to_dict() for s in self.seeds],
            "weights": self.weights,
            "backend": self.backend,
            "wall_s": self.wall_s,
            "update": self.update,
            "trained": self.trained,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrialResult:
        return cls(
            config=TrialConfig.from_dict(d["config"]),
            seeds=[SeedResult.from_dict(s) for s in d["seeds"]],
            weights=int(d["weights"]),
            backend=str(d["backend"]),
            wall_s=float(d["wall_s"]),
            update=str(d.get("update", "sequence")),
            trained=dict(d.get("trained") or {}),
        )


def _finite(x: Any) -> Any:
    """Replace NaN/inf by None so the dict is valid JSON everywhere (PostgreSQL JSON included)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x
