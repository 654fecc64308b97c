"""The PtychoPINN v2 PyTorch config dialect: ``DataConfig``, ``ModelConfig``, ``TrainingConfig``,
``InferenceConfig``, ``DatagenConfig`` with the field names, defaults and meanings of the upstream v2 API
(what ptychodus's ``ptychopinn_torch`` reconstructors build; specs/ptychodus-torch.md).

These are an *input dialect*: plain mutable dataclasses (ptychodus assigns ``training_config.n_devices``
after construction and pickles them into its worker process) that are validated at construction and
converted once, at the boundary, into the native configs of :mod:`ptycho_bridge.config_params` and a
``PyTorchExecutionConfig`` (:mod:`ptycho_bridge.v2_convert`). Every field carries its fate in its metadata:

* ``honoured``: mapped to a native/canonical setting (the text says where);
* ``refused``: implemented only at its default; any other value is a one-line ``ValueError`` at conversion;
* ``inert``: validated, stored (and saved with a checkpoint) but without effect here (the text says why).

Same-named fields can differ in meaning from the native configs: ``DataConfig.n_subsample`` is the
upstream coordinate-subsampling *factor* (inert), not the canonical count of positions kept.
Importing this module imports no framework; a tensor ``probe_mask`` is recognised by its ``shape``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ptycho.config.validation import check_bool, check_choice, check_float, check_int, fail, is_int, is_number

__all__ = ["DataConfig", "ModelConfig", "TrainingConfig", "InferenceConfig", "DatagenConfig", "V2_CLASSES",
           "field_fates", "plain", "from_plain"]

_ACTIVATIONS = ("silu", "SiLU", "sigmoid", "swish", "Swish", "softplus", "relu")


def _v(default: Any, check: tuple, fate: str) -> Any:
    """A dataclass field with its validation rule ``check`` and its ``fate`` ('honoured: ...', ...)."""
    meta = {"check": check, "fate": fate}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def _check(owner: str, name: str, value: Any, check: tuple) -> None:
    kind, *arg = check
    optional = kind.endswith("?")
    kind = kind.rstrip("?")
    if optional and value is None:
        return
    if kind == "bool":
        check_bool(owner, name, value)
    elif kind == "int":
        check_int(owner, name, value, arg[0])
    elif kind == "float":
        check_float(owner, name, value, low=arg[0], low_open=bool(arg[1:] and arg[1]))
    elif kind == "choice":
        check_choice(owner, name, value, arg[0])
    elif kind == "str":
        if not isinstance(value, str):
            fail(owner, name, value, "a string")
    elif kind == "pair":
        if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(is_number(v) for v in value)):
            fail(owner, name, value, "a pair of numbers")
    elif kind == "intpair":
        if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(is_int(v) and v >= 1 for v in value)):
            fail(owner, name, value, "a pair (h, w) of integers >= 1")
    elif kind == "path":
        if not isinstance(value, (str, Path)):
            fail(owner, name, value, "a path (str or Path)" + (" or None" if optional else ""))
    elif kind == "devices":
        if value != "auto" and not (is_int(value) and value >= 1):
            fail(owner, name, value, "an integer >= 1 or 'auto'")
    elif kind == "mask":
        if not (isinstance(value, bool) or hasattr(value, "shape")):
            fail(owner, name, value, "a bool, None or a 2-D mask array/tensor")
    elif kind == "list":
        if not isinstance(value, (list, tuple)):
            fail(owner, name, value, "a list")


class _V2:
    """Validation shared by the v2 dataclasses: every field checked by the rule in its metadata."""

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            _check(owner, f.name, value, f.metadata["check"])
            if f.metadata["check"][0].rstrip("?") in ("pair", "intpair") and isinstance(value, list):
                setattr(self, f.name, tuple(value))
            if f.metadata["check"][0].rstrip("?") == "path" and isinstance(value, str):
                setattr(self, f.name, Path(value))


_INERT_GROUPING = "inert: memory-mapped loader grouping; grouping here is the KD-tree rule of ptycho.grouping"
_INERT_ARCH = "inert: the generator is the canonical CNN U-Net (specs/network.md); no such block"
_INERT_FNO = "inert: knob of the original's research generators; 'fno'/'ffno' here take modes, width, blocks"
_INERT_FT = "inert: staged fine-tuning is not implemented (enable_staged_finetuning is refused)"


@dataclass
class DataConfig(_V2):
    """Data and grouping settings (upstream ``ptycho_torch.config_params.DataConfig``)."""

    nphotons: float = _v(1e5, ("float", 0.0, True), "honoured: canonical nphotons (bridge; the facade measures "
                         "it from count data, see measurement_domain)")
    scale_contract_version: str = _v("ci_intensity_v2", ("choice", ("ci_intensity_v2", "legacy_v1")),
                                     "honoured: must pair with measurement_domain")
    measurement_domain: str = _v("count_intensity", ("choice", ("count_intensity", "normalized_amplitude")),
                                 "honoured: diffraction given as counts (facade takes sqrt) or as amplitudes")
    N: int = _v(64, ("int", 1), "honoured: canonical N (64, 128 or 256)")
    C: int | None = _v(None, ("int?", 1), "honoured: checked equal to h*w of grid_size (None = derived)")
    K: int = _v(6, ("int", 1), "honoured: canonical neighbor_count")
    K_quadrant: int = _v(30, ("int", 0), _INERT_GROUPING)
    n_subsample: int = _v(7, ("int", 1), "inert: the upstream coordinate-subsampling factor; not the canonical "
                          "n_subsample (pass overrides={'n_subsample': ...} for that)")
    subsample_seed: int | None = _v(None, ("int?", 0), "honoured: canonical subsample_seed (also the training seed)")
    grid_size: tuple[int, int] = _v((2, 2), ("intpair",), "honoured: canonical gridsize (square grids only)")
    neighbor_function: str = _v("Nearest", ("choice", ("Nearest", "Min_dist", "4_quadrant")), _INERT_GROUPING)
    min_neighbor_distance: float = _v(0.0, ("float", 0.0), _INERT_GROUPING)
    max_neighbor_distance: float = _v(3.0, ("float", 0.0), _INERT_GROUPING)
    scan_pattern: str = _v("Isotropic", ("choice", ("Isotropic", "Rectangular")), _INERT_GROUPING)
    normalize: str = _v("Batch", ("choice", ("Group", "Batch", "None", "Each")),
                        "inert: normalisation is fixed by specs/physics.md (mean Σ X² = (N/2)² over the dataset)")
    probe_scale: float = _v(4.0, ("float", 0.0, True), "honoured: canonical probe_scale")
    probe_normalize: bool = _v(True, ("bool",), "inert: the probe is always normalised with probe_scale")
    data_scaling: str = _v("Parseval", ("choice", ("Parseval", "Max")),
                           "inert: the intensity scale is the Parseval form sqrt(nphotons)/(N/2)")
    phase_subtraction: bool = _v(True, ("bool",), "inert: no mean-phase subtraction of supervised labels")
    x_bounds: tuple[float, float] = _v((0.1, 0.9), ("pair",), "inert: simulation/mmap bounds")
    y_bounds: tuple[float, float] = _v((0.1, 0.9), ("pair",), "inert: simulation/mmap bounds")
    probe_ramp_removal: bool = _v(False, ("bool",), "inert: the probe is used as given")

    def __post_init__(self) -> None:
        super().__post_init__()
        h, w = self.grid_size
        if self.C is None:
            self.C = h * w
        elif self.C != h * w:
            fail("DataConfig", "C", self.C, f"h*w of grid_size {self.grid_size!r} = {h * w}")
        pair = (self.scale_contract_version, self.measurement_domain)
        if pair not in (("ci_intensity_v2", "count_intensity"), ("legacy_v1", "normalized_amplitude")):
            fail("DataConfig", "measurement_domain", pair, "a supported pair ('ci_intensity_v2', 'count_intensity') "
                 "or ('legacy_v1', 'normalized_amplitude') with scale_contract_version")


@dataclass
class ModelConfig(_V2):
    """Network and forward-model settings (upstream ``ptycho_torch.config_params.ModelConfig``)."""

    mode: str = _v("Unsupervised", ("str",), "honoured: canonical model_type ('Unsupervised' -> 'pinn', "
                   "'Supervised' -> 'supervised'; anything else is an 'Invalid mode' error in the bridge)")
    architecture: str = _v("cnn", ("str",), "honoured: canonical architecture ('cnn', 'fno', 'ffno'; the original's "
                           "hybrid cores are refused by the native validation)")
    fno_modes: int = _v(12, ("int", 1), "honoured: canonical fno_modes")
    fno_width: int = _v(32, ("int", 1), "honoured: canonical fno_width")
    fno_blocks: int = _v(4, ("int", 1), "honoured: canonical fno_blocks")
    fno_cnn_blocks: int = _v(2, ("int", 0), _INERT_FNO)
    learned_input_channels: int = _v(1, ("int", 1), "honoured: canonical learned_input_channels (only 1)")
    input_projections: int = _v(0, ("int", 0), "honoured: canonical input_projections (new here)")
    input_refine_passes: int = _v(0, ("int", 0), "honoured: canonical input_refine_passes (new here)")
    correction_window: int = _v(0, ("int", 0), "honoured: canonical correction_window (new here)")
    fno_input_transform: str = _v("none", ("choice", ("none", "sqrt", "log1p", "instancenorm")), _INERT_FNO)
    max_hidden_channels: int | None = _v(None, ("int?", 1), _INERT_FNO)
    resnet_width: int | None = _v(None, ("int?", 1), _INERT_FNO)
    spectral_bottleneck_blocks: int = _v(6, ("int", 1), _INERT_FNO)
    spectral_bottleneck_modes: int = _v(12, ("int", 1), _INERT_FNO)
    spectral_bottleneck_share_weights: bool = _v(True, ("bool",), _INERT_FNO)
    spectral_bottleneck_gate_init: float = _v(0.1, ("float", None), _INERT_FNO)
    spectral_bottleneck_gate_mode: str = _v("shared", ("choice", ("shared", "per_block")), _INERT_FNO)
    generator_output_mode: str = _v("real_imag", ("choice", ("real_imag", "amp_phase_logits", "amp_phase")),
                                    _INERT_FNO)
    cnn_output_mode: str = _v("amp_phase", ("choice", ("amp_phase", "real_imag")),
                              "refused: only 'amp_phase' heads exist")
    use_shared_decoder: bool = _v(False, ("bool",), _INERT_ARCH)
    intensity_scale_trainable: bool = _v(False, ("bool",), "honoured: canonical TrainingConfig.intensity_scale_trainable")
    intensity_scale: float = _v(10000.0, ("float", 0.0, True),
                                "inert: the intensity scale is sqrt(nphotons)/(N/2) (specs/physics.md)")
    max_position_jitter: int = _v(10, ("int", 0), "inert: canvas padding is computed from the positions")
    num_datasets: int = _v(1, ("int", 1), "inert: one dataset per run (the facade reads one training file)")
    C_model: int | None = _v(None, ("int?", 1), "inert: derived from grid_size")
    C_forward: int | None = _v(None, ("int?", 1), "inert: derived from grid_size")
    n_filters_scale: int = _v(2, ("int", 1), "honoured: canonical n_filters_scale")
    amp_activation: str = _v("silu", ("str",), "honoured: canonical amp_activation ('silu' -> 'swish'; unknown "
                             "names are an 'Unknown activation' error in the bridge)")
    batch_norm: bool = _v(False, ("bool",), _INERT_ARCH)
    probe_mask: Any = _v(False, ("mask?",), "honoured: canonical probe_mask (None -> False, a mask array -> True: "
                         "the disk mask of specs/physics.md is used)")
    probe_mask_tensor: Any = _v(None, ("mask?",), "honoured: canonical probe_mask (a mask given here sets it True)")
    probe_mask_sigma: float = _v(1.0, ("float", 0.0, True), "honoured: canonical probe_mask_sigma")
    probe_mask_diameter: float | None = _v(None, ("float?", 0.0, True), "honoured: canonical probe_mask_diameter")
    edge_pad: int = _v(10, ("int", 0), _INERT_ARCH)
    decoder_last_c_outer_fraction: float = _v(0.125, ("float", 0.0), _INERT_ARCH)
    decoder_last_amp_channels: int = _v(1, ("int", 1), _INERT_ARCH)
    use_legacy_decoder_channel_override: bool = _v(False, ("bool",), _INERT_ARCH)
    eca_encoder: bool = _v(False, ("bool",), _INERT_ARCH)
    cbam_encoder: bool = _v(True, ("bool",), _INERT_ARCH)
    cbam_bottleneck: bool = _v(False, ("bool",), _INERT_ARCH)
    cbam_decoder: bool = _v(False, ("bool",), _INERT_ARCH)
    eca_decoder: bool = _v(False, ("bool",), _INERT_ARCH)
    spatial_decoder: bool = _v(False, ("bool",), _INERT_ARCH)
    decoder_spatial_kernel: int = _v(7, ("int", 1), _INERT_ARCH)
    object_big: bool = _v(True, ("bool",), "honoured: canonical object_big")
    probe_big: bool = _v(True, ("bool",), "honoured: canonical probe_big")
    offset: int = _v(6, ("int", 0), "inert: legacy params.cfg value, unused by the torch physics")
    training_patch_weighting: str = _v("central_mask", ("choice", ("central_mask", "probe", "uniform")),
                                       "inert: the loss weighs every detector pixel equally (specs/physics.md)")
    physics_forward_mode: str = _v("amplitude", ("choice", ("amplitude", "rectangular_scaled")),
                                   "refused: only 'amplitude' (specs/physics.md) is implemented")
    rect_s1s2_trainable: bool = _v(True, ("bool",), "inert: only used by physics_forward_mode='rectangular_scaled'")
    rect_s1s2_init: str = _v("ones", ("choice", ("ones", "data")),
                             "inert: only used by physics_forward_mode='rectangular_scaled'")
    amplitude_physics_gain: float = _v(1.0, ("float", 0.0, True), "refused: only 1.0 is implemented")
    pad_object: bool = _v(True, ("bool",), "honoured: canonical pad_object")
    gaussian_smoothing_sigma: float = _v(0.0, ("float", 0.0), "honoured: canonical gaussian_smoothing_sigma")
    loss_function: str = _v("Poisson", ("choice", ("Poisson", "MAE")),
                            "honoured: canonical torch_loss_mode ('Poisson' -> 'poisson', 'MAE' -> 'mae')")
    amp_loss: str | None = _v(None, ("choice?", ("Total_Variation", "Mean_Deviation")),
                              "refused: auxiliary losses are not implemented (only None)")
    phase_loss: str | None = _v(None, ("choice?", ("Total_Variation", "Mean_Deviation")),
                                "refused: auxiliary losses are not implemented (only None)")
    amp_loss_coeff: float = _v(1.0, ("float", 0.0), "inert: coefficient of the refused amp_loss")
    phase_loss_coeff: float = _v(1.0, ("float", 0.0), "inert: coefficient of the refused phase_loss")
    probe_reference_coeff: float = _v(0.0, ("float", 0.0), "refused: the probe-reference loss is not implemented "
                                      "(only 0.0)")
    amplitude_variance_loss: bool = _v(False, ("bool",), "refused: the amplitude-variance loss is not implemented")
    amplitude_variance_coeff: float = _v(0.01, ("float", 0.0), "inert: coefficient of the refused "
                                         "amplitude_variance_loss")


@dataclass
class TrainingConfig(_V2):
    """Training settings (upstream ``ptycho_torch.config_params.TrainingConfig``)."""

    training_directories: list = _v([], ("list",), "inert: the facade takes its data_dir argument")
    nll: bool = _v(True, ("bool",), "honoured: canonical nll_weight (True -> 1.0, False -> 0.0)")
    device: str = _v("cuda", ("choice", ("cuda", "cpu", "gpu", "auto")),
                     "honoured: execution accelerator ('cuda' falls back to the CPU with a warning)")
    strategy: str = _v("ddp", ("str",), "inert: one device per run (n_devices > 1 is refused)")
    n_devices: Any = _v(1, ("devices",), "refused: only 1 device ('auto' means 1)")
    framework: str = _v("Lightning", ("choice", ("Lightning", "Default")), "inert: training is always Lightning")
    orchestrator: str = _v("Mlflow", ("choice", ("Mlflow", "Lightning")), "inert: the logger is CSV")
    learning_rate: float = _v(1e-3, ("float", 0.0, True), "honoured: execution learning_rate")
    epochs: int | None = _v(50, ("int?", 1), "honoured: canonical nepochs (None: until the canonical max_time "
                            "budget)")
    batch_size: int = _v(16, ("int", 1), "honoured: canonical batch_size")
    epochs_fine_tune: int = _v(0, ("int", 0), "refused: fine-tuning epochs are not implemented (only 0)")
    fine_tune_gamma: float = _v(0.1, ("float", 0.0), _INERT_FT)
    scheduler: str = _v("Default", ("choice", ("Default", "Exponential", "MultiStage", "Adaptive", "WarmupCosine",
                                               "ReduceLROnPlateau", "Cosine")),
                        "honoured: execution scheduler ('Cosine' = ptychodus's name of 'WarmupCosine')")
    lr_warmup_epochs: int = _v(0, ("int", 0), "honoured: execution lr_warmup_epochs")
    warmup_epochs: int = _v(0, ("int", 0), "honoured: execution lr_warmup_epochs (ptychodus's spelling; the "
                            "larger of the two is used)")
    lr_min_ratio: float = _v(0.1, ("float", 0.0), "honoured: execution lr_min_ratio")
    min_lr_ratio: float = _v(0.1, ("float", 0.0), "honoured: execution lr_min_ratio (ptychodus's spelling; used "
                             "when lr_min_ratio is at its default)")
    plateau_factor: float = _v(0.5, ("float", 0.0, True), "honoured: execution plateau_factor")
    plateau_patience: int = _v(2, ("int", 0), "honoured: execution plateau_patience")
    plateau_min_lr: float = _v(5e-5, ("float", 0.0), "honoured: execution plateau_min_lr")
    plateau_threshold: float = _v(0.0, ("float", 0.0), "honoured: execution plateau_threshold")
    num_workers: int = _v(4, ("int", 0), "honoured: execution num_workers")
    accum_steps: int = _v(1, ("int", 1), "refused: gradient accumulation is not implemented (only 1)")
    gradient_clip_val: float | None = _v(None, ("float?", 0.0), "honoured: canonical gradient_clip_val (0 = None: "
                                         "no clipping)")
    gradient_clip_algorithm: str = _v("norm", ("choice", ("norm", "value", "agc")),
                                      "honoured: canonical gradient_clip_algorithm ('agc' is refused with "
                                      "clipping on: not implemented)")
    optimizer: str = _v("adam", ("choice", ("adam", "adamw", "sgd")), "honoured: canonical optimizer")
    momentum: float = _v(0.9, ("float", 0.0), "honoured: canonical momentum (sgd)")
    weight_decay: float = _v(0.0, ("float", 0.0), "honoured: canonical weight_decay")
    adam_beta1: float = _v(0.9, ("float", 0.0), "honoured: canonical adam_beta1")
    adam_beta2: float = _v(0.999, ("float", 0.0), "honoured: canonical adam_beta2")
    log_grad_norm: bool = _v(False, ("bool",), "inert: no gradient-norm logging")
    grad_norm_log_freq: int = _v(1, ("int", 1), "inert: no gradient-norm logging")
    stage_1_epochs: int = _v(0, ("int", 0), "inert: ignored upstream too")
    stage_2_epochs: int = _v(0, ("int", 0), "inert: ignored upstream too")
    stage_3_epochs: int = _v(0, ("int", 0), "inert: ignored upstream too")
    physics_weight_schedule: str = _v("cosine", ("str",), "inert: ignored upstream too")
    stage_3_lr_factor: float = _v(0.1, ("float", 0.0), "inert: ignored upstream too")
    torch_loss_mode: str = _v("poisson", ("choice", ("poisson", "mae")),
                              "honoured: canonical torch_loss_mode (ModelConfig.loss_function wins when not "
                              "its default 'Poisson')")
    torch_mae_pred_l2_match_target: bool = _v(False, ("bool",), "refused: only False")
    experiment_name: str = _v("Synthetic_Runs", ("str",), "inert: metadata, saved with the checkpoint")
    notes: str = _v("", ("str",), "inert: metadata, saved with the checkpoint")
    model_name: str = _v("PtychoPINNv2", ("str",), "inert: metadata, saved with the checkpoint")
    output_dir: Path = _v(Path("training_outputs"), ("path",), "honoured: canonical output_dir")
    train_data_file: Path | None = _v(None, ("path?",), "honoured: canonical train_data_file")
    test_data_file: Path | None = _v(None, ("path?",), "honoured: canonical test_data_file")
    n_groups: int | None = _v(None, ("int?", 1), "honoured: canonical n_groups (None = the whole scan, one "
                              "group per scan point, in every route)")
    enable_staged_finetuning: bool = _v(False, ("bool",), "refused: staged fine-tuning is not implemented")
    finetune_stage1_epochs: int = _v(7, ("int", 1), _INERT_FT)
    finetune_stage2_epochs: int = _v(7, ("int", 1), _INERT_FT)
    finetune_stage3_epochs: int = _v(5, ("int", 1), _INERT_FT)
    finetune_stage1_lr_decoder: float = _v(0.1, ("float", 0.0), _INERT_FT)
    finetune_stage2_lr_encoder_top: float = _v(0.01, ("float", 0.0), _INERT_FT)
    finetune_stage2_lr_decoder: float = _v(0.05, ("float", 0.0), _INERT_FT)
    finetune_stage2_lr_phase_head: float = _v(0.1, ("float", 0.0), _INERT_FT)
    finetune_stage3_lr_encoder_bottom: float = _v(0.005, ("float", 0.0), _INERT_FT)
    finetune_stage3_lr_encoder_top: float = _v(0.01, ("float", 0.0), _INERT_FT)
    finetune_stage3_lr_decoder: float = _v(0.02, ("float", 0.0), _INERT_FT)
    finetune_stage3_lr_phase_head: float = _v(0.05, ("float", 0.0), _INERT_FT)
    finetune_skip_stage3: bool = _v(True, ("bool",), _INERT_FT)
    finetune_early_stop_patience: int = _v(3, ("int", 1), _INERT_FT)
    finetune_val_split: float = _v(0.05, ("float", 0.0), _INERT_FT)


@dataclass
class InferenceConfig(_V2):
    """Inference settings (upstream ``ptycho_torch.config_params.InferenceConfig``)."""

    middle_trim: int = _v(32, ("int", 0), "honoured: central crop side M of every patch when stitching "
                          "(clamped to N; 0 means N)")
    batch_size: int = _v(1000, ("int", 1), "honoured: execution inference_batch_size")
    experiment_number: int = _v(0, ("int", 0), "inert: one dataset per run")
    pad_eval: bool = _v(True, ("bool",), "inert: the canvas always covers every patch")
    window: int = _v(20, ("int", 0), "inert: no window cropping of the stitched object")
    patch_weighting: str = _v("probe", ("choice", ("probe", "uniform")),
                              "inert: overlapping patches are averaged uniformly (specs/physics.md §6)")
    varpro_scaling: bool = _v(True, ("bool",), "inert: no variable-projection rescaling")
    log_patch_stats: bool = _v(False, ("bool",), "inert: no patch statistics")
    patch_stats_limit: int | None = _v(None, ("int?", 1), "inert: no patch statistics")


@dataclass
class DatagenConfig(_V2):
    """Simulation settings (upstream ``DatagenConfig``); all inert: the facade never simulates."""

    objects_per_probe: int = _v(4, ("int", 1), "inert: simulation is ptycho.simulation's")
    diff_per_object: int = _v(7000, ("int", 1), "inert: simulation is ptycho.simulation's")
    object_class: str = _v("dead_leaves", ("str",), "inert: simulation is ptycho.simulation's")
    image_size: tuple[int, int] = _v((250, 250), ("intpair",), "inert: simulation is ptycho.simulation's")
    probe_paths: list = _v([], ("list",), "inert: simulation is ptycho.simulation's")
    beamstop_diameter: int = _v(4, ("int", 0), "inert: simulation is ptycho.simulation's")


V2_CLASSES: dict[str, type] = {c.__name__: c for c in (DataConfig, ModelConfig, TrainingConfig, InferenceConfig,
                                                         DatagenConfig)}


def field_fates(cls: type) -> dict[str, str]:
    """{field name: fate text} of a v2 class (the source of specs/ptychodus-torch.md's tables)."""
    return {f.name: f.metadata["fate"] for f in dataclasses.fields(cls)}


def plain(cfg: Any) -> dict[str, Any]:
    """A v2 config as plain data (str, int, float, bool, None, lists): safe for ``torch.load(weights_only=True)``.

    A mask array in ``probe_mask`` / ``probe_mask_tensor`` is stored as True (its effect: canonical probe_mask).
    """
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if hasattr(value, "shape"):
            value = True
        elif isinstance(value, Path):
            value = str(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def from_plain(cls_name: str, data: Any) -> Any:
    """Rebuild a v2 config from :func:`plain` data; unknown keys or bad values are a one-line ValueError."""
    cls = V2_CLASSES.get(cls_name)
    if cls is None or not isinstance(data, dict):
        raise ValueError(f"v2 config {cls_name}: expected a dict of fields, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{cls_name}: unknown field(s) {', '.join(unknown)}")
    return cls(**data)
