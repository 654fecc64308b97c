"""Shared fixtures of the ptychodus integration tests (specs/ptychodus.md §6).

``write_scan`` simulates a small scan with ``ptycho.simulation`` and writes it the way a beamline user hands
it to ptychodus: the diffraction patterns as integer detector counts in an ``.npy`` file (what ptychodus's
'NPY' diffraction reader loads) and the scan geometry as a ptychodus 'NPZ' product (positions in metres,
probe, object with its pixel size and centre). Fixtures: ``ptychodus_scan``, one such scan per test
session; ``scan_writer``, the function itself for tests that need another size or seed (test modules run
with ``--import-mode=importlib`` and cannot import this file).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from ptycho.simulation import simulate

#: Object pixel size of the written products (metres); positions scale with it.
PIXEL_M = 10e-9
#: Photon energy (eV) and ptychodus's default detector pixel (m); the detector distance written makes
#: ptychodus's far-field object pixel lambda * z / (N * detector pixel) equal PIXEL_M.
PHOTON_ENERGY_EV, DETECTOR_PIXEL_M = 10000.0, 75e-6


def detector_distance_m(N: int) -> float:
    """Detector distance (m) at which ptychodus samples the object at PIXEL_M for N-pixel patterns."""
    wavelength_m = 1.23984198e-6 / PHOTON_ENERGY_EV
    return PIXEL_M * N * DETECTOR_PIXEL_M / wavelength_m


@dataclass(frozen=True)
class Scan:
    """A simulated scan as files ptychodus reads, and the arrays they were written from.

    diffraction_npy: (M, N, N) uint32 detector counts. product_npz: ptychodus NPZ product whose object has
    ``object_shape`` pixels of PIXEL_M centred at (0, 0) m. counts: the (M, N, N) counts; amplitudes: their
    square roots (float32); x_px, y_px: (M,) positions in object pixels; probe: (N, N) or (K, N, N) modes; obj:
    the true object.
    """

    diffraction_npy: Path
    product_npz: Path
    counts: np.ndarray
    amplitudes: np.ndarray
    x_px: np.ndarray
    y_px: np.ndarray
    probe: np.ndarray
    obj: np.ndarray

    @property
    def object_shape(self) -> tuple[int, int]:
        return tuple(self.obj.shape)  # type: ignore[return-value]


def write_scan(folder: Path, *, n_positions: int = 48, seed: int = 3, N: int = 64, nphotons: float = 1e6,
               object_size: int = 128, **simulate_kw) -> Scan:
    """Simulate a 'lines' scan (Fermat spiral) and write it as ptychodus input files into ``folder``.
    ``simulate_kw`` go to ``simulate`` (e.g. ``probe_modes=3``: the product's probe is then (1, 3, N, N))."""
    folder.mkdir(parents=True, exist_ok=True)
    sim = simulate("lines", N=N, n_positions=n_positions, seed=seed, nphotons=nphotons, object_size=object_size,
                   **simulate_kw)
    probe = np.asarray(sim["probeGuess"], np.complex64)
    probe = probe.reshape((1, -1, N, N))  # ptychodus's (OPR variants, incoherent modes, N, N)
    s = float(sim["sim_intensity_scale"])
    counts = np.rint((s * sim["diffraction"].astype(np.float64)) ** 2).astype(np.uint32)
    obj = np.asarray(sim["objectGuess"], np.complex64)
    h, w = obj.shape
    x_px, y_px = np.asarray(sim["xcoords"]), np.asarray(sim["ycoords"])
    diffraction_npy = folder / "diffraction.npy"
    np.save(diffraction_npy, counts)
    product_npz = folder / "product.npz"
    np.savez(
        product_npz,
        name=np.array("simulated"), comments=np.array(""),
        detector_object_distance_m=np.float64(detector_distance_m(N)), photon_energy_eV=np.float64(PHOTON_ENERGY_EV),
        probe_position_indexes=np.arange(len(x_px)),
        probe_position_x_m=(x_px - (w - 1) / 2) * PIXEL_M,
        probe_position_y_m=(y_px - (h - 1) / 2) * PIXEL_M,
        probe=probe,
        probe_pixel_width_m=np.float64(PIXEL_M), probe_pixel_height_m=np.float64(PIXEL_M),
        object=obj[None], object_center_x_m=np.float64(0.0), object_center_y_m=np.float64(0.0),
        object_pixel_width_m=np.float64(PIXEL_M), object_pixel_height_m=np.float64(PIXEL_M),
        object_layer_spacing_m=np.zeros(0),
    )
    return Scan(diffraction_npy, product_npz, counts, np.sqrt(counts.astype(np.float64)).astype(np.float32),
                x_px, y_px, np.asarray(sim["probeGuess"], np.complex64), obj)


@pytest.fixture(scope="session")
def ptychodus_scan(tmp_path_factory) -> Scan:
    """One small simulated scan (48 positions, N = 64, 128 x 128 object) for the whole session."""
    return write_scan(tmp_path_factory.mktemp("scan"))


@pytest.fixture(scope="session")
def scan_writer():
    """``write_scan(folder, *, n_positions=48, seed=3, N=64, nphotons=1e6, object_size=128, **simulate_kw) -> Scan``."""
    return write_scan
