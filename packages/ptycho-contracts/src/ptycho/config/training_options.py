"""Optimiser, clipping and generator options of the canonical configs, and the group count a run uses.

The fields themselves live on ``ModelConfig`` / ``TrainingConfig`` (``ptycho.config.config``); their values
and rules are here so the config module stays small. Normative text: specs/config.md §2 (generator) and §3
(optimiser, clipping). Which backend implements what: specs/torch-training.md §4, specs/tf-backend.md §4.
"""

from __future__ import annotations

from typing import Any

from ptycho.config.model_size import require_n
from ptycho.config.validation import check_choice, check_float, check_int, fail

__all__ = [
    "ARCHITECTURES",
    "OPTIMIZERS",
    "CLIP_ALGORITHMS",
    "TF_DEFAULTS",
    "validate_generator",
    "describe_length",
    "validate_optimisation",
    "tf_unsupported",
    "UNIMPLEMENTED_FIELDS",
    "check_implemented",
    "groups_used",
    "describe_groups",
]

#: Generators: 'cnn' = the U-Net of specs/network.md; 'fno' = Fourier neural operator (full 2-D spectral
#: convolutions); 'ffno' = factorised FNO (one 1-D spectral convolution per axis, feed-forward residual).
ARCHITECTURES = ("cnn", "fno", "ffno")
OPTIMIZERS = ("adam", "adamw", "sgd")
#: 'norm': rescale all gradients so their global L2 norm is at most gradient_clip_val; 'value': clamp each
#: gradient element to [-gradient_clip_val, gradient_clip_val].
CLIP_ALGORITHMS = ("norm", "value")

#: field -> the only value the TensorFlow backend implements (``model.`` prefix: a ModelConfig field).
TF_DEFAULTS: tuple[tuple[str, Any, str], ...] = (
    ("model.architecture", "cnn", "the TensorFlow generator is the CNN U-Net only"),
    ("model.learned_input_channels", 1, "the generator input is the diffraction amplitude"),
    ("model.input_projections", 0, "the TensorFlow generator reads the diffraction amplitude, not a projected "
     "estimate"),
    ("model.input_refine_passes", 0, "the TensorFlow generator reads the diffraction amplitude, not a refined "
     "estimate"),
    ("model.correction_window", 0, "the TensorFlow generator has no projected estimate to correct"),
    ("optimizer", "adam", "the TensorFlow backend trains with Adam only"),
    ("weight_decay", 0.0, "the TensorFlow backend's Adam has no weight decay"),
    ("adam_beta1", 0.9, "the TensorFlow backend's Adam uses the default betas"),
    ("adam_beta2", 0.999, "the TensorFlow backend's Adam uses the default betas"),
    ("gradient_clip_val", None, "the TensorFlow backend does not clip gradients"),
    ("scheduler", "Default", "the TensorFlow learning-rate rule is its TrainingPolicy (specs/tf-backend.md §4)"),
)


def validate_generator(owner: str, cfg: Any) -> None:
    """ValueError naming the first invalid generator field of a ModelConfig (specs/config.md §2)."""
    check_choice(owner, "architecture", cfg.architecture, ARCHITECTURES)
    check_int(owner, "fno_modes", cfg.fno_modes, 1)
    check_int(owner, "fno_width", cfg.fno_width, 1)
    check_int(owner, "fno_blocks", cfg.fno_blocks, 1)
    n = getattr(cfg, "N", 0)
    if cfg.architecture != "cnn" and n and cfg.fno_modes > n // 2:
        fail(owner, "fno_modes", cfg.fno_modes, f"<= N/2 = {n // 2} (the Fourier modes a {n}-pixel patch has)")
    check_int(owner, "input_projections", cfg.input_projections, 0)
    passes = getattr(cfg, "input_refine_passes", 0)
    check_int(owner, "input_refine_passes", passes, 0)
    if passes and cfg.input_projections:
        fail(owner, "input_refine_passes", passes,
             f"0 with input_projections {cfg.input_projections} (the CNN corrects one estimate: the projected "
             "patterns or the refined scan)")
    for name, value, what in (("input_projections", cfg.input_projections, "projected input"),
                              ("input_refine_passes", passes, "refined estimate")):
        if value and cfg.architecture != "cnn":
            fail(owner, name, value, f"0 with architecture {cfg.architecture!r} (the {what} feeds the CNN generator only)")
        if value and getattr(cfg, "model_type", "pinn") != "pinn":
            fail(owner, name, value,
                 f"0 with model_type {cfg.model_type!r} (the supervised baseline reads the diffraction amplitude)")
        if value and getattr(cfg, "gridsize", 1) > 1 and not getattr(cfg, "object_big", True):
            fail(owner, name, value,
                 "0 with object_big=False and gridsize > 1 (one corrected estimate per pattern needs object_big)")
    window = getattr(cfg, "correction_window", 0)
    check_int(owner, "correction_window", window, 0)
    if window and not (cfg.input_projections or passes):
        fail(owner, "correction_window", window,
             "0 with input_projections 0 and input_refine_passes 0 (the window is the part of the estimate the "
             "CNN corrects)")
    if window and (window % 8 or (n and window > n)):
        fail(owner, "correction_window", window,
             f"0 or a multiple of 8 <= N{f' = {n}' if n else ''} (the U-Net pools three times)")
    if cfg.learned_input_channels != 1:
        fail(owner, "learned_input_channels", cfg.learned_input_channels,
             "1 (the generator input is the diffraction amplitude, one channel per pattern; no other input "
             "conditioning is implemented)")


