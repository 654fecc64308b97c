"""The config bridge: PyTorch-native configs <-> canonical ``ptycho.config.config`` configs.

One table, :data:`FIELD_MAP`, says for every canonical field which native field it comes from and how the
value is transformed in each direction. Every function here is driven by that table, and
specs/config-bridge.md is generated from it (``scripts/gen_config_bridge_spec.py``; a test fails when the
committed page differs).

Native -> canonical: :func:`to_model_config`, :func:`to_training_config`, :func:`to_inference_config`.
Canonical -> native: :func:`from_model_config`, :func:`from_training_config`,
:func:`from_inference_config`. ``canonical -> native -> canonical`` is the identity on every valid config.

Priority (highest first): ``overrides`` (canonical field names and canonical values) > the native field's
value (explicitly set or its default). Canonical defaults are never consulted for a mapped field, and a
native value that has no safe default (``DataConfig.nphotons``, ``InferenceConfig.model_path`` /
``test_data_file`` left at None) is an error unless overridden. An override naming an unknown field is an
error; nothing is silently dropped.

Errors: ``ValueError`` naming the native field (or ``overrides['key']``) and, when the canonical
validation refused the value, the canonical field too, e.g.
``DataConfig.K -> TrainingConfig.neighbor_count: expected >= gridsize**2 = 4 ..., got 2``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

from ptycho.config import config as canonical
from ptycho.config.config import ALLOWED_N, AMP_ACTIVATION_ALIASES, AMP_ACTIVATIONS
from ptycho_bridge import config_params as native
from ptycho_bridge.execution import PyTorchExecutionConfig

__all__ = [
    "FieldMap",
    "FIELD_MAP",
    "DROPPED_FIELDS",
    "TorchTrainingConfigs",
    "TorchInferenceConfigs",
    "to_model_config",
    "to_training_config",
    "to_inference_config",
    "from_model_config",
    "from_training_config",
    "from_inference_config",
    "table_problems",
    "render_bridge_spec",
]


# ----------------------------------------------------------------------------------------------------
# Transforms. to-canonical transforms take (native value, source name) and raise ValueError naming the
# source; from-canonical transforms take the canonical value.
# ----------------------------------------------------------------------------------------------------


def _same(value: Any, source: str | None = None) -> Any:
    return value


def _n_to(value: Any, source: str) -> int:
    if value not in ALLOWED_N or isinstance(value, bool):
        raise ValueError(f"{source}: expected one of {', '.join(map(str, ALLOWED_N))}, got {value!r}")
    return int(value)


def _grid_to(value: Any, source: str) -> int:
    h, w = value
    if h != w:
        raise ValueError(
            f"{source}: expected a square grid (h, h) because canonical gridsize is one integer "
            f"(e.g. (2, 2)), got {tuple(value)!r}"
        )
    return int(h)


def _grid_from(value: int) -> tuple[int, int]:
    return (value, value)


_MODE_TO = {"Unsupervised": "pinn", "Supervised": "supervised"}
_MODE_FROM = {v: k for k, v in _MODE_TO.items()}


def _mode_to(value: Any, source: str) -> str:
    if value not in _MODE_TO:
        raise ValueError(f"{source}: expected 'Unsupervised' or 'Supervised', got {value!r}")
    return _MODE_TO[value]


def _mode_from(value: str) -> str:
    return _MODE_FROM[value]


def _activation_to(value: Any, source: str) -> str:
    if value in AMP_ACTIVATION_ALIASES:
        return AMP_ACTIVATION_ALIASES[value]
    if value in AMP_ACTIVATIONS:
        return value
    known = ", ".join(repr(a) for a in native.AMP_ACTIVATION_SPELLINGS)
    raise ValueError(f"{source}: expected a known activation ({known}), got {value!r}")


def _nphotons_to(value: Any, source: str) -> float:
    if value is None:
        raise ValueError(
            f"{source}: expected a photon count > 0, got None (not set). Set it on the DataConfig or pass "
            f"overrides={{'nphotons': ...}}; the canonical default {canonical.TrainingConfig.nphotons:g} is "
            f"never assumed because a wrong photon count silently rescales the Poisson loss"
        )
    return value


def _required_to(value: Any, source: str) -> Any:
    if value is None:
        field_name = source.rsplit(".", 1)[-1]
        raise ValueError(
            f"{source}: expected a path (required by canonical InferenceConfig), got None; set it or pass "
            f"overrides={{'{field_name}': ...}}"
        )
    return value


# ----------------------------------------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldMap:
    """One row of the mapping: canonical ``target.field`` <- native ``source``.

    ``to_canonical(value, source)`` maps a native value (raising ValueError that names ``source``);
    ``from_canonical(value)`` is its inverse on valid canonical values; ``rule`` is the spec text.
    """

    target: str
    field: str
    source: str
    rule: str
    to_canonical: Callable[[Any, str], Any] = _same
    from_canonical: Callable[[Any], Any] = _same

    @property
    def source_class(self) -> str:
        return self.source.split(".", 1)[0]

    @property
    def source_field(self) -> str:
        return self.source.split(".", 1)[1]


_M, _T, _I = "ModelConfig", "TrainingConfig", "InferenceConfig"
_SAME = "same value"


def _grouping_rows(target: str) -> list[FieldMap]:
    """Rows shared by TrainingConfig and InferenceConfig (all from DataConfig), in canonical order."""
    return [
        FieldMap(target, "n_subsample", "DataConfig.n_subsample",
                 "same value, canonical meaning (positions kept before grouping); the original's PyTorch "
                 "'subsampling factor' of the same name is not carried"),
        FieldMap(target, "subsample_seed", "DataConfig.subsample_seed", _SAME),
        FieldMap(target, "neighbor_count", "DataConfig.K", "rename (K = neighbours searched when grouping)"),
        FieldMap(target, "enable_oversampling", "DataConfig.enable_oversampling", _SAME),
        FieldMap(target, "neighbor_pool_size", "DataConfig.neighbor_pool_size", _SAME),
    ]


#: The mapping, in canonical field order. Every canonical field except the deprecated ``n_images`` and the
#: nested ``model`` has exactly one row per config class; every native field is the source of at least one.
FIELD_MAP: tuple[FieldMap, ...] = (
    # --- ModelConfig ---------------------------------------------------------------------------------
    FieldMap(_M, "N", "DataConfig.N", "checked against {64, 128, 256}", _n_to),
    FieldMap(_M, "gridsize", "DataConfig.grid_size",
             "(h, w) -> h; error unless h == w. Reverse: g -> (g, g)", _grid_to, _grid_from),
    FieldMap(_M, "n_filters_scale", "ModelConfig.n_filters_scale", _SAME),
    FieldMap(_M, "model_type", "ModelConfig.mode",
             "'Unsupervised' -> 'pinn', 'Supervised' -> 'supervised' (and back)", _mode_to, _mode_from),
    FieldMap(_M, "architecture", "ModelConfig.architecture", _SAME),
    FieldMap(_M, "amp_activation", "ModelConfig.amp_activation",
             "'silu'/'SiLU'/'Swish' -> 'swish'; 'sigmoid', 'swish', 'softplus', 'relu' unchanged; anything "
             "else is an error. Reverse: canonical name unchanged", _activation_to),
    FieldMap(_M, "object_big", "ModelConfig.object_big", _SAME),
    FieldMap(_M, "probe_big", "ModelConfig.probe_big", _SAME),
    FieldMap(_M, "probe_mask", "ModelConfig.probe_mask", "same value (a bool; the original's tensor mask is not carried)"),
    FieldMap(_M, "probe_mask_sigma", "ModelConfig.probe_mask_sigma",
             "same value (the original dropped it, so the CLI value never reached the model)"),
    FieldMap(_M, "probe_mask_diameter", "ModelConfig.probe_mask_diameter",
             "same value (the original dropped it, so the CLI value never reached the model)"),
    FieldMap(_M, "pad_object", "ModelConfig.pad_object", _SAME),
    FieldMap(_M, "probe_scale", "DataConfig.probe_scale", _SAME),
    FieldMap(_M, "gaussian_smoothing_sigma", "ModelConfig.gaussian_smoothing_sigma", _SAME),
    # --- TrainingConfig ------------------------------------------------------------------------------
    FieldMap(_T, "train_data_file", "TrainingConfig.train_data_file", "same value (str -> Path)"),
    FieldMap(_T, "test_data_file", "TrainingConfig.test_data_file", "same value (str -> Path)"),
    FieldMap(_T, "batch_size", "TrainingConfig.batch_size", _SAME),
    FieldMap(_T, "nepochs", "TrainingConfig.epochs", "rename"),
    FieldMap(_T, "learning_rate", "PyTorchExecutionConfig.learning_rate",
             "same value; the execution config is the native home (one home per setting)"),
    FieldMap(_T, "scheduler", "PyTorchExecutionConfig.scheduler",
             "same value ('ReduceLROnPlateau' is stored as 'Adaptive' on both sides)"),
    FieldMap(_T, "mae_weight", "TrainingConfig.mae_weight", _SAME),
    FieldMap(_T, "nll_weight", "TrainingConfig.nll_weight",
             "same value (a float; the original's bool `nll` could not carry 0.5)"),
    FieldMap(_T, "realspace_mae_weight", "TrainingConfig.realspace_mae_weight", _SAME),
    FieldMap(_T, "realspace_weight", "TrainingConfig.realspace_weight", _SAME),
    FieldMap(_T, "nphotons", "DataConfig.nphotons",
             "same value; None (the native default, 'not set') is an error unless overrides['nphotons'] "
             "is given: the canonical 1e9 is never assumed", _nphotons_to),
    FieldMap(_T, "n_groups", "TrainingConfig.n_groups",
             "same value; None stays None (one group per seed position), it is not turned into 512"),
    *_grouping_rows(_T),
    FieldMap(_T, "positions_provided", "DataConfig.positions_provided", "same value (legacy flag, mirrored only)"),
    FieldMap(_T, "probe_trainable", "TrainingConfig.probe_trainable", _SAME),
    FieldMap(_T, "intensity_scale_trainable", "TrainingConfig.intensity_scale_trainable",
             "same value (the original kept it on its ModelConfig)"),
    FieldMap(_T, "output_dir", "TrainingConfig.output_dir", "same value (str -> Path)"),
    FieldMap(_T, "sequential_sampling", "DataConfig.sequential_sampling", _SAME),
    FieldMap(_T, "backend", "TrainingConfig.backend",
             "same value (the original forced 'pytorch', so a round trip changed it)"),
    FieldMap(_T, "torch_loss_mode", "TrainingConfig.torch_loss_mode", _SAME),
    FieldMap(_T, "debug", "TrainingConfig.debug", _SAME),
    # --- InferenceConfig -----------------------------------------------------------------------------
    FieldMap(_I, "model_path", "InferenceConfig.model_path",
             "same value (str -> Path); None is an error unless overrides['model_path'] is given", _required_to),
    FieldMap(_I, "test_data_file", "InferenceConfig.test_data_file",
             "same value (str -> Path); None is an error unless overrides['test_data_file'] is given",
             _required_to),
    FieldMap(_I, "n_groups", "InferenceConfig.n_groups", "same value (None = every position)"),
    *_grouping_rows(_I),
    FieldMap(_I, "debug", "InferenceConfig.debug", _SAME),
    FieldMap(_I, "output_dir", "InferenceConfig.output_dir", "same value (str -> Path)"),
    FieldMap(_I, "backend", "InferenceConfig.backend", _SAME),
)

#: Fields of the original PyTorch configs that are not carried, grouped by original class, with the reason.
DROPPED_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("DataConfig", "C", "derived: `DataConfig.C` is the property h*w of grid_size (the original stored a stale copy)"),
    ("DataConfig", "n_subsample (as a subsampling factor)",
     "the name now carries the canonical meaning; the factor of the memory-mapped loader does not exist here"),
    ("DataConfig", "scale_contract_version, measurement_domain",
     "only the count-intensity contract of specs/physics.md exists; no second scaling contract"),
    ("DataConfig", "K_quadrant, neighbor_function, min_neighbor_distance, max_neighbor_distance, scan_pattern",
     "the memory-mapped loader's grouping modes; grouping here is the KD-tree rule of ptycho.grouping"),
    ("DataConfig", "normalize, probe_normalize, data_scaling, phase_subtraction, x_bounds, y_bounds",
     "normalisation is fixed by specs/physics.md (mean Σ X² = (N/2)²); probe normalisation uses probe_scale"),
    ("ModelConfig", "fno_modes, fno_width, fno_blocks, fno_cnn_blocks, learned_input_channels, "
     "max_hidden_channels, resnet_width, fno_input_transform, generator_output_mode, spectral_bottleneck_*",
     "research generators; only architecture='cnn' exists (specs/config.md §7)"),
    ("ModelConfig", "cnn_output_mode, use_shared_decoder, batch_norm, edge_pad, decoder_last_c_outer_fraction, "
     "decoder_last_amp_channels, use_legacy_decoder_channel_override",
     "the decoder follows the canonical amplitude/phase U-Net; no alternative heads"),
    ("ModelConfig", "eca_encoder, cbam_encoder, cbam_bottleneck, cbam_decoder, eca_decoder, spatial_decoder, "
     "decoder_spatial_kernel",
     "attention blocks with no canonical counterpart (the decoder ones were never applied in the original)"),
    ("ModelConfig", "C_model, C_forward, offset, max_position_jitter, num_datasets",
     "derived from gridsize / data, or legacy-only (params.cfg keeps offset and max_position_jitter)"),
    ("ModelConfig", "physics_forward_mode, rect_s1s2_trainable, rect_s1s2_init, amplitude_physics_gain, "
     "training_patch_weighting",
     "one forward model (specs/physics.md); the rectangular-scaled variant is not implemented"),
    ("ModelConfig", "loss_function, amp_loss, phase_loss, amp_loss_coeff, phase_loss_coeff",
     "the loss is chosen by TrainingConfig.torch_loss_mode and the canonical loss weights"),
    ("ModelConfig", "intensity_scale", "the intensity scale is sqrt(nphotons)/(N/2) (specs/physics.md), not a knob"),
    ("ModelConfig", "probe_mask_tensor", "probe_mask is a bool; the disk is computed (specs/physics.md)"),
    ("ModelConfig", "intensity_scale_trainable", "moved to the native TrainingConfig (canonical TrainingConfig field)"),
    ("TrainingConfig", "nll", "replaced by the float nll_weight"),
    ("TrainingConfig", "device, strategy, n_devices, num_workers, accum_steps, learning_rate, scheduler, "
     "plateau_factor, plateau_patience, plateau_min_lr, plateau_threshold",
     "moved to PyTorchExecutionConfig (accelerator, strategy, devices, num_workers, accumulate_grad_batches, "
     "learning_rate, scheduler, plateau_*)"),
    ("TrainingConfig", "framework, orchestrator, training_directories, experiment_name, notes, model_name",
     "the legacy MLflow/memory-mapped training interface is not carried; the logger is "
     "PyTorchExecutionConfig.logger_backend"),
    ("TrainingConfig", "epochs_fine_tune, fine_tune_gamma, stage_1_epochs, stage_2_epochs, stage_3_epochs, "
     "physics_weight_schedule, stage_3_lr_factor",
     "staged training was ignored by the original; not implemented"),
    ("TrainingConfig", "lr_warmup_epochs, lr_min_ratio, gradient_clip_val, gradient_clip_algorithm, optimizer, "
     "momentum, weight_decay, adam_beta1, adam_beta2, torch_mae_pred_l2_match_target, log_grad_norm, "
     "grad_norm_log_freq",
     "optimiser knobs without a canonical counterpart (specs/config.md §7): Adam with learning_rate only"),
    ("InferenceConfig", "batch_size", "moved to PyTorchExecutionConfig.inference_batch_size"),
    ("InferenceConfig", "middle_trim, experiment_number, pad_eval, window, patch_weighting, varpro_scaling, "
     "log_patch_stats, patch_stats_limit",
     "barycentric/legacy inference paths are not carried; stitching follows specs/physics.md"),
    ("DatagenConfig", "all fields", "simulation is configured by ptycho.simulation"),
    ("PyTorchExecutionConfig", "precision, gradient_clip_val, gradient_clip_algorithm, pin_memory, "
     "persistent_workers, prefetch_factor, middle_trim, pad_eval",
     "not consumed by the trainer (float32 only; no clipping); the last two were unused in the original"),
    ("PyTorchExecutionConfig", "recon_log_*, ffno_encoder_*, spectral_bottleneck_*",
     "MLflow image logging and research generators are not carried"),
    ("PyTorchExecutionConfig", "accum_steps", "renamed accumulate_grad_batches"),
)


# ----------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------

_NATIVE_CLASSES: dict[str, type] = {
    "DataConfig": native.DataConfig,
    "ModelConfig": native.ModelConfig,
    "TrainingConfig": native.TrainingConfig,
    "InferenceConfig": native.InferenceConfig,
    "PyTorchExecutionConfig": PyTorchExecutionConfig,
}
_CANONICAL_CLASSES: dict[str, type] = {
    _M: canonical.ModelConfig,
    _T: canonical.TrainingConfig,
    _I: canonical.InferenceConfig,
}
#: Canonical fields that have no row on purpose.
_NOT_MAPPED = {"model", "n_images"}
_MESSAGE_FIELD = re.compile(r"^(\w+)\.(\w+):")


def _rows(target: str) -> tuple[FieldMap, ...]:
    return tuple(r for r in FIELD_MAP if r.target == target)


def _canonical_fields(target: str) -> list[str]:
    return [f.name for f in fields(_CANONICAL_CLASSES[target]) if f.name not in _NOT_MAPPED]


def table_problems() -> list[str]:
    """Consistency of :data:`FIELD_MAP` with the dataclasses; empty when complete (pinned by a test).

    Checks: every canonical field (except ``model``, ``n_images``) has exactly one row; every row's source
    exists; every field of the four native configs is the source of some row.
    """
    problems: list[str] = []
    for target in _CANONICAL_CLASSES:
        names = [r.field for r in _rows(target)]
        for name in _canonical_fields(target):
            if names.count(name) != 1:
                problems.append(f"{target}.{name}: {names.count(name)} rows (expected 1)")
        for name in set(names) - set(_canonical_fields(target)):
            problems.append(f"{target}.{name}: row for a field the canonical class does not have")
    sources = {r.source for r in FIELD_MAP}
    for row in FIELD_MAP:
        cls = _NATIVE_CLASSES.get(row.source_class)
        if cls is None or row.source_field not in {f.name for f in fields(cls)}:
            problems.append(f"{row.source}: source of {row.target}.{row.field} does not exist")
    for cls_name in ("DataConfig", "ModelConfig", "TrainingConfig", "InferenceConfig"):
        for f in fields(_NATIVE_CLASSES[cls_name]):
            if f"{cls_name}.{f.name}" not in sources:
                problems.append(f"{cls_name}.{f.name}: native field with no canonical counterpart")
    return problems


def _check_instance(arg: str, value: Any, cls: type) -> None:
    if not isinstance(value, cls):
        raise ValueError(f"{arg}: expected a {cls.__module__}.{cls.__name__}, got {type(value).__name__}")


def _check_overrides(overrides: Mapping[str, Any] | None, targets: tuple[str, ...]) -> dict[str, Any]:
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise ValueError(f"overrides: expected a mapping of canonical field names, got {type(overrides).__name__}")
    allowed = [name for t in targets for name in _canonical_fields(t)]
    unknown = sorted(str(k) for k in overrides if k not in allowed)
    if unknown:
        raise ValueError(
            f"overrides: unknown field(s) {', '.join(unknown)} for {'/'.join(targets)}; "
            f"known: {', '.join(allowed)}"
        )
    return dict(overrides)


def _construct(cls: type, kwargs: dict[str, Any], sources: dict[str, str]) -> Any:
    """Build a canonical config; a ValueError from its validation is re-raised naming the native source."""
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise _attributed(exc, sources) from None


def _attributed(exc: ValueError, sources: dict[str, str]) -> ValueError:
    msg = str(exc)
    match = _MESSAGE_FIELD.match(msg)
    if match and match.group(2) in sources:
        return ValueError(f"{sources[match.group(2)]} -> {msg}")
    return exc


def _gather(target: str, objects: dict[str, Any], overrides: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Canonical kwargs for ``target`` from the native ``objects`` (keyed by class name) and ``overrides``."""
    kwargs: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for row in _rows(target):
        if row.field in overrides:
            kwargs[row.field] = overrides[row.field]
            sources[row.field] = f"overrides[{row.field!r}]"
        else:
            value = getattr(objects[row.source_class], row.source_field)
            kwargs[row.field] = row.to_canonical(value, row.source)
            sources[row.field] = row.source
    return kwargs, sources


