"""Convert the v2 config dialect (:mod:`ptycho_bridge.v2_config`) into the native configs and a
``PyTorchExecutionConfig``, once, at the boundary (specs/ptychodus-torch.md §2, specs/architecture.md §4).

:func:`from_native` is the way back (the v2 configs a native set stands for).
``honoured`` fields are mapped by the map :mod:`ptycho_bridge.v2_routes` generates from their fates and the mapping
table; ``refused`` fields at a non-default value raise one ValueError naming the
field; ``inert`` fields are ignored. The errors keep the wording v2 callers test for:
'Invalid mode', 'Unknown activation', 'Non-square grids'.
Imports no framework.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, NamedTuple

from ptycho.config.config import AMP_ACTIVATION_ALIASES, AMP_ACTIVATIONS
from ptycho_bridge import config_params as native
from ptycho_bridge import v2_config as v2
from ptycho_bridge.execution import PyTorchExecutionConfig
from ptycho_bridge.v2_routes import INVERSES, REFUSED, ROUTES, SCHEDULERS, copied

__all__ = ["NativeConfigs", "is_v2", "to_native", "from_native", "native_data", "native_model", "refused_problems",
           "accelerator_for"]


class NativeConfigs(NamedTuple):
    """The native configs equivalent to a set of v2 configs (None where no v2 config was given)."""

    data: native.DataConfig | None
    model: native.ModelConfig | None
    training: native.TrainingConfig | None
    inference: native.InferenceConfig | None
    execution: PyTorchExecutionConfig


def is_v2(cfg: Any) -> bool:
    """True for an instance of one of the v2 dialect classes."""
    return type(cfg) in v2.V2_CLASSES.values()


def refused_problems(cfg: Any) -> list[str]:
    """One message per refused field of ``cfg`` set to a value that is not implemented."""
    owner = type(cfg).__name__
    out = []
    for name, only in REFUSED.get(owner, {}).items():
        value = getattr(cfg, name)
        if value != only:
            out.append(f"{owner}.{name}: expected {only!r} (the only value implemented here), got {value!r}")
    if owner == "TrainingConfig":
        if cfg.scheduler not in SCHEDULERS:
            out.append(f"TrainingConfig.scheduler: expected one of {', '.join(map(repr, SCHEDULERS))}, "
                       f"got {cfg.scheduler!r}")
        if cfg.gradient_clip_algorithm == "agc" and cfg.gradient_clip_val:
            out.append("TrainingConfig.gradient_clip_algorithm: expected 'norm' or 'value' (adaptive gradient "
                       "clipping is not implemented), got 'agc'")
        if cfg.n_devices not in (1, "auto"):
            out.append(f"TrainingConfig.n_devices: expected 1 (one device per run), got {cfg.n_devices!r}")
    return out


def _raise_refused(*cfgs: Any) -> None:
    problems = [p for c in cfgs if c is not None for p in refused_problems(c)]
    if problems:
        raise ValueError("; ".join(problems))


def native_data(data: v2.DataConfig) -> native.DataConfig:
    """Native DataConfig: the fields :data:`ptycho_bridge.v2_routes.ROUTES` carries there (N, grid_size, K,
    nphotons, probe_scale, subsample_seed; n_subsample is not carried)."""
    return native.DataConfig(**copied(data, "DataConfig"))


def native_model(model: v2.ModelConfig) -> native.ModelConfig:
    """Native ModelConfig (the fields :data:`ptycho_bridge.v2_routes.ROUTES` carries there), with the v2 wording
    for a bad mode or activation."""
    if model.mode not in native.MODES:
        raise ValueError(f"ModelConfig.mode: Invalid mode {model.mode!r}; expected 'Unsupervised' or 'Supervised'")
    if model.amp_activation not in AMP_ACTIVATION_ALIASES and model.amp_activation not in AMP_ACTIVATIONS:
        known = ", ".join(map(repr, native.AMP_ACTIVATION_SPELLINGS))
        raise ValueError(f"ModelConfig.amp_activation: Unknown activation {model.amp_activation!r}; supported: {known}")
    return native.ModelConfig(**copied(model, "ModelConfig"))


def _native_training(training: v2.TrainingConfig, model: v2.ModelConfig | None) -> native.TrainingConfig:
    """Native TrainingConfig: the routed fields, the loss mode (``ModelConfig.loss_function`` wins when not its
    default 'Poisson') and, from the v2 ModelConfig, ``intensity_scale_trainable``."""
    kwargs = copied(training, "TrainingConfig")
    kwargs["torch_loss_mode"] = "mae" if model is not None and model.loss_function != "Poisson" else training.torch_loss_mode
    if model is not None:
        kwargs["intensity_scale_trainable"] = model.intensity_scale_trainable
    return native.TrainingConfig(**kwargs)


def accelerator_for(device: str, cuda_available: bool) -> str:
    """Execution accelerator for the v2 ``device``: 'cuda'/'gpu' on a machine without CUDA falls back to 'cpu'
    with a warning (ptychodus's default is 'cuda'); 'auto' and 'cpu' are kept."""
    if device in ("cuda", "gpu"):
        if not cuda_available:
            warnings.warn(f"TrainingConfig.device={device!r}: no CUDA device is available; training on the CPU",
                          stacklevel=3)
            return "cpu"
        return "cuda"
    return device


def _execution(training: v2.TrainingConfig | None, inference: v2.InferenceConfig | None,
               base: PyTorchExecutionConfig | None, cuda_available: bool | None) -> PyTorchExecutionConfig:
    changes: dict[str, Any] = {}
    if training is not None:
        if cuda_available is not None:
            changes["accelerator"] = accelerator_for(training.device, cuda_available)
        changes.update(devices=1, **copied(training, "PyTorchExecutionConfig"))  # n_devices > 1 is refused
    if inference is not None:
        changes.update(copied(inference, "PyTorchExecutionConfig"))
    return dataclasses.replace(base or PyTorchExecutionConfig(), **changes)


def to_native(data: v2.DataConfig | None, model: v2.ModelConfig | None = None, training: v2.TrainingConfig | None = None,
              inference: v2.InferenceConfig | None = None, *,
              execution: PyTorchExecutionConfig | None = None, cuda_available: bool | None = None) -> NativeConfigs:
    """Convert v2 configs to native ones (validating each again: they are mutable).

    Raises ValueError naming the field: a refused field at a non-default value, a bad mode or activation,
    or a value the native validation refuses. ``cuda_available`` (what the caller's torch reports) turns
    ``TrainingConfig.device`` into the execution accelerator; None leaves the accelerator as in ``execution``
    (the config bridge needs only learning rate and scheduler). Non-square grids are representable natively and refused by
    the canonical bridge.
    """
    for cfg in (data, model, training, inference):
        if cfg is not None:
            dataclasses.replace(cfg)  # re-runs __post_init__ validation after any attribute assignment
    _raise_refused(model, training)
    return NativeConfigs(
        data=None if data is None else native_data(data),
        model=None if model is None else native_model(model),
        training=None if training is None else _native_training(training, model),
        inference=None if inference is None else native.InferenceConfig(),
        execution=_execution(training, inference, execution, cuda_available),
    )


def from_native(data: native.DataConfig, model: native.ModelConfig, training: native.TrainingConfig,
                execution: PyTorchExecutionConfig | None = None) -> tuple[Any, Any, Any, Any]:
    """The v2 ``(DataConfig, ModelConfig, TrainingConfig, InferenceConfig)`` that :func:`to_native` turns back into
    these native configs, read through :data:`ptycho_bridge.v2_routes.INVERSES` (generated from the same routes).

    ``execution`` None: the fields v2 routes to the execution config (device, learning rate, scheduler, warm-up,
    workers, inference batch size) keep their v2 defaults. The native world holds normalised amplitudes, so the
    DataConfig says so (``measurement_domain='normalized_amplitude'``, ``scale_contract_version='legacy_v1'``).
    """
    natives = {"DataConfig": data, "ModelConfig": model, "TrainingConfig": training,
               "PyTorchExecutionConfig": execution}
    kwargs: dict[str, dict[str, Any]] = {name: {} for name in ("DataConfig", "ModelConfig", "TrainingConfig",
                                                                 "InferenceConfig")}
    for (cls_name, name), read in INVERSES.items():
        if natives[ROUTES[(cls_name, name)][0].split(".")[0]] is not None:  # the native config it reads is given
            kwargs[cls_name][name] = read(natives)
    kwargs["DataConfig"].update(measurement_domain="normalized_amplitude", scale_contract_version="legacy_v1")
    return tuple(v2.V2_CLASSES[name](**values) for name, values in kwargs.items())  # type: ignore[return-value]
