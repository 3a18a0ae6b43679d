"""build_model / describe: resolution from spec + paper setup, determinism, batching, errors.

Uses the real ``workers.config.ModelSpec`` and ``workers.tasks.base.PaperSetup`` (the models
package itself must not import workers; it accepts them through protocols).
"""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest
import torch

from models.baselines import hidden_for_weights, stored_weights
from models.layout import Lstm1997Layout
from models.lstm1997 import Lstm1997
from models.registry import MODELS, build_model, describe
from workers.config import ModelSpec
from workers.tasks.base import PaperSetup

# Table 10 rows: Exp. 4 (adding), Exp. 3a, Exp. 2a.
EXP4 = PaperSetup(blocks=2, cells_per_block=2, lr=0.5, init_range=0.1, input_gate_bias=(-3.0, -6.0))
EXP3 = PaperSetup(
    blocks=3,
    cells_per_block=1,
    lr=1.0,
    init_range=0.1,
    bias="hidden",
    input_gate_bias=(-1.0, -3.0, -5.0),
    output_gate_bias=(-2.0, -4.0, -6.0),
)
EXP2A = PaperSetup(
    blocks=1,
    cells_per_block=1,
    lr=1.0,
    init_range=0.2,
    connectivity="B",
    bias="none",
    gates="input",
    g="g1",
    h="id",
)
ALL = sorted(MODELS)


def _rngs(*seeds: int) -> list[np.random.Generator]:
    return [np.random.default_rng(s) for s in seeds]


def _params(model: torch.nn.Module) -> dict[str, np.ndarray]:
    return {n: p.detach().numpy().copy() for n, p in model.named_parameters()}


@pytest.mark.parametrize("name", ALL)
def test_same_seeds_same_weights_other_seeds_differ(name: str) -> None:
    spec = ModelSpec(name=name)
    a = _params(build_model(spec, EXP4, 2, 1, _rngs(1, 2), 0.1))
    b = _params(build_model(spec, EXP4, 2, 1, _rngs(1, 2), 0.1))
    c = _params(build_model(spec, EXP4, 2, 1, _rngs(3, 4), 0.1))
    assert a.keys() == b.keys() == c.keys()
    for n in a:
        assert np.array_equal(a[n], b[n])
        if n.startswith("ln"):  # a Transformer's LayerNorm starts at gain 1, bias 0
            continue
        assert not np.array_equal(a[n], c[n])
        assert not np.array_equal(a[n][0], a[n][1])  # lanes are different seeds


@pytest.mark.parametrize("name", ALL)
def test_batched_equals_alone(name: str) -> None:
    """Lane k of a K=3 module: same weights, outputs and gradients as a K=1 module of seed k."""
    spec = ModelSpec(name=name)
    seeds = (5, 6, 7)
    batched = build_model(spec, EXP4, 2, 1, _rngs(*seeds), 0.1)
    x = np.random.default_rng(0).uniform(-1.0, 1.0, size=(3, 20, 2))
    y = batched(torch.tensor(x))
    (y[:, -1] ** 2).sum().backward()
    for k, seed in enumerate(seeds):
        alone = build_model(spec, EXP4, 2, 1, _rngs(seed), 0.1)
        y1 = alone(torch.tensor(x[k : k + 1]))
        (y1[:, -1] ** 2).sum().backward()
        torch.testing.assert_close(y[k], y1[0], rtol=1e-12, atol=1e-15)
        for (n, p), (n1, p1) in zip(
            batched.named_parameters(), alone.named_parameters(), strict=True
        ):
            assert n == n1
            assert torch.equal(p[k], p1[0]), n  # the init is identical, not just close
            assert p.grad is not None and p1.grad is not None
            torch.testing.assert_close(p.grad[k], p1.grad[0], rtol=1e-12, atol=1e-15)


def test_lstm1997_paper_gate_biases() -> None:
    """Exp. 4: input gate biases -3, -6; output gate biases random ("r")."""
    model = build_model(ModelSpec(), EXP4, 2, 1, _rngs(1, 2), 0.1)
    assert isinstance(model, Lstm1997)
    lay, (Wh, _) = model.layout, model.weights()
    for k in range(2):
        np.testing.assert_array_equal(Wh[k, lay.in_gate, -1], [-3.0, -6.0])
        assert np.all(np.abs(Wh[k, lay.out_gate, -1]) <= 0.1)
    assert model.n_weights == lay.n_weights == 93


def test_lstm1997_paper_gate_biases_exp3_and_extension() -> None:
    model = build_model(ModelSpec(), EXP3, 1, 1, _rngs(1), 0.1)
    assert isinstance(model, Lstm1997)
    Wh, Wo = model.weights()
    lay = model.layout
    np.testing.assert_array_equal(Wh[0, lay.in_gate, -1], [-1.0, -3.0, -5.0])
    np.testing.assert_array_equal(Wh[0, lay.out_gate, -1], [-2.0, -4.0, -6.0])
    assert lay.n_weights == 102 and np.all(Wo[0, :, -1] == 0.0)  # "b1": outputs have no bias
    # More blocks than the paper's schedule: the staggering continues (-7, -9 / -8, -10).
    model = build_model(ModelSpec(blocks=5), EXP3, 1, 1, _rngs(1), 0.1)
    assert isinstance(model, Lstm1997)
    Wh, _ = model.weights()
    np.testing.assert_array_equal(Wh[0, model.layout.in_gate, -1], [-1, -3, -5, -7, -9])
    np.testing.assert_array_equal(Wh[0, model.layout.out_gate, -1], [-2, -4, -6, -8, -10])


