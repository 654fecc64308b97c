"""ptychodus product files, NPZ and HDF5, read and written in ptychodus's own layout (specs/convert.md §2.1).

The layouts are those of ptychodus 1.7 (``ptychodus/plugins/npz_product_file.py`` and
``ptychodus.api.io.load_product`` / ``save_product``):

| quantity | NPZ key | HDF5 |
|---|---|---|
| name, comments | ``name``, ``comments`` (0-d str) | root attributes |
| photon energy (eV) | ``photon_energy_eV`` | root attribute |
| sample-detector distance m | ``detector_object_distance_m`` | root attribute |
| position index / x / y (m) | ``probe_position_indexes``, ``_x_m``, ``_y_m`` | datasets of the same names |
| probe (opr, modes, H, W) | ``probe`` | dataset ``probe`` |
| probe pixel size (m) | ``probe_pixel_width_m`` / ``_height_m`` | ``probe`` attributes ``pixel_width_m`` / ``pixel_height_m`` |
| object (layers, H, W) | ``object`` | dataset ``object`` |
| object pixel size (m) | ``object_pixel_width_m`` / ``_height_m`` | ``object`` attributes ``pixel_width_m`` / ``pixel_height_m`` |
| object centre (m) | ``object_center_x_m`` / ``_y_m`` | ``object`` attributes ``center_x_m`` / ``center_y_m`` |

plus scalar metadata (``probe_photon_count``, ``exposure_time_s``, ...), ``object_layer_spacing_m`` and
the loss history ``loss_epochs`` / ``loss_values``, written with ptychodus's defaults. NPZ files are read
with pickle disabled (:func:`ptycho.data_contract.read_npz`); every file is written atomically.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from ptycho.atomic_io import atomic_write, write_npz
from ptycho.convert._files import as_text, h5_array, h5_attr, h5_attr_value, h5_dataset, open_h5
from ptycho.convert.parts import ProductParts
from ptycho.data_contract import ContractError, read_npz

__all__ = ["read_product_npz", "read_product_h5", "write_product", "is_product_npz"]

_POSITION_KEYS = ("probe_position_indexes", "probe_position_x_m", "probe_position_y_m")
#: ptychodus's metadata defaults (ProductMetadata), written so ptychodus reads the file as its own.
_METADATA_DEFAULTS = {
    "probe_photon_count": 0.0,
    "exposure_time_s": 0.0,
    "mass_attenuation_m2_per_kg": 0.0,
    "tomography_angle_deg": 0.0,
    "focus_object_distance_m": 0.0,
    "tilt_angle_deg": 0.0,
}


def is_product_npz(arrays: dict[str, Any]) -> bool:
    """True when an NPZ's keys are those of a ptychodus product (positions in metres and a probe)."""
    return all(k in arrays for k in _POSITION_KEYS) and "probe" in arrays


def _positions(source: str, idx: Any, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xa = np.asarray(x)
    n = xa.shape[0] if xa.ndim == 1 else -1
    for key, arr in zip(_POSITION_KEYS, (idx, x, y), strict=True):
        a = np.asarray(arr)
        if a.ndim != 1 or a.shape[0] != n or n == 0:
            raise ContractError(source, key, "a 1-D array with one entry per position (same length for all three)",
                                f"shape {a.shape}")
        if a.dtype.kind not in ("iu" if key == _POSITION_KEYS[0] else "iuf"):
            raise ContractError(source, key, "integers" if key == _POSITION_KEYS[0] else "real numbers",
                                f"dtype {a.dtype}")
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise ContractError(source, key, "finite positions", "NaN or inf")
    return (np.asarray(idx, dtype=np.int64), np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))


def _complex(source: str, key: str, arr: Any) -> np.ndarray:
    a = np.asarray(arr)
    if a.dtype.kind not in "iufc" or a.ndim < 2:
        raise ContractError(source, key, "a numeric array of at least 2 dimensions", f"shape {a.shape} dtype {a.dtype}")
    return a


def _scalar(arrays: dict[str, Any], key: str, source: str) -> float | None:
    if key not in arrays:
        return None
    a = np.asarray(arrays[key])
    if a.size != 1 or a.dtype.kind not in "iuf":
        raise ContractError(source, key, "a real scalar", f"shape {a.shape} dtype {a.dtype}")
    return float(a.reshape(()))


