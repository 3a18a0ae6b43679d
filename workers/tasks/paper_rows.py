"""The LSTM rows of the paper's result tables (Hochreiter & Schmidhuber 1997, Tables 1-9), as data.

One :class:`PaperRow` per row the paper reports for LSTM: which task and parameters, which
topology and learning rate, and the paper's numbers (success fraction where it states one, mean
training sequences to its stopping criterion, test errors where given). The reproduction report
and the dashboard's Paper comparison page put our measurements beside exactly these rows, so
Exp. 1's five rows (two topologies, three learning rates) are five rows, not one.

Numbers are the paper's, transcribed from ``shared/reference/lstm1997.md``; nothing here is
measured. ``success`` is None where the paper states no success rate (Exp. 2c-6 report means
over trials and mention no failures). `match` finds the row of a net; `row_for` the row of a
stored trial configuration (`trained_net` resolves what it trained with).

`BASELINE_VERDICTS` holds what the paper says of other methods on each experiment, and
`baseline_row_for` the paper row (the task and its parameters) a baseline trial trained on,
for the report's baseline table.

Example:
    >>> row = match("embedded_reber", {"sets": "fixed", "target": "next"}, 3, 2, 0.5)
    >>> row.key, row.sequences, row.success
    ('1-5', 8440, 1.0)
    >>> match("adding", {"T": 200}, 2, 2, 0.5) is None
    True
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from workers.config import LR


@dataclass(frozen=True)
class PaperRow:
    """One LSTM row of the paper's Tables 1-9."""

    key: str
    """The row's name in Table 10's numbering (``1-5``, ``2c-3``, ``4-2``...)."""
    table: str
    """Where the numbers are (``Table 1`` ...)."""
    task: str
    """carousel's task name."""
    params: dict[str, Any] = field(default_factory=dict)
    """The task parameters that identify the row (others: the task's defaults)."""
    blocks: int = 1
    cells_per_block: int = 1
    lr: float = 0.1
    sequences: float | None = None
    """Mean training sequences to the stopping criterion over the successful trials."""
    success: float | None = None
    """Fraction of successful trials, where the paper states it."""
    trials: int | None = None
    """Trials behind the paper's figures."""
    test_wrong: float | None = None
    """Wrong test sequences (of 2560), where given; a fraction in Tables 4-6."""
    note: str = ""

    @property
    def label(self) -> str:
        """A short description for tables: ``1-5 3x2 lr 0.5``, ``4-2 T=500``."""
        params = " ".join(f"{k}={v}" for k, v in self.params.items())
        net = f"{self.blocks}x{self.cells_per_block} lr {self.lr:g}"
        return " ".join(p for p in (self.key, params, net) if p)


def _reber(key: str, blocks: int, cells: int, lr: float, seq: int, ok: float) -> PaperRow:
    return PaperRow(key, "Table 1", "embedded_reber", {}, blocks, cells, lr, seq, ok, 30)


def _2c(i: int, q: int, p: int, seq: int) -> PaperRow:
    return PaperRow(f"2c-{i}", "Table 3", "long_lag_2c", {"q": q, "p": p}, 2, 1, 0.01, seq,
                    trials=20)  # fmt: skip


def _3(key: str, task: str, T: int, N: int, lr: float, seq: int, wrong: float) -> PaperRow:
    table = {"3a": "Table 4", "3b": "Table 5", "3c": "Table 6"}[key[:2]]
    return PaperRow(key, table, task, {"T": T, "N": N}, 3, 1, lr, seq, trials=10,
                    test_wrong=wrong, note="fraction of 2560 misclassified")  # fmt: skip


