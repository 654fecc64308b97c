"""What a ptychodus product (or the product half of a CXI file) says about a scan (specs/convert.md §2).

Readers of each format fill a :class:`ProductParts`; :mod:`ptycho.convert.assemble` turns it and the
patterns into the arrays of the data contract.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ProductParts"]


@dataclass
class ProductParts:
    """A scan's positions, probe, object and geometry as a product file holds them.

    Attributes:
        source: the file (for messages).
        position_indexes: (P,) int64 pattern index of each position.
        x_m, y_m: (P,) float64 probe positions, metres.
        probe: complex probe array as stored: (H, W), (modes, H, W) or (opr, modes, H, W).
        probe_key: the key/path of the probe (for messages).
        probe_pixel_m: (width, height) of a probe pixel in metres, or None.
        object: complex object as stored, (H, W) or (layers, H, W), or None.
        object_pixel_m: (width, height) of an object pixel in metres, or None.
        object_center_m: (x, y) of the object's centre in metres, or None.
        photon_energy_eV: photon energy, or None; detector_distance_m: sample-detector distance, or None.
        name: the product's name ('' if none).
        far_field: False for a near-field (Fresnel) product, which the far-field models cannot use.
    """

    source: str
    position_indexes: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    probe: np.ndarray
    probe_key: str
    probe_pixel_m: tuple[float, float] | None
    object: np.ndarray | None
    object_pixel_m: tuple[float, float] | None
    object_center_m: tuple[float, float] | None
    photon_energy_eV: float | None  # noqa: N815
    detector_distance_m: float | None
    name: str = ""
    far_field: bool = True
