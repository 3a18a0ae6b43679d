"""make_task: the registry's entry point and its error messages."""

from __future__ import annotations

import pytest

from workers.tasks import TASKS, Adding, make_task, task_params


def test_make_task_builds_with_params() -> None:
    t = make_task("adding", T=500)
    assert isinstance(t, Adding) and t.T == 500 and t.lag == 250
    assert make_task("long_lag_2c", q=50).params() == {"q": 50, "p": 50}
    assert task_params("multiplication") == ("T", "n_seq")
    assert task_params("temporal_order_6a") == ()


def test_unknown_name_lists_known_tasks() -> None:
    with pytest.raises(ValueError, match="unknown task 'addition'") as err:
        make_task("addition")
    for name in TASKS:
        assert name in str(err.value)


def test_unknown_parameter() -> None:
    with pytest.raises(ValueError, match=r"no parameter\(s\) q; its parameters are: T"):
        make_task("adding", q=3)
    with pytest.raises(ValueError, match=r"\(none\)"):
        make_task("temporal_order_6b", T=100)


@pytest.mark.parametrize(
    ("name", "params", "bad"),
    [
        ("adding", {"T": 11}, "'T'"),
        ("adding", {"T": 100.0}, "'T'"),
        ("adding", {"T": True}, "'T'"),
        ("multiplication", {"n_seq": 50}, "'n_seq'"),
        ("noise_free_2a", {"p": 1}, "'p'"),
        ("long_lag_2c", {"q": 0}, "'q'"),
        ("long_lag_2c", {"p": 0}, "'p'"),
        ("two_sequence_3a", {"N": 0}, "'N'"),
        ("two_sequence_3c", {"T": 3, "N": 3}, "'T'"),
    ],
)
def test_bad_values_name_the_parameter(name: str, params: dict[str, object], bad: str) -> None:
    with pytest.raises(ValueError, match=bad):
        make_task(name, **params)


def test_numpy_integers_are_accepted_and_normalised() -> None:
    np = pytest.importorskip("numpy")
    t = make_task("adding", T=np.int64(200))
    assert type(t.T) is int and t == make_task("adding", T=200)
