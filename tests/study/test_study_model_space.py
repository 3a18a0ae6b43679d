"""Per-model space sections, per-model learning rates and the protocol axis of a spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from study.model_space import canonical_params
from study.space import config_for, grid_points, n_grid_points
from study.spec import Choice, SpecError
from study.specfile import load_spec, parse_spec

ROOT = Path(__file__).resolve().parents[2]

HEAD = """\
name = "ms"
task = "adding"
models = ["lstm1997", "gru", "lstm_forget", "tcn", "transformer"]
seeds = 2
max_sequences = 100
[task_params]
T = 12
"""
FULL = (
    HEAD
    + """
[space]
lr = [0.1, 1.0]
protocol = ["paper", "modern"]
[space.lstm1997]
blocks = [1, 2]
[space.gru]
lr = [0.001, 0.01, 0.1]
[space.lstm_forget]
forget_bias = [0.0, 1.0]
[space.tcn]
levels = [2, 3]
protocol = "modern"
[space.transformer]
attention = ["causal", "full"]
positions = "learned"
"""
)


def test_sections_lr_and_protocol_axes() -> None:
    spec = parse_spec(FULL)
    assert set(spec.axes_for("gru")) == {"protocol", "T", "gru.lr"}  # its own lr replaces lr
    assert spec.axes_for("tcn")["tcn.protocol"] == Choice(("modern",))
    assert "protocol" not in spec.axes_for("tcn")
    points = grid_points(spec)
    # lstm1997 2 lr x 2 protocol x 2 blocks; gru 3 lr x 2; lstm_forget 2 x 2 x 2; tcn 2 x 2;
    # transformer 2 x 2 x 2
    assert len(points) == n_grid_points(spec) == 8 + 6 + 8 + 4 + 8
    gru = [config_for(spec, p) for p in points if p["model"] == "gru"]
    assert sorted({c.lr for c in gru}) == [0.001, 0.01, 0.1]
    assert {c.protocol for c in gru} == {"paper", "modern"}
    lf = {config_for(spec, p).model.forget_bias for p in points if p["model"] == "lstm_forget"}
    assert lf == {0.0, 1.0}
    tcn = [config_for(spec, p) for p in points if p["model"] == "tcn"]
    assert {c.protocol for c in tcn} == {"modern"} and {c.model.levels for c in tcn} == {2, 3}
    tf = [config_for(spec, p) for p in points if p["model"] == "transformer"]
    assert {c.model.attention for c in tf} == {"causal", "full"}
    assert {c.model.positions for c in tf} == {"learned"}
    # carousel's tables get plain names: the map's lr axis spans every model
    assert canonical_params({"model": "gru", "gru.lr": 0.1, "T": 12}) == {
        "model": "gru",
        "lr": 0.1,
        "T": 12,
    }
    ident = spec.identity()
    assert ident["space.gru.lr"] == {"values": (0.001, 0.01, 0.1)}
    assert ident["space.protocol"] == {"values": ("paper", "modern")}


def test_protocol_unset_takes_each_family_default_and_a_top_level_value_fixes_it() -> None:
    spec = parse_spec(HEAD + "[space]\nlr = 0.1\n")
    got = {p["model"]: config_for(spec, p).protocol for p in grid_points(spec)}
    assert got == {
        "lstm1997": "paper",
        "gru": "paper",
        "lstm_forget": "paper",
        "tcn": "modern",
        "transformer": "modern",
    }
    fixed = parse_spec(HEAD.replace("seeds = 2", 'protocol = "modern"\nseeds = 2'))
    assert {config_for(fixed, p).protocol for p in grid_points(fixed)} == {"modern"}
    assert parse_spec(HEAD).identity() == parse_spec(HEAD).identity()
    assert "space.protocol" not in parse_spec(HEAD).identity()  # older specs keep identities


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (HEAD + '[space]\nprotocol = "sgd"\n', "space.protocol"),
        (
            HEAD.replace("seeds", 'protocol = "paper"\nseeds') + "[space]\nprotocol = ['modern']\n",
            "protocol",
        ),
        (HEAD.replace("seeds", "protocol = ['paper']\nseeds"), "protocol"),
        (HEAD + "[space.tcn]\nkernel_size = 1\n", "space.tcn.kernel_size"),
        (HEAD + "[space.tcn]\ndropout = 1.5\n", "space.tcn.dropout"),
        (HEAD + "[space.tcn]\nhidden = 4\n", "space.tcn.hidden"),
        (HEAD + '[space.transformer]\nattention = "sparse"\n', "space.transformer.attention"),
        (HEAD + "[space.transformer]\nheads = 0\n", "space.transformer.heads"),
        (HEAD + "[space.gru]\nforget_bias = 1.0\n", "space.gru.forget_bias"),
        (HEAD + '[space.lstm_forget]\nforget_bias = "one"\n', "space.lstm_forget.forget_bias"),
        (HEAD + "[space.elman]\nlr = 0.1\n", "space.elman"),
        (HEAD + "[space.gru]\nlr = [0.1, 0.1]\n", "space.gru.lr"),
        (HEAD + "[space.baselines]\nhidden = 4\n[space.gru]\nmatch_weights = 50\n", "space.gru"),
    ],
)
def test_bad_sections_name_their_field(text: str, field: str) -> None:
    with pytest.raises(SpecError) as e:
        parse_spec(text, "f.toml")
    assert e.value.field == field, str(e.value)


def test_a_range_for_a_per_model_lr_and_no_range_for_a_protocol() -> None:
    text = HEAD.replace("seeds = 2", 'sampler = "random"\nn_trials = 5\nseeds = 2')
    spec = parse_spec(text + "[space.gru]\nlr = {low = 0.001, high = 1.0, log = true}\n")
    assert spec.axes_for("gru")["gru.lr"].log  # type: ignore[union-attr]
    with pytest.raises(SpecError, match=r"space\.protocol"):
        parse_spec(text + "[space]\nprotocol = {low = 0, high = 1}\n")


@pytest.mark.parametrize("path", sorted((ROOT / "studies" / "robustness").glob("*.toml")))
def test_robustness_specs_are_valid_and_cover_every_model(path: Path) -> None:
    spec = load_spec(path)
    every = ("adding", "adding_quick", "temporal_order", "temporal_order_6b", "long_lag_2c")
    if path.stem in every:  # the maps: all six models, both protocols
        assert set(spec.models) == {"lstm1997", "lstm_forget", "gru", "elman", "tcn", "transformer"}
        assert {config_for(spec, p).protocol for p in grid_points(spec)} == {"paper", "modern"}
    lrs = {v for m in spec.models for p in grid_points(spec) if p["model"] == m
           for k, v in p.items() if k.endswith("lr")}  # fmt: skip
    assert max(lrs) / min(lrs) >= 100  # a log grid over at least 2 decades (most: 4)
    for p in grid_points(spec)[:: max(1, n_grid_points(spec) // 20)]:
        config_for(spec, p)  # every configuration builds


REBER = """\
name = "upd"
task = "embedded_reber"
models = MODELS
seeds = 2
max_sequences = 100
"""


def test_the_update_moment_is_a_top_level_value_or_an_lstm1997_axis() -> None:
    alone = parse_spec(REBER.replace("MODELS", '["lstm1997"]') + 'update = "sequence"\n')
    assert {config_for(alone, p).update for p in grid_points(alone)} == {"sequence"}
    both = parse_spec(
        REBER.replace("MODELS", '["lstm1997", "elman"]')
        + '[space.lstm1997]\nupdate = ["sequence", "step"]\n'
    )
    got = sorted((p["model"], str(config_for(both, p).update)) for p in grid_points(both))
    assert got == [("elman", "None"), ("lstm1997", "sequence"), ("lstm1997", "step")]
    unset = parse_spec(REBER.replace("MODELS", '["lstm1997"]'))
    assert config_for(unset, grid_points(unset)[0]).update is None  # the trainer's default
    assert "update" not in unset.identity()  # older specs keep their identities
    with pytest.raises(SpecError, match=r"update.*space.lstm1997"):
        parse_spec(REBER.replace("MODELS", '["lstm1997", "elman"]') + 'update = "step"\n')
    with pytest.raises(SpecError, match=r"space\.update"):
        parse_spec(REBER.replace("MODELS", '["lstm1997"]') + '[space]\nupdate = ["batch"]\n')


def test_the_output_delta_is_a_spec_variant_for_recurrent_nets() -> None:
    spec = parse_spec(
        REBER.replace("MODELS", '["lstm1997", "elman"]')
        + '[space]\noutput_delta = ["paper", "no_fprime"]\n'
    )
    got = sorted((p["model"], config_for(spec, p).output_delta) for p in grid_points(spec))
    assert got == [("elman", "no_fprime"), ("elman", "paper"), ("lstm1997", "no_fprime"),
                   ("lstm1997", "paper")]  # fmt: skip
    with pytest.raises(SpecError, match="output_delta"):
        parse_spec(REBER.replace("MODELS", '["lstm1997", "tcn"]') + 'output_delta = "no_fprime"\n')