def validate_optimisation(owner: str, cfg: Any) -> None:
    """ValueError naming the first invalid optimiser/clipping/warm-up field of a TrainingConfig (specs/config.md §3)."""
    check_choice(owner, "optimizer", cfg.optimizer, OPTIMIZERS)
    check_float(owner, "momentum", cfg.momentum, low=0.0)
    if cfg.momentum >= 1.0:
        fail(owner, "momentum", cfg.momentum, "a number >= 0.0 and < 1.0")
    check_float(owner, "weight_decay", cfg.weight_decay, low=0.0)
    for name in ("adam_beta1", "adam_beta2"):
        value = getattr(cfg, name)
        check_float(owner, name, value, low=0.0)
        if value >= 1.0:
            fail(owner, name, value, "a number >= 0.0 and < 1.0")
    check_float(owner, "gradient_clip_val", cfg.gradient_clip_val, low=0.0, low_open=True, optional=True)
    check_choice(owner, "gradient_clip_algorithm", cfg.gradient_clip_algorithm, CLIP_ALGORITHMS)


def tf_unsupported(config: Any) -> str | None:
    """One line naming the first field of a TrainingConfig the TensorFlow backend does not implement, or None."""
    for path, only, why in TF_DEFAULTS:
        owner, name = (config.model, path[6:]) if path.startswith("model.") else (config, path)
        value = getattr(owner, name, only)
        if value != only:
            return (f"{type(owner).__name__}.{name}: the TensorFlow backend supports only {only!r} ({why}); "
                    f"found {value!r}; train with --backend pytorch")
    return None


def groups_used(config: Any, n_positions: int) -> int:
    """Groups a workflow draws from a scan of ``n_positions`` positions with ``config`` (what the logs print).

    ``n_groups`` None -> ``n_positions`` (the whole scan: one group per position at every gridsize);
    otherwise ``min(n_groups, n_positions)``, except with ``enable_oversampling`` at gridsize > 1, where
    ``n_groups`` groups are drawn (specs/grouping.md §2, §4)."""
    n = int(n_positions)
    groups = getattr(config, "n_groups", None)
    if groups is None:
        return n
    model = getattr(config, "model", None)
    oversample = bool(getattr(config, "enable_oversampling", False)) and int(getattr(model, "gridsize", 1)) > 1
    return int(groups) if oversample else min(int(groups), n)


def describe_groups(config: Any, n_positions: int) -> str:
    """What the training logs print: ``groups=<used> of <M> positions (<why>)`` - the count actually drawn,
    never the bare setting (a 256-position scan never reads 'n_groups=512')."""
    used, n = groups_used(config, n_positions), int(n_positions)
    requested = getattr(config, "n_groups", None)
    if requested is None:
        why = "the whole scan"
    elif int(requested) > n and used == n:
        why = f"n_groups {requested} capped at the scan"
    elif used > n:
        why = "oversampled"
    else:
        why = "subsampled by n_groups" if used < n else "the whole scan"
    return f"groups={used} of {n} positions ({why})"


def describe_length(config: Any) -> str:
    """What the training logs print for the run's length: ``epochs=<n>``, ``epochs=<n> or max_time=<budget>``
    (whichever comes first), or ``until max_time=<budget>`` when ``nepochs`` is None."""
    epochs, budget = getattr(config, "nepochs", None), getattr(config, "max_time", None)
    if epochs is None:
        return f"until max_time={budget}"
    return f"epochs={epochs}" + (f" or max_time={budget}" if budget is not None else "")


#: Canonical fields kept for compatibility that neither backend implements, with the one value both accept
#: (specs/config.md §4). Training in either backend calls :func:`check_implemented`.
UNIMPLEMENTED_FIELDS: tuple[tuple[str, Any], ...] = (
    ("model.probe_mask_sigma", 1.0),
    ("model.probe_mask_diameter", None),
    ("realspace_mae_weight", 0.0),
    ("realspace_weight", 0.0),
)


def check_implemented(config: Any) -> None:
    """ValueError naming the field when ``config`` (a TrainingConfig) sets a field of
    :data:`UNIMPLEMENTED_FIELDS` to another value (both backends reject it instead of ignoring it), or
    when its ``model.N`` is still 0 (taken from the data, not yet assigned; specs/config.md §2.1)."""
    require_n(config.model, "training")
    for path, accepted in UNIMPLEMENTED_FIELDS:
        owner, name = (config.model, path[len("model."):]) if path.startswith("model.") else (config, path)
        value = getattr(owner, name, accepted)
        if value != accepted:
            cls = type(owner).__name__
            raise ValueError(f"{cls}.{name}: not implemented by either backend; expected {accepted!r}, found {value!r}")