def _model_from(model: Any, data: native.DataConfig, overrides: dict[str, Any]) -> canonical.ModelConfig:
    model_overrides = {k: v for k, v in overrides.items() if k in _canonical_fields(_M)}
    if isinstance(model, native.ModelConfig):
        return to_model_config(data, model, model_overrides)
    _check_instance("model", model, canonical.ModelConfig)
    if not model_overrides:
        return model
    try:
        return dataclasses.replace(model, **model_overrides)
    except ValueError as exc:
        raise _attributed(exc, {k: f"overrides[{k!r}]" for k in model_overrides}) from None


# ----------------------------------------------------------------------------------------------------
# Native -> canonical
# ----------------------------------------------------------------------------------------------------


def to_model_config(
    data: native.DataConfig, model: native.ModelConfig, overrides: Mapping[str, Any] | None = None
) -> canonical.ModelConfig:
    """Canonical ``ModelConfig`` from the native ``DataConfig`` (N, grid_size, probe_scale) and ``ModelConfig``.

    ``overrides``: canonical ModelConfig field names -> canonical values; they win over the native values.
    Raises ValueError naming the field: unknown override key, N not in {64, 128, 256}, non-square
    grid_size, unknown mode or activation, or a value the canonical validation refuses.
    """
    _check_instance("data", data, native.DataConfig)
    _check_instance("model", model, native.ModelConfig)
    ov = _check_overrides(overrides, (_M,))
    kwargs, sources = _gather(_M, {"DataConfig": data, "ModelConfig": model}, ov)
    return _construct(canonical.ModelConfig, kwargs, sources)


