"""Planning and growing studies from the command line (issue 14): the dry run's estimate and
budget warning, models interleaved, nothing to do before Ray, more seeds, grid values and models
without redoing finished work, and a quiet terminal (no token notice, no stray escape)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import sqlalchemy as sa
from study_helpers import tiny_spec

from study import cli, plan
from study.specfile import load_spec, parse_spec
from study.storage import make_engine

ROOT = Path(__file__).resolve().parents[2]


def seed_rows(url: str, name: str) -> list[tuple]:
    """(config_key, replicate, seed, solved, sequences_to_solve, trial number, seed row id)."""
    engine = make_engine(url, read_only=True)
    try:
        with engine.connect() as c:
            return [
                tuple(r)
                for r in c.execute(
                    sa.text(
                        "SELECT t.config_key, s.replicate, s.seed, s.solved, "
                        "s.sequences_to_solve, t.number, s.id FROM carousel_seeds s "
                        "JOIN carousel_trials t ON t.id = s.trial_id "
                        "JOIN carousel_studies st ON st.id = t.study_id "
                        "WHERE st.name = :n AND t.state = 'COMPLETE' "
                        "ORDER BY t.config_key, s.replicate"
                    ),
                    {"n": name},
                )
            ]
    finally:
        engine.dispose()


def test_dry_run_estimates_time_and_warns_about_the_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "c.db"
    path = tiny_spec(tmp_path, max_sequences=500).read_text()
    path = path.replace("T = 12", "T = 100")  # the paper needed 74,000 sequences at T = 100
    spec = tmp_path / "lag.toml"
    spec.write_text(path)
    t0 = time.monotonic()
    code = cli.main([str(spec), "--dry-run", "--storage", f"sqlite:///{db}"])
    took = time.monotonic() - t0
    out = capsys.readouterr().out
    assert code == 0 and not db.exists()
    m = re.search(r"time: at most (.+?) on (\d+) workers?", out)
    assert m, out
    assert "probe lstm1997 (T=100, blocks=2" in out and "probe elman (T=100" in out
    assert "seed-sequences/s" in out
    assert took < 120
    assert "below the 74,000 sequences the paper needed" in out and "T=100" in out
    # a budget above the paper's figure draws no warning; --no-probe skips the measurement
    spec.write_text(path.replace("max_sequences = 500", "max_sequences = 80000"))
    assert cli.main([str(spec), "--dry-run", "--no-probe"]) == 0
    out = capsys.readouterr().out
    assert "warning" not in out and "time:" not in out


def test_dry_run_probe_is_bounded_in_time_at_a_long_lag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """At T = 100,000 a probe at the study's own lag would train for many minutes (its final
    test alone is 2,560 sequences of 100,000 steps a seed): it measures at T = 100 and scales."""
    spec = tmp_path / "long.toml"
    spec.write_text(tiny_spec_text(max_sequences=500).replace("T = 12", "T = 100000"))
    t0 = time.monotonic()
    assert cli.main([str(spec), "--dry-run", "--storage", f"sqlite:///{tmp_path}/c.db"]) == 0
    took = time.monotonic() - t0
    out = capsys.readouterr().out
    assert took < 90, took  # the probe's budget is 30 s
    assert "probe lstm1997 (T=100000, blocks=2" in out and "measured at T=100 and scaled" in out
    # the CPU estimate is at least the training the probed rates imply at 1,000x the cost at
    # T = 100 (4 lstm1997 and 2 elman trials of 4 seeds x 500 sequences; the final tests add more)
    rates = {
        m: float(r.replace(",", "")) for m, r in re.findall(r"probe (\w+) .*?: ([\d,]+) seed", out)
    }
    cpu = re.search(r"\((?:(\d+)h )?(?:(\d+)m )?(?:(\d+) ?s)? of CPU\)", out)
    assert cpu and set(rates) == {"lstm1997", "elman"}, out
    h, mi, s = (int(g or 0) for g in cpu.groups())
    trained = (4 * 4 * 500 / rates["lstm1997"] + 2 * 4 * 500 / rates["elman"]) * 1000
    assert 3600 * h + 60 * mi + s >= 0.99 * trained > 100, out


def test_estimate_scales_with_budget_and_workers() -> None:
    from study import estimate

    spec = parse_spec(tiny_spec_text(max_sequences=1000))
    probes = {
        m: estimate.Probe(m, estimate.probe_point(spec, m), 0.5, 1e-3, spec.seeds, 12)
        for m in spec.models
    }
    wall1, cpu1 = estimate.estimate_seconds(spec, probes, 1)
    wall2, cpu2 = estimate.estimate_seconds(spec, probes, 2)
    assert cpu2 == pytest.approx(cpu1)
    assert cpu1 == pytest.approx(6 * (0.5 + 1e-3 * 1000))
    assert wall1 == pytest.approx(cpu1) and wall2 == pytest.approx(cpu1 / 2)
    assert estimate.probe_point(spec, "lstm1997")["blocks"] == 2


def test_estimate_probes_each_protocol_and_a_sections_largest_size() -> None:
    """Bug: the probe measured every model at its first protocol (on-line SGD through the
    compiled kernel) and a model section's sizes (``tcn.match_weights``) at their smallest, so a
    study sweeping ``protocol`` was estimated at a fraction of its time (the modern protocol's
    autograd is ~15x slower a sequence for the 1997 net)."""
    from study import estimate

    spec = parse_spec(
        """
