"""Summarise a (possibly partial) robustness study from its database, per model and protocol.

For each model x protocol (and lag, when the study sweeps one): trials finished, seeds, seeds
solved (the study's reading, then the final test), seeds whose relaxed ``mae`` reading held
within the budget ("learned"), the learning rates tried, the best lr by solved-then-learned
seeds, and the median final-test MAE at that lr. Reads only (SQLite ``mode=ro``); prints a
Markdown table.

    python studies/robustness/summary.py sqlite:///robustness.db robust-adding-quick
    python studies/robustness/summary.py sqlite:///robustness.db robust-adding-topology \
        --by gates,gate_bias,gradient,forget_gate,forget_bias

``--by``: model options to split the rows by as well (shown after the protocol; a model
without the option, or with it unset, shows none).
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import sys
from collections import defaultdict


def main(url: str, study: str, by: tuple[str, ...] = ()) -> None:
    path = url.removeprefix("sqlite:///")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    trials = con.execute(
        "SELECT t.id, t.model, t.config, t.weights FROM carousel_trials t JOIN carousel_studies s "
        "ON s.id = t.study_id WHERE s.name = ? AND t.state = 'COMPLETE'",
        (study,),
    ).fetchall()
    groups: dict[tuple, dict[float, list[tuple]]] = defaultdict(lambda: defaultdict(list))
    lag_name = None
    target: dict[tuple, int] = {}  # (model, protocol, lag, size) -> the size it was matched to
    for tid, model, config, weights in trials:
        cfg = json.loads(config)
        params = cfg["task_params"]
        lag_name = next((k for k in ("T", "q", "p") if k in params), None)
        lag = params.get(lag_name) if lag_name else None
        size = weights  # effective weight count of one net
        opts = cfg.get("model") or {}
        shown = [f"{o}={opts[o]}" for o in by if opts.get(o) is not None]
        key = (model, " ".join([cfg.get("protocol", "paper"), *shown]), lag, size)
        target[key] = (cfg.get("model") or {}).get("match_weights") or size
        for solved, seq_mae, test_err in con.execute(
            "SELECT solved, seq_mae, test_error FROM carousel_seeds WHERE trial_id = ?", (tid,)
        ):
            groups[key][cfg["lr"]].append((bool(solved), seq_mae is not None, test_err))
    print(f"{study}: {len(trials)} trials complete")
    lag_col = f" {lag_name} |" if lag_name else ""
    print(f"| model | protocol |{lag_col} weights | seeds | solved | learned (mae) | best lr "
          "| best lr: solved / learned / seeds | median test MAE at best lr |")  # fmt: skip
    print("|---|---|" + ("---:|" if lag_name else "") + "---:|---:|---:|---:|---:|---|---:|")
    for key in sorted(groups, key=lambda k: tuple(str(x) for x in k)):
        by_lr = groups[key]
        seeds = [s for v in by_lr.values() for s in v]
        best = max(
            by_lr, key=lambda lr: (sum(s[0] for s in by_lr[lr]), sum(s[1] for s in by_lr[lr]))
        )
        b = by_lr[best]
        errs = [s[2] for s in b if s[2] is not None]
        med = f"{statistics.median(errs):.3f}" if errs else "n/a"
        model, protocol, lag, size = key
        lag_cell = f" {lag} |" if lag_name else ""
        print(
            f"| {model} | {protocol} |{lag_cell} {size} | {len(seeds)} | "
            f"{sum(s[0] for s in seeds)} | {sum(s[1] for s in seeds)} | {best:g} | "
            f"{sum(s[0] for s in b)} / {sum(s[1] for s in b)} / {len(b)} | {med} |"
        )

    lrs = sorted({lr for g in groups.values() for lr in g})
    print()
    print("learned (mae reading held) / seeds, per learning rate; solved in brackets when > 0")
    print("| model | protocol | " + " | ".join(f"lr {lr:g}" for lr in lrs) + " |")
    print("|---|---|" + "---:|" * len(lrs))
    for key in sorted(groups, key=lambda k: tuple(str(x) for x in k)):
        cells = []
        for lr in lrs:
            v = groups[key].get(lr)
            if not v:
                cells.append("-")
                continue
            solved = sum(x[0] for x in v)
            cell = f"{sum(x[1] for x in v)}/{len(v)}"
            cells.append(cell + (f" ({solved})" if solved else ""))
        lag = f" {key[2]}" if lag_name else ""
        print(f"| {key[0]} | {key[1]}{lag} | " + " | ".join(cells) + " |")
    if lag_name:
        lag_curves(groups, target, lag_name)


def lag_curves(groups: dict[tuple, dict[float, list[tuple]]], target: dict, lag_name: str) -> None:
    """Per model, protocol and matched size, across the lags: the robust region (learning rates
    of the grid at which at least half the seeds learned, and solved) and the best lr's seeds."""
    curves: dict[tuple, dict[object, dict[float, list[tuple]]]] = defaultdict(dict)
    for key, by_lr in groups.items():
        model, protocol, lag, _ = key
        curves[(model, protocol, target[key])][lag] = by_lr
    lags = sorted({lag for c in curves.values() for lag in c}, key=float)
    print()
    print(
        "robust region per lag: learning rates (of those run) where >= half the seeds learned"
        " (mae) / solved, then the best lr's learned / solved / seeds"
    )
    print(
        "| model | protocol | matched weights | "
        + " | ".join(f"{lag_name}={x}" for x in lags)
        + " |"
    )
    print("|---|---|---:|" + "---|" * len(lags))
    for (model, protocol, size), by_lag in sorted(curves.items(), key=lambda kv: str(kv[0])):
        cells = []
        for lag in lags:
            by_lr = by_lag.get(lag)
            if not by_lr:
                cells.append("-")
                continue
            half = [lr for lr, v in by_lr.items() if 2 * sum(x[1] for x in v) >= len(v)]
            half_s = [lr for lr, v in by_lr.items() if 2 * sum(x[0] for x in v) >= len(v)]
            best = max(
                by_lr, key=lambda lr: (sum(x[0] for x in by_lr[lr]), sum(x[1] for x in by_lr[lr]))
            )
            b = by_lr[best]
            cells.append(
                f"{len(half)}/{len(by_lr)} / {len(half_s)}/{len(by_lr)}; "
                f"lr {best:g}: {sum(x[1] for x in b)}/{sum(x[0] for x in b)}/{len(b)}"
            )
        print(f"| {model} | {protocol} | {size} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    args = sys.argv[1:]
    split: tuple[str, ...] = ()
    if "--by" in args:
        i = args.index("--by")
        split = tuple(x for x in args[i + 1].split(",") if x)
        del args[i : i + 2]
    if len(args) != 2:
        raise SystemExit(__doc__)
    main(args[0], args[1], split)
