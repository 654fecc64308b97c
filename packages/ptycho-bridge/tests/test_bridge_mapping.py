"""The config bridge: the guide's mapping, priority, errors, and the canonical round trip
(specs/config-bridge.md §1, §4)."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ptycho.config import config as canonical
from ptycho_bridge import bridge
from ptycho_bridge.bridge import (
    from_inference_config,
    from_model_config,
    from_training_config,
    to_inference_config,
    to_model_config,
    to_training_config,
)
from ptycho_bridge.config_params import DataConfig, InferenceConfig, ModelConfig, TrainingConfig
from ptycho_bridge.execution import PyTorchExecutionConfig

# ---------------------------------------------------------------------------------------------------
# strategies over every canonical field
# ---------------------------------------------------------------------------------------------------

opt_int = st.none() | st.integers(1, 5000)
unit = st.floats(0.0, 1.0, allow_nan=False)
pos = st.floats(1e-3, 50.0, allow_nan=False)

canonical_models = st.builds(
    canonical.ModelConfig,
    N=st.sampled_from([64, 128, 256]),
    gridsize=st.integers(1, 3),
    n_filters_scale=st.integers(1, 4),
    model_type=st.sampled_from(["pinn", "supervised"]),
    amp_activation=st.sampled_from(["sigmoid", "swish", "softplus", "relu", "silu", "SiLU", "Swish"]),
    object_big=st.booleans(),
    probe_big=st.booleans(),
    probe_mask=st.booleans(),
    probe_mask_sigma=pos,
    probe_mask_diameter=st.none() | pos,
    pad_object=st.booleans(),
    probe_scale=pos,
    gaussian_smoothing_sigma=st.floats(0.0, 3.0),
)
paths = st.none() | st.sampled_from(["a.npz", "data/train.npz", "/abs/x.npz"])


def _grouping(draw, model):
    c = model.gridsize**2
    return dict(
        n_subsample=draw(opt_int),
        subsample_seed=draw(st.none() | st.integers(0, 2**31)),
        neighbor_count=draw(st.integers(max(c, 1), c + 8)),
        enable_oversampling=draw(st.booleans()),
        neighbor_pool_size=draw(st.none() | st.integers(max(c, 1), 50)),
    )


@st.composite
def canonical_training(draw):
    model = draw(canonical_models)
    cfg = canonical.TrainingConfig(
        model=model,
        train_data_file=draw(paths),
        test_data_file=draw(paths),
        batch_size=draw(st.integers(1, 128)),
        nepochs=draw(st.integers(1, 500)),
        learning_rate=draw(st.floats(1e-6, 1.0)),
        scheduler=draw(st.sampled_from(["Default", "Exponential", "MultiStage", "Adaptive", "ReduceLROnPlateau"])),
        mae_weight=draw(unit),
        nll_weight=draw(unit),
        realspace_mae_weight=draw(st.floats(0.0, 10.0)),
        realspace_weight=draw(st.floats(0.0, 10.0)),
        nphotons=draw(st.floats(1.0, 1e12) | st.integers(1, 10**9)),
        n_groups=draw(st.integers(1, 5000)),
        positions_provided=draw(st.booleans()),
        probe_trainable=draw(st.booleans()),
        intensity_scale_trainable=draw(st.booleans()),
        output_dir=draw(st.sampled_from(["training_outputs", "runs/x"])),
        sequential_sampling=draw(st.booleans()),
        backend=draw(st.sampled_from(["tensorflow", "pytorch"])),
        torch_loss_mode=draw(st.sampled_from(["poisson", "mae"])),
        debug=draw(st.booleans()),
        **_grouping(draw, model),
    )
    if draw(st.booleans()):
        cfg.n_groups = None  # explicit None after construction: one group per seed (specs/config.md §3)
    return cfg


@st.composite
def canonical_inference(draw):
    model = draw(canonical_models)
    return canonical.InferenceConfig(
        model=model,
        model_path=draw(st.sampled_from(["runs/x", "/abs/model"])),
        test_data_file=draw(st.sampled_from(["t.npz", "/abs/t.npz"])),
        n_groups=draw(opt_int),
        debug=draw(st.booleans()),
        output_dir=draw(st.sampled_from(["inference_outputs", "out"])),
        backend=draw(st.sampled_from(["tensorflow", "pytorch"])),
        **_grouping(draw, model),
    )


# ---------------------------------------------------------------------------------------------------
# round trip (the acceptance property)
# ---------------------------------------------------------------------------------------------------


@given(canonical_models)
def test_model_round_trip_is_identity(cfg):
    """specs/config-bridge.md §1 Round trip: ModelConfig."""
    data, model = from_model_config(cfg)
    assert to_model_config(data, model) == cfg


@given(canonical_training())
def test_training_round_trip_is_identity(cfg):
    """specs/config-bridge.md §1 Round trip: TrainingConfig (model, execution lr/scheduler included)."""
    native = from_training_config(cfg)
    back = to_training_config(to_model_config(native.data, native.model), native.data, native.training,
                              execution=native.execution)
    assert back == cfg
    # the native model may also be passed directly
    assert to_training_config(native.model, native.data, native.training, execution=native.execution) == cfg


@given(canonical_inference())
def test_inference_round_trip_is_identity(cfg):
    """specs/config-bridge.md §1 Round trip: InferenceConfig."""
    native = from_inference_config(cfg)
    assert native.data.nphotons is None
    assert to_inference_config(native.model, native.data, native.inference) == cfg


def test_from_training_keeps_execution_only_fields():
    base = PyTorchExecutionConfig(num_workers=3, logger_backend="none", learning_rate=0.5)
    cfg = canonical.TrainingConfig(learning_rate=2e-3)
    ex = from_training_config(cfg, base).execution
    assert (ex.num_workers, ex.logger_backend, ex.learning_rate) == (3, "none", 2e-3)


# ---------------------------------------------------------------------------------------------------
# the guide's mapping (workflow guide §3 table), checked field by field
# ---------------------------------------------------------------------------------------------------


def test_guide_mapping_examples():
    data = DataConfig(N=128, grid_size=(2, 2), K=7, nphotons=1e6, probe_scale=2.5, subsample_seed=3)
    model = ModelConfig(mode="Supervised", amp_activation="SiLU", n_filters_scale=1)
    training = TrainingConfig(epochs=11, batch_size=8, nll_weight=0.5, train_data_file="tr.npz")
    m = to_model_config(data, model)
    assert (m.N, m.gridsize, m.model_type, m.amp_activation, m.n_filters_scale, m.probe_scale) == (
        128, 2, "supervised", "swish", 1, 2.5)
    t = to_training_config(m, data, training)
    assert (t.nepochs, t.neighbor_count, t.nphotons, t.batch_size, t.nll_weight) == (11, 7, 1e6, 8, 0.5)
    assert (t.subsample_seed, t.train_data_file, t.backend) == (3, Path("tr.npz"), "pytorch")
    assert to_model_config(DataConfig(), ModelConfig(mode="Unsupervised", amp_activation="silu")).model_type == "pinn"
    assert to_model_config(DataConfig(), ModelConfig(amp_activation="silu")).amp_activation == "swish"


def test_non_square_grid_is_an_error_naming_grid_size():
    with pytest.raises(ValueError, match=r"^DataConfig\.grid_size: expected a square grid .* got \(2, 3\)"):
        to_model_config(DataConfig(grid_size=(2, 3)), ModelConfig())


@pytest.mark.parametrize("n", [32, 100, 512, 1])
def test_n_outside_the_allowed_set_is_an_error(n):
    with pytest.raises(ValueError, match=rf"^DataConfig\.N: expected one of 64, 128, 256, got {n}"):
        to_model_config(DataConfig(N=n), ModelConfig())


def test_nphotons_not_set_is_an_error_unless_overridden():
    """specs/config-bridge.md §1 No guessed photon count."""
    with pytest.raises(ValueError, match=r"^DataConfig\.nphotons: expected a photon count > 0, got None"):
        to_training_config(ModelConfig(), DataConfig(), TrainingConfig())
    t = to_training_config(ModelConfig(), DataConfig(), TrainingConfig(), {"nphotons": 1e7})
    assert t.nphotons == 1e7
    assert to_training_config(ModelConfig(), DataConfig(nphotons=1e5), TrainingConfig()).nphotons == 1e5


def test_inference_paths_are_required_unless_overridden():
    with pytest.raises(ValueError, match=r"^InferenceConfig\.model_path: expected a path"):
        to_inference_config(ModelConfig(), DataConfig(), InferenceConfig(test_data_file="t.npz"))
    with pytest.raises(ValueError, match=r"^InferenceConfig\.test_data_file: expected a path"):
        to_inference_config(ModelConfig(), DataConfig(), InferenceConfig(model_path="m"))
    i = to_inference_config(ModelConfig(), DataConfig(), InferenceConfig(),
                            {"model_path": "m", "test_data_file": "t.npz"})
    assert (i.model_path, i.test_data_file) == (Path("m"), Path("t.npz"))


def test_overrides_win_over_native_values_and_canonical_defaults():
    """specs/config-bridge.md §1 Priority: overrides > native value > (canonical default never used)."""
    data = DataConfig(nphotons=1e6, K=9)
    t = to_training_config(ModelConfig(), data, TrainingConfig(epochs=3),
                           {"nepochs": 7, "neighbor_count": 5, "N": 256, "model_type": "supervised"})
    assert (t.nepochs, t.neighbor_count, t.model.N, t.model.model_type) == (7, 5, 256, "supervised")
    # native values (not canonical defaults) are used where no override is given
    t2 = to_training_config(ModelConfig(), data, TrainingConfig(epochs=3))
    assert (t2.nepochs, t2.neighbor_count) == (3, 9)
    # model overrides also apply to an already canonical model
    t3 = to_training_config(canonical.ModelConfig(), data, TrainingConfig(), {"gridsize": 2})
    assert t3.model.gridsize == 2
    i = to_inference_config(canonical.ModelConfig(), DataConfig(), InferenceConfig(model_path="m", test_data_file="t"),
                            {"n_groups": 5, "amp_activation": "relu"})
    assert (i.n_groups, i.model.amp_activation) == (5, "relu")


def test_execution_supplies_learning_rate_and_scheduler_unless_overridden():
    ex = PyTorchExecutionConfig(learning_rate=3e-4, scheduler="Adaptive")
    t = to_training_config(ModelConfig(), DataConfig(nphotons=1.0), TrainingConfig(), execution=ex)
    assert (t.learning_rate, t.scheduler) == (3e-4, "Adaptive")
    t = to_training_config(ModelConfig(), DataConfig(nphotons=1.0), TrainingConfig(), {"learning_rate": 0.1},
                           execution=ex)
    assert t.learning_rate == 0.1


def test_n_groups_none_stays_none():
    t = to_training_config(ModelConfig(), DataConfig(nphotons=1.0), TrainingConfig(n_groups=None))
    assert t.n_groups is None
    # specs/config.md §3: the native default is None too, the whole scan
    assert TrainingConfig().n_groups is None
    assert to_training_config(ModelConfig(), DataConfig(nphotons=1.0), TrainingConfig()).n_groups is None


@pytest.mark.parametrize("key", ["foo", "n_images", "model", "K", "epochs", "plateau_factor"])
def test_unknown_override_keys_are_errors(key):
    """specs/config-bridge.md §1: nothing is silently dropped."""
    with pytest.raises(ValueError, match=rf"^overrides: unknown field\(s\) {key} "):
        to_training_config(ModelConfig(), DataConfig(nphotons=1.0), TrainingConfig(), {key: 1})
    with pytest.raises(ValueError, match=r"^overrides: unknown field\(s\) nepochs for InferenceConfig/ModelConfig"):
        to_inference_config(ModelConfig(), DataConfig(), InferenceConfig(model_path="m", test_data_file="t"),
                            {"nepochs": 3})
    with pytest.raises(ValueError, match=r"^overrides: unknown field\(s\) nphotons for ModelConfig"):
        to_model_config(DataConfig(), ModelConfig(), {"nphotons": 3.0})


def test_wrong_argument_classes_are_errors():
    with pytest.raises(ValueError, match=r"^data: expected a ptycho_bridge\.config_params\.DataConfig, got ModelConfig"):
        to_model_config(ModelConfig(), ModelConfig())
    with pytest.raises(ValueError, match=r"^config: expected a ptycho\.config\.config\.TrainingConfig"):
        from_training_config(TrainingConfig())
    with pytest.raises(ValueError, match=r"^overrides: expected a mapping"):
        to_model_config(DataConfig(), ModelConfig(), [("N", 64)])


# ---------------------------------------------------------------------------------------------------
# every invalid input raises ValueError naming the field (hypothesis)
# ---------------------------------------------------------------------------------------------------

# canonical override key -> strategy of values the canonical validation refuses
BAD_OVERRIDES = {
    "N": st.sampled_from([32, 63, 100, 1024]),  # 0 is valid: taken from the data (specs/config.md §2.1)
    "gridsize": st.integers(-5, 0),
    "n_filters_scale": st.integers(-5, 0),
    "model_type": st.text(min_size=1).filter(lambda s: s not in ("pinn", "supervised")),
    "amp_activation": st.sampled_from(["tanh", "gelu", "SILU", ""]),
    "probe_scale": st.floats(max_value=0.0) | st.just(math.nan),
    "batch_size": st.integers(-10, 0),
    "nepochs": st.integers(-10, 0),
    "learning_rate": st.floats(max_value=0.0) | st.just(math.inf),
    "scheduler": st.sampled_from(["Cosine", "cosine", ""]),
    "optimizer": st.sampled_from(["rmsprop", "Adam", ""]),
    "weight_decay": st.floats(max_value=-1e-6) | st.just(math.nan),
    "momentum": st.floats(1.0, 10.0),
    "gradient_clip_val": st.floats(max_value=0.0),
    "gradient_clip_algorithm": st.sampled_from(["agc", "l2"]),
    "architecture": st.sampled_from(["unet", "hybrid", "FNO"]),
    "learned_input_channels": st.integers(2, 4),
    "mae_weight": st.floats(1.01, 1e6) | st.floats(max_value=-1e-3),
    "nll_weight": st.floats(1.01, 1e6),
    "nphotons": st.floats(max_value=0.0) | st.just(math.inf),
    "n_groups": st.integers(-10, 0),
    "neighbor_count": st.integers(-10, 0),
    "subsample_seed": st.integers(max_value=-1),
    "backend": st.sampled_from(["torch", "jax", "TensorFlow"]),
    "torch_loss_mode": st.sampled_from(["l1", "Poisson"]),
    "debug": st.sampled_from([0, 1, "yes", None]),
}


@given(st.sampled_from(sorted(BAD_OVERRIDES)).flatmap(lambda k: st.tuples(st.just(k), BAD_OVERRIDES[k])))
def test_invalid_override_raises_value_error_naming_the_field(case):
    key, value = case
    with pytest.raises(ValueError, match=rf"^overrides\['{key}'\] -> \w+Config\.{key}: expected "):
        to_training_config(ModelConfig(), DataConfig(nphotons=1.0), TrainingConfig(), {key: value})


@given(st.integers(2, 4), st.data())
def test_cross_field_violation_names_the_native_source(gridsize, data):
    """K < gridsize² is refused by the canonical validation and reported against DataConfig.K."""
    k = data.draw(st.integers(1, gridsize**2 - 1))
    native_data = DataConfig(grid_size=(gridsize, gridsize), K=k, nphotons=1.0)
    with pytest.raises(ValueError, match=r"^DataConfig\.K -> TrainingConfig\.neighbor_count: expected >= gridsize"):
        to_training_config(ModelConfig(), native_data, TrainingConfig())
    with pytest.raises(ValueError, match=r"^DataConfig\.K -> InferenceConfig\.neighbor_count: expected"):
        to_inference_config(ModelConfig(), native_data, InferenceConfig(model_path="m", test_data_file="t"))


@given(st.tuples(st.integers(1, 6), st.integers(1, 6)).filter(lambda hw: hw[0] != hw[1]))
def test_every_non_square_grid_is_refused(hw):
    with pytest.raises(ValueError, match=r"^DataConfig\.grid_size: "):
        to_model_config(DataConfig(grid_size=hw), ModelConfig())


# ---------------------------------------------------------------------------------------------------
# the table itself
# ---------------------------------------------------------------------------------------------------


def test_table_is_complete():
    """specs/config-bridge.md §1 One table: every canonical and every native field is covered."""
    assert bridge.table_problems() == []


def test_table_problems_detects_a_missing_row(monkeypatch):
    from ptycho_bridge import field_map

    rows = tuple(r for r in field_map.FIELD_MAP if r.source != "DataConfig.K")
    monkeypatch.setattr(field_map, "FIELD_MAP", rows)
    problems = field_map.table_problems()
    assert "TrainingConfig.neighbor_count: 0 rows (expected 1)" in problems
    assert "DataConfig.K: native field with no canonical counterpart" in problems


def test_every_native_field_reaches_the_canonical_config():
    """Changing any native field away from its default changes the bridged canonical config."""
    changed = {
        DataConfig: dict(N=128, grid_size=(2, 2), K=5, nphotons=2.0, probe_scale=1.5, n_subsample=9,
                         subsample_seed=4, enable_oversampling=True, neighbor_pool_size=6,
                         sequential_sampling=True, positions_provided=False),
        ModelConfig: dict(mode="Supervised", n_filters_scale=3, amp_activation="relu", object_big=False,
                          probe_big=False, probe_mask=True, probe_mask_sigma=2.0, probe_mask_diameter=12.0,
                          pad_object=False, gaussian_smoothing_sigma=0.5),
        TrainingConfig: dict(train_data_file="a", test_data_file="b", batch_size=3, epochs=4, mae_weight=0.3,
                             nll_weight=0.7, realspace_mae_weight=0.1, realspace_weight=0.2, n_groups=7,
                             probe_trainable=True, intensity_scale_trainable=True, torch_loss_mode="mae",
                             output_dir="o", debug=True, backend="tensorflow"),
    }
    base_d, base_m, base_t = DataConfig(nphotons=1.0, grid_size=(2, 2), K=4), ModelConfig(), TrainingConfig()
    ref = to_training_config(base_m, base_d, base_t)
    for cls, values in changed.items():
        for name, value in values.items():
            if cls is DataConfig and name == "grid_size":
                d, m, t = DataConfig(nphotons=1.0, grid_size=(3, 3), K=9), base_m, base_t
            else:
                d = dataclasses.replace(base_d, **{name: value}) if cls is DataConfig else base_d
                m = dataclasses.replace(base_m, **{name: value}) if cls is ModelConfig else base_m
                t = dataclasses.replace(base_t, **{name: value}) if cls is TrainingConfig else base_t
            assert to_training_config(m, d, t) != ref, f"{cls.__name__}.{name} did not reach the canonical config"


def test_importing_the_bridge_imports_no_framework():
    code = ("import sys, ptycho_bridge, ptycho_bridge.bridge, ptycho_bridge.backend_selector; "
            "bad=[m for m in ('torch','tensorflow','keras','lightning') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
