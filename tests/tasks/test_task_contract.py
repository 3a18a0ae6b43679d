"""Every registered task honours the SequenceBatch contract, its paper setup and determinism."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from workers.tasks import TASKS, SequenceBatch, Task, make_task

# Small lag parameters keep the suite fast; the defaults are checked where it matters.
SMALL: dict[str, dict[str, int]] = {
    "noise_free_2a": {"p": 12},
    "noise_free_2b": {"p": 12},
    "long_lag_2c": {"q": 20, "p": 7},
    "two_sequence_3a": {"T": 30},
    "two_sequence_3b": {"T": 30, "N": 1},
    "two_sequence_3c": {"T": 30},
    "adding": {"T": 30},
    "multiplication": {"T": 30, "n_seq": 13},
}

# Table 10's printed weight counts for the default parameters.
TABLE10_WEIGHTS = {
    "embedded_reber": 276,
    "noise_free_2a": 10504,
    "noise_free_2b": 10504,
    "long_lag_2c": 664,
    "two_sequence_3a": 102,
    "two_sequence_3b": 102,
    "two_sequence_3c": 102,
    "adding": 93,
    "multiplication": 93,
    "temporal_order_6a": 156,
    "temporal_order_6b": 308,
}


@pytest.fixture(params=sorted(TASKS))
def task(request: pytest.FixtureRequest) -> Task:
    return make_task(request.param, **SMALL.get(request.param, {}))


def perfect(task: Task, batch: SequenceBatch) -> np.ndarray:
    """Outputs that the paper's criterion must accept."""
    if batch.legal is not None:  # Reber: every legal successor fully on, the rest off
        return batch.legal.astype(np.float64)
    return batch.targets if batch.clean_targets is None else batch.clean_targets


def test_registry_is_complete() -> None:
    assert len(TASKS) == 11
    for name, cls in TASKS.items():
        assert cls.name == name


def test_shapes_and_dtypes(task: Task) -> None:
    b = task.sample(np.random.default_rng(0), 64)
    n, T, A = b.idx.shape
    E = b.targets.shape[1]
    assert n == 64 and b.n == 64
    assert b.idx.dtype == np.int32 and b.val.dtype == np.float64 and b.val.shape == (n, T, A)
    assert b.lengths.dtype == np.int32 and b.lengths.shape == (n,)
    assert b.targets.dtype == np.float64 and b.targets.shape == (n, E, task.n_outputs)
    assert b.target_steps.dtype == np.int32 and b.target_steps.shape == (n, E)
    assert b.n_inputs == task.n_inputs and b.n_outputs == task.n_outputs
    assert b.lengths.max() == T
    assert ((b.idx >= 0) & (b.idx < task.n_inputs)).all()
    assert b.dense().shape == (n, T, task.n_inputs)
    pad = np.arange(T)[None, :] >= b.lengths[:, None]  # (n, T)
    assert (b.idx[pad] == 0).all() and (b.val[pad] == 0.0).all()
    for extra in (b.clean_targets, b.legal):
        assert extra is None or extra.shape == b.targets.shape


def test_error_slots(task: Task) -> None:
    b = task.sample(np.random.default_rng(1), 64)
    steps = b.target_steps
    used = steps >= 0
    assert used.any(axis=1).all(), "every sequence has an error slot"
    assert (steps[used] < np.broadcast_to(b.lengths[:, None], steps.shape)[used]).all()
    if task.error_at_end:
        assert steps.shape[1] == 1
        np.testing.assert_array_equal(steps[:, 0], b.lengths - 1)
    else:  # next-symbol tasks: slot e at step e, every step but the last
        E = steps.shape[1]
        expect = np.where(np.arange(E)[None, :] < b.lengths[:, None] - 1, np.arange(E), -1)
        np.testing.assert_array_equal(steps, expect)


