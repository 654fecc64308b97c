"""A scan as refinement reads it (specs/refinement.md §7): the arrays :func:`ptycho_torch.refine.refine` takes and
the photon scale its likelihood is measured in.

The file is read with ``ptycho.raw_data.RawData.from_file`` (data contract; a ``ContractError`` names what is
wrong). The scale ``s`` (measured amplitude = ``s`` x model amplitude) is the scan's recorded
``metadata.physics_parameters.sim_intensity_scale`` when it is a finite number > 0, else 1 — then the NLLs are in
amplitude^2 units, not counts, and ``scale_known`` says so.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from ptycho.config import teacher_options
from ptycho.raw_data import RawData

__all__ = ["load_scan", "scan_in_memory"]


def scan_in_memory(raw: Any, what: str, instead: str) -> Any:
    """``raw`` (RawData) with its diffraction as an ndarray, for a computation on the whole scan: a stack read on
    demand (an HDF5 scan) is read in when it fits :func:`ptycho.config.teacher_options.teacher_memory_limit`.
    Raises ValueError (one line: ``what``, the sizes, ``instead``) when it does not."""
    stack = raw.diff3d
    if isinstance(stack, np.ndarray):
        return raw
    nbytes, limit = int(getattr(stack, "nbytes", 0)), teacher_options.teacher_memory_limit()
    if limit is not None and nbytes > limit:
        raise ValueError(f"{what}; expected its diffraction to take at most {limit / 2**30:.1f} GiB (a quarter of "
                         f"this machine's memory), found {nbytes / 2**30:.1f} GiB in "
                         f"{getattr(stack, 'path', 'the scan')}; {instead}")
    new = copy.copy(raw)
    new.diff3d = np.asarray(stack[slice(None)], dtype=np.float32)
    return new


def load_scan(path: str | Path) -> dict[str, Any]:
    """The refinement inputs of the scan NPZ at ``path``.

    Returns {'diffraction': (P, N, N) float32 measured amplitudes, 'positions': (P, 2) float64 [x, y] pixels,
    'probe': (N, N) or (K, N, N) complex64, 'scale': float > 0, 'scale_known': bool (the scan records its
    scale)}.
    """
    raw = RawData.from_file(path)
    meta = raw.metadata or {}
    physics = meta.get("physics_parameters") or {}
    scale = physics.get("sim_intensity_scale")
    try:
        scale = float(scale) if scale is not None else 1.0
    except (TypeError, ValueError):
        scale = 1.0
    scale = scale if np.isfinite(scale) and scale > 0 else 1.0
    return {"diffraction": np.asarray(raw.diff3d, dtype=np.float32),
            "positions": np.stack([np.asarray(raw.xcoords, np.float64), np.asarray(raw.ycoords, np.float64)], 1),
            "probe": np.asarray(raw.probeGuess, dtype=np.complex64), "scale": scale,
            "scale_known": scale != 1.0 or "sim_intensity_scale" in physics}
