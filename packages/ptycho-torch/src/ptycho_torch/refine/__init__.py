"""Maximum-likelihood refinement of a ptychographic reconstruction (normative text: specs/refinement.md).

``refine(diffraction, positions, probe, obj=None, origin_xy=None, scale=..., options=RefineOptions(...))``
runs K passes of illumination-preconditioned maximum-likelihood updates of the object (and, optionally, of
the probe and the sub-pixel scan positions) from a network's stitched object or from a flat start.

* :mod:`.operators` - windows, Fourier-shifted probe, far field, illumination (the physics);
* :mod:`.likelihood` - Poisson and Gaussian-amplitude NLLs;
* :mod:`.options` - ``RefineOptions``, ``RefineResult``, canvas geometry;
* :mod:`.solver` - the loop (preconditioned directions, step length, position steps);
* :mod:`.start` - placing a network's stitched object, output windows.
* :mod:`.network` - self-supervised fine-tuning of the network itself on the scan.
"""

from .likelihood import LIKELIHOODS
from .network import NetworkOptions, finetune_network, network_nll
from .options import RefineOptions, RefineResult, flat_canvas, object_canvas_geometry
from .solver import refine

__all__ = ["LIKELIHOODS", "NetworkOptions", "finetune_network", "network_nll", "RefineOptions", "RefineResult", "refine", "flat_canvas", "object_canvas_geometry"]
