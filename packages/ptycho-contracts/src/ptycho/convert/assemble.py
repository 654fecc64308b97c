"""ptychodus products and CXI files -> the NPZ data contract (specs/convert.md §3-§5).

:func:`convert_scan` reads a product (with its diffraction file) or a CXI file, pairs every position
with its pattern by index, keeps the probe's incoherent modes (or the one chosen), decides the object
pixel size (the pixel-size rule, specs/convert.md §3), maps the positions from metres to object pixels the way ptychodus does,
and turns counts into amplitudes. :func:`convert_to_npz` also checks the result against the data
contract and writes it atomically. Every decision that changes numbers is reported as a notice.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ptycho.atomic_io import save_npz_atomic
from ptycho.convert._files import h5_has, open_h5, sniff
from ptycho.convert.cxi import is_cxi, read_cxi
from ptycho.convert.diffraction import Patterns, counts_to_amplitudes, read_diffraction
from ptycho.convert.geometry import far_field_pixel_size, implied_frame, positions_to_pixels
from ptycho.convert.parts import ProductParts
from ptycho.convert.ptychodus import is_product_npz, read_product_h5, read_product_npz
from ptycho.data_contract import ContractError, read_npz, validate_arrays

__all__ = ["FORMATS", "Conversion", "detect_format", "convert_scan", "convert_to_npz", "POSITION_INDEX_KEY"]

#: Input formats (``--format``); ``auto`` tells them apart by content.
FORMATS = ("ptychodus-npz", "ptychodus-h5", "cxi")
#: Extra NPZ key: the ptychodus/CXI pattern index of each position (ignored by the contract).
POSITION_INDEX_KEY = "ptychodus_position_indexes"
_REL_TOL = 1e-6


@dataclass
class Conversion:
    """Result of :func:`convert_scan`: contract arrays (``validate_arrays`` form), notices, metadata."""

    arrays: dict[str, Any]
    position_indexes: np.ndarray
    notices: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


def detect_format(path: str | os.PathLike[str]) -> str:
    """``'ptychodus-npz'``, ``'ptychodus-h5'`` or ``'cxi'`` from a file's content (ContractError otherwise)."""
    source = str(path)
    kind = sniff(path)
    if kind == "npz":
        keys = read_npz(path)
        if is_product_npz(keys):
            return "ptychodus-npz"
        if "probeGuess" in keys and ("diffraction" in keys or "diff3d" in keys):
            raise ContractError(source, None, "a ptychodus product or CXI file",
                                "an NPZ with data-contract keys (already our format: check it with 'ptycho validate')")
        raise ContractError(source, "probe_position_x_m", "a ptychodus product key", "missing")
    if kind == "hdf5":
        with open_h5(path) as h5:
            if is_cxi(h5):
                return "cxi"
            if h5_has(h5, "probe_position_x_m", source):
                return "ptychodus-h5"
        raise ContractError(source, None, "a CXI file (/entry_1) or a ptychodus HDF5 product (/probe_position_x_m)", "neither")
    raise ContractError(source, None, "a ptychodus product (.npz, .h5) or a CXI file", f"a {kind.upper()} file")


