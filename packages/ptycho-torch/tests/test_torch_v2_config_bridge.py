"""The original config bridge's contract on the v2 config dialect (specs/ptychodus-torch.md §2): the assertions
of the upstream tests/torch/test_config_bridge.py, restated for ``ptycho_torch.config_params`` (v2 classes) and
``ptycho_torch.config_bridge`` with the original's call form ``to_training_config(tf_model, data, pt_model,
training, overrides)``."""

import warnings
from pathlib import Path

import pytest

from ptycho import params
from ptycho.config.config import update_legacy_dict
from ptycho_torch import config_bridge as cb
from ptycho_torch.config_params import DataConfig, InferenceConfig, ModelConfig, TrainingConfig

TRAIN_OV = dict(train_data_file=Path("train.npz"), n_groups=512, nphotons=1e9)
INFER_OV = dict(model_path=Path("model_dir"), test_data_file=Path("test.npz"), n_groups=512)


@pytest.fixture(autouse=True)
def _restore_params():
    saved = dict(params.cfg)
    yield
    params.cfg.clear()
    params.cfg.update(saved)


def _train(data=None, model=None, training=None, **ov):
    data, model, training = data or DataConfig(), model or ModelConfig(), training or TrainingConfig()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cb.to_training_config(cb.to_model_config(data, model), data, model, training,
                                     overrides={**TRAIN_OV, **ov})


def _infer(data=None, **ov):
    data = data or DataConfig()
    return cb.to_inference_config(cb.to_model_config(data, ModelConfig()), data, InferenceConfig(),
                                  overrides={**INFER_OV, **ov})


def test_mvp_fields_reach_params_cfg():
    data = DataConfig(N=128, grid_size=(2, 2), nphotons=1e9, K=7)
    model = ModelConfig(mode="Unsupervised")
    tf_model = cb.to_model_config(data, model)
    tr = cb.to_training_config(tf_model, data, model, TrainingConfig(epochs=1),
                               overrides=dict(train_data_file=Path("train.npz"), n_groups=512, neighbor_count=7,
                                              nphotons=1e9, test_data_file=Path("test.npz")))
    inf = cb.to_inference_config(tf_model, data, InferenceConfig(batch_size=1),
                                 overrides=dict(INFER_OV, neighbor_count=7))
    update_legacy_dict(params.cfg, tr)
    update_legacy_dict(params.cfg, inf)
    got = {k: params.cfg[k] for k in ("N", "gridsize", "model_type", "train_data_file_path", "test_data_file_path",
                                      "model_path", "n_groups", "neighbor_count", "nphotons")}
    assert got == {"N": 128, "gridsize": 2, "model_type": "pinn", "train_data_file_path": "train.npz",
                   "test_data_file_path": "test.npz", "model_path": "model_dir", "n_groups": 512,
                   "neighbor_count": 7, "nphotons": 1e9}


@pytest.mark.parametrize(("cls", "field", "value", "tf_field", "expected"), [
    ("data", "N", 128, "N", 128),
    ("model", "n_filters_scale", 3, "n_filters_scale", 3),
    ("model", "object_big", False, "object_big", False),
    ("model", "probe_big", False, "probe_big", False),
    ("data", "grid_size", (3, 3), "gridsize", 3),
    ("model", "mode", "Supervised", "model_type", "supervised"),
    ("model", "mode", "Unsupervised", "model_type", "pinn"),
    ("model", "amp_activation", "silu", "amp_activation", "swish"),
    ("model", "amp_activation", "SiLU", "amp_activation", "swish"),
    ("model", "amp_activation", "sigmoid", "amp_activation", "sigmoid"),
    ("model", "probe_mask", None, "probe_mask", False),
    ("data", "probe_scale", 2.0, "probe_scale", 2.0),
])
def test_model_fields(cls, field, value, tf_field, expected):
    data = DataConfig(**{field: value}) if cls == "data" else DataConfig()
    model = ModelConfig(**{field: value}) if cls == "model" else ModelConfig()
    assert getattr(cb.to_model_config(data, model), tf_field) == expected


