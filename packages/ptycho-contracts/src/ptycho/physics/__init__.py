"""Numpy reference physics of PtychoPINN: the oracle both deep-learning backends are tested against.

Normative text: specs/physics.md. One module per concern:

* :mod:`.translation` - ``translate`` (sub-pixel shifts, §2);
* :mod:`.patches` - ``extract_patches``, ``reassemble_groups``, ``extract_from_canvas``,
  ``canvas_size``, ``reassemble_position`` (§3-§6);
* :mod:`.phase_sync` - ``phase_sync_factors`` (per-patch phase constants from overlaps, §6.1);
* :mod:`.probe` - ``probe_mask``, ``default_probe``, ``normalize_probe``, ``illuminate``,
  ``illuminate_channels`` (§7);
* :mod:`.diffraction` - ``far_field_amplitude``, ``incoherent_amplitude`` (K probe modes), ``forward_model``
  (§8, §12);
* :mod:`.scaling` - ``normalization_factor``, ``normalize_diffraction``, ``intensity_scale``,
  ``dataset_intensity_scale`` (§9);
* :mod:`.noise` - ``poisson_sample`` (§10);
* :mod:`.losses` - ``poisson_nll``, ``amplitude_mae`` (§11);
* :mod:`.formats` - channel / flat / grid layout conversions (§1.2).
"""

from . import formats
from .diffraction import far_field_amplitude, forward_model, incoherent_amplitude
from .formats import *  # noqa: F403  (the layout conversions named in formats.__all__)
from .losses import amplitude_mae, poisson_nll
from .noise import poisson_sample
from .patches import canvas_size, extract_from_canvas, extract_patches, reassemble_groups, reassemble_position
from .phase_sync import phase_sync_factors
from .probe import default_probe, illuminate, illuminate_channels, normalize_probe, probe_mask
from .projection import group_projections, modulus_projections
from .scaling import dataset_intensity_scale, intensity_scale, normalization_factor, normalize_diffraction
from .translation import translate

__all__ = [
    "translate",
    "extract_patches",
    "reassemble_groups",
    "extract_from_canvas",
    "canvas_size",
    "reassemble_position",
    "phase_sync_factors",
    "modulus_projections",
    "group_projections",
    "probe_mask",
    "default_probe",
    "normalize_probe",
    "incoherent_amplitude",
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