def _pair_positions(parts: ProductParts, pats: Patterns, notices: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the positions and of their patterns, matched by pattern index, in position order."""
    rows = {int(k): r for r, k in enumerate(pats.indexes)}
    if len(rows) != pats.indexes.shape[0]:
        raise ContractError(pats.source, "indexes", "distinct pattern indexes", "repeated indexes")
    keep = [(i, rows[int(k)]) for i, k in enumerate(parts.position_indexes) if int(k) in rows]
    if not keep:
        raise ContractError(parts.source, "probe_position_indexes", f"indexes of patterns in {pats.source}",
                            "no position has a pattern")
    dropped = parts.position_indexes.shape[0] - len(keep)
    if dropped:
        notices.append(f"{parts.source}: {dropped} position(s) have no pattern in {pats.source} and were left out")
    unused = pats.indexes.shape[0] - len(keep)
    if unused:
        notices.append(f"{pats.source}: {unused} pattern(s) have no position and were left out")
    pos_rows, pat_rows = (np.asarray(v, dtype=np.int64) for v in zip(*keep, strict=True))
    return pos_rows, pat_rows


def _probe_modes(parts: ProductParts, probe_mode: int | None, notices: list[str]) -> np.ndarray:
    """The probe as (H, W) or (K, H, W) complex incoherent modes: OPR index 0, then every mode (a one-mode stack
    squeezed), or only mode ``probe_mode`` when it is given."""
    p = np.asarray(parts.probe)
    key = parts.probe_key
    if p.ndim > 4:
        raise ContractError(parts.source, key, "a probe of 2, 3 or 4 dimensions", f"shape {p.shape}")
    if p.ndim == 4:
        if p.shape[0] > 1:
            notices.append(f"{parts.source}: probe has {p.shape[0]} OPR variants; kept variant 0")
        p = p[0]
    if p.ndim == 3:
        modes = p.shape[0]
        if probe_mode is None:
            if modes > 1:
                notices.append(f"{parts.source}: probe has {modes} incoherent modes; kept all of them")
            return np.asarray(p[0] if modes == 1 else p, dtype=np.complex64)
        k = int(probe_mode)
        if not 0 <= k < modes:
            raise ContractError(parts.source, key, f"--probe-mode between 0 and {modes - 1}", f"{k}")
        if modes > 1:
            power = np.sum(np.abs(p) ** 2, axis=(-2, -1))
            share = float(power[k] / power.sum()) if power.sum() > 0 else 0.0
            notices.append(f"{parts.source}: probe has {modes} coherent modes; kept mode {k} ({share:.1%} of the power)")
        p = p[k]
    return np.asarray(p, dtype=np.complex64)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= _REL_TOL * max(abs(a), abs(b))


def _pixel_size(parts: ProductParts, pats: Patterns, n_hw: tuple[int, int], given: float | None,
                notices: list[str]) -> tuple[tuple[float, float], str]:
    """The object pixel size (width, height) in metres and the rule that gave it (specs/convert.md §3)."""
    computed = None
    if parts.photon_energy_eV and parts.detector_distance_m and pats.detector_pixel_m:
        computed = tuple(far_field_pixel_size(parts.photon_energy_eV, parts.detector_distance_m, p, n, parts.source)
                         for p, n in zip(pats.detector_pixel_m, (n_hw[1], n_hw[0]), strict=True))
    if given is not None:
        if not np.isfinite(given) or given <= 0:
            raise ValueError(f"convert: pixel_size_m: expected a pixel size > 0 m, found {given!r}")
        chosen, rule = (float(given), float(given)), "given (--pixel-size)"
    elif parts.object_pixel_m is not None and parts.object is not None:
        chosen, rule = parts.object_pixel_m, "file (object pixel size)"
    elif parts.probe_pixel_m is not None:
        chosen, rule = parts.probe_pixel_m, "file (probe pixel size)"
    elif computed is not None:
        return (float(computed[0]), float(computed[1])), "computed (wavelength * distance / (N * detector pixel))"
    else:
        missing = [k for k, v in (("photon energy", parts.photon_energy_eV), ("detector distance", parts.detector_distance_m),
                                  ("detector pixel size", pats.detector_pixel_m)) if not v]
        raise ContractError(parts.source, "object_pixel_width_m", "an object pixel size, or the photon energy, detector "
                            "distance and detector pixel size to compute it (or give --pixel-size)",
                            f"none (missing: {', '.join(missing)})")
    for v in chosen:
        if not np.isfinite(v) or v <= 0:
            raise ContractError(parts.source, "object_pixel_width_m", "a pixel size > 0 m", f"{v!r}")
    if computed is not None and not all(abs(c - v) <= 0.01 * v for c, v in zip(computed, chosen, strict=True)):
        notices.append(f"{parts.source}: object pixel size {chosen[0]:.6g} m differs from the far-field sampling "
                       f"lambda*z/(N*p) = {computed[0]:.6g} m; positions use {chosen[0]:.6g} m ({rule})")
    return (float(chosen[0]), float(chosen[1])), rule


def _frame(parts: ProductParts, pixel: tuple[float, float], n: int,
           notices: list[str]) -> tuple[tuple[float, float], tuple[int, int]]:
    if parts.object is not None:
        shape = (int(parts.object.shape[-2]), int(parts.object.shape[-1]))
        if parts.object_center_m is not None:
            return parts.object_center_m, shape
        centre, _ = implied_frame(parts.x_m, parts.y_m, pixel, n)
        notices.append(f"{parts.source}: object centre not recorded; placed it on the middle of the scanned area")
        return centre, shape
    return implied_frame(parts.x_m, parts.y_m, pixel, n)


def _object(parts: ProductParts, n: int, notices: list[str]) -> np.ndarray | None:
    if parts.object is None:
        return None
    o = np.asarray(parts.object)
    if o.ndim == 3 and o.shape[0] > 1:
        notices.append(f"{parts.source}: object has {o.shape[0]} layers (multislice); objectGuess left out")
        return None
    o = o.reshape(o.shape[-2:])
    if min(o.shape) < n:
        notices.append(f"{parts.source}: object {o.shape} is smaller than a pattern ({n}); objectGuess left out")
        return None
    return o.astype(np.complex64)


def _read_inputs(path: Path, diffraction: str | os.PathLike[str] | None, fmt: str) -> tuple[ProductParts, Patterns]:
    if fmt == "cxi":
        parts, pats = read_cxi(path, with_patterns=diffraction is None)
        return parts, (read_diffraction(diffraction) if pats is None else pats)
    parts = read_product_npz(path) if fmt == "ptychodus-npz" else read_product_h5(path)
    if diffraction is None:
        raise ContractError(str(path), None, "a diffraction file with it (--diffraction FILE): a ptychodus product "
                            "holds no patterns", "none given")
    return parts, read_diffraction(diffraction)


def convert_scan(path: str | os.PathLike[str], diffraction: str | os.PathLike[str] | None = None, fmt: str = "auto",
                 probe_mode: int | None = None, pixel_size_m: float | None = None) -> Conversion:
    """Read a ptychodus product + diffraction file, or a CXI file, as data-contract arrays.

    Args:
        path: the product (``.npz``/``.h5``) or CXI file.
        diffraction: the patterns (``.npy``, ptychodus ``.h5`` or CXI); required for products, optional
            for CXI (replaces the file's own patterns).
        fmt: ``'auto'`` or one of :data:`FORMATS`.
        probe_mode: the one mode to keep from a multi-mode probe (None: keep every mode, a (K, H, W) probeGuess).
        pixel_size_m: object pixel size to use instead of the file's (metres, square pixels).

    Returns:
        :class:`Conversion` with the validated contract arrays, the pattern index of each position, the
        notices and the ``convert`` metadata (specs/convert.md §5).

    Raises:
        ContractError: bad or inconsistent input, one line naming file and key. ValueError: bad argument.
    """
    p = Path(path)
    if fmt not in ("auto", *FORMATS):
        raise ValueError(f"convert: format: expected auto or one of {', '.join(FORMATS)}, found {fmt!r}")
    fmt = detect_format(p) if fmt == "auto" else fmt
    parts, pats = _read_inputs(p, diffraction, fmt)
    if not parts.far_field:
        raise ContractError(parts.source, "far_field", "a far-field product (the models' forward model is a far-field FFT)",
                            "far_field = false (near field)")
    notices: list[str] = []
    pos_rows, pat_rows = _pair_positions(parts, pats, notices)
    probe = _probe_modes(parts, probe_mode, notices)
    n_hw = (int(pats.counts.shape[1]), int(pats.counts.shape[2]))
    if probe.shape[-2:] != n_hw:
        raise ContractError(parts.source, parts.probe_key, f"a probe of the pattern size {n_hw}", f"shape {probe.shape}")
    pixel, rule = _pixel_size(parts, pats, n_hw, pixel_size_m, notices)
    if parts.probe_pixel_m is not None and pixel_size_m is None and not all(
            _close(a, b) for a, b in zip(parts.probe_pixel_m, pixel, strict=True)):
        raise ContractError(parts.source, "probe_pixel_width_m", f"the probe sampled on the object grid ({pixel[0]:.6g} m)",
                            f"{parts.probe_pixel_m[0]:.6g} m (resample the probe in ptychodus first)")
    centre, shape = _frame(parts, pixel, n_hw[0], notices)
    x_px, y_px = positions_to_pixels(parts.x_m[pos_rows], parts.y_m[pos_rows], centre, pixel, shape)
    amps, amp_notes = counts_to_amplitudes(pats.counts[pat_rows], pats.bad_pixels, pats.source, pats.key)
    notices += amp_notes
    meta = {"convert": {
        "from": str(p), "format": fmt, "diffraction_file": pats.source, "name": parts.name,
        "object_pixel_size_m": list(pixel), "pixel_size_rule": rule,
        "frame_center_m": [float(centre[0]), float(centre[1])], "frame_shape": list(shape),
        "photon_energy_eV": parts.photon_energy_eV, "detector_distance_m": parts.detector_distance_m,
        "detector_pixel_size_m": None if pats.detector_pixel_m is None else list(pats.detector_pixel_m),
        "diffraction": "amplitudes = sqrt(detector counts)",
        "mean_counts_per_pattern": float(np.mean(np.sum(pats.counts[pat_rows], axis=(1, 2), dtype=np.float64))),
    }}
    arrays: dict[str, Any] = {"diffraction": amps, "xcoords": x_px, "ycoords": y_px, "probeGuess": probe,
                              "objectGuess": _object(parts, n_hw[0], notices),
                              "_metadata": np.array(json.dumps(meta, sort_keys=True, allow_nan=False))}
    checked = validate_arrays(arrays, source=str(p))
    return Conversion(checked, parts.position_indexes[pos_rows].astype(np.int64), notices, meta)


def convert_to_npz(path: str | os.PathLike[str], output: str | os.PathLike[str], **kwargs: Any) -> Conversion:
    """:func:`convert_scan`, then write the contract NPZ at ``output`` atomically (nothing written on error)."""
    conv = convert_scan(path, **kwargs)
    a = conv.arrays
    out: dict[str, Any] = {k: a[k] for k in ("diffraction", "xcoords", "ycoords", "xcoords_start", "ycoords_start",
                                             "scan_index", "probeGuess")}
    if a["objectGuess"] is not None:
        out["objectGuess"] = a["objectGuess"]
    out[POSITION_INDEX_KEY] = conv.position_indexes
    out["_metadata"] = np.array(json.dumps(conv.metadata, sort_keys=True, allow_nan=False))
    save_npz_atomic(output, **out)
    return conv
