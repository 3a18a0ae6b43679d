"""The `study-launch` command end to end (in-process, on the session's Ray instance)."""

from __future__ import annotations

from pathlib import Path

import pytest
from study_helpers import assert_every_point_complete_once, tiny_spec

from study import cli


def test_dry_run_prints_sizes_and_touches_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "c.db"
    code = cli.main(
        [str(tiny_spec(tmp_path)), "--dry-run", "--no-probe", "--storage", f"sqlite:///{db}"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "trials: 6 grid points (lstm1997: 4, elman: 2)" in out
    assert "seeds: 4 per trial, 24 in all" in out
    assert "sequences: at most 480,000" in out
    assert not db.exists()


def test_launch_runs_the_study_and_prints_the_summary(
    tmp_path: Path, ray_local: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    path = tiny_spec(tmp_path)
    assert cli.main([str(path), "--storage", url, "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert "starting study 'tiny'" in out
    assert "done: 6 completed, 0 pruned, 0 failed" in out
    assert "model     lr   blocks  solved" in out and out.count("lstm1997") == 4
    assert err.count("solved (") == 6  # one progress line per trial when not on a terminal
    assert_every_point_complete_once(url, "tiny", path)
    assert cli.main([str(path), "--storage", url, "--resume", "--no-progress"]) == 0
    out, _ = capsys.readouterr()
    assert "study 'tiny' is complete" in out and "nothing to do" in out  # before Ray starts
    assert "continuing study" not in out


def test_storage_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAROUSEL_STORAGE", "postgresql+psycopg://u@127.0.0.1:1/x")
    assert cli.main([str(tiny_spec(tmp_path))]) == 2
    assert "127.0.0.1:1" in capsys.readouterr().err