def to_training_config(
    model: canonical.ModelConfig | native.ModelConfig,
    data: native.DataConfig,
    training: native.TrainingConfig,
    overrides: Mapping[str, Any] | None = None,
    *,
    execution: PyTorchExecutionConfig | None = None,
) -> canonical.TrainingConfig:
    """Canonical ``TrainingConfig`` from native configs.

    Args:
        model: the canonical ``ModelConfig`` (e.g. from :func:`to_model_config`) or a native ``ModelConfig``
            (bridged here with ``data``).
        data, training: native ``DataConfig`` / ``TrainingConfig``.
        overrides: canonical TrainingConfig or ModelConfig field names -> canonical values; they win.
        execution: source of ``learning_rate`` and ``scheduler``; None = ``PyTorchExecutionConfig()``.

    Raises ValueError naming the field: ``DataConfig.nphotons`` None without ``overrides['nphotons']``,
    unknown override keys, or any value the canonical validation refuses (e.g. K < gridsize²).
    """
    _check_instance("data", data, native.DataConfig)
    _check_instance("training", training, native.TrainingConfig)
    if execution is None:
        execution = PyTorchExecutionConfig()
    _check_instance("execution", execution, PyTorchExecutionConfig)
    ov = _check_overrides(overrides, (_T, _M))
    tf_model = _model_from(model, data, ov)
    objects = {"DataConfig": data, "TrainingConfig": training, "PyTorchExecutionConfig": execution}
    kwargs, sources = _gather(_T, objects, ov)
    n_groups = kwargs.pop("n_groups")
    cfg = _construct(canonical.TrainingConfig, {"model": tf_model, **kwargs}, sources)
    try:
        # Assigned after construction so an explicit None keeps its meaning instead of becoming 512.
        cfg.n_groups = n_groups
    except ValueError as exc:
        raise _attributed(exc, sources) from None
    return cfg


