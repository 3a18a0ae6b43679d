"""Spec and argument validation: exit code 2, one line naming the file and field, DB untouched."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from study_helpers import TINY, tiny_spec

from study import cli, record
from study.space import search_space
from study.spec import Choice, Range, SpecError
from study.specfile import load_spec, parse_spec
from study.storage import make_engine

BASE = TINY.format(
    name="bad", lrs="[0.5, 1.0]", seed=0, max_sequences=20000, sampler="grid", top=""
)


def edit(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new)


MALFORMED = {
    "toml-syntax": ("name = 'x\n", "TOML"),
    "unknown-field": ("sede = 3\n" + BASE, "sede"),
    "missing-name": (edit('name = "bad"\n', ""), "name"),
    "unknown-task": (edit('task = "adding"', 'task = "subtracting"'), "task"),
    "negative-lr": (edit("lr = [0.5, 1.0]", "lr = [0.5, -0.1]"), "space.lr"),
    "empty-grid": (edit("lr = [0.5, 1.0]", "lr = []"), "space.lr"),
    "unknown-sampler": (edit('sampler = "grid"', 'sampler = "annealing"'), "sampler"),
    "seeds-wrong-type": (edit("seeds = 4", 'seeds = "four"'), "seeds"),
    "seeds-bool": (edit("seeds = 4", "seeds = true"), "seeds"),
    "zero-budget": (edit("max_sequences = 20000", "max_sequences = 0"), "max_sequences"),
    "missing-models": (edit('models = ["lstm1997", "elman"]\n', ""), "models"),
    "unknown-model": (edit('"elman"]', '"rnn"]'), "models"),
    "task-param-range": (edit("T = 12", "T = 5"), "task_params.T"),
    "task-param-unknown": (edit("T = 12", "T = 12\nq = 3"), "task_params.q"),
    "task-param-list": (edit("T = 12", "T = [12, 20]"), "task_params.T"),
    "range-in-grid": (edit("lr = [0.5, 1.0]", "lr = {low = 0.1, high = 1.0}"), "space.lr"),
    "tpe-without-n_trials": (edit('sampler = "grid"', 'sampler = "tpe"'), "n_trials"),
    "grid-with-n_trials": (edit('sampler = "grid"', 'sampler = "grid"\nn_trials = 5'), "n_trials"),
    "zero-blocks": (edit("blocks = [1, 2]", "blocks = [0, 2]"), "space.lstm1997.blocks"),
    "float-blocks": (edit("blocks = [1, 2]", "blocks = [1.5]"), "space.lstm1997.blocks"),
    "unknown-gates": (edit("blocks = [1, 2]", 'gates = ["sideways"]'), "space.lstm1997.gates"),
    "forget-gate-type": (edit("blocks = [1, 2]", 'forget_gate = "yes"'), "forget_gate"),
    "unknown-lstm-param": (edit("blocks = [1, 2]", "layers = 2"), "space.lstm1997.layers"),
    "hidden-and-match": (BASE + "[space.baselines]\nhidden = 4\nmatch_weights = 93\n", "baselines"),
    "lstm-params-without-lstm": (edit('["lstm1997", "elman"]', '["elman"]'), "space.lstm1997"),
    "duplicate-value": (edit("lr = [0.5, 1.0]", "lr = [0.5, 0.5]"), "space.lr"),
    "lr-string": (edit("lr = [0.5, 1.0]", 'lr = "fast"'), "space.lr"),
    "stage-too-big": (BASE + '[pruning]\npruner = "median"\nstage_seeds = 4\n', "stage_seeds"),
    "unknown-pruner": (BASE + '[pruning]\npruner = "hyperband"\nstage_seeds = 2\n', "pruner"),
    "bad-reading": (edit('reading = "frac99"', 'reading = "vibes"'), "reading"),
    "bad-precision": (
        edit('reading = "frac99"', 'reading = "frac99"\nprecision = "half"'),
        "precision",
    ),
    "bad-name": (edit('name = "bad"', 'name = "no spaces please"'), "name"),
}


@pytest.fixture(scope="module")
def existing_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A database that already holds a study: a failing launch must leave it byte-identical."""
    folder = tmp_path_factory.mktemp("db")
    path = folder / "existing.db"
    engine = make_engine(f"sqlite:///{path}")
    record.ensure_schema(engine)
    spec = load_spec(tiny_spec(folder, name="bad"))
    record.begin_study(engine, spec, search_space(spec))
    engine.dispose()
    return f"sqlite:///{path}", path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def launch(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_there_are_enough_malformed_cases() -> None:
    assert len(MALFORMED) >= 15


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_spec_exits_2_naming_file_and_field(
    case: str, tmp_path: Path, existing_db: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    text, fld = MALFORMED[case]
    spec = tmp_path / f"{case}.toml"
    spec.write_text(text)
    url, db = existing_db
    before = digest(db)
    fresh = tmp_path / "fresh.db"
    for storage in (url, f"sqlite:///{fresh}"):
        code, out, err = launch(capsys, str(spec), "--storage", storage)
        assert code == 2
        assert out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert str(spec) in lines[0] and fld in lines[0], lines[0]
        assert "Traceback" not in err
    assert digest(db) == before
    assert not fresh.exists()


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = launch(
        capsys, str(tmp_path / "nope.toml"), "--storage", f"sqlite:///{tmp_path}/x.db"
    )
    assert code == 2 and "nope.toml: SPEC: file not found" in err
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize(
    ("storage", "fld"),
    [
        ("postgresql+psycopg://postgres@127.0.0.1:1/nowhere", "cannot connect"),
        ("sqlite:////no/such/folder/carousel.db", "does not exist"),
        ("carousel.db", "not a database URL"),
        ("nosuchdb://x/y", "unsupported database URL"),
        ("sqlite://", "in-memory"),
    ],
)
def test_bad_storage_exits_2(
    storage: str, fld: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tiny_spec(tmp_path)
    code, _, err = launch(capsys, str(spec), "--storage", storage)
    assert code == 2 and "--storage" in err and fld in err, err
    assert len(err.strip().splitlines()) == 1


def test_not_a_sqlite_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database, just text" * 100)
    before = digest(junk)
    code, _, err = launch(capsys, str(tiny_spec(tmp_path)), "--storage", f"sqlite:///{junk}")
    assert code == 2 and "not a usable SQLite database" in err
    assert digest(junk) == before


@pytest.mark.parametrize(
    ("args", "fld"),
    [
        (["--max-in-flight", "0"], "--max-in-flight"),
        (["--max-in-flight", "two"], "--max-in-flight"),
        (["--frobnicate"], "--frobnicate"),
        (["--resume"], "--resume"),
        (["--ray-address", "127.0.0.1:1"], "--ray-address"),
        (["--ray-address", "nonsense"], "--ray-address"),
    ],
)
def test_bad_arguments_exit_2(
    args: list[str], fld: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "c.db"
    code, _, err = launch(capsys, str(tiny_spec(tmp_path)), "--storage", f"sqlite:///{db}", *args)
    assert code == 2 and fld in err, err
    assert len(err.strip().splitlines()) == 1
    assert not db.exists()


def test_changed_spec_under_a_stored_name_exits_2(
    tmp_path: Path, existing_db: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    url, db = existing_db
    before = digest(db)
    spec = tiny_spec(tmp_path, name="bad", lrs="[0.5, 2.0]")  # same name, another grid
    code, _, err = launch(capsys, str(spec), "--storage", url)
    assert code == 2 and "already exists" in err and "space.lr" in err, err
    assert digest(db) == before


def test_console_script_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    spec = tmp_path / "neg.toml"
    spec.write_text(MALFORMED["negative-lr"][0])
    exe = Path(sys.executable).parent / "study-launch"
    proc = subprocess.run(
        [str(exe), str(spec), "--storage", f"sqlite:///{tmp_path}/c.db"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "space.lr" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "c.db").exists()


def test_valid_spec_parses_to_frozen_axes(tmp_path: Path) -> None:
    spec = load_spec(tiny_spec(tmp_path))
    assert spec.models == ("lstm1997", "elman")
    assert spec.common["lr"] == Choice((2.0, 4.0))
    assert spec.common["T"] == Choice((12,))
    assert spec.lstm1997 == {"blocks": Choice((1, 2))}
    assert spec.lag_param == "T"
    with pytest.raises(AttributeError):
        spec.seeds = 3  # type: ignore[misc]


def test_ranges_for_search_samplers() -> None:
    text = (
        edit('sampler = "grid"', 'sampler = "tpe"\nn_trials = 8')
        .replace("lr = [0.5, 1.0]", "lr = {low = 0.01, high = 1.0, log = true}")
        .replace("blocks = [1, 2]", "blocks = {low = 1, high = 4}")
    )
    spec = parse_spec(text)
    assert spec.common["lr"] == Range(0.01, 1.0, log=True)
    assert spec.lstm1997["blocks"] == Range(1.0, 4.0, integer=True)


def test_spec_error_fields() -> None:
    with pytest.raises(SpecError) as e:
        parse_spec(edit("lr = [0.5, 1.0]", "lr = [0.5, -0.1]"), "f.toml")
    assert (e.value.file, e.value.field) == ("f.toml", "space.lr")


def test_shipped_specs_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[2] / "studies"
    files = sorted(root.rglob("*.toml"))
    assert (root / "demo.toml") in files and len(list((root / "paper").glob("*.toml"))) >= 10
    names = set()
    for f in files:
        spec = load_spec(f)
        assert spec.name not in names, f"two specs are named {spec.name}"
        names.add(spec.name)
        if f.parent.name == "paper":
            assert spec.paper_experiment, f
        code, out, _ = launch(capsys, str(f), "--dry-run", "--no-probe")
        assert code == 0 and "trials:" in out and "sequences: at most" in out
