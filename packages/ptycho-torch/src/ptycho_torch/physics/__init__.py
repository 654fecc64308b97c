"""Differentiable torch physics of PtychoPINN, mirroring ``ptycho.physics`` (specs/physics.md).

Same function names, argument order and channel-last layouts as the numpy reference; every operator is
vectorised over the batch, autograd-friendly, device-following and dtype-preserving (float64/complex128
in, float64/complex128 out). Tested against the numpy reference in tests/test_torch_physics.py.

* :mod:`.translation` - ``translate`` (exact separable bilinear, zero fill);
* :mod:`.patches` - ``extract_patches``, ``reassemble_groups``, ``extract_from_canvas``, ``canvas_size``,
  ``reassemble_position``;
* :mod:`.probe` - ``probe_mask``, ``default_probe``, ``normalize_probe``, ``illuminate``, ``illuminate_channels``;
* :mod:`.diffraction` - ``far_field_amplitude``, ``forward_model``;
* :mod:`.scaling` - ``normalization_factor``, ``normalize_diffraction``, ``intensity_scale``,
  ``dataset_intensity_scale``;
* :mod:`.noise` - ``poisson_sample``; :mod:`.losses` - ``poisson_nll``, ``amplitude_mae``;
* :mod:`.formats` - channel / flat / grid conversions.
"""

from . import formats
from .diffraction import far_field_amplitude, forward_model, incoherent_amplitude, mode_sum_amplitude
from .formats import *  # noqa: F403  (the layout conversions named in formats.__all__)
from .losses import amplitude_mae, poisson_nll
from .noise import poisson_sample
from .patches import canvas_size, extract_from_canvas, extract_patches, reassemble_groups, reassemble_position
from .probe import default_probe, illuminate, illuminate_channels, normalize_probe, probe_mask
from .projection import modulus_projections
from .scaling import dataset_intensity_scale, intensity_scale, normalization_factor, normalize_diffraction
from .translation import translate

__all__ = [
    "modulus_projections",
    "incoherent_amplitude",
    "mode_sum_amplitude",
    "translate",
    "extract_patches",
    "reassemble_groups",
    "extract_from_canvas",
    "canvas_size",
    "reassemble_position",
    "probe_mask",
    "default_probe",
    "normalize_probe",
    "illuminate",
    "illuminate_channels",
    "far_field_amplitude",
    "forward_model",
    "normalization_factor",
    "normalize_diffraction",
    "intensity_scale",
    "dataset_intensity_scale",
    "poisson_sample",
    "poisson_nll",
    "amplitude_mae",
    *formats.__all__,
]
