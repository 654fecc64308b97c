"""The simulated scans and the quality measure the refinement tests share (specs/refinement.md).

``siemens_scan(**kw)``: a Siemens star (N 32, a 96 px object, zone-plate probe, 1 px jitter) simulated with
``ptycho.simulation.simulate`` and the keywords given (positions, interpolation, photons, seed, probe modes),
plus ``positions`` (P, 2) [x, y] and the intensity scale ``s``. ``covered_ssim(result, sim)``: amplitude and
phase SSIM of a refined object on the box of scan positions shrunk by ``margin`` pixels (well covered).
"""

from __future__ import annotations

import numpy as np

from ptycho.metrics import evaluate
from ptycho.simulation import simulate

__all__ = ["siemens_scan", "covered_ssim"]


def siemens_scan(**kw) -> dict:
    """``simulate(object_kind='siemens', N=32, object_size=96, probe_kind='zoneplate', jitter=1.0, **kw)`` with
    ``positions`` and ``s`` added."""
    sim = simulate(object_kind="siemens", N=32, object_size=96, probe_kind="zoneplate", jitter=1.0, **kw)
    sim["positions"] = np.stack([sim["xcoords"], sim["ycoords"]], 1)
    sim["s"] = float(sim["sim_intensity_scale"])
    return sim


def covered_ssim(res, sim: dict, margin: int = 12) -> tuple[float, float]:
    """(amplitude SSIM, phase SSIM) of ``res.object`` (origin ``res.origin_xy``) against ``sim['objectGuess']``."""
    pos = sim["positions"]
    lo = np.ceil(pos.min(0)).astype(int) + margin
    hi = np.floor(pos.max(0)).astype(int) - margin
    x0, y0 = res.origin_xy
    ev = evaluate(res.object[lo[1] - y0:hi[1] - y0, lo[0] - x0:hi[0] - x0], sim["objectGuess"][lo[1]:hi[1], lo[0]:hi[0]])
    return ev["amplitude"]["ssim"], ev["phase"]["ssim"]
