"""The real-data tasks (the archive sets shipped in the package): the .ts reader, loaders, splits,
normalisation, the long-lag variant, the batch contract and the classification metrics."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from workers.tasks import REAL_TASKS, BasicMotions, archive, make_task
from workers.tasks.real import cross_entropy, load_archive
from workers.tasks.recordings import confusion, macro_f1

ARCHIVE_SETS = ("basic_motions", "pickup_gesture_wiimote_z", "japanese_vowels")


def test_the_data_ships_inside_the_package() -> None:
    """Nothing is downloaded: the archive files lie in the installed package."""
    data = Path(archive.__file__).parent / "data"
    for name in archive.SETS:
        for split in ("TRAIN", "TEST"):
            assert (data / f"{name}_{split}.ts.gz").is_file()


def test_ts_reader_handles_ragged_missing_and_multivariate_cases() -> None:
    text = ["# a comment", "@problemName x", "@data", "1,2,3:4,5,6:a", "", "7,?:9,10 :b "]
    X, y = archive.read_ts(text)
    assert y == ["a", "b"]
    assert X[0].tolist() == [[1, 4], [2, 5], [3, 6]]  # steps along the first axis
    assert X[1].shape == (2, 2) and np.isnan(X[1][1, 0]) and X[1][1, 1] == 10


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        (["1,2:a"], "data before the @data line"),
        (["@data", "1,2:3,4:a", "x,1:2,3:b"], "f.ts:3: could not convert"),
        (["@data", "1,2:3:a"], "f.ts:2: dimensions of unequal length"),
        (["@data", "1,2"], "f.ts:2: a case without a class label"),
        (["@problemName x"], "no @data line"),
    ],
)
def test_ts_reader_names_the_bad_line(lines: list[str], problem: str) -> None:
    with pytest.raises(archive.ArchiveFormatError, match=problem):
        archive.read_ts(lines, "f.ts")


@pytest.mark.parametrize(
    ("dataset", "n_train", "n_test", "channels", "classes", "lengths"),
    [
        ("BasicMotions", 40, 40, 6, 4, (100, 100)),
        ("PickupGestureWiimoteZ", 50, 50, 1, 10, (29, 361)),
        ("JapaneseVowels", 270, 370, 12, 9, (7, 29)),
    ],
)
def test_loader_shapes_and_the_archive_split(
    dataset: str,
    n_train: int,
    n_test: int,
    channels: int,
    classes: int,
    lengths: tuple[int, int],
) -> None:
    train, test, names = load_archive(dataset)
    assert (train.n, test.n, len(names)) == (n_train, n_test, classes)
    both = np.concatenate([train.lengths, test.lengths])
    assert (int(both.min()), int(both.max())) == lengths
    assert all(x.ndim == 2 and x.shape[1] == channels for x in (*train.X, *test.X))
    assert set(train.y.tolist()) == set(range(classes))  # every class has training data


def test_class_names_in_numeric_order() -> None:
    assert load_archive("PickupGestureWiimoteZ")[2] == tuple(str(i) for i in range(1, 11))
    assert load_archive("BasicMotions")[2] == ("badminton", "running", "standing", "walking")


def test_validation_is_carved_from_train_stratified_and_disjoint() -> None:
    task = make_task("basic_motions", val_frac=0.3)
    prep = task.prepared
    train, _, _ = load_archive("BasicMotions")
    assert (prep.fit.n, prep.validation.n, prep.test.n) == (28, 12, 40)
    assert np.bincount(prep.validation.y).tolist() == [3, 3, 3, 3]  # 0.3 of 10 a class
    # every raw training recording is in exactly one of fit / validation, none of test
    raw = {x.tobytes() for x in train.X}
    back = [x * prep.std + prep.mean for x in (*prep.fit.X, *prep.validation.X)]
    assert len(back) == 40
    for x in back:
        assert any(np.allclose(x, r) for r in train.X)
    assert len({np.round(x, 9).tobytes() for x in back}) == len(raw)
    # the seed moves the carve; the same seed repeats it
    again = make_task("basic_motions", val_frac=0.3).prepared.validation
    other = make_task("basic_motions", val_frac=0.3, split_seed=1).prepared.validation
    assert all(np.array_equal(a, b) for a, b in zip(again.X, prep.validation.X, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(other.X, prep.validation.X, strict=True))
    assert make_task("pickup_gesture_wiimote_z").prepared.validation.n == 10  # 1 of 5 a class


def test_normalisation_uses_the_fit_split_only() -> None:
    """Mean 0 and std 1 over the fit split, per channel; the statistics equal those of the raw
    fit recordings, so neither validation nor test data shaped them."""
    task = make_task("basic_motions")
    prep = task.prepared
    s = prep.fit.stream()
    np.testing.assert_allclose(s.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(s.std(axis=0), 1.0, atol=1e-12)
    raw_fit = np.concatenate([x * prep.std + prep.mean for x in prep.fit.X])
    np.testing.assert_allclose(prep.mean, raw_fit.mean(axis=0), atol=1e-9)
    everything = np.concatenate(
        [x * prep.std + prep.mean for x in (*prep.fit.X, *prep.validation.X, *prep.test.X)]
    )
    assert not np.allclose(prep.mean, everything.mean(axis=0), atol=1e-6)
    # the test split is normalised with the fit statistics, not its own
    t = prep.test.stream()
    assert not np.allclose(t.mean(axis=0), 0.0, atol=1e-3)


@pytest.mark.parametrize("name", ARCHIVE_SETS)
def test_batch_contract(name: str) -> None:
    task = make_task(name, lag=7)
    b = task.sample(np.random.default_rng(0), 16)
    _, T, A = b.idx.shape
    assert b.idx.dtype == np.int32 and b.val.dtype == np.float64
    assert A == task.n_inputs == b.n_inputs and b.targets.shape == (16, 1, task.n_outputs)
    assert b.lengths.max() == T
    np.testing.assert_array_equal(b.target_steps[:, 0], b.lengths - 1)
    pad = np.arange(T)[None, :] >= b.lengths[:, None]
    assert (b.idx[pad] == 0).all() and (b.val[pad] == 0.0).all()
    assert (b.targets.sum(axis=2) == 1.0).all()  # one-hot labels
    # determinism, and a different stream draws other recordings
    a2 = task.sample(np.random.default_rng(0), 16)
    np.testing.assert_array_equal(a2.val, b.val)
    c = task.sample(np.random.default_rng(1), 16)
    assert c.val.shape != b.val.shape or not np.array_equal(c.val, b.val)
    # the criterion: the largest output is the label's
    assert task.correct(b.targets, b).all()
    assert not task.correct(1.0 - b.targets, b).any()
    assert task.error(b.targets, b).max() == 0.0
    # the fixed sets are the same for every caller and never change
    for split in ("validation", "test"):
        f = task.fixed_set(split)
        assert f is task.fixed_set(split) and f.n == getattr(task.prepared, split).n
    assert task.test_size == task.prepared.test.n
    assert pickle.loads(pickle.dumps(task)) == task == make_task(name, **task.params())


def test_ragged_batches_keep_every_recordings_length() -> None:
    task = make_task("pickup_gesture_wiimote_z")
    test = task.fixed_set("test")
    np.testing.assert_array_equal(test.lengths, task.prepared.test.lengths)
    assert len(set(test.lengths.tolist())) > 10
    i = int(np.argmin(test.lengths))
    L = int(test.lengths[i])
    np.testing.assert_allclose(test.val[i, :L, 0], task.prepared.test.X[i][:, 0])
    assert (test.val[i, L:] == 0).all()


@pytest.mark.parametrize("filler", ["noise", "segments"])
def test_long_lag_variant_keeps_the_label_and_puts_the_lag_where_configured(filler: str) -> None:
    plain = make_task("basic_motions")
    lagged = make_task("basic_motions", lag=60, filler=filler)
    assert lagged.lag == 60 and plain.lag == 0 and lagged.n_inputs == plain.n_inputs == 7
    p, q = plain.fixed_set("test"), lagged.fixed_set("test")
    np.testing.assert_array_equal(q.targets, p.targets)  # the label is kept
    np.testing.assert_array_equal(q.lengths, p.lengths + 60)
    np.testing.assert_array_equal(q.target_steps[:, 0], p.lengths + 60 - 1)  # asked after the lag
    L = int(p.lengths[0])
    np.testing.assert_array_equal(q.val[:, :L], p.val[:, :L])  # the recording comes first
    assert (q.val[:, :L, 6] == 1.0).all() and (q.val[:, L:, 6] == 0.0).all()  # the flag
    fill = q.val[:, L:, :6]
    assert fill.shape == (40, 60, 6) and fill.std() > 0.5
    if filler == "segments":  # windows of the test split's own recordings, end to end
        stream = lagged.prepared.test.stream()
        for row in fill[:5]:
            hits = np.flatnonzero(np.isclose(stream[:, 0], row[0, 0]))
            assert any(np.allclose(stream[(h + np.arange(60)) % len(stream)], row) for h in hits)
    else:  # stationary unit-variance AR(1) noise with the fit split's lag-1 correlation
        x = lagged.sample(np.random.default_rng(3), 400).val[:, 100:, :6]
        np.testing.assert_allclose(x.std(axis=(0, 1)), 1.0, atol=0.05)
        r1 = (x[:, 1:] * x[:, :-1]).mean(axis=(0, 1)) / (x * x).mean(axis=(0, 1))
        np.testing.assert_allclose(r1, lagged.prepared.phi, atol=0.05)
    # training sequences: the same layout
    b = lagged.sample(np.random.default_rng(0), 8)
    np.testing.assert_array_equal(b.target_steps[:, 0], b.info["recording_length"] + 60 - 1)


def test_stop_rule_and_threshold() -> None:
    task = make_task("basic_motions")
    assert task.accuracy_threshold() == BasicMotions.THRESHOLD == 0.95
    rule = task.stop
    assert rule.kind == "validation" and rule.test_size == 8 and rule.max_wrong == 0
    assert rule.window_correct == 0.95
    # 38 of 40 right is 0.95: solved; 37 is not
    assert 2 <= task.test_max_wrong_frac * task.test_size < 3


@pytest.mark.parametrize(
    ("params", "bad"),
    [
        ({"lag": -1}, "'lag'"),
        ({"lag": 1.5}, "'lag'"),
        ({"filler": "pink"}, "'filler'"),
        ({"output": "tanh"}, "'output'"),
        ({"val_frac": 0.0}, "'val_frac'"),
        ({"val_frac": 0.9}, "'val_frac'"),
    ],
)
def test_bad_parameters_name_themselves(params: dict[str, object], bad: str) -> None:
    with pytest.raises(ValueError, match=bad):
        make_task("basic_motions", **params)


def test_metrics_agree_with_scikit_learn() -> None:
    from sklearn.metrics import confusion_matrix, f1_score

    rng = np.random.default_rng(0)
    true = rng.integers(0, 4, 200)
    pred = np.where(rng.random(200) < 0.6, true, rng.integers(0, 4, 200))
    pred[pred == 3] = 2  # a class never predicted
    m = confusion(pred, true, 4)
    np.testing.assert_array_equal(m, confusion_matrix(true, pred, labels=range(4)))
    assert macro_f1(m) == pytest.approx(f1_score(true, pred, average="macro"))
    task = make_task("basic_motions")
    b = task.fixed_set("test")
    out = np.full_like(b.targets, 0.1)
    out[np.arange(b.n), 0, np.arange(b.n) % 4] = 0.9  # cyclic guesses
    got = task.metrics(out, b)
    want_true = b.targets[:, 0].argmax(axis=1)
    assert got["test_accuracy"] == pytest.approx(float((np.arange(b.n) % 4 == want_true).mean()))
    assert np.asarray(got["confusion"]).sum() == 40 and got["classes"][0] == "badminton"


def test_cross_entropy_matches_torch() -> None:
    import torch

    rng = np.random.default_rng(1)
    z = rng.normal(0, 3, (50, 4))
    t = np.eye(4)[rng.integers(0, 4, 50)]
    y = 1 / (1 + np.exp(-z))
    want = torch.nn.functional.cross_entropy(
        torch.tensor(z), torch.tensor(t.argmax(1)), reduction="none"
    ).numpy()
    np.testing.assert_allclose(cross_entropy(y, t), want, rtol=1e-7)
    task = make_task("basic_motions", output="softmax")
    assert task.loss == "cross_entropy" and make_task("basic_motions").loss == "squared"


def test_registry() -> None:
    assert set(REAL_TASKS) == {*ARCHIVE_SETS, "csv"}
    with pytest.raises(ValueError, match="'path' is required"):
        make_task("csv")