def to_inference_config(
    model: canonical.ModelConfig | native.ModelConfig,
    data: native.DataConfig,
    inference: native.InferenceConfig,
    overrides: Mapping[str, Any] | None = None,
) -> canonical.InferenceConfig:
    """Canonical ``InferenceConfig`` from native configs (model as in :func:`to_training_config`).

    ``overrides``: canonical InferenceConfig or ModelConfig field names -> canonical values; they win.
    Raises ValueError naming the field; ``model_path`` / ``test_data_file`` left at None are errors unless
    overridden.
    """
    _check_instance("data", data, native.DataConfig)
    _check_instance("inference", inference, native.InferenceConfig)
    ov = _check_overrides(overrides, (_I, _M))
    tf_model = _model_from(model, data, ov)
    kwargs, sources = _gather(_I, {"DataConfig": data, "InferenceConfig": inference}, ov)
    return _construct(canonical.InferenceConfig, {"model": tf_model, **kwargs}, sources)


# ----------------------------------------------------------------------------------------------------
# Canonical -> native
# ----------------------------------------------------------------------------------------------------


class TorchTrainingConfigs(NamedTuple):
    """The native configs equivalent to one canonical ``TrainingConfig``."""

    data: native.DataConfig
    model: native.ModelConfig
    training: native.TrainingConfig
    execution: PyTorchExecutionConfig


