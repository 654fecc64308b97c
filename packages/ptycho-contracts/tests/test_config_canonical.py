"""Canonical config dataclasses: defaults, validation, legacy mirror, JSON round trip (specs/config.md)."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ptycho import params
from ptycho.config.config import (
    AMP_ACTIVATIONS,
    InferenceConfig,
    ModelConfig,
    TrainingConfig,
    config_from_dict,
    config_to_dict,
    dataclass_to_legacy_dict,
    update_legacy_dict,
)

model_configs = st.builds(
    ModelConfig,
    N=st.sampled_from([64, 128, 256]),
    gridsize=st.integers(1, 3),
    n_filters_scale=st.integers(1, 3),
    model_type=st.sampled_from(["pinn", "supervised"]),
    amp_activation=st.sampled_from([*AMP_ACTIVATIONS, "silu", "SiLU"]),
    object_big=st.booleans(),
    probe_big=st.booleans(),
    probe_mask=st.booleans(),
    pad_object=st.booleans(),
    probe_scale=st.floats(0.1, 20),
    gaussian_smoothing_sigma=st.floats(0, 3),
)


@st.composite
def training_configs(draw):
    model = draw(model_configs)
    c = model.gridsize**2
    return TrainingConfig(
        model=model,
        train_data_file=draw(st.none() | st.just("data/train.npz")),
        batch_size=draw(st.integers(1, 64)),
        nepochs=draw(st.integers(1, 100)),
        nphotons=draw(st.floats(1.0, 1e12)),
        n_groups=draw(st.integers(1, 10_000)),
        subsample_seed=draw(st.none() | st.integers(0, 2**31)),
        neighbor_count=draw(st.integers(max(c, 1), c + 8)),
        backend=draw(st.sampled_from(["tensorflow", "pytorch"])),
        torch_loss_mode=draw(st.sampled_from(["poisson", "mae"])),
        scheduler=draw(st.sampled_from(["Default", "Exponential", "MultiStage", "Adaptive"])),
        sequential_sampling=draw(st.booleans()),
    )


def test_defaults_are_the_documented_ones():
    """specs/config.md §2-§4: the single set of defaults."""
    m = ModelConfig()
    assert (m.N, m.gridsize, m.n_filters_scale, m.amp_activation) == (64, 1, 2, "sigmoid")
    assert (m.object_big, m.probe_big, m.probe_mask, m.pad_object, m.probe_scale) == (True, True, False, True, 4.0)
    t = TrainingConfig(model=m)
    assert (t.batch_size, t.nepochs, t.nphotons, t.n_groups, t.neighbor_count) == (16, 50, 1e9, None, 4)
    assert (t.backend, t.torch_loss_mode, t.learning_rate, t.debug) == ("tensorflow", "poisson", 1e-3, False)
    assert t.output_dir == Path("training_outputs")
    i = InferenceConfig(model=m, model_path="m", test_data_file="t.npz")
    assert i.n_groups is None and i.backend == "tensorflow" and i.model_path == Path("m")


def test_silu_alias_becomes_swish():
    assert ModelConfig(amp_activation="silu").amp_activation == "swish"
    assert ModelConfig(amp_activation="SiLU").amp_activation == "swish"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"N": 32}, "N"),
        ({"N": 64.0}, "N"),
        ({"gridsize": 0}, "gridsize"),
        ({"gridsize": True}, "gridsize"),
        ({"n_filters_scale": 0}, "n_filters_scale"),
        ({"model_type": "gan"}, "model_type"),
        ({"architecture": "unet"}, "architecture"),
        ({"fno_modes": 0}, "fno_modes"),
        ({"learned_input_channels": 2}, "learned_input_channels"),
        ({"amp_activation": "tanh"}, "amp_activation"),
        ({"probe_scale": 0.0}, "probe_scale"),
        ({"probe_scale": float("nan")}, "probe_scale"),
        ({"gaussian_smoothing_sigma": -1.0}, "gaussian_smoothing_sigma"),
        ({"object_big": "yes"}, "object_big"),
    ],
)
def test_model_config_rejects_bad_values_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=rf"ModelConfig\.{field}: expected .*got {kwargs[field]!r}"):
        ModelConfig(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"nphotons": 0}, "nphotons"),
        ({"nphotons": -5.0}, "nphotons"),
        ({"nphotons": float("inf")}, "nphotons"),
        ({"batch_size": 0}, "batch_size"),
        ({"nepochs": 0}, "nepochs"),
        ({"backend": "jax"}, "backend"),
        ({"torch_loss_mode": "mse"}, "torch_loss_mode"),
        ({"scheduler": "Cosine"}, "scheduler"),
        ({"mae_weight": 2.0}, "mae_weight"),
        ({"n_groups": 0}, "n_groups"),
        ({"subsample_seed": -1}, "subsample_seed"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"output_dir": ""}, "output_dir"),
        ({"train_data_file": 3}, "train_data_file"),
    ],
)
def test_training_config_rejects_bad_values_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=rf"TrainingConfig\.{field}: expected"):
        TrainingConfig(model=ModelConfig(), **kwargs)


def test_neighbor_count_must_cover_the_group():
    with pytest.raises(ValueError, match=r"TrainingConfig\.neighbor_count: expected >= gridsize\*\*2 = 9"):
        TrainingConfig(model=ModelConfig(gridsize=3), neighbor_count=4)


def test_assignment_is_validated_and_rolled_back():
    t = TrainingConfig(model=ModelConfig())
    t.test_data_file = "val.npz"  # guide §10 mutates configs
    assert t.test_data_file == Path("val.npz")
    with pytest.raises(ValueError, match=r"TrainingConfig\.nphotons"):
        t.nphotons = -1.0
    assert t.nphotons == 1e9


def test_frozen_model_config():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ModelConfig().N = 128  # type: ignore[misc]


def test_groups_used_is_the_whole_scan_by_default():
    """specs/config.md §3, specs/grouping.md §2: n_groups None = every position; an int subsamples."""
    from ptycho.config.config import groups_used

    t = TrainingConfig(model=ModelConfig())
    assert t.n_groups is None and groups_used(t, 256) == 256
    t.n_groups = 512
    assert groups_used(t, 256) == 256  # never more groups than positions without oversampling
    t.n_groups = 100
    assert groups_used(t, 256) == 100
    t2 = TrainingConfig(model=ModelConfig(gridsize=2), enable_oversampling=True, neighbor_pool_size=6,
                        n_groups=512)
    assert groups_used(t2, 256) == 512


def test_logs_print_the_groups_used_never_the_bare_setting():
    """specs/config.md §3: a 256-position scan never reads n_groups=512."""
    from ptycho.config.training_options import describe_groups

    t = TrainingConfig(model=ModelConfig())
    assert describe_groups(t, 256) == "groups=256 of 256 positions (the whole scan)"
    t.n_groups = 512
    assert describe_groups(t, 256) == "groups=256 of 256 positions (n_groups 512 capped at the scan)"
    t.n_groups = 100
    assert describe_groups(t, 256) == "groups=100 of 256 positions (subsampled by n_groups)"


def test_n_images_is_a_deprecated_alias_of_n_groups():
    with pytest.warns(DeprecationWarning, match="n_images"):
        t = TrainingConfig(model=ModelConfig(), n_images=64)
    assert t.n_groups == 64 and t.n_images is None
    with pytest.raises(ValueError, match=r"n_images"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            TrainingConfig(model=ModelConfig(), n_images=64, n_groups=32)
    with pytest.warns(DeprecationWarning):
        t.n_images = 128
    assert t.n_groups == 128


@given(training_configs())
def test_json_round_trip_is_identity(cfg):
    """specs/config.md §6: config_from_dict(config_to_dict(c)) == c, through real JSON."""
    text = json.dumps(config_to_dict(cfg))
    assert config_from_dict(json.loads(text)) == cfg


def test_config_from_dict_rejects_unknown_fields():
    d = config_to_dict(TrainingConfig(model=ModelConfig()))
    d["nepochz"] = 3
    with pytest.raises(ValueError, match="unknown field.*nepochz"):
        config_from_dict(d)


@given(training_configs())
def test_legacy_dict_uses_legacy_names_and_skips_none(cfg):
    """specs/config.md §5: the flattening and key renames of update_legacy_dict."""
    legacy = dataclass_to_legacy_dict(cfg)
    assert legacy["N"] == cfg.model.N and legacy["gridsize"] == cfg.model.gridsize
    assert legacy["object.big"] == cfg.model.object_big and "object_big" not in legacy
    assert legacy["output_prefix"] == str(cfg.output_dir)
    assert "model" not in legacy
    assert all(v is not None for v in legacy.values())
    if cfg.train_data_file is None:
        assert "train_data_file_path" not in legacy


def test_update_legacy_dict_writes_params_cfg_without_clobbering_with_none():
    params.reset()
    params.cfg["intensity_scale"] = 123.0
    update_legacy_dict(params.cfg, TrainingConfig(model=ModelConfig(N=128, gridsize=2), nphotons=1e6))
    assert params.get("N") == 128 and params.get("gridsize") == 2 and params.get("nphotons") == 1e6
    assert params.get("intensity_scale") == 123.0
    assert params.get_bigN() == 128 + 4 and params.get_padded_size() == 128 + 4 + 10
    update_legacy_dict(params.cfg, InferenceConfig(model=ModelConfig(), model_path="m", test_data_file="t"))
    assert params.get("N") == 64
    params.reset()
    with pytest.raises(ValueError, match="update_legacy_dict"):
        update_legacy_dict(params.cfg, {"N": 64})


def test_params_get_missing_key_names_it():
    with pytest.raises(KeyError, match="no_such_key"):
        params.get("no_such_key")
    assert params.get("no_such_key", 7) == 7


def test_params_defaults_come_from_the_dataclasses():
    """specs/config.md §5.2: one set of defaults."""
    params.reset()
    t = TrainingConfig(model=ModelConfig())
    for key, value in dataclass_to_legacy_dict(t).items():
        assert params.cfg[key] == value


def test_importing_contracts_imports_no_framework():
    code = (
        "import sys; import ptycho.config.config, ptycho.params, ptycho.raw_data; "
        "bad = [m for m in ('torch', 'tensorflow', 'keras', 'lightning') if m in sys.modules]; "
        "sys.exit(f'imported {bad}') if bad else None"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("key", [1, ("a",), None])
def test_non_string_field_name_is_one_line_error(key):
    from ptycho.config.config import config_from_dict, config_to_dict

    data = {**config_to_dict(TrainingConfig(model=ModelConfig(N=64))), key: 1}
    with pytest.raises(ValueError, match=rf"^TrainingConfig: field names must be strings, got {re.escape(repr(key))}$"):
        config_from_dict(data)


def test_resume_checkpoint_rule(tmp_path):
    """specs/reliability.md §1: one resume-path rule for both backends."""
    from ptycho.config.config import resume_checkpoint

    run = tmp_path / "run"
    assert resume_checkpoint(None, run) is None and resume_checkpoint(False, run) is None
    with pytest.raises(FileNotFoundError, match=r"no checkpoint at .*checkpoints/last\.ckpt"):
        resume_checkpoint(True, run)
    (run / "checkpoints").mkdir(parents=True)
    ckpt = run / "checkpoints" / "last.ckpt"
    ckpt.write_bytes(b"x")
    assert resume_checkpoint(True, run) == ckpt == resume_checkpoint(run, "elsewhere") == resume_checkpoint(ckpt, run)
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "last.ckpt").write_bytes(b"x")
    assert resume_checkpoint(flat, run) == flat / "last.ckpt"


def test_max_time_budget_format():
    """specs/config.md §3 max_time: DD:HH:MM:SS, positive, fields in range; one-line errors name the field."""
    from ptycho.config.config import TrainingConfig
    from ptycho.config.validation import max_time_seconds

    assert max_time_seconds("00:00:14:00") == 840.0
    assert max_time_seconds("01:02:03:04") == ((24 + 2) * 60 + 3) * 60 + 4
    assert TrainingConfig(max_time="00:00:00:30").max_time == "00:00:00:30"
    assert TrainingConfig().max_time is None
    for bad in ("14:00", "00:00:00:00", "00:24:00:00", "00:00:60:00", "a:b:c:d", "00:00:-1:00", 840):
        with pytest.raises(ValueError, match=r"^TrainingConfig\.max_time: expected None or a positive wall-clock"):
            TrainingConfig(max_time=bad)


def test_nepochs_none_means_until_the_budget_and_the_budget_is_parsed_with_the_field():
    """specs/config.md §3: nepochs None = train until max_time (allowed only with a budget); max_time_s holds the
    seconds, updated on assignment and kept when an invalid assignment is rolled back; copies keep it."""
    import copy
    import dataclasses

    from ptycho.config.config import TrainingConfig, config_from_dict, config_to_dict
    from ptycho.config.training_options import describe_length

    cfg = TrainingConfig(nepochs=None, max_time="00:00:03:00")
    assert cfg.until_budget and cfg.max_time_s == 180.0
    assert describe_length(cfg) == "until max_time=00:00:03:00"
    assert describe_length(TrainingConfig(nepochs=7, max_time="00:00:00:09")) == "epochs=7 or max_time=00:00:00:09"
    assert describe_length(TrainingConfig()) == "epochs=50" and TrainingConfig().max_time_s is None
    cfg.max_time = "00:00:01:30"
    assert cfg.max_time_s == 90.0
    with pytest.raises(ValueError, match=r"^TrainingConfig\.nepochs: expected an integer >= 1, or None together "
                                         r"with a max_time budget"):
        cfg.max_time = None
    assert cfg.max_time == "00:00:01:30" and cfg.max_time_s == 90.0
    with pytest.raises(ValueError, match=r"^TrainingConfig\.learning_rate"):
        cfg.learning_rate = -1.0
    assert cfg.max_time_s == 90.0
    assert copy.copy(cfg).max_time_s == 90.0 and dataclasses.replace(cfg, max_time="00:00:00:05").max_time_s == 5.0
    again = config_from_dict(config_to_dict(cfg))
    assert again.nepochs is None and again.max_time_s == 90.0
    with pytest.raises(ValueError, match=r"^TrainingConfig\.nepochs"):
        TrainingConfig(nepochs=None)
