"""The network fields that the canonical ``ModelConfig`` (``ptycho.config.config``) and the bridge's PyTorch
``ModelConfig`` (``ptycho_bridge.config_params``) share, declared once so their names and defaults cannot
drift apart (specs/config.md §2, specs/config-bridge.md §2).

Keyword-only: a subclass's own fields (the canonical ``N``, ``gridsize``, ...) keep their positions in
``__init__``. Frozen, like both subclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ptycho.config.training_options import validate_generator
from ptycho.config.validation import check_bool, check_float, check_int

__all__ = ["GeneratorFields", "validate_generator_fields"]


@dataclass(frozen=True, kw_only=True)
class GeneratorFields:
    """Generator and forward-model switches (units: pixels where a length).

    Attributes:
        n_filters_scale: multiplies every conv width (int >= 1).
        architecture: 'cnn' (U-Net), 'fno' or 'ffno' (Fourier operators, PyTorch only; specs/network.md §7).
        fno_modes, fno_width, fno_blocks: Fourier-operator modes kept per axis, channels, spectral blocks.
        learned_input_channels: input channels per pattern; only 1 (the amplitude) is implemented.
        input_projections: single-pattern modulus projections that turn each pattern into the estimate the
            CNN corrects (0 = the CNN reads the amplitude; PyTorch only; specs/network.md §8).
        input_refine_passes: R > 0: the estimate the CNN corrects is the whole scan's object after R
            maximum-likelihood refinement passes from a flat start (``ptycho_torch.refine``), cut at every
            pattern's position; exclusive with input_projections (PyTorch only; specs/network.md §8.3).
        correction_window: side W (pixels) of the central window of each projected estimate that the CNN reads
            and corrects, the estimate unchanged outside it (0 = the whole N x N patch; a multiple of 8 <= N
            with a projected or refined estimate; PyTorch only; specs/network.md §8.2).
        amp_activation: amplitude-head activation (each subclass says which spellings it stores).
        object_big: the group's patches are stitched into one object before the forward model.
        probe_big: the probe's full field (not only its central disk) illuminates the object.
        probe_mask: a circular mask on the probe; probe_mask_sigma (positive, kept for compatibility),
            probe_mask_diameter (positive or None).
        pad_object: the object patch is padded to the probe's field.
        gaussian_smoothing_sigma: at least 0; blur of the illuminated field.
    """

    n_filters_scale: int = 2
    architecture: str = "cnn"
    fno_modes: int = 12
    fno_width: int = 32
    fno_blocks: int = 4
    learned_input_channels: int = 1
    input_projections: int = 0
    input_refine_passes: int = 0
    correction_window: int = 0
    amp_activation: str = "sigmoid"
    object_big: bool = True
    probe_big: bool = True
    probe_mask: bool = False
    probe_mask_sigma: float = 1.0
    probe_mask_diameter: float | None = None
    pad_object: bool = True
    gaussian_smoothing_sigma: float = 0.0


def validate_generator_fields(owner: str, cfg: Any) -> None:
    """ValueError naming the first invalid :class:`GeneratorFields` field of ``cfg`` (``amp_activation`` is left
    to the owner: the two config classes accept different spellings)."""
    check_int(owner, "n_filters_scale", cfg.n_filters_scale, 1)
    validate_generator(owner, cfg)
    for name in ("object_big", "probe_big", "probe_mask", "pad_object"):
        check_bool(owner, name, getattr(cfg, name))
    check_float(owner, "probe_mask_sigma", cfg.probe_mask_sigma, low=0.0, low_open=True)
    check_float(owner, "probe_mask_diameter", cfg.probe_mask_diameter, low=0.0, low_open=True, optional=True)
    check_float(owner, "gaussian_smoothing_sigma", cfg.gaussian_smoothing_sigma, low=0.0)