class TorchInferenceConfigs(NamedTuple):
    """The native configs equivalent to one canonical ``InferenceConfig``."""

    data: native.DataConfig
    model: native.ModelConfig
    inference: native.InferenceConfig


def _scatter(rows: tuple[FieldMap, ...], source: Any, out: dict[str, dict[str, Any]]) -> None:
    for row in rows:
        out.setdefault(row.source_class, {})[row.source_field] = row.from_canonical(getattr(source, row.field))


def _build_native(out: dict[str, dict[str, Any]], bases: dict[str, Any]) -> dict[str, Any]:
    built = {}
    for cls_name, changes in out.items():
        base = bases.get(cls_name)
        built[cls_name] = (
            dataclasses.replace(base, **changes) if base is not None else _NATIVE_CLASSES[cls_name](**changes)
        )
    return built


def from_model_config(
    config: canonical.ModelConfig, data: native.DataConfig | None = None
) -> tuple[native.DataConfig, native.ModelConfig]:
    """Native ``(DataConfig, ModelConfig)`` for a canonical ``ModelConfig``.

    The DataConfig gets N, grid_size = (g, g) and probe_scale; its other fields come from ``data`` (default
    ``DataConfig()``, whose nphotons is None = not set).
    """
    _check_instance("config", config, canonical.ModelConfig)
    if data is not None:
        _check_instance("data", data, native.DataConfig)
    out: dict[str, dict[str, Any]] = {}
    _scatter(_rows(_M), config, out)
    built = _build_native(out, {"DataConfig": data})
    return built["DataConfig"], built["ModelConfig"]


