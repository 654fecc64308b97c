"""Diffraction files as ptychodus and CXI store them, and counts -> amplitudes (specs/convert.md §2, §4).

Three layouts are read, recognised from their content:

* NPY (ptychodus's ``NPY`` diffraction file): one (P, H, W) or (H, W) array of counts; pattern ``i``
  has index ``i``.
* ptychodus HDF5 (``ptychodus.api.io.save_diffraction_data``): ``/patterns`` (P, H, W) counts with
  attributes ``detector_pixel_width_m`` / ``detector_pixel_height_m``, ``/indexes`` (P,) and
  ``/bad_pixels`` (H, W) bool.
* CXI: ``/entry_1/data_1/data`` (or ``/entry_1/instrument_1/detector_1/data``) (P, H, W) counts,
  ``detector_1/x_pixel_size`` / ``y_pixel_size`` (m) and ``detector_1/mask`` (non-zero = bad pixel).

All three hold detector **counts** (intensities). The data contract wants amplitudes, so
:func:`counts_to_amplitudes` takes the square root (in float64) after zeroing bad pixels, and says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ptycho.convert._files import h5_array, h5_attr, h5_dataset, h5_has, h5_scalar, open_h5, sniff
from ptycho.data_contract import ContractError

__all__ = ["Patterns", "read_diffraction", "read_cxi_patterns", "counts_to_amplitudes"]

CXI_DATA = "/entry_1/data_1/data"
CXI_DETECTOR = "/entry_1/instrument_1/detector_1"


@dataclass
class Patterns:
    """Diffraction patterns as stored in a file.

    Attributes:
        counts: (P, H, W) detector counts, dtype as stored.
        indexes: (P,) int64 pattern index (what a product's ``probe_position_indexes`` refer to).
        bad_pixels: (H, W) bool, True = not measured; or None.
        detector_pixel_m: (width, height) of a detector pixel in metres, or None.
        source: the file; key: the dataset holding the patterns (for messages).
    """

    counts: np.ndarray
    indexes: np.ndarray
    bad_pixels: np.ndarray | None
    detector_pixel_m: tuple[float, float] | None
    source: str
    key: str


def _stack(source: str, key: str, arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 2:
        arr = arr[np.newaxis]
    if arr.ndim != 3 or arr.shape[0] == 0:
        raise ContractError(source, key, "a (P, H, W) stack of patterns with P >= 1", f"shape {arr.shape}")
    if arr.dtype.kind not in "iuf":
        raise ContractError(source, key, "integer or real detector counts", f"dtype {arr.dtype}")
    return arr


def _read_npy(path: Path) -> Patterns:
    source = str(path)
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:  # object arrays need pickle: refused
        raise ContractError(source, None, "a numeric .npy array", " ".join(str(exc).split())) from None
    except (OSError, EOFError) as exc:
        raise ContractError(source, None, "a readable .npy file", " ".join(str(exc).split())) from None
    counts = _stack(source, "<npy>", np.asarray(arr))
    return Patterns(counts, np.arange(counts.shape[0], dtype=np.int64), None, None, source, "<npy>")


def _bad_pixel_mask(source: str, key: str, mask: np.ndarray | None, shape_hw: tuple[int, ...]) -> np.ndarray | None:
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.shape != tuple(shape_hw):
        raise ContractError(source, key, f"a mask of the pattern shape {tuple(shape_hw)}", f"shape {m.shape}")
    return m != 0


def _read_ptychodus_h5(h5: Any, source: str) -> Patterns:
    counts = _stack(source, "patterns", h5_array(h5, "patterns", source))
    indexes = np.asarray(h5_array(h5, "indexes", source)).reshape(-1)
    if indexes.shape[0] != counts.shape[0] or indexes.dtype.kind not in "iu":
        raise ContractError(source, "indexes", f"{counts.shape[0]} integer pattern indexes",
                            f"shape {indexes.shape} dtype {indexes.dtype}")
    ds = h5_dataset(h5, "patterns", source)
    w = h5_attr(ds, "detector_pixel_width_m", source, "/patterns")
    h = h5_attr(ds, "detector_pixel_height_m", source, "/patterns")
    pixel = (w, h) if w is not None and h is not None else None
    bad = _bad_pixel_mask(source, "bad_pixels", h5_array(h5, "bad_pixels", source, required=False), counts.shape[1:])
    return Patterns(counts, indexes.astype(np.int64), bad, pixel, source, "patterns")


def read_cxi_patterns(h5: Any, source: str) -> Patterns:
    """The patterns of an open CXI file (data_1/data, else detector_1/data), mask and pixel size."""
    key = CXI_DATA if h5_has(h5, CXI_DATA, source) else f"{CXI_DETECTOR}/data"
    if not h5_has(h5, key, source):  # e.g. ptychodus's product.cxi, whose patterns are in its diffraction.cxi
        raise ContractError(source, CXI_DATA, "the diffraction patterns (or give them with --diffraction FILE)", "missing")
    counts = _stack(source, key, h5_array(h5, key, source))
    w = h5_scalar(h5, f"{CXI_DETECTOR}/x_pixel_size", source)
    h = h5_scalar(h5, f"{CXI_DETECTOR}/y_pixel_size", source)
    pixel = (w, h) if w is not None and h is not None else None
    mask_key = f"{CXI_DETECTOR}/mask"
    bad = _bad_pixel_mask(source, mask_key, h5_array(h5, mask_key, source, required=False), counts.shape[1:])
    return Patterns(counts, np.arange(counts.shape[0], dtype=np.int64), bad, pixel, source, key)


def read_diffraction(path: str | os.PathLike[str]) -> Patterns:
    """Read a diffraction file in any of the three layouts (module docstring), told apart by content.

    Raises:
        ContractError: unknown layout, missing dataset, wrong shape or dtype (one line naming file and key).
    """
    p = Path(path)
    kind = sniff(p)
    if kind == "npy":
        return _read_npy(p)
    if kind != "hdf5":
        raise ContractError(str(p), None, "a diffraction file (.npy, ptychodus .h5 or CXI)", f"an {kind.upper()} archive")
    with open_h5(p) as h5:
        if h5_has(h5, "patterns", str(p)):
            return _read_ptychodus_h5(h5, str(p))
        if h5_has(h5, "entry_1", str(p)):
            return read_cxi_patterns(h5, str(p))
    raise ContractError(str(p), "patterns", "'/patterns' (ptychodus) or '/entry_1/data_1/data' (CXI)", "neither")


def counts_to_amplitudes(counts: np.ndarray, bad_pixels: np.ndarray | None, source: str,
                         key: str) -> tuple[np.ndarray, list[str]]:
    """Amplitudes sqrt(counts) as float32 (M, H, W), bad pixels set to 0, and the notices saying so.

    Raises:
        ContractError: NaN/inf or negative counts (e.g. after a background subtraction): the square
        root of a negative intensity is not an amplitude, so they are refused rather than clipped.
    """
    c = np.asarray(counts, dtype=np.float64)
    notices: list[str] = []
    if bad_pixels is not None and np.any(bad_pixels):
        c = c.copy()
        c[:, bad_pixels] = 0.0
        notices.append(f"{source}: set {int(np.count_nonzero(bad_pixels))} bad detector pixel(s) to 0 in every pattern")
    if not np.all(np.isfinite(c)):
        raise ContractError(source, key, "finite detector counts", f"{int(np.count_nonzero(~np.isfinite(c)))} NaN/inf values")
    if c.size and float(c.min()) < 0.0:
        raise ContractError(source, key, "non-negative detector counts",
                            f"{int(np.count_nonzero(c < 0))} negative values (minimum {float(c.min()):.6g})")
    dtype = np.asarray(counts).dtype
    notices.append(f"{source}: diffraction stored as intensities (counts, {dtype}); wrote amplitudes sqrt(counts) "
                   "as the data contract requires")
    return np.sqrt(c).astype(np.float32), notices
