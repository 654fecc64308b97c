"""Synthetic ptychography data (normative text: specs/simulation.md).

* :func:`make_object` - complex test objects 'lines', 'grf', 'siemens' (§1);
* :func:`scan_positions` - 'grid', 'random', 'fermat' scans inside the object (§2);
* :func:`make_probe` - probes 'disk', 'fresnel' (propagated aperture), 'zoneplate' (defocused),
  'phasescreen' (aperture behind a random phase screen) (§5);
* :func:`make_probe_modes` - K orthogonal incoherent probe modes of a partially coherent beam (§7);
* :mod:`.models` - measurement models of sub-pixel positions: 'finegrid' (neutral), 'fourier', 'probe',
  'bilinear' (§6);
* :func:`simulate` / :func:`write_simulation` - Poisson-noised datasets in the NPZ contract (§3, §4).
"""

from .models import DEFAULT_OVERSAMPLE, MEASUREMENT_MODELS
from .modes import default_mode_powers, make_probe_modes
from .objects import OBJECT_KINDS, make_object
from .probes import PROBE_KINDS, fresnel_aperture_probe, make_probe, phase_screen_probe, zone_plate_probe
from .scans import SCAN_KINDS, scan_bounds, scan_positions
from .simulate import default_object_size, simulate, write_simulation

__all__ = [
    "OBJECT_KINDS",
    "SCAN_KINDS",
    "PROBE_KINDS",
    "MEASUREMENT_MODELS",
    "DEFAULT_OVERSAMPLE",
    "phase_screen_probe",
    "make_object",
    "make_probe",
    "make_probe_modes",
    "default_mode_powers",
    "fresnel_aperture_probe",
    "zone_plate_probe",
    "scan_positions",
    "scan_bounds",
    "simulate",
    "write_simulation",
    "default_object_size",
]