def from_training_config(
    config: canonical.TrainingConfig, execution: PyTorchExecutionConfig | None = None
) -> TorchTrainingConfigs:
    """Native configs for a canonical ``TrainingConfig``: ``(data, model, training, execution)``.

    ``execution``: base for the execution config (default ``PyTorchExecutionConfig()``); its learning_rate
    and scheduler are replaced by the canonical values, its execution-only fields are kept.
    """
    _check_instance("config", config, canonical.TrainingConfig)
    if execution is not None:
        _check_instance("execution", execution, PyTorchExecutionConfig)
    out: dict[str, dict[str, Any]] = {}
    _scatter(_rows(_M), config.model, out)
    _scatter(_rows(_T), config, out)
    built = _build_native(out, {"PyTorchExecutionConfig": execution or PyTorchExecutionConfig()})
    return TorchTrainingConfigs(
        built["DataConfig"], built["ModelConfig"], built["TrainingConfig"], built["PyTorchExecutionConfig"]
    )


def from_inference_config(config: canonical.InferenceConfig) -> TorchInferenceConfigs:
    """Native configs for a canonical ``InferenceConfig``: ``(data, model, inference)``.

    The DataConfig's nphotons stays None (inference has no photon count).
    """
    _check_instance("config", config, canonical.InferenceConfig)
    out: dict[str, dict[str, Any]] = {}
    _scatter(_rows(_M), config.model, out)
    _scatter(_rows(_I), config, out)
    built = _build_native(out, {})
    return TorchInferenceConfigs(built["DataConfig"], built["ModelConfig"], built["InferenceConfig"])