ROWS: tuple[PaperRow, ...] = (
    _reber("1-1", 4, 1, 0.1, 39740, 1.0),
    _reber("1-2", 3, 2, 0.1, 21730, 1.0),
    _reber("1-3", 3, 2, 0.2, 14060, 0.97),
    _reber("1-4", 4, 1, 0.5, 9500, 0.97),
    _reber("1-5", 3, 2, 0.5, 8440, 1.0),
    PaperRow("2a", "Table 2", "noise_free_2a", {"p": 100}, 1, 1, 1.0, 5040, 1.0, 18),
    PaperRow("2b", "Sec. 5.2", "noise_free_2b", {"p": 100}, 1, 1, 1.0, 5680, 1.0, 18),
    _2c(1, 50, 50, 30000),
    _2c(2, 100, 100, 31000),
    _2c(3, 200, 200, 33000),
    _2c(4, 500, 500, 38000),
    _2c(5, 1000, 1000, 49000),
    _2c(6, 1000, 500, 49000),
    _2c(7, 1000, 200, 75000),
    _2c(8, 1000, 100, 135000),
    _2c(9, 1000, 50, 203000),
    _3("3a-1", "two_sequence_3a", 100, 3, 1.0, 39850, 0.000195),
    _3("3a-2", "two_sequence_3a", 100, 1, 1.0, 64330, 0.000117),
    _3("3a-3", "two_sequence_3a", 1000, 3, 1.0, 452460, 0.000078),
    _3("3b-1", "two_sequence_3b", 100, 3, 1.0, 43250, 0.00828),
    _3("3b-2", "two_sequence_3b", 100, 1, 1.0, 78430, 0.01500),
    _3("3b-3", "two_sequence_3b", 1000, 1, 1.0, 485080, 0.01207),
    _3("3c-1", "two_sequence_3c", 100, 3, 0.1, 269650, 0.00558),
    _3("3c-2", "two_sequence_3c", 100, 1, 0.1, 565640, 0.00441),
    PaperRow("4-1", "Table 7", "adding", {"T": 100}, 2, 2, 0.5, 74000, trials=10, test_wrong=1),
    PaperRow("4-2", "Table 7", "adding", {"T": 500}, 2, 2, 0.5, 209000, trials=10, test_wrong=0),
    PaperRow("4-3", "Table 7", "adding", {"T": 1000}, 2, 2, 0.5, 853000, trials=10, test_wrong=1),
    PaperRow(
        "5-1",
        "Table 8",
        "multiplication",
        {"T": 100, "n_seq": 140},
        2,
        2,
        0.1,
        482000,
        trials=10,
        test_wrong=139,
    ),
    PaperRow(
        "5-2",
        "Table 8",
        "multiplication",
        {"T": 100, "n_seq": 13},
        2,
        2,
        0.1,
        1273000,
        trials=10,
        test_wrong=14,
    ),
    PaperRow("6a", "Table 9", "temporal_order_6a", {}, 2, 2, 0.5, 31390, trials=20, test_wrong=1),
    PaperRow("6b", "Table 9", "temporal_order_6b", {}, 3, 2, 0.1, 571100, trials=10, test_wrong=2),
)
"""Every LSTM row of Tables 1-9, in the paper's order."""


BASELINE_VERDICTS: dict[str, str] = {
    "1": "Table 1: Elman (15 hidden, ~435 weights) 0% after > 200,000; RTRL (3-12 hidden) "
    "'some fraction' after 25,000-173,000; RCC 50% after 182,000",
    "2a": "Table 2 (p = 100): RTRL and BPTT (100 hidden, 10,404 weights) 0% after > 5,000,000; "
    "the chunker 33% after 32,400",
    "2b": "Sec. 5.2: BPTT, RTRL and the chunker all failed",
    "2c": "Table 3: not run ('BPTT, RTRL ... have no chance')",
    "3a": "Sec. 5.3: compared only with random weight guessing (faster than any published "
    "method; no numbers given)",
    "3b": "Sec. 5.3: as 3a",
    "3c": "Sec. 5.3: guessing cannot solve 3c quickly",
    "4": "Sec. 5.4: not run ('never been solved by other recurrent net algorithms')",
    "5": "Sec. 5.5: not run",
    "6a": "Sec. 5.6: not run ('never been solved by previous algorithms')",
    "6b": "Sec. 5.6: not run ('never been solved by previous algorithms')",
}
"""What the paper reports for methods other than LSTM, per experiment (`experiment`)."""


def experiment(row: PaperRow) -> str:
    """The experiment a row belongs to, as `BASELINE_VERDICTS` names it: ``1-5`` -> ``1``,
    ``2c-3`` -> ``2c``, ``3a-1`` -> ``3a``, ``6a`` -> ``6a``."""
    return row.key.split("-")[0]


def _same_task(row: PaperRow, task: str, params: dict[str, Any]) -> bool:
    """Whether a task and its parameters are the row's (parameters the row names; the others
    are the task's defaults)."""
    return row.task == task and all(params.get(k) == v for k, v in row.params.items())


def match(
    task: str, params: dict[str, Any], blocks: int, cells_per_block: int, lr: float
) -> PaperRow | None:
    """The paper row of a configuration (task parameters, topology and learning rate as
    trained), or None when the paper has no such row."""
    for row in ROWS:
        if (
            _same_task(row, task, params)
            and (row.blocks, row.cells_per_block) == (blocks, cells_per_block)
            and math.isclose(row.lr, lr, rel_tol=1e-9)
        ):
            return row
    return None


def trained_net(task: str, config: dict[str, Any] | str) -> tuple[float, float, float]:
    """(blocks, cells per block, lr) a stored trial trained with: what it recorded as trained
    (``config["trained"]``, `study.record`), else its own values, else its task's paper setup
    (Table 10); the topology is NaN for a model without blocks (and lr NaN if unknowable)."""
    from workers.tasks import make_task

    cfg: dict[str, Any] = json.loads(config) if isinstance(config, str) else dict(config or {})
    model, trained, nan = cfg.get("model") or {}, cfg.get("trained") or {}, float("nan")
    if trained.get(LR) is not None:  # every default already resolved
        if trained.get("name", "lstm1997") != "lstm1997":
            return nan, nan, float(trained[LR])
        return float(trained["blocks"]), float(trained["cells_per_block"]), float(trained[LR])
    try:
        setup: Any = make_task(task, **(cfg.get("task_params") or {})).paper
    except ValueError:
        setup = None
    lr = cfg.get(LR)
    lr = float(lr) if lr is not None else (setup.lr if setup is not None else nan)
    if model.get("name", "lstm1997") != "lstm1997" or setup is None:
        return nan, nan, lr
    blocks = model.get("blocks") or setup.blocks
    cells = model.get("cells_per_block") or setup.cells_per_block
    return float(blocks), float(cells), lr


