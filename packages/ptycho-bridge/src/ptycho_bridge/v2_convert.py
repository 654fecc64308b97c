"""Convert the v2 config dialect (:mod:`ptycho_bridge.v2_config`) into the native configs and a
``PyTorchExecutionConfig``, once, at the boundary (specs/ptychodus-torch.md §2, specs/architecture.md §4).

``honoured`` fields are mapped; ``refused`` fields at a non-default value raise one ValueError naming the
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

__all__ = ["NativeConfigs", "is_v2", "to_native", "native_data", "native_model", "refused_problems",
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


#: field -> the only value implemented (a non-default value is refused at conversion).
_REFUSED: dict[str, dict[str, Any]] = {
    "ModelConfig": {"cnn_output_mode": "amp_phase", "physics_forward_mode": "amplitude",
                    "amplitude_physics_gain": 1.0, "amp_loss": None, "phase_loss": None,
                    "probe_reference_coeff": 0.0, "amplitude_variance_loss": False},
    "TrainingConfig": {"epochs_fine_tune": 0, "accum_steps": 1, "torch_mae_pred_l2_match_target": False,
                       "enable_staged_finetuning": False},
}
_SCHEDULERS = {"Default": "Default", "Exponential": "Exponential", "MultiStage": "MultiStage",
               "Adaptive": "Adaptive", "ReduceLROnPlateau": "Adaptive", "WarmupCosine": "WarmupCosine",
               "Cosine": "WarmupCosine"}
_V2_MIN_RATIO_DEFAULT = 0.1


def refused_problems(cfg: Any) -> list[str]:
    """One message per refused field of ``cfg`` set to a value that is not implemented."""
    owner = type(cfg).__name__
    out = []
    for name, only in _REFUSED.get(owner, {}).items():
        value = getattr(cfg, name)
        if value != only:
            out.append(f"{owner}.{name}: expected {only!r} (the only value implemented here), got {value!r}")
    if owner == "TrainingConfig":
        if cfg.scheduler not in _SCHEDULERS:
            out.append(f"TrainingConfig.scheduler: expected one of {', '.join(map(repr, _SCHEDULERS))}, "
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
    """Native DataConfig: N, grid_size, K, nphotons, probe_scale, subsample_seed (n_subsample is not carried)."""
    return native.DataConfig(N=data.N, grid_size=tuple(data.grid_size), K=data.K, nphotons=data.nphotons,
                             probe_scale=data.probe_scale, subsample_seed=data.subsample_seed)


def _probe_mask(model: v2.ModelConfig) -> bool:
    if model.probe_mask_tensor is not None or hasattr(model.probe_mask, "shape"):
        return True
    return bool(model.probe_mask)  # None -> False


def native_model(model: v2.ModelConfig) -> native.ModelConfig:
    """Native ModelConfig, with the v2 wording for a bad mode or activation."""
    if model.mode not in native.MODES:
        raise ValueError(f"ModelConfig.mode: Invalid mode {model.mode!r}; expected 'Unsupervised' or 'Supervised'")
    if model.amp_activation not in AMP_ACTIVATION_ALIASES and model.amp_activation not in AMP_ACTIVATIONS:
        known = ", ".join(map(repr, native.AMP_ACTIVATION_SPELLINGS))
        raise ValueError(f"ModelConfig.amp_activation: Unknown activation {model.amp_activation!r}; supported: {known}")
    return native.ModelConfig(
        mode=model.mode, architecture=model.architecture, fno_modes=model.fno_modes, fno_width=model.fno_width,
        fno_blocks=model.fno_blocks, learned_input_channels=model.learned_input_channels,
        input_projections=model.input_projections,
        n_filters_scale=model.n_filters_scale,
        amp_activation=model.amp_activation, object_big=model.object_big, probe_big=model.probe_big,
        probe_mask=_probe_mask(model), probe_mask_sigma=model.probe_mask_sigma,
        probe_mask_diameter=model.probe_mask_diameter, pad_object=model.pad_object,
        gaussian_smoothing_sigma=model.gaussian_smoothing_sigma)


def _native_training(training: v2.TrainingConfig, model: v2.ModelConfig | None) -> native.TrainingConfig:
    loss_mode = training.torch_loss_mode
    if model is not None and model.loss_function != "Poisson":
        loss_mode = "mae"
    kwargs: dict[str, Any] = dict(
        train_data_file=training.train_data_file, test_data_file=training.test_data_file,
        batch_size=training.batch_size, epochs=training.epochs, nll_weight=1.0 if training.nll else 0.0,
        n_groups=training.n_groups, torch_loss_mode=loss_mode, output_dir=training.output_dir,
        optimizer=training.optimizer, momentum=training.momentum, weight_decay=training.weight_decay,
        adam_beta1=training.adam_beta1, adam_beta2=training.adam_beta2,
        gradient_clip_val=training.gradient_clip_val or None,  # v2: 0 or None = no clipping
        gradient_clip_algorithm="norm" if training.gradient_clip_algorithm == "agc" else training.gradient_clip_algorithm)
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
        changes.update(
            devices=1, num_workers=training.num_workers,
            learning_rate=training.learning_rate, scheduler=_SCHEDULERS[training.scheduler],
            plateau_factor=training.plateau_factor, plateau_patience=training.plateau_patience,
            plateau_min_lr=training.plateau_min_lr, plateau_threshold=training.plateau_threshold,
            lr_warmup_epochs=max(training.lr_warmup_epochs, training.warmup_epochs),
            lr_min_ratio=(training.lr_min_ratio if training.lr_min_ratio != _V2_MIN_RATIO_DEFAULT
                          else training.min_lr_ratio))
    if inference is not None:
        changes["inference_batch_size"] = inference.batch_size
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
