"""Real-data studies: csv files checked at spec validation (exit 2, one line, nothing written),
paths relative to the spec, the shipped specs valid, per-seed metrics stored, and the metrics
column added to a database written before it existed."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from study import cli
from study.columns import add_missing_columns
from study.record import ensure_schema
from study.schema import Base
from study.spec import Choice
from study.specfile import load_spec
from study.storage import make_engine

ROOT = Path(__file__).resolve().parents[2]

CSV_SPEC = """\
name = "csv-study"
task = "csv"
models = ["gru"]
seeds = 2
max_sequences = 200
sampler = "grid"

[task_params]
path = "{path}"

[space]
lr = [1.0]
"""

BAD_FILES = {
    "nan": ("sequence,label,split,x\na,w,train,1\nb,r,train,nan\nc,w,test,1\n", "row 3", "'x'"),
    "two-labels": ("sequence,label,split,x\na,w,train,1\na,r,train,2\n", "row 3", "'label'"),
    "missing-column": ("sequence,split,x\na,train,1\n", "row 1", "'label'"),
    "empty-class": ("sequence,label,split,x\na,w,train,1\nb,r,test,1\n", "row 3", "'label'"),
    "not-a-number": ("sequence,label,split,x\na,w,train,one\n", "row 2", "'x'"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_malformed_csv_stops_the_launch_with_exit_2_and_one_line(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, row, column = BAD_FILES[case]
    (tmp_path / "data.csv").write_text(text)
    spec = tmp_path / "study.toml"
    spec.write_text(CSV_SPEC.format(path="data.csv"))
    db = tmp_path / "c.db"
    code = cli.main([str(spec), "--storage", f"sqlite:///{db}", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    line = lines[0]
    assert f"{spec}: task_params.path: {tmp_path / 'data.csv'}: " in line, line
    assert f"{row}, column {column}" in line, line
    assert not db.exists()  # nothing written


def test_a_relative_path_is_read_from_the_spec_folder(tmp_path: Path) -> None:
    sub = tmp_path / "specs"
    sub.mkdir()
    (sub / "d.csv").write_text((ROOT / "studies" / "real" / "example.csv").read_text())
    (sub / "s.toml").write_text(CSV_SPEC.format(path="d.csv"))
    spec = load_spec(sub / "s.toml")
    assert spec.common["path"] == Choice((str(sub / "d.csv"),))
    assert spec.lag_param is None


@pytest.mark.parametrize(
    "name", ["basic_motions.toml", "basic_motions_lag.toml", "example_csv.toml"]
)
def test_the_shipped_real_specs_are_valid(name: str) -> None:
    spec = load_spec(ROOT / "studies" / "real" / name)
    assert set(spec.models) >= {"lstm1997", "gru"}
    if name == "basic_motions_lag.toml":
        assert spec.lag_param == "lag" and spec.common["lag"] == Choice((0, 50, 100, 200))


def test_a_csv_study_stores_each_seeds_metrics(
    tmp_path: Path, ray_local: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    spec = ROOT / "studies" / "real" / "example_csv.toml"
    assert cli.main([str(spec), "--storage", url, "--no-progress"]) == 0
    assert "done: 4 completed, 0 pruned, 0 failed" in capsys.readouterr().out
    # the same spec again is the stored study (its data path resolves the same way): not
    # refused as changed, and finished, so there is nothing to do
    assert cli.main([str(spec), "--storage", url, "--resume", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "study 'real-example-csv' is complete" in out and "nothing to do" in out
    engine = make_engine(url, read_only=True)
    with engine.connect() as c:
        rows = c.execute(sa.text("SELECT metrics, test_wrong, test_n FROM carousel_seeds")).all()
    assert len(rows) == 16
    import json

    for metrics, wrong, n in rows:
        m = json.loads(metrics)
        assert m["classes"] == ["run", "walk"] and n == 2
        assert sum(map(sum, m["confusion"])) == 2
        assert m["test_accuracy"] == pytest.approx((n - wrong) / n)


def test_an_older_database_gains_the_metrics_column(storage_url: str) -> None:
    engine = make_engine(storage_url)
    Base.metadata.create_all(engine)
    with engine.begin() as c:  # what a database written before the column looks like
        c.execute(sa.text("ALTER TABLE carousel_seeds DROP COLUMN metrics"))
    cols = {c["name"] for c in sa.inspect(engine).get_columns("carousel_seeds")}
    assert "metrics" not in cols
    ensure_schema(engine)
    cols = {c["name"] for c in sa.inspect(engine).get_columns("carousel_seeds")}
    assert "metrics" in cols
    assert add_missing_columns(engine, Base.metadata) == []  # idempotent
    engine.dispose()