def test_lstm1997_zero_and_random_gate_biases() -> None:
    lay_gates = None
    for mode in ("zero", "random"):
        model = build_model(ModelSpec(gate_bias=mode, forget_gate=True), EXP4, 2, 1, _rngs(1), 0.1)
        assert isinstance(model, Lstm1997)
        Wh, _ = model.weights()
        lay_gates = model.layout.gate_units
        biases = Wh[0, lay_gates, -1]
        if mode == "zero":
            assert np.all(biases == 0.0)
        else:
            assert np.all(np.abs(biases) <= 0.1) and np.all(biases != 0.0)
    assert lay_gates is not None and len(lay_gates) == 6  # in, out, forget for 2 blocks


def test_lstm1997_forget_bias_argument() -> None:
    model = build_model(ModelSpec(forget_gate=True), EXP4, 2, 1, _rngs(1), 0.1, forget_bias=1.5)
    assert isinstance(model, Lstm1997)
    Wh, _ = model.weights()
    np.testing.assert_array_equal(Wh[0, model.layout.forget, -1], [1.5, 1.5])
    np.testing.assert_array_equal(Wh[0, model.layout.in_gate, -1], [-3.0, -6.0])


def test_lstm1997_resolves_spec_over_setup() -> None:
    spec = ModelSpec(blocks=3, cells_per_block=1, gates="input", gradient="full")
    model = build_model(spec, EXP4, 2, 1, _rngs(1), 0.2, dtype=torch.float32)
    assert isinstance(model, Lstm1997)
    assert model.layout == Lstm1997Layout(2, 1, blocks=3, cells_per_block=1, gates="input")
    assert model.gradient == "full" and model.Wh.dtype == torch.float32
    Wh = model.weights()[0][0]
    np.testing.assert_array_equal(Wh[model.layout.in_gate, -1], [-3.0, -6.0, -9.0])
    Wh[model.layout.in_gate, -1] = 0.0
    assert np.abs(Wh).max() <= 0.2 and np.abs(Wh).max() > 0.1  # init_range 0.2 is used
    # Exp. 2a: setup's g1/id, "B" connectivity, no biases, input gate only.
    m2a = build_model(ModelSpec(), EXP2A, 101, 101, _rngs(1), 0.2)
    assert isinstance(m2a, Lstm1997)
    assert (m2a.g, m2a.h) == ("g1", "id") and m2a.layout.n_weights == 10504


def test_describe_matches_built_models() -> None:
    d = describe(ModelSpec(), EXP4, 2, 1)
    assert d["weights"] == 93 and d["blocks"] == 2 and d["cells_per_block"] == 2
    assert d["gates"] == "both" and d["connectivity"] == "F" and d["gradient"] == "truncated"
    for name in ("elman", "gru", "lstm_forget"):
        d = describe(ModelSpec(name=name), EXP4, 2, 1)
        assert d["matched_to"] == 93  # the paper net's count by default
        assert d["hidden"] == hidden_for_weights(name, 2, 1, 93)
        model = build_model(ModelSpec(name=name), EXP4, 2, 1, _rngs(1, 2), 0.1)
        assert model.n_weights == d["weights"]
        # torch stores b_ih and b_hh; the count is the effective one (one bias per gate unit)
        assert sum(p.numel() for p in model.parameters()) == 2 * stored_weights(
            name, d["hidden"], 2, 1
        )