name = "cost"
task = "adding"
models = ["lstm1997", "tcn"]
seeds = 2
max_sequences = 1000
sampler = "grid"
[task_params]
T = 20
[space]
lr = [0.1, 1.0]
protocol = ["paper", "modern"]
[space.tcn]
protocol = "modern"
match_weights = [31, 93]
"""
    )
    points = estimate.probe_points(spec)
    keys = sorted(estimate.probe_key(p) for p in points)
    assert keys == ["lstm1997 protocol=modern", "lstm1997 protocol=paper", "tcn protocol=modern"]
    assert next(p for p in points if p["model"] == "tcn")["tcn.match_weights"] == 93
    probes = {
        estimate.probe_key(p): estimate.Probe(
            str(p["model"]), p, 0.0, 1e-2 if "modern" in estimate.probe_key(p) else 1e-3, 2, None
        )
        for p in points
    }
    _, cpu = estimate.estimate_seconds(spec, probes, 1)
    # lstm1997: 2 lr x (paper 1 s + modern 10 s); tcn: 2 lr x 2 sizes x 10 s
    assert cpu == pytest.approx(2 * (1 + 10) + 4 * 10)


def tiny_spec_text(**kw: object) -> str:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        return tiny_spec(Path(d), **kw).read_text()  # type: ignore[arg-type]


def test_grid_points_interleave_the_models() -> None:
    spec = parse_spec(tiny_spec_text())
    order = [p["model"] for p in plan.remaining_points(spec, {})]
    assert order[:4] == ["lstm1997", "elman", "lstm1997", "elman"]
    assert sorted(order) == sorted(p["model"] for p in plan.grid_points(spec))


def test_refused_and_allowed_changes() -> None:
    base = parse_spec(tiny_spec_text())
    grown = parse_spec(tiny_spec_text().replace("seeds = 4", "seeds = 8"))
    wider = parse_spec(tiny_spec_text(lrs="[2.0, 4.0, 8.0]"))
    assert plan.refused_changes(base, grown) == []
    assert plan.refused_changes(base, wider) == []  # new grid values: growth
    assert plan.refused_changes(grown, base) == ["seeds"]  # fewer seeds: not growth
    assert plan.refused_changes(wider, base) == ["space.lr"]  # a value removed
    more = tiny_spec_text().replace(
        'models = ["lstm1997", "elman"]', 'models = ["lstm1997", "elman", "gru"]'
    )
    assert plan.refused_changes(base, parse_spec(more)) == []
    assert plan.refused_changes(base, parse_spec(more + "\n[space.gru]\nhidden = [4, 8]\n")) == []
    # a new axis for a model the study already has changes its finished configurations
    assert plan.refused_changes(base, parse_spec(tiny_spec_text() + "init_range = [0.1, 0.2]\n"))
    assert plan.refused_changes(base, parse_spec(tiny_spec_text(max_sequences=999))) == [
        "max_sequences"
    ]
    search = parse_spec(tiny_spec_text(sampler="random", top="n_trials = 4"))
    more = parse_spec(
        tiny_spec_text(sampler="random", top="n_trials = 4").replace("seeds = 4", "seeds = 5")
    )
    assert plan.refused_changes(search, more) == ["seeds"]  # top-ups are for grids


@pytest.mark.usefixtures("ray_local")
def test_growing_seeds_keeps_finished_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    small = tiny_spec(tmp_path, name="grow", lrs="[2.0]", max_sequences=3000)
    small.write_text(small.read_text().replace("seeds = 4", "seeds = 2"))
    assert cli.main([str(small), "--storage", url, "--no-progress"]) == 0
    before = seed_rows(url, "grow")
    assert len(before) == 3 * 2  # lstm1997 x 2 blocks + elman, 2 seeds each
    # grow: 4 seeds per configuration
    big = tiny_spec(tmp_path, name="grow", lrs="[2.0]", max_sequences=3000)
    assert cli.main([str(big), "--storage", url, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "done: 3 completed" in out  # 3 top-ups of 2 seeds, no finished seed retrained
    after = seed_rows(url, "grow")
    assert len(after) == 3 * 4
    kept = {r[6]: r for r in after}
    for r in before:  # the earlier seeds are the same rows, untouched
        assert kept[r[6]] == r
    per_cfg: dict[str, list[int]] = {}
    for r in after:
        per_cfg.setdefault(r[0], []).append(r[1])
    assert all(sorted(v) == [0, 1, 2, 3] for v in per_cfg.values())
    # seed for seed what a fresh 4-seed study of the same spec holds
    fresh = tiny_spec(tmp_path, name="fresh", lrs="[2.0]", max_sequences=3000)
    assert cli.main([str(fresh), "--storage", url, "--no-progress"]) == 0
    capsys.readouterr()
    strip = sorted((r[0], r[1], r[2], r[3], r[4]) for r in after)
    assert strip == sorted((r[0], r[1], r[2], r[3], r[4]) for r in seed_rows(url, "fresh"))
    # the grown study is complete: a re-run says so without starting Ray
    assert cli.main([str(big), "--storage", url, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "is complete: all 3 configurations have their 4 seeds; nothing to do" in out
    assert "starting study" not in out and "continuing study" not in out
    assert load_spec(big).seeds == 4


@pytest.mark.usefixtures("ray_local")
def test_growing_grid_values_and_models_runs_only_the_new_points(
    storage_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = storage_url
    small = tiny_spec(tmp_path, name="wide", lrs="[2.0]", max_sequences=300)
    small.write_text(small.read_text().replace("seeds = 4", "seeds = 2"))
    assert cli.main([str(small), "--storage", url, "--no-progress"]) == 0
    before = seed_rows(url, "wide")
    assert len(before) == 3 * 2  # lstm1997 x 2 blocks + elman at lr 2
    # grow: a new lr value before the old one, a new model with its own section
    text = small.read_text().replace("lr = [2.0]", "lr = [1.0, 2.0]")
    text = text.replace('models = ["lstm1997", "elman"]', 'models = ["lstm1997", "elman", "gru"]')
    small.write_text(text + "\n[space.gru]\nhidden = [3]\n")
    assert cli.main([str(small), "--storage", url, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "done: 5 completed" in out, out  # lstm1997 x 2 + elman + gru x 2 at the new points
    kept = {r[6]: r for r in seed_rows(url, "wide")}
    for r in before:  # the finished trials' seeds: the same rows, untouched
        assert kept[r[6]] == r
    assert len(kept) == 8 * 2
    # plain Optuna reads old and new trials alike, with the values they ran
    study = optuna.load_study(study_name="wide", storage=url)
    got = sorted((t.params["model"], t.params["lr"], t.params.get("blocks")) for t in study.trials)
    assert got == sorted(
        [("lstm1997", lr, b) for lr in (1.0, 2.0) for b in (1, 2)]
        + [("elman", lr, None) for lr in (1.0, 2.0)] + [("gru", lr, None) for lr in (1.0, 2.0)]
    )  # fmt: skip
    assert {t.distributions["lr"].choices for t in study.trials} == {(2.0, 1.0)}
    assert {t.distributions["model"].choices for t in study.trials} == {
        ("lstm1997", "elman", "gru")
    }
    assert cli.main([str(small), "--storage", url, "--no-progress"]) == 0
    assert "is complete: all 8 configurations" in capsys.readouterr().out
    # removing a value is refused (exit 2, one line), nothing written
    small.write_text(
        text.replace("lr = [1.0, 2.0]", "lr = [1.0]") + "\n[space.gru]\nhidden = [3]\n"
    )
    assert cli.main([str(small), "--storage", url, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "space.lr" in err and "a study can only grow" in err


@pytest.mark.slow
def test_terminal_output_is_clean_and_a_finished_rerun_starts_no_ray(tmp_path: Path) -> None:
    """In a pseudo-terminal (`script`): no token-authentication notice at start, no escape
    sequence after the final table; a second launch answers before Ray would start."""
    url = f"sqlite:///{tmp_path}/c.db"
    spec = tiny_spec(tmp_path, name="tty", lrs="[2.0]", max_sequences=2000)
    exe = Path(sys.executable).with_name("study-launch")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("RAY_ADDRESS", None)
    log = tmp_path / "tty.out"
    cmd = f"{exe} {spec} --storage {url}"
    subprocess.run(
        ["script", "-qfec", cmd, str(log)], cwd=ROOT, env=env, timeout=300, check=True,
        capture_output=True,
    )  # fmt: skip
    raw = log.read_bytes()
    body = raw.split(b"Script done")[0]
    assert b"Token authentication is enabled" not in body
    table_end = body.rstrip().rsplit(b"\n", 1)[-1]
    assert b"\x1b" not in table_end, table_end
    t0 = time.monotonic()
    again = subprocess.run(
        [str(exe), str(spec), "--storage", url, "--no-progress"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout and "Ray" not in again.stdout + again.stderr
    assert time.monotonic() - t0 < 15


def test_estimate_probes_the_forget_gate_axis() -> None:
    """Bug: ``forget_gate`` was no cost axis, so the topology study (half its 1997 trials with a
    forget gate, then ~300x slower a sequence than the plain cell's kernel) was projected from
    the plain cell's probe alone."""
    from study import estimate

    spec = parse_spec(
        """
name = "fg"
task = "adding"
models = ["lstm1997"]
seeds = 2
max_sequences = 1000
sampler = "grid"
[task_params]
T = 20
[space]
lr = [0.1, 1.0]
[space.lstm1997]
forget_gate = [false, true]
"""
    )
    keys = sorted(estimate.probe_key(p) for p in estimate.probe_points(spec))
    assert keys == ["lstm1997 forget_gate=False", "lstm1997 forget_gate=True"]