def _pair(a: float | None, b: float | None) -> tuple[float, float] | None:
    return (a, b) if a is not None and b is not None else None


def read_product_npz(path: str | os.PathLike[str]) -> ProductParts:
    """Read a ptychodus NPZ product (pickle disabled). Raises ContractError naming the key."""
    source = str(path)
    arrays = read_npz(path)
    for key in (*_POSITION_KEYS, "probe"):
        if key not in arrays:
            raise ContractError(source, key, "a ptychodus product key", f"missing (keys present: {', '.join(sorted(arrays))})")
    idx, x, y = _positions(source, *(arrays[k] for k in _POSITION_KEYS))
    obj = _complex(source, "object", arrays["object"]) if "object" in arrays else None
    return ProductParts(
        source=source, position_indexes=idx, x_m=x, y_m=y,
        probe=_complex(source, "probe", arrays["probe"]), probe_key="probe",
        probe_pixel_m=_pair(_scalar(arrays, "probe_pixel_width_m", source), _scalar(arrays, "probe_pixel_height_m", source)),
        object=obj,
        object_pixel_m=_pair(_scalar(arrays, "object_pixel_width_m", source), _scalar(arrays, "object_pixel_height_m", source)),
        object_center_m=_pair(_scalar(arrays, "object_center_x_m", source), _scalar(arrays, "object_center_y_m", source)),
        photon_energy_eV=_scalar(arrays, "photon_energy_eV", source),
        detector_distance_m=_scalar(arrays, "detector_object_distance_m", source),
        name=as_text(arrays.get("name")),
        far_field=bool(np.asarray(arrays.get("far_field", True)).reshape(-1)[0]),
    )


def read_product_h5(path: str | os.PathLike[str]) -> ProductParts:
    """Read a ptychodus HDF5 product. Raises ContractError naming the dataset or attribute."""
    source = str(path)
    with open_h5(path) as h5:
        idx, x, y = _positions(source, *(h5_array(h5, k, source) for k in _POSITION_KEYS))
        probe = _complex(source, "probe", h5_array(h5, "probe", source))
        pds = h5_dataset(h5, "probe", source)
        obj = h5_array(h5, "object", source, required=False)
        obj_pixel = obj_center = None
        if obj is not None:
            obj = _complex(source, "object", obj)
            ods = h5_dataset(h5, "object", source)
            obj_pixel = _pair(h5_attr(ods, "pixel_width_m", source, "/object"), h5_attr(ods, "pixel_height_m", source, "/object"))
            obj_center = _pair(h5_attr(ods, "center_x_m", source, "/object"), h5_attr(ods, "center_y_m", source, "/object"))
        energy = h5_attr(h5, "photon_energy_eV", source, "/")
        if energy is None:  # the attribute's name before ptychodus renamed it
            energy = h5_attr(h5, "probe_energy_eV", source, "/")
        return ProductParts(
            source=source, position_indexes=idx, x_m=x, y_m=y, probe=probe, probe_key="probe",
            probe_pixel_m=_pair(h5_attr(pds, "pixel_width_m", source, "/probe"), h5_attr(pds, "pixel_height_m", source, "/probe")),
            object=obj, object_pixel_m=obj_pixel, object_center_m=obj_center,
            photon_energy_eV=energy,
            detector_distance_m=h5_attr(h5, "detector_object_distance_m", source, "/"),
            name=as_text(h5_attr_value(h5, "name", source, "/")),
            far_field=_far_field(h5_attr_value(h5, "far_field", source, "/"), source),
        )


def _far_field(value: Any, source: str) -> bool:
    """The root attribute ``far_field`` as a bool (True when absent)."""
    arr = np.asarray(True if value is None else value).reshape(-1)
    if arr.size < 1:
        raise ContractError(source, "@far_field", "a boolean attribute", "an empty value")
    return bool(arr[0])


def _probe4(probe: np.ndarray) -> np.ndarray:
    p = np.asarray(probe, dtype=np.complex64)
    while p.ndim < 4:
        p = p[np.newaxis]
    return p


def _object3(obj: np.ndarray) -> np.ndarray:
    o = np.asarray(obj, dtype=np.complex64)
    return o[np.newaxis] if o.ndim == 2 else o