def test_baseline_sizing_rules() -> None:
    assert describe(ModelSpec(name="gru", hidden=9), EXP4, 2, 1)["hidden"] == 9
    assert describe(ModelSpec(name="gru", hidden=9), EXP4, 2, 1)["matched_to"] is None
    d = describe(ModelSpec(name="elman", match_weights=1000), EXP4, 2, 1)
    assert d["matched_to"] == 1000 and d["hidden"] == hidden_for_weights("elman", 2, 1, 1000)
    # Sized like the 1997 net the same spec would build (here 4 blocks of 2 cells: 305 weights).
    d = describe(ModelSpec(name="lstm_forget", blocks=4), EXP4, 2, 1)
    assert d["matched_to"] == Lstm1997Layout(2, 1, blocks=4).n_weights


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        (ModelSpec(name="rnn"), "unknown model 'rnn'.*lstm1997.*elman.*tcn.*transformer"),
        (ModelSpec(blocks=0), "blocks"),
        (ModelSpec(cells_per_block=-1), "cells_per_block"),
        (ModelSpec(gates="sideways"), "gates"),
        (ModelSpec(gate_bias="negative"), "gate_bias"),
        (ModelSpec(gradient="rtrl"), "gradient"),
        (ModelSpec(name="gru", hidden=0), "hidden"),
        (ModelSpec(name="elman", match_weights=0), "match_weights"),
    ],
)
def test_invalid_specs_raise(spec: ModelSpec, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        describe(spec, EXP4, 2, 1)
    with pytest.raises(ValueError, match=match):
        build_model(spec, EXP4, 2, 1, _rngs(1), 0.1)


def test_build_model_argument_errors() -> None:
    with pytest.raises(ValueError, match="rngs"):
        build_model(ModelSpec(), EXP4, 2, 1, [], 0.1)
    with pytest.raises(ValueError, match="init_range"):
        build_model(ModelSpec(), EXP4, 2, 1, _rngs(1), 0.0)


@pytest.mark.parametrize("name", ALL)
def test_models_follow_a_device_move(name: str) -> None:
    """Every tensor a forward pass uses moves with .to(); the meta device stands in for a GPU."""
    model = build_model(ModelSpec(name=name), EXP4, 2, 1, _rngs(1, 2), 0.1).to("meta")
    y = model(torch.zeros(2, 4, 2, dtype=torch.float64, device="meta"))
    assert y.shape == (2, 4, 1) and y.device.type == "meta"


def test_package_reexports_public_api() -> None:
    init = Path(__file__).resolve().parents[2] / "models" / "__init__.py"
    ns = runpy.run_path(str(init))
    assert ns["__doc__"] and "constant error carousel" in ns["__doc__"]
    import models

    for name in ns["__all__"]:  # loaded on first use
        assert getattr(models, name) is not None, name
    assert models.Lstm1997 is Lstm1997
    with pytest.raises(AttributeError):
        _ = models.NoSuchModel
    for name in ("Lstm1997", "Elman", "GRU", "LstmForget", "MODELS", "build_model", "describe"):
        assert name in ns["__all__"]


def test_lstm_forget_starts_with_forget_bias_plus_one_and_takes_the_spec_value() -> None:
    """Fails on the old code, which left the forget gate's bias random in +-r."""
    H = describe(ModelSpec(name="lstm_forget"), EXP4, 2, 1)["hidden"]
    for spec, want in (
        (ModelSpec(name="lstm_forget"), 1.0),
        (ModelSpec(name="lstm_forget", forget_bias=2.5), 2.5),
        (ModelSpec(name="lstm_forget", forget_bias=0.0), 0.0),
    ):
        net = build_model(spec, EXP4, 2, 1, _rngs(1, 2), 0.1)
        w = net.weights()
        assert isinstance(w, dict)
        effective = w["b_ih"][:, H : 2 * H] + w["b_hh"][:, H : 2 * H]  # gate order i, f, g, o
        np.testing.assert_array_equal(effective, want)
        assert describe(spec, EXP4, 2, 1)["forget_bias"] == want
    # a 1997 net's forget gate (not the paper's) takes spec.forget_bias too
    net = build_model(ModelSpec(forget_gate=True, forget_bias=2.0), EXP4, 2, 1, _rngs(1), 0.1)
    assert isinstance(net, Lstm1997)
    np.testing.assert_array_equal(net.weights()[0][0, net.layout.forget, -1], [2.0, 2.0])


def test_lstm1997_forget_gate_starts_at_plus_one_under_the_paper_gate_biases() -> None:
    """Bug: unset, the 1997 net's forget gate kept a random bias in +-r under gate_bias
    "paper" (the default), so y_fg ~ 0.5 halved the state every step: in the topology study no
    forget-gate 1997 net learned the adding problem at T = 50 (0 of 288 seeds)."""
    net = build_model(ModelSpec(forget_gate=True), EXP4, 2, 1, _rngs(1), 0.1)
    assert isinstance(net, Lstm1997)
    Wh = net.weights()[0]
    np.testing.assert_array_equal(Wh[0, net.layout.forget, -1], [1.0, 1.0])
    np.testing.assert_array_equal(Wh[0, net.layout.in_gate, -1], [-3.0, -6.0])  # the paper's


def test_the_names_a_spec_may_use_are_the_registry_s() -> None:
    from models.names import MODEL_NAMES
    from models.registry import MODELS

    assert tuple(MODELS) == MODEL_NAMES


def test_parsing_a_spec_imports_no_torch() -> None:
    """Spec validation reads names only (`models.names`): a light process (a dashboard form, a
    CI lint of specs) parses every shipped spec without loading torch."""
    import subprocess
    import sys

    code = (
        "import sys, glob\n"
        "from study.specfile import load_spec\n"
        "for p in sorted(glob.glob('studies/**/*.toml', recursive=True)):\n"
        "    load_spec(p)\n"
        "heavy = [m for m in ('torch', 'numba', 'ray', 'optuna') if m in sys.modules]\n"
        "print(' '.join(heavy) or 'light')\n"
    )
    top = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=top)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "light"