# ----------------------------------------------------------------------------------------------------
# The generated spec (specs/config-bridge.md)
# ----------------------------------------------------------------------------------------------------

_SPEC_HEAD = """\
# PyTorch-native configs and the config bridge (normative, GENERATED)

<!-- GENERATED by scripts/gen_config_bridge_spec.py from ptycho_bridge.bridge.FIELD_MAP and the dataclasses.
     Do not edit by hand: change the code and regenerate; a test fails when this page is stale. -->

Package `ptycho-bridge` (import `ptycho_bridge`; re-exported by `ptycho_torch.config_params` and
`ptycho_torch.config_bridge`). Nothing here imports torch or tensorflow. The canonical configs are
specs/config.md; this page says how the PyTorch-native configs map onto them.

## §1 Rules
- **One table.** Every canonical field (except the nested `model` and the deprecated alias `n_images`) has
  exactly one row per canonical class in §4, naming its native source and the transform. Every native field
  of §2 is the source of at least one row, so no native setting can be silently lost. A test
  (`table_problems()`) pins this.
- **Validated natives.** The native dataclasses are frozen and validate at construction:
  `ValueError("<Class>.<field>: expected <allowed>, got <value>")`. `update_config(cfg, changes)` derives a
  variant and rejects unknown keys (the original's `update_existing_config` ignored them).
- **Priority** (highest first) when building a canonical config: (1) `overrides` — canonical field names with
  canonical values (`to_training_config` / `to_inference_config` also accept ModelConfig field names);
  (2) the native field's value, whether set explicitly or left at its native default. Canonical defaults are
  never consulted for a mapped field. An override key that is not a canonical field raises ValueError listing
  the known ones. Override values are validated by the canonical dataclass.
- **No guessed photon count.** `DataConfig.nphotons` defaults to `None` = "not set". `to_training_config`
  raises `ValueError` naming `DataConfig.nphotons` unless it is set or `overrides['nphotons']` is given
  (the original defaulted to 1e5 against the canonical 1e9 and had to detect that at run time).
- **Required inference paths.** `InferenceConfig.model_path` / `test_data_file` default to `None`;
  `to_inference_config` raises unless they are set or overridden.
- **Errors name the field.** A value refused by the canonical validation is re-raised naming the native
  source and the canonical field: `DataConfig.K -> TrainingConfig.neighbor_count: expected ...`.
- **Round trip.** `from_*` then `to_*` gives back an equal canonical config for every valid canonical config
  (hypothesis property in packages/ptycho-bridge/tests/test_bridge_mapping.py).

## §2 Native configs
Defaults equal the canonical defaults wherever a field means the same thing (§3 lists the exceptions).
"""

_SPEC_FUNCTIONS = """\
### §4.4 Functions
- `to_model_config(data, model, overrides=None) -> ModelConfig`.
- `to_training_config(model, data, training, overrides=None, *, execution=None) -> TrainingConfig`;
  `model` is a canonical ModelConfig (e.g. from `to_model_config`) or a native one (bridged with `data`);
  `execution` supplies `learning_rate`/`scheduler` (default `PyTorchExecutionConfig()`). An explicit
  `n_groups=None` stays None (it is assigned after construction so the canonical 512 default does not replace it).
- `to_inference_config(model, data, inference, overrides=None) -> InferenceConfig`.
- `from_model_config(config, data=None) -> (DataConfig, ModelConfig)`; the other DataConfig fields come from
  `data` (default `DataConfig()`).
- `from_training_config(config, execution=None) -> TorchTrainingConfigs(data, model, training, execution)`;
  the execution config keeps the execution-only fields of `execution` and takes `learning_rate`/`scheduler`
  from the canonical config.
- `from_inference_config(config) -> TorchInferenceConfigs(data, model, inference)`; `data.nphotons` stays None.
- All raise `ValueError` naming the field; an argument of the wrong class raises ValueError naming the
  argument, the expected class and the class found.
"""

_SPEC_EXEC_HEAD = """\
## §5 PyTorchExecutionConfig
Execution-only settings (how a run executes, not what it reconstructs), frozen and validated at
construction with the same message format. They are never written into `ptycho.params.cfg`.

### §5.1 Learning rate and scheduler
`learning_rate` and `scheduler` have canonical counterparts (§4.2); the canonical `TrainingConfig` is their
source of truth. `execution_config_for(config, execution=None)` returns `execution` when it agrees with the
config, builds `PyTorchExecutionConfig(learning_rate=config.learning_rate, scheduler=config.scheduler)` when
it is None, and raises `ValueError` naming `PyTorchExecutionConfig.learning_rate` / `.scheduler` when they
disagree (the original's CLI scheduler went into an execution field nobody read). The backend selector
(specs/backend-selection.md) uses it. `scheduler_kwargs_for(nepochs=None)` (and the property
`scheduler_kwargs`) give the keyword arguments of the matching `torch.optim.lr_scheduler` class:
'Exponential' -> ExponentialLR `gamma`; 'MultiStage' -> MultiStepLR `milestones`, `gamma`; 'Adaptive' ->
ReduceLROnPlateau `factor`, `patience`, `min_lr`, `threshold`; 'Default' -> none.

### §5.2 Fields
"""