def row_for(task: str, config: dict[str, Any] | str) -> PaperRow | None:
    """The paper row a stored trial configuration trained (`trained_net`), or None (another
    model, a configuration the paper has no row for, or a measured variant: `variant_of`)."""
    found = variant_of(task, config)
    return found[0] if found is not None and not found[1] else None


def variant_of(task: str, config: dict[str, Any] | str) -> tuple[PaperRow, list[str]] | None:
    """The paper row whose task, parameters, topology and learning rate a 1997-LSTM trial
    trained, and how it departs from that row's setup (`departures`; empty: the row itself),
    or None.

    Example:
        >>> cfg = {"task_params": {"T": 100}, "model": {"name": "lstm1997"},
        ...        "output_delta": "no_fprime"}
        >>> row, how = variant_of("adding", cfg)
        >>> row.key, how, row_for("adding", cfg) is None
        ('4-1', ['output delta no_fprime'], True)
        >>> variant_of("noise_free_2b", {"task_params": {"train_error": "end"}})[1]
        ['train_error end']
    """
    from workers.tasks import make_task

    blocks, cells, lr = trained_net(task, config)
    if math.isnan(blocks):
        return None
    cfg: dict[str, Any] = json.loads(config) if isinstance(config, str) else dict(config or {})
    made = make_task(task, **(cfg.get("task_params") or {}))
    row = match(task, made.params(), int(blocks), int(cells), lr)
    if row is None:
        return None
    # a task parameter the row does not name, away from its default (the reading of an
    # ambiguity, e.g. 2b's train_error = "end"), makes the trial a variant too
    usual = make_task(task, **row.params).params()
    own = [f"{k} {v}" for k, v in made.params().items() if k not in row.params and usual[k] != v]
    return row, departures(cfg, made.paper) + own


def departures(cfg: dict[str, Any], setup: Any) -> list[str]:
    """How a trial departs from the paper's setup, one phrase per change: an output delta without
    f', the 1997 net's cells all present from the start where the paper adds them (or the
    reverse), the modern protocol, another init range, gates, a forget gate, gate biases or
    gradient. Such a trial is a measured variant (e.g. `studies/paper/variants/`), never
    counted in a paper row."""
    trained, model = cfg.get("trained") or {}, cfg.get("model") or {}
    out = []
    delta = trained.get("output_delta") or cfg.get("output_delta") or "paper"
    if delta != "paper":
        out.append(f"output delta {delta}")
    built = trained.get("construction") or cfg.get("construction") or setup.construction
    if built != setup.construction:
        out.append(f"construction {built}")
    protocol = trained.get("protocol") or cfg.get("protocol") or "paper"
    if protocol != "paper":
        out.append(f"protocol {protocol}")
    if model.get("gate_bias") not in (None, "paper"):
        out.append(f"gate bias {model['gate_bias']}")
    if model.get("gradient") not in (None, "truncated"):
        out.append(f"gradient {model['gradient']}")
    if cfg.get("update") is not None:  # set by the spec: the paper specs leave it to the default
        out.append(f"update per {cfg['update']}")
    if model.get("gates") not in (None, setup.gates):
        out.append(f"gates {model['gates']}")
    if model.get("forget_gate"):
        out.append("forget gate")
    init = trained.get("init_range", cfg.get("init_range"))
    if init is not None and not math.isclose(float(init), setup.init_range, rel_tol=1e-9):
        out.append(f"init range {float(init):g}")
    return out


def baseline_row_for(task: str, config: dict[str, Any] | str) -> PaperRow | None:
    """The paper row whose task and task parameters a baseline trial trained on (another model
    than the 1997 LSTM, on the paper's protocol and output delta), or None. A task with several
    rows at the same parameters (Exp. 1's five nets) gives its first row.

    Example:
        >>> cfg = {"model": {"name": "elman"}, "task_params": {"T": 100}}
        >>> baseline_row_for("adding", cfg).key, baseline_row_for("adding", {}) is None
        ('4-1', True)
    """
    from workers.tasks import make_task

    cfg: dict[str, Any] = json.loads(config) if isinstance(config, str) else dict(config or {})
    trained, model = cfg.get("trained") or {}, cfg.get("model") or {}
    if trained.get("name", model.get("name", "lstm1997")) == "lstm1997":
        return None
    for key in ("output_delta", "protocol"):
        if (trained.get(key) or cfg.get(key) or "paper") != "paper":
            return None
    params = make_task(task, **(cfg.get("task_params") or {})).params()
    for row in ROWS:
        if _same_task(row, task, params):
            return row
    return None
