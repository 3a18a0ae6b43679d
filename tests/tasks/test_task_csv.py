"""The ``csv`` task: the long format, ragged sequences, splits, windowing, and every malformed
file refused with one line naming the file, the row and the column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workers.tasks import CsvError, make_task

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "studies" / "real" / "example.csv"

GOOD = """\
sequence,label,split,t,ax,ay
a,walk,train,0,0.1,1.0
a,walk,train,1,0.2,0.9
a,walk,train,2,0.3,0.8
b,run,train,1,1.1,-0.5
b,run,train,0,1.0,-0.4
c,walk,train,0,0.0,1.1
c,walk,train,1,0.1,1.2
d,run,train,0,1.3,-0.9
e,walk,test,0,0.2,1.0
e,walk,test,1,0.2,1.0
f,run,test,0,1.2,-0.6
"""


def write(tmp_path: Path, text: str, name: str = "data.csv") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_the_committed_example_is_ten_lines_and_loads() -> None:
    assert len(EXAMPLE.read_text().splitlines()) == 10
    task = make_task("csv", path=str(EXAMPLE))
    assert task.classes == ("run", "walk") and task.n_inputs == 3 and task.n_outputs == 2
    test = task.fixed_set("test")
    assert test.n == 2 and sorted(test.lengths.tolist()) == [2, 2]
    # run2's rows are out of order in the file: sorted by t
    i = int(np.flatnonzero(test.targets[:, 0, 0] == 1.0)[0])  # the run sequence
    mean, std = task.prepared.mean, task.prepared.std
    np.testing.assert_allclose(test.val[i, :2, :2] * std + mean, [[1.08, -0.52], [1.61, -0.97]])


def test_ragged_sequences_split_and_sorting(tmp_path: Path) -> None:
    task = make_task("csv", path=write(tmp_path, GOOD), val_frac=0.5)
    prep = task.prepared
    # train: a (walk, 3 steps), b (run, 2), c (walk, 2), d (run, 1); one of each class validates
    assert (prep.fit.n, prep.validation.n, prep.test.n) == (2, 2, 2)
    train = [x * prep.std + prep.mean for x in (*prep.fit.X, *prep.validation.X)]
    assert sorted(x.shape[0] for x in train) == [1, 2, 2, 3]
    b = next(x for x in train if np.isclose(x[0, 0], 1.0))  # b's rows, sorted by t
    np.testing.assert_allclose(b, [[1.0, -0.4], [1.1, -0.5]])
    assert sorted(prep.test.lengths.tolist()) == [1, 2]
    assert task.stop.test_size == 2


def test_normalisation_ignores_the_test_rows(tmp_path: Path) -> None:
    """Leak test: the same training rows with wildly different test rows give identical
    normalisation statistics and identical training data."""
    wild = GOOD.replace("e,walk,test,0,0.2,1.0", "e,walk,test,0,900.0,-700.0").replace(
        "f,run,test,0,1.2,-0.6", "f,run,test,0,-5000.0,8000.0"
    )
    a = make_task("csv", path=write(tmp_path, GOOD, "a.csv"))
    b = make_task("csv", path=write(tmp_path, wild, "b.csv"))
    np.testing.assert_array_equal(a.prepared.mean, b.prepared.mean)
    np.testing.assert_array_equal(a.prepared.std, b.prepared.std)
    sa, sb = (t.sample(np.random.default_rng(0), 32) for t in (a, b))
    np.testing.assert_array_equal(sa.val, sb.val)
    assert not np.array_equal(a.fixed_set("test").val, b.fixed_set("test").val)


def test_seeded_stratified_split_without_a_split_column(tmp_path: Path) -> None:
    rows = ["sequence,label,x"]
    for i in range(40):
        rows += [f"s{i},{'ab'[i % 2]},{i + j}" for j in range(3)]
    path = write(tmp_path, "\n".join(rows) + "\n")
    task = make_task("csv", path=path, test_frac=0.25)
    assert task.prepared.test.n == 10
    assert np.bincount(task.prepared.test.y).tolist() == [5, 5]
    other = make_task("csv", path=path, test_frac=0.25, split_seed=3)
    assert not np.array_equal(other.prepared.test.stream(), task.prepared.test.stream())


def test_windowing_and_downsampling(tmp_path: Path) -> None:
    rows = ["sequence,label,split,x"]
    for sid, lab, split, n in (("p1", "a", "train", 20), ("p2", "b", "train", 13)):
        rows += [f"{sid},{lab},{split},{t}" for t in range(n)]
    rows += [f"p3,a,test,{t}" for t in range(10)] + [f"p4,b,test,{t}" for t in range(10)]
    path = write(tmp_path, "\n".join(rows) + "\n")
    t = make_task("csv", path=path, window=5, stride=3, val_frac=0.5)
    # p1: starts 0,3,...,15 -> 6 windows; p2: 0,3,6 -> 3 windows; all 5 long
    prep = t.prepared
    assert prep.fit.n + prep.validation.n == 9
    assert set(prep.fit.lengths.tolist()) == {5}
    assert make_task("csv", path=path, window=5).prepared.test.n == 4  # 2 + 2, no overlap
    d = make_task("csv", path=path, downsample=2)
    assert sorted(d.prepared.test.lengths.tolist()) == [5, 5]
    with pytest.raises(ValueError, match=r"class 'b' has no train sequence of at least window"):
        make_task("csv", path=path, window=15)
    with pytest.raises(ValueError, match="'stride' needs a 'window'"):
        make_task("csv", path=path, stride=2)


BAD = [
    (  # a missing required column
        "sequence,split,x\na,train,1\n",
        "row 1, column 'label': missing",
    ),
    ("label,x\nwalk,1\n", "row 1, column 'sequence': missing"),
    ("sequence,label,split\na,walk,train\n", "row 1: no channel column"),
    ("sequence,label,x,x\na,w,1,2\n", "row 1, column 'x': appears twice"),
    (  # non-numeric channel value
        "sequence,label,split,x,y\na,w,train,1,2\na,w,train,1,abc\nb,r,test,1,2\n",
        "row 3, column 'y': not a number: 'abc'",
    ),
    (  # NaN written out
        "sequence,label,split,x\na,w,train,1\nb,r,train,NaN\nc,w,test,1\n",
        "row 3, column 'x': missing value (NaN)",
    ),
    (  # an empty cell
        "sequence,label,split,x,y\na,w,train,1,2\nb,r,train,,2\nc,w,test,1,1\n",
        "row 3, column 'x': missing value (NaN): empty cell",
    ),
    ("sequence,label,split,x\na,w,train,inf\n", "row 2, column 'x': not a finite number"),
    (  # a sequence with two labels
        "sequence,label,split,x\na,walk,train,1\na,walk,train,2\na,run,train,3\nb,run,test,1\n",
        "row 4, column 'label': sequence 'a' has two labels: 'walk' (row 2) and 'run'",
    ),
    (  # a sequence in both splits
        "sequence,label,split,x\na,w,train,1\na,w,test,2\nb,r,train,3\n",
        "row 3, column 'split': sequence 'a' has two splits",
    ),
    (  # an empty class in the train split
        "sequence,label,split,x\na,walk,train,1\nb,run,test,2\nc,walk,test,3\n",
        "row 3, column 'label': class 'run' has no sequence in the train split",
    ),
    ("sequence,label,split,x\na,w,training,1\n", "row 2, column 'split': must be train or test"),
    ("sequence,label,x\na,,1\n", "row 2, column 'label': empty value"),
    ("sequence,label,split,x\na,w,train,1\nb,r,train,2,3\n", "row 3: 5 fields where the header"),
    (  # a repeated time stamp
        "sequence,label,split,t,x\na,w,train,0,1\na,w,train,0,2\nb,r,test,0,1\n",
        "row 3, column 't': t = 0 repeats within sequence 'a'",
    ),
    ("sequence,label,split,t,x\na,w,train,zero,1\n", "row 2, column 't': not a number: 'zero'"),
    ("sequence,label,x\na,w,1\nb,w,2\n", "column 'label': only one class ('w')"),
    ("sequence,label,split,x\na,w,train,1\nb,r,train,2\n", "column 'split': no sequence is in"),
    ("", "row 1: empty file"),
    ("sequence,label,x\n", "row 2: no data rows"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m for _, m in BAD])
def test_malformed_files_are_refused_with_file_row_and_column(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CsvError) as err:
        make_task("csv", path=path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: ") and message in msg
    assert "\n" not in msg


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    p = tmp_path / "excel.csv"
    p.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())  # what spreadsheet programs write
    assert make_task("csv", path=str(p)).classes == ("run", "walk")


def test_missing_file_and_bad_parameters(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"nope\.csv: file not found"):
        make_task("csv", path=str(tmp_path / "nope.csv"))
    path = write(tmp_path, GOOD)
    for params, bad in (
        ({"threshold": 1.5}, "'threshold'"),
        ({"test_frac": 1.0}, "'test_frac'"),
        ({"window": -1}, "'window'"),
        ({"downsample": 0}, "'downsample'"),
    ):
        with pytest.raises(ValueError, match=bad):
            make_task("csv", path=path, **params)


def test_a_rewritten_file_is_read_again(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    first = make_task("csv", path=path).prepared.mean
    Path(path).write_text(GOOD.replace("0.1,1.0", "5.1,1.0"))
    assert not np.array_equal(make_task("csv", path=path).prepared.mean, first)