def test_probe_mask_array_and_override_give_true():
    import numpy as np

    assert cb.to_model_config(DataConfig(), ModelConfig(probe_mask=np.ones((64, 64)))).probe_mask is True
    assert cb.to_model_config(DataConfig(), ModelConfig(probe_mask=None), overrides={"probe_mask": True}).probe_mask


@pytest.mark.parametrize(("field", "ov", "expected"), [
    ("pad_object", {}, True), ("pad_object", {"pad_object": False}, False),
    ("gaussian_smoothing_sigma", {}, 0.0), ("gaussian_smoothing_sigma", {"gaussian_smoothing_sigma": 0.5}, 0.5),
])
def test_model_override_fields(field, ov, expected):
    assert getattr(cb.to_model_config(DataConfig(), ModelConfig(), overrides=ov), field) == expected


@pytest.mark.parametrize(("field", "value", "tf_field", "expected"), [
    ("batch_size", 32, "batch_size", 32), ("epochs", 100, "nepochs", 100),
    ("nll", True, "nll_weight", 1.0), ("nll", False, "nll_weight", 0.0),
])
def test_training_fields(field, value, tf_field, expected):
    assert getattr(_train(training=TrainingConfig(**{field: value})), tf_field) == expected


@pytest.mark.parametrize(("field", "ov", "expected"), [
    ("mae_weight", {}, 0.0), ("mae_weight", {"mae_weight": 0.3}, 0.3), ("realspace_mae_weight", {}, 0.0),
    ("realspace_weight", {}, 0.0), ("positions_provided", {}, True), ("probe_trainable", {}, False),
    ("sequential_sampling", {}, False), ("nphotons", {"nphotons": 5e8}, 5e8), ("subsample_seed", {}, None),
    ("n_subsample", {}, None), ("n_subsample", {"n_subsample": 1000}, 1000), ("backend", {}, "pytorch"),
])
def test_training_defaults_and_overrides(field, ov, expected):
    assert getattr(_train(data=DataConfig(n_subsample=7), **ov), field) == expected


def test_subsample_seed_from_data_and_override():
    assert _train(data=DataConfig(subsample_seed=42)).subsample_seed == 42
    assert _train(data=DataConfig(subsample_seed=42), subsample_seed=99).subsample_seed == 99


def test_intensity_scale_trainable_comes_from_the_pt_model():
    assert _train(model=ModelConfig(intensity_scale_trainable=True)).intensity_scale_trainable is True
    assert _train(model=ModelConfig()).intensity_scale_trainable is False


@pytest.mark.parametrize(("ov", "expected"), [({}, False), ({"debug": True}, True)])
def test_inference_debug(ov, expected):
    assert _infer(**ov).debug is expected


def test_inference_n_subsample_is_not_the_v2_factor():
    assert _infer(data=DataConfig(n_subsample=7)).n_subsample is None
    assert _infer(data=DataConfig(n_subsample=7), n_subsample=500).n_subsample == 500


@pytest.mark.parametrize(("data", "model", "fragment"), [
    (DataConfig(grid_size=(2, 3), C=6), ModelConfig(), "Non-square grids"),
    (DataConfig(), ModelConfig(mode="InvalidMode"), "Invalid mode"),
    (DataConfig(), ModelConfig(amp_activation="unknown_activation"), "Unknown activation"),
])
def test_model_errors(data, model, fragment):
    with pytest.raises(ValueError, match=fragment):
        cb.to_model_config(data, model)


