"""The mapping table of the config bridge: for every canonical field, the PyTorch-native field it comes from
and the transform in each direction (:data:`FIELD_MAP`), the native fields deliberately left out
(:data:`DROPPED_FIELDS`), and the table's own consistency check (:func:`table_problems`).
:mod:`ptycho_bridge.bridge` converts with it; ``scripts/config_bridge_spec.py`` (a build tool, not part of the
package) renders specs/config-bridge.md from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from ptycho.config import config as canonical
from ptycho.config.config import ALLOWED_N, AMP_ACTIVATION_ALIASES, AMP_ACTIVATIONS
from ptycho_bridge import config_params as native
from ptycho_bridge.execution import PyTorchExecutionConfig

__all__ = ["FieldMap", "FIELD_MAP", "DROPPED_FIELDS", "NATIVE_CLASSES", "CANONICAL_CLASSES", "rows_for",
           "canonical_fields", "table_problems"]

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
            f"(e.g. (2, 2)), got {tuple(value)!r}: Non-square grids are not supported"
        )
    return int(h)


def _grid_from(value: int) -> tuple[int, int]:
    return (value, value)


_MODE_TO = {"Unsupervised": "pinn", "Supervised": "supervised"}
_MODE_FROM = {v: k for k, v in _MODE_TO.items()}


def _mode_to(value: Any, source: str) -> str:
    if value not in _MODE_TO:
        raise ValueError(f"{source}: Invalid mode: expected 'Unsupervised' or 'Supervised', got {value!r}")
    return _MODE_TO[value]


def _mode_from(value: str) -> str:
    return _MODE_FROM[value]


def _activation_to(value: Any, source: str) -> str:
    if value in AMP_ACTIVATION_ALIASES:
        return AMP_ACTIVATION_ALIASES[value]
    if value in AMP_ACTIVATIONS:
        return value
    known = ", ".join(repr(a) for a in native.AMP_ACTIVATION_SPELLINGS)
    raise ValueError(f"{source}: Unknown activation: expected a known activation ({known}), got {value!r}")


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
            f"{source}: expected a path (required by canonical InferenceConfig), got None; {field_name} is "
            f"required in overrides or on the config: set it or pass overrides={{'{field_name}': ...}}"
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
_PATH = "same value (str -> Path)"
_NONZERO_REFUSED = "same value; not implemented: training in either backend rejects a non-zero value"


def _same_rows(target: str, native_class: str, *names: str, note: str = _SAME) -> list[FieldMap]:
    """One row per field that has the same name and the same value on both sides (``native_class.name``), all
    with the one ``note``."""
    return [FieldMap(target, name, f"{native_class}.{name}", note) for name in names]


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
    FieldMap(_M, "architecture", "ModelConfig.architecture",
             "same value: 'cnn', 'fno' or 'ffno' (the Fourier generators train in the PyTorch backend only)"),
    *_same_rows(_M, "ModelConfig", "fno_modes", "fno_width", "fno_blocks"),
    FieldMap(_M, "learned_input_channels", "ModelConfig.learned_input_channels",
             "same value; only 1 is implemented (the diffraction amplitude)"),
    FieldMap(_M, "input_projections", "ModelConfig.input_projections",
             "same value (new here: the generator on projected input, PyTorch only)"),
    FieldMap(_M, "input_refine_passes", "ModelConfig.input_refine_passes",
             "same value (new here: the generator on the scan's refined object, PyTorch only)"),
    FieldMap(_M, "correction_window", "ModelConfig.correction_window",
             "same value (new here: the window of the projected estimate the CNN corrects, PyTorch only)"),
    FieldMap(_M, "amp_activation", "ModelConfig.amp_activation",
             "'silu'/'SiLU'/'Swish' -> 'swish'; 'sigmoid', 'swish', 'softplus', 'relu' unchanged; anything "
             "else is an error. Reverse: canonical name unchanged", _activation_to),
    *_same_rows(_M, "ModelConfig", "object_big", "probe_big"),
    FieldMap(_M, "probe_mask", "ModelConfig.probe_mask", "same value (a bool; the original's tensor mask is not carried)"),
    FieldMap(_M, "probe_mask_sigma", "ModelConfig.probe_mask_sigma",
             "same value; not implemented: training in either backend rejects any value but 1.0 (specs/config.md §3)"),
    FieldMap(_M, "probe_mask_diameter", "ModelConfig.probe_mask_diameter",
             "same value; not implemented: training in either backend rejects any value but None"),
    FieldMap(_M, "pad_object", "ModelConfig.pad_object", _SAME),
    FieldMap(_M, "probe_scale", "DataConfig.probe_scale", _SAME),
    FieldMap(_M, "gaussian_smoothing_sigma", "ModelConfig.gaussian_smoothing_sigma", _SAME),
    # --- TrainingConfig ------------------------------------------------------------------------------
    *_same_rows(_T, "TrainingConfig", "train_data_file", "test_data_file", note=_PATH),
    FieldMap(_T, "batch_size", "TrainingConfig.batch_size", _SAME),
    FieldMap(_T, "nepochs", "TrainingConfig.epochs", "rename"),
    FieldMap(_T, "max_time", "TrainingConfig.max_time", _SAME),
    FieldMap(_T, "learning_rate", "PyTorchExecutionConfig.learning_rate",
             "same value; the execution config is the native home (one home per setting)"),
    FieldMap(_T, "scheduler", "PyTorchExecutionConfig.scheduler",
             "same value ('ReduceLROnPlateau' is stored as 'Adaptive' on both sides)"),
    FieldMap(_T, "optimizer", "TrainingConfig.optimizer", "same value: 'adam', 'adamw', 'sgd'"),
    FieldMap(_T, "momentum", "TrainingConfig.momentum", "same value (used by 'sgd')"),
    *_same_rows(_T, "TrainingConfig", "weight_decay", "adam_beta1", "adam_beta2"),
    FieldMap(_T, "gradient_clip_val", "TrainingConfig.gradient_clip_val", "same value (None = no clipping)"),
    FieldMap(_T, "gradient_clip_algorithm", "TrainingConfig.gradient_clip_algorithm",
             "same value: 'norm' or 'value' (the original's 'agc' is not implemented)"),
    FieldMap(_T, "mae_weight", "TrainingConfig.mae_weight", _SAME),
    FieldMap(_T, "nll_weight", "TrainingConfig.nll_weight",
             "same value (a float; the original's bool `nll` could not carry 0.5)"),
    *_same_rows(_T, "TrainingConfig", "realspace_mae_weight", "realspace_weight", note=_NONZERO_REFUSED),
    FieldMap(_T, "nphotons", "DataConfig.nphotons",
             "same value; None (the native default, 'not set') is an error unless overrides['nphotons'] "
             "is given: the canonical 1e9 is never assumed", _nphotons_to),
    FieldMap(_T, "n_groups", "TrainingConfig.n_groups",
             "same value; None (the default) stays None: the whole scan, one group per position"),
    *_grouping_rows(_T),
    FieldMap(_T, "positions_provided", "DataConfig.positions_provided", "same value (legacy flag, mirrored only)"),
    FieldMap(_T, "probe_trainable", "TrainingConfig.probe_trainable", _SAME),
    FieldMap(_T, "intensity_scale_trainable", "TrainingConfig.intensity_scale_trainable",
             "same value (the original kept it on its ModelConfig)"),
    FieldMap(_T, "output_dir", "TrainingConfig.output_dir", _PATH),
    FieldMap(_T, "sequential_sampling", "DataConfig.sequential_sampling", _SAME),
    FieldMap(_T, "backend", "TrainingConfig.backend",
             "same value (the original forced 'pytorch', so a round trip changed it)"),
    *_same_rows(_T, "TrainingConfig", "torch_loss_mode", "debug"),
    FieldMap(_T, "teacher", "TrainingConfig.teacher", "same value (new here: the refinement-teacher recipe)"),
    *_same_rows(_T, "TrainingConfig", "teacher_iterations", "teacher_supervised_share", "teacher_keep_weight"),
    # --- InferenceConfig -----------------------------------------------------------------------------
    FieldMap(_I, "model_path", "InferenceConfig.model_path",
             "same value (str -> Path); None is an error unless overrides['model_path'] is given", _required_to),
    FieldMap(_I, "test_data_file", "InferenceConfig.test_data_file",
             "same value (str -> Path); None is an error unless overrides['test_data_file'] is given",
             _required_to),
    FieldMap(_I, "n_groups", "InferenceConfig.n_groups", "same value (None = every position)"),
    *_grouping_rows(_I),
    FieldMap(_I, "debug", "InferenceConfig.debug", _SAME),
    FieldMap(_I, "output_dir", "InferenceConfig.output_dir", _PATH),
    FieldMap(_I, "backend", "InferenceConfig.backend", _SAME),
)

#: Fields of the v2 PyTorch configs that are not carried, grouped by v2 class, with the reason.
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
    ("DataConfig", "probe_ramp_removal", "the probe is used as given"),
    ("ModelConfig", "fno_cnn_blocks, max_hidden_channels, resnet_width, fno_input_transform, "
     "generator_output_mode, spectral_bottleneck_*",
     "knobs of the original's research generators (hybrid cores, input transforms, real/imag heads); the "
     "'fno'/'ffno' generators here take modes, width and blocks only (specs/network.md §7)"),
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
    ("ModelConfig", "probe_reference_coeff, amplitude_variance_loss, amplitude_variance_coeff",
     "auxiliary losses of the original, not implemented (a non-default probe_reference_coeff or "
     "amplitude_variance_loss is refused)"),
    ("ModelConfig", "intensity_scale", "the intensity scale is sqrt(nphotons)/(N/2) (specs/physics.md), not a knob"),
    ("ModelConfig", "probe_mask_tensor", "probe_mask is a bool; the disk is computed (specs/physics.md)"),
    ("ModelConfig", "intensity_scale_trainable", "moved to the native TrainingConfig (canonical TrainingConfig field)"),
    ("TrainingConfig", "nll", "replaced by the float nll_weight"),
    ("TrainingConfig", "device, strategy, n_devices, num_workers, accum_steps, learning_rate, scheduler, "
     "plateau_factor, plateau_patience, plateau_min_lr, plateau_threshold, lr_warmup_epochs, lr_min_ratio",
     "moved to PyTorchExecutionConfig (accelerator, strategy, devices, num_workers, accumulate_grad_batches, "
     "learning_rate, scheduler, plateau_*, lr_warmup_epochs, lr_min_ratio)"),
    ("TrainingConfig", "framework, orchestrator, training_directories, experiment_name, notes, model_name",
     "the legacy MLflow/memory-mapped training interface is not carried; the logger is "
     "PyTorchExecutionConfig.logger_backend"),
    ("TrainingConfig", "epochs_fine_tune, fine_tune_gamma, stage_1_epochs, stage_2_epochs, stage_3_epochs, "
     "physics_weight_schedule, stage_3_lr_factor",
     "staged training was ignored by the original; not implemented"),
    ("TrainingConfig", "enable_staged_finetuning, finetune_*",
     "staged fine-tuning is not implemented (enable_staged_finetuning=True is refused)"),
    ("TrainingConfig", "torch_mae_pred_l2_match_target, log_grad_norm, grad_norm_log_freq",
     "diagnostics and a loss variant without a canonical counterpart (specs/config.md §7)"),
    ("InferenceConfig", "batch_size", "moved to PyTorchExecutionConfig.inference_batch_size"),
    ("InferenceConfig", "middle_trim, experiment_number, pad_eval, window, patch_weighting, varpro_scaling, "
     "log_patch_stats, patch_stats_limit",
     "barycentric/legacy inference paths are not carried; stitching follows specs/physics.md"),
    ("DatagenConfig", "all fields", "simulation is configured by ptycho.simulation"),
    ("PyTorchExecutionConfig", "gradient_clip_val, gradient_clip_algorithm",
     "canonical TrainingConfig fields here (the native TrainingConfig carries them; one home per setting)"),
    ("PyTorchExecutionConfig", "pin_memory, persistent_workers, prefetch_factor, middle_trim, pad_eval",
     "not consumed by the trainer; the last two were unused in the original"),
    ("PyTorchExecutionConfig", "recon_log_*, ffno_encoder_*, spectral_bottleneck_*",
     "MLflow image logging and research generators are not carried"),
    ("PyTorchExecutionConfig", "accum_steps", "renamed accumulate_grad_batches"),
)




NATIVE_CLASSES: dict[str, type] = {
    "DataConfig": native.DataConfig,
    "ModelConfig": native.ModelConfig,
    "TrainingConfig": native.TrainingConfig,
    "InferenceConfig": native.InferenceConfig,
    "PyTorchExecutionConfig": PyTorchExecutionConfig,
}
CANONICAL_CLASSES: dict[str, type] = {
    _M: canonical.ModelConfig,
    _T: canonical.TrainingConfig,
    _I: canonical.InferenceConfig,
}
#: Canonical fields that have no row on purpose.
_NOT_MAPPED = {"model", "n_images"}


def rows_for(target: str) -> tuple[FieldMap, ...]:
    """The rows whose canonical class is ``target``, in table order."""
    return tuple(r for r in FIELD_MAP if r.target == target)


def canonical_fields(target: str) -> list[str]:
    """Canonical field names of ``target`` that need a row."""
    return [f.name for f in fields(CANONICAL_CLASSES[target]) if f.name not in _NOT_MAPPED]



def table_problems() -> list[str]:
    """Consistency of :data:`FIELD_MAP` with the dataclasses; empty when complete (pinned by a test).

    Checks: every canonical field (except ``model``, ``n_images``) has exactly one row; every row's source
    exists; every field of the four native configs is the source of some row.
    """
    problems: list[str] = []
    for target in CANONICAL_CLASSES:
        names = [r.field for r in rows_for(target)]
        for name in canonical_fields(target):
            if names.count(name) != 1:
                problems.append(f"{target}.{name}: {names.count(name)} rows (expected 1)")
        for name in set(names) - set(canonical_fields(target)):
            problems.append(f"{target}.{name}: row for a field the canonical class does not have")
    sources = {r.source for r in FIELD_MAP}
    for row in FIELD_MAP:
        cls = NATIVE_CLASSES.get(row.source_class)
        if cls is None or row.source_field not in {f.name for f in fields(cls)}:
            problems.append(f"{row.source}: source of {row.target}.{row.field} does not exist")
    for cls_name in ("DataConfig", "ModelConfig", "TrainingConfig", "InferenceConfig"):
        for f in fields(NATIVE_CLASSES[cls_name]):
            if f"{cls_name}.{f.name}" not in sources:
                problems.append(f"{cls_name}.{f.name}: native field with no canonical counterpart")
    return problems

