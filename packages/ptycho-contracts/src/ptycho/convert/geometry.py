"""Physical scan geometry: photon wavelength, object pixel size, metres <-> object pixels.

Normative text: specs/convert.md §3. The mapping between a probe position in metres and an object-pixel
coordinate is ptychodus's own (``ObjectGeometry.map_probe_positions_to_object_x_px``): an object of
``W`` columns whose centre lies at ``center_x_m`` puts position ``x_m`` at column

    x_px = (x_m - center_x_m) / pixel_width_m + (W - 1) / 2

and likewise for rows with the height. Its inverse turns object pixels back into metres. When a file
holds no pixel size, the far-field sampling gives it: ``dx = lambda * z / (N * p)`` for wavelength
``lambda`` (m), sample-detector distance ``z`` (m), ``N`` detector pixels across and detector pixel
pitch ``p`` (m).
"""

from __future__ import annotations

import math

import numpy as np

from ptycho.data_contract import ContractError

__all__ = [
    "PLANCK_J_S",
    "LIGHT_SPEED_M_S",
    "ELECTRON_VOLT_J",
    "wavelength_m",
    "far_field_pixel_size",
    "positions_to_pixels",
    "pixels_to_positions",
    "implied_frame",
]

#: SI defining constants (exact since 2019).
PLANCK_J_S = 6.62607015e-34
LIGHT_SPEED_M_S = 299792458.0
ELECTRON_VOLT_J = 1.602176634e-19


def _positive(source: str, key: str, value: float | None, what: str) -> float:
    """``value`` as a float if it is finite and > 0, else a ContractError naming ``key``."""
    if value is None:
        raise ContractError(source, key, what, "nothing (the file does not record it)")
    v = float(value)
    if not math.isfinite(v) or v <= 0.0:
        raise ContractError(source, key, what, f"{v!r}")
    return v


def wavelength_m(energy_eV: float, source: str = "<geometry>", key: str = "photon_energy_eV") -> float:  # noqa: N803
    """Photon wavelength in metres for a photon energy in electron-volts: ``h c / (E e)``."""
    e = _positive(source, key, energy_eV, "a photon energy > 0 eV")
    return PLANCK_J_S * LIGHT_SPEED_M_S / (e * ELECTRON_VOLT_J)


def far_field_pixel_size(energy_eV: float | None, distance_m: float | None,  # noqa: N803
                         detector_pixel_m: float | None, n: int, source: str = "<geometry>",
                         keys: tuple[str, str, str] = ("photon_energy_eV", "detector_distance_m",
                                                       "detector_pixel_size_m")) -> float:
    """Object pixel size (m) of a far-field pattern of ``n`` pixels: ``lambda z / (n p)``.

    Args:
        energy_eV: photon energy (eV); distance_m: sample-detector distance (m);
        detector_pixel_m: detector pixel pitch (m) along the axis; n: pattern pixels along that axis.
        source, keys: the file and the three key names used in error messages.

    Raises:
        ContractError: a quantity is missing, zero, negative or not finite.
    """
    lam = wavelength_m(_positive(source, keys[0], energy_eV, "a photon energy > 0 eV"), source, keys[0])
    z = _positive(source, keys[1], distance_m, "a sample-detector distance > 0 m")
    p = _positive(source, keys[2], detector_pixel_m, "a detector pixel size > 0 m")
    return lam * z / (int(n) * p)


def positions_to_pixels(x_m: np.ndarray, y_m: np.ndarray, center_m: tuple[float, float],
                        pixel_m: tuple[float, float], shape_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Object-pixel coordinates (x = column, y = row) of positions given in metres.

    Args:
        x_m, y_m: (M,) positions, metres.
        center_m: (x, y) of the object's centre, metres.
        pixel_m: (width, height) of one object pixel, metres.
        shape_hw: (H, W) of the object frame, pixels.

    Returns:
        (x_px, y_px), each (M,) float64.
    """
    h, w = int(shape_hw[0]), int(shape_hw[1])
    x = (np.asarray(x_m, dtype=np.float64) - center_m[0]) / pixel_m[0] + (w - 1) / 2.0
    y = (np.asarray(y_m, dtype=np.float64) - center_m[1]) / pixel_m[1] + (h - 1) / 2.0
    return x, y


def pixels_to_positions(x_px: np.ndarray, y_px: np.ndarray, center_m: tuple[float, float],
                        pixel_m: tuple[float, float], shape_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`positions_to_pixels`: object pixels -> metres, each (M,) float64."""
    h, w = int(shape_hw[0]), int(shape_hw[1])
    x = center_m[0] + (np.asarray(x_px, dtype=np.float64) - (w - 1) / 2.0) * pixel_m[0]
    y = center_m[1] + (np.asarray(y_px, dtype=np.float64) - (h - 1) / 2.0) * pixel_m[1]
    return x, y


def implied_frame(x_m: np.ndarray, y_m: np.ndarray, pixel_m: tuple[float, float],
                  n: int) -> tuple[tuple[float, float], tuple[int, int]]:
    """Object frame (centre in metres, (H, W) in pixels) for a scan that comes without an object.

    The frame is centred on the middle of the positions' bounding box and is ``N`` pixels wider and
    taller than the scanned span (rounded up), so every N x N patch lies inside it.
    """
    x = np.asarray(x_m, dtype=np.float64)
    y = np.asarray(y_m, dtype=np.float64)
    center = (float(x.min() + x.max()) / 2.0, float(y.min() + y.max()) / 2.0)
    w = int(math.ceil((float(x.max() - x.min())) / pixel_m[0])) + int(n)
    h = int(math.ceil((float(y.max() - y.min())) / pixel_m[1])) + int(n)
    return center, (h, w)