def _fmt_default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
        text = f"'{value}'" if hasattr(value, "parts") else repr(value)
    elif f.default_factory is not dataclasses.MISSING:  # pragma: no cover - no factories in these classes
        text = repr(f.default_factory())
    else:  # pragma: no cover - every native field has a default
        text = "required"
    return f"`{text}`"


def _native_table(cls: type) -> list[str]:
    lines = ["| field | type | default | canonical counterpart(s) |", "|---|---|---|---|"]
    for f in fields(cls):
        targets = [f"`{r.target}.{r.field}`" for r in FIELD_MAP if r.source == f"{cls.__name__}.{f.name}"]
        lines.append(f"| `{f.name}` | `{_cell(str(f.type))}` | {_fmt_default(f)} | {', '.join(targets) or '—'} |")
    return lines


def _default_differences() -> list[str]:
    """Rows of §3: a native default whose canonical image differs from the canonical default."""
    lines = ["| native field | native default | canonical field | canonical default | why |", "|---|---|---|---|---|"]
    why = {
        "DataConfig.nphotons": "None = not set: the bridge refuses to guess a photon count (§1)",
        "TrainingConfig.backend": "a native config describes a PyTorch run",
        "InferenceConfig.backend": "a native config describes a PyTorch run",
        "InferenceConfig.model_path": "required canonically; None = not set (error unless overridden)",
        "InferenceConfig.test_data_file": "required canonically; None = not set (error unless overridden)",
    }
    effective = {
        _M: canonical.ModelConfig(),
        _T: canonical.TrainingConfig(),
        _I: canonical.InferenceConfig(model=canonical.ModelConfig(), model_path="m", test_data_file="t"),
    }
    for row in FIELD_MAP:
        if row.source_class == "PyTorchExecutionConfig":
            continue
        nf = {f.name: f for f in fields(_NATIVE_CLASSES[row.source_class])}[row.source_field]
        cf = {f.name: f for f in fields(_CANONICAL_CLASSES[row.target])}[row.field]
        required = cf.default is dataclasses.MISSING and cf.default_factory is dataclasses.MISSING
        canonical_default = getattr(effective[row.target], row.field)
        if required or row.from_canonical(canonical_default) != nf.default:
            shown = "required" if required else repr(canonical_default)
            lines.append(
                f"| `{row.source}` | {_fmt_default(nf)} | `{row.target}.{row.field}` | "
                f"`{shown}` | {why.get(row.source, '')} |"
            )
    return lines


def _cell(text: str) -> str:
    """Escape ``|`` for a markdown table cell (GFM splits cells on it even inside code spans)."""
    return text.replace("|", "\\|")


def render_bridge_spec() -> str:
    """The text of specs/config-bridge.md, generated from :data:`FIELD_MAP`, the dataclasses and
    :data:`DROPPED_FIELDS` (``scripts/gen_config_bridge_spec.py`` writes it; a test compares)."""
    from ptycho_bridge.execution import EXECUTION_RULES

    out: list[str] = [_SPEC_HEAD]
    for i, name in enumerate(("DataConfig", "ModelConfig", "TrainingConfig", "InferenceConfig"), start=1):
        cls = _NATIVE_CLASSES[name]
        summary = (cls.__doc__ or "").strip().splitlines()[0]
        out += [f"### §2.{i} {name}", summary, "", *_native_table(cls), ""]
    out += ["## §3 Native defaults that differ from the canonical ones", "", *_default_differences(), ""]
    out += ["## §4 Mapping table (native -> canonical; the reverse applies the inverse transform)", ""]
    for i, target in enumerate((_M, _T, _I), start=1):
        out += [f"### §4.{i} canonical {target}", "",
                "| canonical field | native source | rule |", "|---|---|---|"]
        out += [f"| `{r.field}` | `{r.source}` | {_cell(r.rule)} |" for r in _rows(target)]
        out.append("")
    out.append(_SPEC_FUNCTIONS)
    out.append(_SPEC_EXEC_HEAD)
    out += ["| field | type | default | allowed / meaning |", "|---|---|---|---|"]
    for f in fields(PyTorchExecutionConfig):
        out.append(f"| `{f.name}` | `{_cell(str(f.type))}` | {_fmt_default(f)} | {_cell(EXECUTION_RULES[f.name])} |")
    out += ["", "## §6 Fields of the original PyTorch configs not carried", "",
            "| original class | fields | fate / reason |", "|---|---|---|"]
    out += [f"| {cls} | {_cell(names)} | {_cell(why)} |" for cls, names, why in DROPPED_FIELDS]
    out.append("")
    return "\n".join(out)
