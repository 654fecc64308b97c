"""A reconstruction written back as a ptychodus product file (specs/convert.md §7).

Inputs are what this project already writes: the reconstruction NPZ of ``ptycho infer`` /
``ptycho refine``, ``reconstructed_object.npz`` (``object`` (H, W) complex; also accepted: ``reconstruction``
(H, W) complex, or ``amplitude`` + ``phase``; ``origin_xy`` =
object coordinates [x, y] of its pixel (0, 0)) and the scan NPZ it was made from (positions in object
pixels, ``probeGuess``). Positions go back to metres with the inverse of the mapping used on the way in
(:func:`ptycho.convert.geometry.pixels_to_positions`), using the frame that ``ptycho convert`` recorded in
the scan's ``_metadata['convert']``; a scan without that record needs the pixel size, and object pixel
(0, 0) is then placed at 0 m.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ptycho.convert.assemble import POSITION_INDEX_KEY
from ptycho.convert.geometry import pixels_to_positions
from ptycho.convert.parts import ProductParts
from ptycho.convert.ptychodus import write_product
from ptycho.data_contract import ContractError, read_npz, validate_npz

__all__ = ["read_reconstruction", "reconstruction_to_product"]


def read_reconstruction(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """The complex object (H, W) complex64 and ``origin_xy`` (2,) float64 (or None) of a reconstruction NPZ."""
    source = str(path)
    a = read_npz(path)
    key = next((k for k in ("object", "reconstruction") if k in a), None)
    if key is not None:
        obj = np.asarray(a[key])
    elif "amplitude" in a and "phase" in a:
        obj = np.asarray(a["amplitude"], dtype=np.float64) * np.exp(1j * np.asarray(a["phase"], dtype=np.float64))
        key = "amplitude"
    else:
        raise ContractError(source, "object", "a reconstruction ('object', 'reconstruction', or 'amplitude' and 'phase')",
                            f"missing (keys present: {', '.join(sorted(a))})")
    if obj.ndim == 3 and obj.shape[-1] == 1:
        obj = obj[..., 0]
    if obj.ndim != 2 or obj.dtype.kind not in "iufc" or min(obj.shape) == 0:
        raise ContractError(source, key, "a 2-D numeric image (H, W)", f"shape {obj.shape} dtype {obj.dtype}")
    if not np.all(np.isfinite(obj)):
        raise ContractError(source, key, "finite values", "NaN or inf")
    origin = None
    if "origin_xy" in a:
        origin = np.asarray(a["origin_xy"], dtype=np.float64).reshape(-1)
        if origin.shape != (2,) or not np.all(np.isfinite(origin)):
            raise ContractError(source, "origin_xy", "two finite numbers [x, y]", f"shape {origin.shape}")
    return obj.astype(np.complex64), origin


def _probe(probe_path: str | os.PathLike[str] | None, scan_probe: np.ndarray) -> np.ndarray:
    if probe_path is None:
        return scan_probe
    a = read_npz(probe_path)
    key = "probe" if "probe" in a else "probeGuess"
    if key not in a:
        raise ContractError(str(probe_path), "probe", "a probe (key 'probe' or 'probeGuess')",
                            f"missing (keys present: {', '.join(sorted(a))})")
    p = np.asarray(a[key])
    if p.shape != scan_probe.shape or p.dtype.kind not in "iufc":
        raise ContractError(str(probe_path), key, f"a numeric probe of shape {scan_probe.shape}", f"shape {p.shape} dtype {p.dtype}")
    return p.astype(np.complex64)


def _quantity(given: float | None, recorded: Any, what: str, flag: str, notices: list[str]) -> float:
    if given is not None:
        if not np.isfinite(given) or given < 0:
            raise ValueError(f"convert: {flag}: expected a finite value >= 0, found {given!r}")
        return float(given)
    if recorded is not None:
        return float(recorded)
    notices.append(f"{what} unknown (give {flag}); written as 0, which ptychodus reads as 'not set'")
    return 0.0


def reconstruction_to_product(recon: str | os.PathLike[str], scan: str | os.PathLike[str],
                              output: str | os.PathLike[str], *, probe: str | os.PathLike[str] | None = None,
                              pixel_size_m: float | None = None, energy_eV: float | None = None,  # noqa: N803
                              distance_m: float | None = None, name: str | None = None) -> tuple[str, list[str]]:
    """Write ``recon`` with the scan's positions and probe as a ptychodus product at ``output``.

    Args:
        recon: reconstruction NPZ (module docstring); scan: the scan NPZ it reconstructs.
        output: ``.h5``/``.hdf5`` (ptychodus HDF5 product) or ``.npz`` (ptychodus NPZ product).
        probe: NPZ with ``probe`` or ``probeGuess`` (N, N) to write instead of the scan's probe.
        pixel_size_m, energy_eV, distance_m: override (or, for a scan without a conversion record,
            supply) the object pixel size, photon energy and sample-detector distance.
        name: the product's name (default: the reconstruction file's stem).

    Returns:
        ('HDF5' | 'NPZ', notices).

    Raises:
        ContractError: a bad input file (one line naming file and key); ValueError: a bad argument,
        or no pixel size known.
    """
    data = validate_npz(scan)
    conv = (data["metadata"] or {}).get("convert") or {}
    notices: list[str] = []
    if pixel_size_m is not None:
        if not np.isfinite(pixel_size_m) or pixel_size_m <= 0:
            raise ValueError(f"convert: --pixel-size: expected a pixel size > 0 m, found {pixel_size_m!r}")
        pixel = (float(pixel_size_m), float(pixel_size_m))
    elif conv.get("object_pixel_size_m"):
        pixel = (float(conv["object_pixel_size_m"][0]), float(conv["object_pixel_size_m"][1]))
    else:
        raise ValueError(f"convert: --pixel-size: expected the object pixel size in metres ({scan} records no "
                         "conversion from ptychodus/CXI), found none")
    if conv.get("frame_center_m") and conv.get("frame_shape"):
        centre = (float(conv["frame_center_m"][0]), float(conv["frame_center_m"][1]))
        shape = (int(conv["frame_shape"][0]), int(conv["frame_shape"][1]))
    else:
        centre, shape = (0.0, 0.0), (1, 1)  # object pixel (0, 0) at 0 m
    obj, origin = read_reconstruction(recon)
    if origin is None:
        origin = np.zeros(2)
        notices.append(f"{recon}: no 'origin_xy'; placed the reconstruction's pixel (0, 0) on object pixel (0, 0)")
    x_m, y_m = pixels_to_positions(data["xcoords"], data["ycoords"], centre, pixel, shape)
    cx, cy = pixels_to_positions(np.array([origin[0] + (obj.shape[1] - 1) / 2.0]),
                                 np.array([origin[1] + (obj.shape[0] - 1) / 2.0]), centre, pixel, shape)
    indexes = read_npz(scan).get(POSITION_INDEX_KEY)
    if indexes is None or np.asarray(indexes).shape != (data["M"],):
        indexes = np.arange(data["M"], dtype=np.int64)
    parts = ProductParts(
        source=str(recon), position_indexes=np.asarray(indexes, dtype=np.int64), x_m=x_m, y_m=y_m,
        probe=_probe(probe, data["probeGuess"]), probe_key="probe", probe_pixel_m=pixel,
        object=obj, object_pixel_m=pixel, object_center_m=(float(cx[0]), float(cy[0])),
        photon_energy_eV=_quantity(energy_eV, conv.get("photon_energy_eV"), "photon energy", "--energy-ev", notices),
        detector_distance_m=_quantity(distance_m, conv.get("detector_distance_m"), "detector distance", "--distance-m", notices),
        name=name if name is not None else Path(recon).stem,
    )
    fmt = write_product(output, parts, comments=f"PtychoPINN reconstruction {Path(recon).name} of scan {Path(scan).name}")
    return fmt, notices
