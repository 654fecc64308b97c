"""CXI files (Coherent X-ray Imaging format 1.x, HDF5) read as a scan (specs/convert.md §2.2).

Paths read (all under ``/entry_1``; quantities in SI units as the CXI specification says):

| path | meaning |
|---|---|
| ``data_1/data`` | (P, H, W) detector counts (else ``instrument_1/detector_1/data``) |
| ``instrument_1/detector_1/distance`` | sample-detector distance, m |
| ``instrument_1/detector_1/x_pixel_size``, ``y_pixel_size`` | detector pixel pitch, m |
| ``instrument_1/detector_1/mask`` | (H, W) pixel mask, non-zero = bad pixel |
| ``instrument_1/source_1/energy`` | photon energy, **joules** |
| ``sample_1/geometry_1/translation`` | (P, 3) probe positions [x, y, z], m (else ``data_1/translation``) |
| ``image_1/data`` | probe (else ``instrument_1/source_1/illumination``) |
| ``image_1/image_size``, ``image_2/...`` | physical extent [width, height, depth] of probe / object, m |
| ``image_2/data`` | object (optional) |
| ``ptychodus/...`` | ptychodus's extension: ``probe_position_indexes``, probe and object pixel sizes, object centre (used when present) |

Positions are read as ptychodus reads and writes them: translation column 0 is x, column 1 is y.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ptycho.convert._files import as_text, h5_array, h5_has, h5_scalar, open_h5
from ptycho.convert.diffraction import Patterns, read_cxi_patterns
from ptycho.convert.geometry import ELECTRON_VOLT_J
from ptycho.convert.parts import ProductParts
from ptycho.data_contract import ContractError

__all__ = ["read_cxi", "is_cxi"]

_E = "/entry_1"
_PT = "/entry_1/ptychodus"


def is_cxi(h5: Any) -> bool:
    """True for an open HDF5 file with the CXI entry group."""
    return h5_has(h5, "entry_1")


def _pixel_pair(h5: Any, source: str, width_key: str, height_key: str) -> tuple[float, float] | None:
    w = h5_scalar(h5, width_key, source)
    h = h5_scalar(h5, height_key, source)
    return (w, h) if w is not None and h is not None else None


def _pixel_from_extent(h5: Any, source: str, image: str, shape: tuple[int, ...]) -> tuple[float, float] | None:
    size = h5_array(h5, f"{image}/image_size", source, required=False)
    if size is None:
        return None
    s = np.asarray(size, dtype=np.float64).reshape(-1)
    if s.size < 2 or not np.all(np.isfinite(s[:2])) or np.any(s[:2] <= 0):
        raise ContractError(source, f"{image}/image_size", "a positive [width, height, ...] in metres", f"{s.tolist()}")
    return (float(s[0]) / shape[-1], float(s[1]) / shape[-2])


def _translation(h5: Any, source: str) -> tuple[str, np.ndarray]:
    for key in (f"{_E}/sample_1/geometry_1/translation", f"{_E}/data_1/translation"):
        if h5_has(h5, key, source):
            t = np.asarray(h5_array(h5, key, source))
            if t.ndim != 2 or t.shape[1] < 2 or t.shape[0] == 0 or t.dtype.kind not in "iuf":
                raise ContractError(source, key, "a (P, 3) array of positions in metres", f"shape {t.shape} dtype {t.dtype}")
            if not np.all(np.isfinite(t[:, :2])):
                raise ContractError(source, key, "finite positions", "NaN or inf")
            return key, t.astype(np.float64)
    raise ContractError(source, f"{_E}/sample_1/geometry_1/translation", "the probe positions (P, 3) in metres", "missing")


def _probe(h5: Any, source: str) -> tuple[str, np.ndarray, tuple[float, float] | None]:
    for key, image in ((f"{_E}/image_1/data", f"{_E}/image_1"), (f"{_E}/instrument_1/source_1/illumination", "")):
        if h5_has(h5, key, source):
            arr = np.asarray(h5_array(h5, key, source))
            if arr.ndim < 2 or arr.dtype.kind not in "iufc":
                raise ContractError(source, key, "a probe array (..., H, W)", f"shape {arr.shape} dtype {arr.dtype}")
            pixel = _pixel_pair(h5, source, f"{_PT}/probe_pixel_width_m", f"{_PT}/probe_pixel_height_m")
            if pixel is None and image:
                pixel = _pixel_from_extent(h5, source, image, arr.shape)
            return key, arr, pixel
    raise ContractError(source, f"{_E}/image_1/data", "a probe (or /entry_1/instrument_1/source_1/illumination)", "missing")


def read_cxi(path: str | os.PathLike[str], with_patterns: bool = True) -> tuple[ProductParts, Patterns | None]:
    """Read a CXI file's positions, probe, optional object, geometry and (if ``with_patterns``) patterns.

    Returns:
        (parts, patterns): positions in metres with their pattern indexes, probe as stored, object or
        None, pixel sizes and centre where the file records them; the patterns of :func:`read_cxi_patterns`
        (None when not ``with_patterns``: a ptychodus ``product.cxi`` keeps them in a separate file).

    Raises:
        ContractError: a missing or malformed dataset, named by its path.
    """
    source = str(path)
    with open_h5(path) as h5:
        if not is_cxi(h5):
            raise ContractError(source, _E, "the CXI entry group", "missing")
        patterns = read_cxi_patterns(h5, source) if with_patterns else None
        tkey, trans = _translation(h5, source)
        idx = h5_array(h5, f"{_PT}/probe_position_indexes", source, required=False)
        if idx is None:
            idx = np.arange(trans.shape[0], dtype=np.int64)
        idx = np.asarray(idx).reshape(-1)
        if idx.shape[0] != trans.shape[0] or idx.dtype.kind not in "iu":
            raise ContractError(source, f"{_PT}/probe_position_indexes", f"{trans.shape[0]} integer indexes (one per row of {tkey})",
                                f"shape {idx.shape} dtype {idx.dtype}")
        probe_key, probe, probe_pixel = _probe(h5, source)
        obj = h5_array(h5, f"{_E}/image_2/data", source, required=False)
        obj_pixel = obj_center = None
        if obj is not None:
            obj_pixel = _pixel_pair(h5, source, f"{_PT}/object_pixel_width_m", f"{_PT}/object_pixel_height_m")
            if obj_pixel is None:
                obj_pixel = _pixel_from_extent(h5, source, f"{_E}/image_2", obj.shape)
            cx = h5_scalar(h5, f"{_PT}/object_center_x_m", source)
            cy = h5_scalar(h5, f"{_PT}/object_center_y_m", source)
            obj_center = (cx, cy) if cx is not None and cy is not None else None
        energy_j = h5_scalar(h5, f"{_E}/instrument_1/source_1/energy", source)
        parts = ProductParts(
            source=source, position_indexes=idx.astype(np.int64), x_m=trans[:, 0].copy(), y_m=trans[:, 1].copy(),
            probe=probe, probe_key=probe_key, probe_pixel_m=probe_pixel,
            object=obj, object_pixel_m=obj_pixel, object_center_m=obj_center,
            photon_energy_eV=None if energy_j is None else energy_j / ELECTRON_VOLT_J,
            detector_distance_m=h5_scalar(h5, f"{_E}/instrument_1/detector_1/distance", source),
            name=as_text(h5_array(h5, f"{_E}/title", source, required=False)),
        )
    return parts, patterns