def _require_written(parts: ProductParts) -> tuple[np.ndarray, tuple[float, float], tuple[float, float]]:
    if parts.object is None or parts.object_pixel_m is None or parts.object_center_m is None:
        raise ValueError("write_product: parts: expected an object with its pixel size and centre, found none")
    probe_pixel = parts.probe_pixel_m or parts.object_pixel_m
    return _object3(parts.object), parts.object_pixel_m, probe_pixel


def _npz_arrays(parts: ProductParts, comments: str) -> dict[str, Any]:
    obj, opix, ppix = _require_written(parts)
    out: dict[str, Any] = {
        "name": np.array(parts.name or "Unnamed"),
        "comments": np.array(comments),
        "detector_object_distance_m": np.float64(parts.detector_distance_m or 0.0),
        "photon_energy_eV": np.float64(parts.photon_energy_eV or 0.0),
    }
    out.update({k: np.float64(v) for k, v in _METADATA_DEFAULTS.items()})
    out["far_field"] = np.bool_(True)
    out["probe_position_indexes"] = np.asarray(parts.position_indexes, dtype=np.int64)
    out["probe_position_x_m"] = np.asarray(parts.x_m, dtype=np.float64)
    out["probe_position_y_m"] = np.asarray(parts.y_m, dtype=np.float64)
    out["probe"] = _probe4(parts.probe)
    out["probe_pixel_width_m"], out["probe_pixel_height_m"] = np.float64(ppix[0]), np.float64(ppix[1])
    out["object"] = obj
    out["object_center_x_m"] = np.float64(parts.object_center_m[0])  # type: ignore[index]
    out["object_center_y_m"] = np.float64(parts.object_center_m[1])  # type: ignore[index]
    out["object_pixel_width_m"], out["object_pixel_height_m"] = np.float64(opix[0]), np.float64(opix[1])
    out["object_layer_spacing_m"] = np.zeros(0, dtype=np.float64)
    out["loss_epochs"] = np.zeros(0, dtype=np.int64)
    out["loss_values"] = np.zeros(0, dtype=np.float64)
    return out


def _h5_bytes(parts: ProductParts, comments: str) -> bytes:
    import h5py

    a = _npz_arrays(parts, comments)
    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5:
        h5.attrs["name"] = str(a["name"])
        h5.attrs["comments"] = comments
        for key in ("detector_object_distance_m", "photon_energy_eV", *_METADATA_DEFAULTS):
            h5.attrs[key] = float(a[key])
        h5.attrs["far_field"] = True
        for key in _POSITION_KEYS:
            h5.create_dataset(key, data=a[key])
        probe = h5.create_dataset("probe", data=a["probe"])
        probe.attrs["pixel_width_m"] = float(a["probe_pixel_width_m"])
        probe.attrs["pixel_height_m"] = float(a["probe_pixel_height_m"])
        obj = h5.create_dataset("object", data=a["object"])
        for attr, key in (("center_x_m", "object_center_x_m"), ("center_y_m", "object_center_y_m"),
                          ("pixel_width_m", "object_pixel_width_m"), ("pixel_height_m", "object_pixel_height_m")):
            obj.attrs[attr] = float(a[key])
        for key in ("object_layer_spacing_m", "loss_epochs", "loss_values"):
            h5.create_dataset(key, data=a[key])
    return buf.getvalue()


def write_product(path: str | os.PathLike[str], parts: ProductParts, comments: str = "") -> str:
    """Write ``parts`` as a ptychodus product, HDF5 for ``.h5``/``.hdf5``, NPZ for ``.npz``; atomically.

    ``parts.object`` (H, W) or (layers, H, W) with its pixel size and centre is required; the probe pixel
    size defaults to the object's. Returns ``'HDF5'`` or ``'NPZ'`` (ptychodus's names of the two formats).

    Raises:
        ValueError: unknown suffix or no object (naming the argument).
    """
    suffix = Path(path).suffix.lower()
    if suffix in (".h5", ".hdf5"):
        data = _h5_bytes(parts, comments)
        with atomic_write(path, "wb") as fh:
            fh.write(data)
        return "HDF5"
    if suffix == ".npz":
        arrays = _npz_arrays(parts, comments)
        with atomic_write(path, "wb") as fh:
            write_npz(fh, arrays)
        return "NPZ"
    raise ValueError(f"write_product: path: expected a name ending in .h5, .hdf5 or .npz, found {str(path)!r}")