def test_determinism(task: Task) -> None:
    a = task.sample(np.random.default_rng(7), 32)
    b = task.sample(np.random.default_rng(7), 32)
    c = task.sample(np.random.default_rng(8), 32)
    for name in ("idx", "val", "lengths", "targets", "target_steps"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert (
        a.val.shape != c.val.shape
        or not np.array_equal(a.val, c.val)
        or not np.array_equal(a.idx, c.idx)
    )


def test_correct_on_perfect_and_bad_outputs(task: Task) -> None:
    b = task.sample(np.random.default_rng(2), 128)
    good = perfect(task, b)
    assert task.correct(good, b).all()
    # Reber: illegal successors beat the legal ones; others: off by more than any tolerance.
    bad = 1.0 - good if b.legal is not None else good + 0.5
    used = b.target_steps >= 0
    if task.name == "noise_free_2b":  # only the final prediction is judged
        assert not task.correct(bad, b).any()
    else:
        assert not task.correct(np.where(used[:, :, None], bad, good), b).any()
    assert task.error(good, b).shape == (128,)
    if b.clean_targets is None and b.legal is None:
        np.testing.assert_allclose(task.error(good, b), 0.0)
        np.testing.assert_allclose(task.abs_error(bad, b), 0.5)


def spec_weights(task: Task) -> int:
    """The spec's weight count (Sec. 1, "Weight-count check") from the task's own sizes."""
    s = task.paper
    I, K, C, S = task.n_inputs, task.n_outputs, s.blocks, s.cells_per_block
    if s.connectivity == "B":  # 2a/2b: in->out, in->hidden, cells->out; no recurrence but the CEC
        gates = {"both": 2, "input": 1, "output": 1, "none": 0}[s.gates] * C
        return I * K + I * (C * S + gates) + C * S * K
    H = C * S + 2 * C
    biased_hidden = {"none": 0, "gates": 2 * C, "hidden": H, "all": H}[s.bias]
    out_bias = 1 if s.bias == "all" else 0
    return H * (I + H) + biased_hidden + K * (C * S + out_bias)


def test_paper_weights_match_spec_formula(task: Task) -> None:
    assert task.paper.weights == spec_weights(task)
    default = TASKS[task.name]()
    assert default.paper.weights == spec_weights(default) == TABLE10_WEIGHTS[task.name]


def test_paper_setup_and_stop_rule(task: Task) -> None:
    s = task.paper
    gate_biases = [s.input_gate_bias, s.output_gate_bias]
    assert all(g is None or len(g) == s.blocks for g in gate_biases)
    assert s.init_range in (0.1, 0.2) and s.lr > 0
    assert task.stop.kind in ("st3", "window_wrong", "test", "budget")
    assert 0.0 <= task.test_max_wrong_frac < 0.1
    assert task.test_size in (256, 2560, 10000)
    assert math.isfinite(task.lag) and task.lag > 0
    assert task.paper_ref.startswith("Exp.")


def test_params_round_trip_and_pickle(task: Task) -> None:
    again = make_task(task.name, **task.params())
    assert again == task and again.params() == task.params()
    assert pickle.loads(pickle.dumps(task)) == task
    assert hash(task) == hash(again)


def test_default_paper_sequences() -> None:
    expect = {
        "embedded_reber": 21730,
        "noise_free_2a": 5040,
        "noise_free_2b": 5680,
        "long_lag_2c": 31000,
        "two_sequence_3a": 39850,
        "two_sequence_3b": 43250,
        "two_sequence_3c": 269650,
        "adding": 74000,
        "multiplication": 482000,
        "temporal_order_6a": 31390,
        "temporal_order_6b": 571100,
    }
    assert {n: TASKS[n]().paper.paper_sequences for n in TASKS} == expect
    assert make_task("adding", T=500).paper.paper_sequences == 209000
    assert make_task("adding", T=200).paper.paper_sequences is None
    assert make_task("multiplication", n_seq=13).paper.paper_sequences == 1273000
    assert make_task("two_sequence_3a", T=1000, N=3).paper.paper_sequences == 452460
    assert make_task("two_sequence_3b", T=1000, N=3).paper.paper_sequences is None
    assert make_task("long_lag_2c", q=1000, p=50).paper.paper_sequences == 203000
    assert make_task("two_sequence_3c").paper.lr == 0.1


@pytest.mark.parametrize("name", sorted(TASKS))
def test_stacked_batches_keep_every_sequence_and_pad_the_rest(name: str) -> None:
    """stack_batches writes each batch once into preallocated rows; the padding must be exactly
    what a pad-then-concatenate gives (0 / 0.0 inputs, -1 slots, False legal)."""
    from workers.tasks.base import stack_batches

    task = make_task(name, **SMALL.get(name, {}))
    parts = [task.sample(np.random.default_rng(s), n) for s, n in ((0, 3), (1, 5), (2, 1))]
    st = stack_batches(parts)
    assert st.idx.shape[1] == max(b.idx.shape[1] for b in parts)
    assert st.targets.shape[1] == max(b.targets.shape[1] for b in parts)
    lo = 0
    for b in parts:
        rows = slice(lo, lo + b.n)
        t, a, e = b.idx.shape[1], b.idx.shape[2], b.targets.shape[1]
        np.testing.assert_array_equal(st.idx[rows, :t, :a], b.idx)
        np.testing.assert_array_equal(st.val[rows, :t, :a], b.val)
        assert not st.idx[rows, t:].any() and not st.val[rows, t:].any()
        assert not st.idx[rows, :, a:].any() and not st.val[rows, :, a:].any()
        np.testing.assert_array_equal(st.lengths[rows], b.lengths)
        np.testing.assert_array_equal(st.targets[rows, :e], b.targets)
        assert not st.targets[rows, e:].any()
        np.testing.assert_array_equal(st.target_steps[rows, :e], b.target_steps)
        assert (st.target_steps[rows, e:] == -1).all()
        if b.legal is not None:
            assert st.legal is not None and not st.legal[rows, e:].any()
        if b.clean_targets is not None:
            assert st.clean_targets is not None
            np.testing.assert_array_equal(st.clean_targets[rows, :e], b.clean_targets)
        lo += b.n
    assert lo == st.n