def test_required_training_values():
    data, model = DataConfig(), ModelConfig()
    tf_model = cb.to_model_config(data, model)
    with pytest.raises(ValueError, match="train_data_file is required"):
        cb.to_training_config(tf_model, data, model, TrainingConfig(), overrides=dict(n_groups=512, nphotons=1e9,
                                                                                      test_data_file="t.npz"))
    with pytest.raises(ValueError, match=r"nphotons default divergence.*overrides.*nphotons="):
        cb.to_training_config(tf_model, DataConfig(nphotons=1e5), model, TrainingConfig(),
                              overrides=dict(train_data_file=Path("train.npz"), n_groups=512))
    # specs/config.md §3: n_groups None is the whole scan in every route, the v2 dialect included
    whole = cb.to_training_config(tf_model, data, model, TrainingConfig(),
                                  overrides=dict(train_data_file=Path("train.npz"), nphotons=1e9,
                                                 test_data_file="t.npz"))
    assert whole.n_groups is None
    assert cb.to_training_config(tf_model, DataConfig(nphotons=1e5), model, TrainingConfig(),
                                 overrides=dict(TRAIN_OV, test_data_file="t.npz")).nphotons == 1e9


def test_missing_test_data_file_warns_once():
    data, model = DataConfig(), ModelConfig()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cb.to_training_config(cb.to_model_config(data, model), data, model, TrainingConfig(), overrides=TRAIN_OV)
    assert len(caught) == 1
    assert "test_data_file" in str(caught[0].message) and "evaluation" in str(caught[0].message)


def test_model_path_required():
    with pytest.raises(ValueError, match="model_path is required"):
        cb.to_inference_config(cb.to_model_config(DataConfig(), ModelConfig()), DataConfig(), InferenceConfig(),
                               overrides=dict(test_data_file=Path("test.npz"), n_groups=512))


def test_baseline_values_reach_params_cfg():
    """The original's baseline scenario: every override and native value lands in params.cfg unchanged."""
    data = DataConfig(N=128, grid_size=(3, 3), K=9, nphotons=5e8, probe_scale=2.0)
    model = ModelConfig(mode="Unsupervised", n_filters_scale=2, amp_activation="silu", object_big=False,
                        probe_big=False, intensity_scale_trainable=True)
    tf_model = cb.to_model_config(data, model, overrides=dict(probe_mask=True, pad_object=False,
                                                              gaussian_smoothing_sigma=0.5))
    tr = cb.to_training_config(tf_model, data, model, TrainingConfig(epochs=100, batch_size=32, nll=True),
                               overrides=dict(train_data_file=Path("/b/train.npz"), test_data_file=Path("/b/test.npz"),
                                              n_groups=1024, n_subsample=2048, subsample_seed=42,
                                              output_dir=Path("/b/out"), mae_weight=0.3, nll_weight=0.7,
                                              positions_provided=False, probe_trainable=True,
                                              sequential_sampling=True, nphotons=5e8))
    update_legacy_dict(params.cfg, tr)
    expected = {"N": 128, "gridsize": 3, "neighbor_count": 9, "probe.mask": True, "pad_object": False,
                "gaussian_smoothing_sigma": 0.5, "amp_activation": "swish", "object.big": False, "probe.big": False,
                "intensity_scale.trainable": True, "nepochs": 100, "batch_size": 32, "n_groups": 1024,
                "n_subsample": 2048, "subsample_seed": 42, "mae_weight": 0.3, "nll_weight": 0.7,
                "positions.provided": False, "probe.trainable": True, "sequential_sampling": True,
                "nphotons": 5e8, "probe_scale": 2.0, "output_prefix": "/b/out"}
    assert {k: params.cfg[k] for k in expected} == expected


def test_native_call_form_still_works():
    """Ours: to_training_config(model, data, training, overrides) with native configs."""
    from ptycho_bridge import config_params as native

    d, m = native.DataConfig(nphotons=1e6), native.ModelConfig()
    cfg = cb.to_training_config(cb.to_model_config(d, m), d, native.TrainingConfig(epochs=3), {"n_groups": 8})
    assert (cfg.nepochs, cfg.n_groups, cfg.nphotons) == (3, 8, 1e6)
