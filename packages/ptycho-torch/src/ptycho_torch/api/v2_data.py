"""Scan data for the v2 API facade (specs/ptychodus-torch.md §3): ptychodus's training NPZ files and its
in-memory arrays turned into a validated ``ptycho.raw_data.RawData`` of amplitudes.

ptychodus hands over raw detector counts (``DataConfig.measurement_domain = 'count_intensity'``, the v2
default): they are converted to amplitudes sqrt(counts) here, once, and the mean photon count per pattern
(Σ counts) is measured from them, so the intensity scale s = sqrt(nphotons)/(N/2) matches the data
(specs/physics.md). With ``'normalized_amplitude'`` the arrays are amplitudes already and
``DataConfig.nphotons`` is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ptycho.raw_data import RawData

__all__ = ["ScanData", "training_files", "scan_from_arrays", "scan_from_file"]


class ScanData(NamedTuple):
    """A scan ready for the workflows: ``raw`` (amplitudes), ``nphotons`` (mean photons per pattern) and
    ``source`` (file name or 'arrays', for messages)."""

    raw: RawData
    nphotons: float
    source: str


def training_files(data_dir: str | Path) -> list[Path]:
    """The training NPZ files of ``data_dir``: the file itself, or the ``*.npz`` files of a folder that hold
    a ``diff3d`` array (ptychodus's exported training data; product files in the same folder are skipped)."""
    p = Path(data_dir)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise FileNotFoundError(f"{p}: training data not found (expected an NPZ file or a folder holding one)")
    found = []
    for f in sorted(p.glob("*.npz")):
        with np.load(f, allow_pickle=False) as z:
            if "diff3d" in z.files:
                found.append(f)
    if not found:
        raise ValueError(f"{p}: expected a training NPZ with 'diff3d' (ptychodus: export training data there), "
                         "found none")
    return found


def _probe_modes(probe: Any, source: str) -> np.ndarray:
    """ptychodus's probe as (N, N) (one mode, a (1, N, N) stack squeezed) or (K, N, N) incoherent modes, complex64
    (specs/ptychodus-torch.md §3: the network sums the modes' intensities)."""
    pr = np.asarray(probe)
    if pr.ndim == 3 and pr.shape[0] == 1:
        pr = pr[0]
    if pr.ndim not in (2, 3) or pr.shape[-1] != pr.shape[-2]:
        raise ValueError(f"{source}: probeGuess: expected (N, N) or (K, N, N) probe modes, found shape {pr.shape}")
    return pr.astype(np.complex64)


def _amplitudes(diff: Any, domain: str, source: str) -> tuple[np.ndarray, float | None]:
    """(amplitudes float32, measured nphotons or None) for the measurement domain."""
    d = np.asarray(diff)
    if d.ndim != 3:
        raise ValueError(f"{source}: diff3d: expected (M, N, N) diffraction patterns, found shape {d.shape}")
    if domain == "normalized_amplitude":
        return d.astype(np.float32), None
    counts = d.astype(np.float64)
    if not np.isfinite(counts).all() or counts.min() < 0:
        raise ValueError(f"{source}: diff3d: expected finite detector counts >= 0 (measurement_domain="
                         f"'count_intensity'), found min {np.nanmin(counts):g}")
    nphotons = float(counts.sum(axis=(1, 2)).mean())
    if nphotons <= 0:
        raise ValueError(f"{source}: diff3d: expected some counts, found an all-zero scan")
    return np.sqrt(counts).astype(np.float32), nphotons


def scan_from_arrays(diff: Any, probe: Any, x: Any, y: Any, data_config: Any, *, objectGuess: Any = None,
                     source: str = "arrays") -> ScanData:
    """ScanData from arrays: diff (M, N, N) counts or amplitudes, probe (N, N) / (K, N, N) modes, x, y (M,) object
    pixels (x = column, y = row). ``data_config``: v2 DataConfig (measurement_domain, nphotons, N)."""
    amp, measured = _amplitudes(diff, data_config.measurement_domain, source)
    if amp.shape[1:] != (data_config.N, data_config.N):
        raise ValueError(f"{source}: diff3d: expected patterns of {data_config.N}x{data_config.N} "
                         f"(DataConfig.N), found {amp.shape[1:]}")
    xs, ys = np.asarray(x, np.float64).reshape(-1), np.asarray(y, np.float64).reshape(-1)
    obj = None if objectGuess is None else np.asarray(objectGuess).astype(np.complex64)
    raw = RawData.from_coords_without_pc(xs, ys, amp, _probe_modes(probe, source),
                                         np.zeros(len(xs), dtype=np.int64), objectGuess=obj)
    return ScanData(raw, measured if measured is not None else float(data_config.nphotons), source)


def scan_from_file(path: str | Path, data_config: Any) -> ScanData:
    """ScanData from a ptychodus training NPZ (xcoords, ycoords, diff3d, probeGuess[, objectGuess])."""
    with np.load(path, allow_pickle=False) as z:
        missing = [k for k in ("xcoords", "ycoords", "diff3d", "probeGuess") if k not in z.files]
        if missing:
            raise ValueError(f"{path}: expected keys xcoords, ycoords, diff3d, probeGuess; missing {missing}")
        arrays = {k: z[k] for k in z.files}
    obj = arrays.get("objectGuess")
    if obj is not None and obj.ndim == 3 and obj.shape[0] == 1:
        obj = obj[0]
    return scan_from_arrays(arrays["diff3d"], arrays["probeGuess"], arrays["xcoords"], arrays["ycoords"],
                            data_config, objectGuess=obj, source=str(path))
