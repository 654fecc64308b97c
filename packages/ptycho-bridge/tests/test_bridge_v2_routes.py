"""The v2 map (``ptycho_bridge.v2_routes``, specs/ptychodus-torch.md §2): generated from the v2 fields' fates and the
mapping table, checked by ``v2_problems()``, and carrying every honoured field to the native field it names."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from ptycho_bridge import v2_config as v2
from ptycho_bridge import v2_routes
from ptycho_bridge.v2_convert import from_native, to_native
from ptycho_bridge.v2_routes import ROUTES, V2_ONLY, v2_problems

#: a valid value other than the default, for fields whose rule alone does not give one
_OTHER = {("ModelConfig", "mode"): "Supervised", ("ModelConfig", "architecture"): "fno",
          ("ModelConfig", "amp_activation"): "relu", ("ModelConfig", "probe_mask_tensor"): True,
          ("DataConfig", "N"): 128, ("TrainingConfig", "momentum"): 0.5, ("TrainingConfig", "adam_beta1"): 0.8,
          ("TrainingConfig", "adam_beta2"): 0.99, ("ModelConfig", "probe_mask"): True,
          ("TrainingConfig", "lr_min_ratio"): 0.3, ("TrainingConfig", "min_lr_ratio"): 0.3,
          ("TrainingConfig", "gradient_clip_algorithm"): "value", ("TrainingConfig", "gradient_clip_val"): 0.5,
          ("ModelConfig", "probe_mask_sigma"): 2.0, ("ModelConfig", "correction_window"): 32}
#: other fields that change with it (C is h*w of grid_size; a correction window needs projected input)
_ALSO = {("DataConfig", "grid_size"): {"C": None}, ("ModelConfig", "correction_window"): {"input_projections": 4}}
#: fields with one valid value (the native validation refuses any other; tested below)
_ONE_VALUE = {("ModelConfig", "learned_input_channels"): 2}


def _other(cls_name: str, f: dataclasses.Field) -> Any:
    if (cls_name, f.name) in _OTHER:
        return _OTHER[(cls_name, f.name)]
    kind, *arg = f.metadata["check"]
    kind = kind.rstrip("?")
    default = f.default
    if kind == "bool":
        return not default
    if kind == "int":
        return 3 if default is None else default + 2
    if kind == "float":
        return 0.5 if default is None else default * 0.5 + 0.3
    if kind == "choice":
        return next(c for c in arg[0] if c != default)
    if kind == "intpair":
        return (3, 3)
    if kind == "path":
        return Path("elsewhere")
    raise AssertionError(f"{cls_name}.{f.name}: give an alternative value in _OTHER")


def _native(configs: dict[str, Any]) -> Any:
    return to_native(configs["DataConfig"], configs["ModelConfig"], configs["TrainingConfig"],
                     configs["InferenceConfig"], cuda_available=None)


def _value(native: Any, target: str) -> Any:
    cls_name, field = target.split(".")
    home = {"DataConfig": native.data, "ModelConfig": native.model, "TrainingConfig": native.training,
            "PyTorchExecutionConfig": native.execution}[cls_name]
    return getattr(home, field)


def test_the_v2_map_names_every_field_rightly():
    assert v2_problems() == []


CARRIED = sorted(key for key, (_, value) in ROUTES.items() if value is not None and key not in _ONE_VALUE)


@pytest.mark.parametrize(("cls_name", "name"), CARRIED)
def test_every_routed_field_reaches_the_native_field_it_names(cls_name, name):
    """Changing one honoured v2 field changes the native field its route names (and the route is the one the
    mapping table asks for: ``v2_problems``)."""
    field = next(f for f in dataclasses.fields(v2.V2_CLASSES[cls_name]) if f.name == name)
    base = {c: v2.V2_CLASSES[c]() for c in ("DataConfig", "ModelConfig", "TrainingConfig", "InferenceConfig")}
    changed = dict(base)
    changed[cls_name] = dataclasses.replace(base[cls_name], **{name: _other(cls_name, field),
                                                               **_ALSO.get((cls_name, name), {})})
    target = ROUTES[(cls_name, name)][0]
    before, after = _value(_native(base), target), _value(_native(changed), target)
    assert before != after, f"v2 {cls_name}.{name} -> {target}: unchanged ({before!r})"


@pytest.mark.parametrize(("key", "value"), _ONE_VALUE.items())
def test_a_one_value_field_is_refused_at_any_other(key, value):
    cls_name, name = key
    configs = {c: v2.V2_CLASSES[c]() for c in ("DataConfig", "ModelConfig", "TrainingConfig", "InferenceConfig")}
    configs[cls_name] = dataclasses.replace(configs[cls_name], **{name: value})
    with pytest.raises(ValueError, match=rf"{cls_name}\.{name}: expected"):
        _native(configs)


def test_every_honoured_field_has_a_route_or_is_the_facades():
    for cls_name in v2_routes.CONVERTED:
        for name, fate in v2.field_fates(v2.V2_CLASSES[cls_name]).items():
            if fate.startswith("honoured"):
                assert (cls_name, name) in ROUTES or (cls_name, name) in V2_ONLY, (cls_name, name)


def test_the_check_finds_a_wrong_name_and_a_missing_route(monkeypatch):
    routes = dict(ROUTES)
    routes[("DataConfig", "K")] = ("DataConfig.N", lambda d: d.K)
    del routes[("ModelConfig", "fno_width")]
    monkeypatch.setattr(v2_routes, "ROUTES", routes)
    assert v2_problems() == [
        "v2 DataConfig.K: carried to DataConfig.N, but FIELD_MAP maps its field from DataConfig.K",
        "v2 ModelConfig.fno_width: no route carries it to ModelConfig.fno_width"]


ROUND_TRIP = sorted(key for key, (_, value) in ROUTES.items() if key not in _ONE_VALUE and key[1] != "device")


@pytest.mark.parametrize(("cls_name", "name"), ROUND_TRIP)
def test_the_way_back_restores_the_native_configs(cls_name, name):
    """native -> v2 (``from_native``, through the generated inverses) -> native is the identity, with any one
    routed v2 field at another value than its default (the device needs a CUDA answer: tested below)."""
    field = next(f for f in dataclasses.fields(v2.V2_CLASSES[cls_name]) if f.name == name)
    configs = {c: v2.V2_CLASSES[c]() for c in ("DataConfig", "ModelConfig", "TrainingConfig", "InferenceConfig")}
    configs[cls_name] = dataclasses.replace(configs[cls_name], **{name: _other(cls_name, field),
                                                                  **_ALSO.get((cls_name, name), {})})
    native = _native(configs)
    back = from_native(native.data, native.model, native.training, native.execution)
    again = to_native(*back, execution=native.execution, cuda_available=None)
    assert again == native._replace(inference=again.inference)


def test_the_device_comes_back_from_the_accelerator():
    native = to_native(v2.DataConfig(), training=v2.TrainingConfig(device="cpu"), cuda_available=False)
    _, _, training, _ = from_native(native.data, v2_model_native(), native.training, native.execution)
    assert training.device == "cpu"


def v2_model_native() -> Any:
    return to_native(v2.DataConfig(), v2.ModelConfig()).model


def test_without_an_execution_config_its_v2_fields_keep_their_defaults():
    native = _native({"DataConfig": v2.DataConfig(), "ModelConfig": v2.ModelConfig(),
                      "TrainingConfig": v2.TrainingConfig(learning_rate=0.01, num_workers=1),
                      "InferenceConfig": v2.InferenceConfig()})
    data, _, training, inference = from_native(native.data, native.model, native.training)
    assert (training.learning_rate, training.num_workers, inference.batch_size) == (1e-3, 4, 1000)
    assert (data.measurement_domain, data.scale_contract_version) == ("normalized_amplitude", "legacy_v1")


def test_the_check_finds_a_transform_without_a_way_back(monkeypatch):
    inverse = dict(v2_routes._INVERSE)
    del inverse[("TrainingConfig", "nll")]
    inverse[("TrainingConfig", "lr_min_ratio")] = None
    monkeypatch.setattr(v2_routes, "_INVERSE", inverse)
    monkeypatch.setattr(v2_routes, "INVERSES", {k: v for k, v in v2_routes.INVERSES.items()
                                                if k != ("TrainingConfig", "lr_min_ratio")})
    assert v2_problems() == [
        "v2 TrainingConfig.nll: a transform without a way back (an _INVERSE entry, or None for an alternative "
        "spelling)",
        "v2 TrainingConfig.lr_min_ratio: not read back, and no other field reads "
        "PyTorchExecutionConfig.lr_min_ratio back",
        "v2 TrainingConfig.min_lr_ratio: not read back, and no other field reads "
        "PyTorchExecutionConfig.lr_min_ratio back"]
