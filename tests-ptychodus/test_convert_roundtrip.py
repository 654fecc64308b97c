"""``ptycho convert`` against ptychodus 1.7's own readers and writers (specs/convert.md, issue 16 item 3).

ptychodus writes products (NPZ, HDF5, CXI) and diffraction files (NPY, HDF5, CXI) with its own plugins; we
convert them and compare the object-pixel positions with ptychodus's own mapping
(``ObjectGeometry.map_probe_positions_to_object_x_px``, the one its PtychoPINN export uses) and the
amplitudes with sqrt(counts). Reconstructions we write as products are opened by ptychodus's readers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ptychodus.api.assemble import AssembledDiffractionData
from ptychodus.api.diffraction import (
    DiffractionDatasetLayoutNode,
    DiffractionMetadata,
    SimpleDiffractionArray,
    SimpleDiffractionDataset,
)
from ptychodus.api.geometry import ImageExtent, PixelGeometry
from ptychodus.api.io import save_diffraction_data
from ptychodus.api.object import Object, ObjectCenter
from ptychodus.api.probe import ProbeSequence
from ptychodus.api.probe_positions import ProbePosition, ProbePositionSequence
from ptychodus.api.product import Product, ProductMetadata
from ptychodus.plugins.cxi_file import CXIDiffractionFileWriter, CXIProductFileIO
from ptychodus.plugins.h5_product_file import H5ProductFileIO
from ptychodus.plugins.npy_diffraction_file import NPYDiffractionFileIO
from ptychodus.plugins.npz_product_file import NPZProductFileIO

from ptycho.convert import convert_to_npz, reconstruction_to_product
from ptycho.data_contract import validate_npz

N, M = 64, 15
DX = 1.7e-8
ENERGY_EV, DIST_M, DET_PIX_M = 10000.0, 1.5, 55e-6


@pytest.fixture(scope="module")
def scene():
    """A ptychodus Product (object 140 x 160, indexes 10..24) and its integer counts."""
    rng = np.random.default_rng(7)
    x_m = 2e-7 + rng.uniform(-45, 45, M) * DX
    y_m = -1e-7 + rng.uniform(-35, 35, M) * DX
    positions = ProbePositionSequence([ProbePosition(10 + i, float(x), float(y)) for i, (x, y) in enumerate(zip(x_m, y_m, strict=True))])
    yy, xx = np.mgrid[:N, :N] - N / 2
    probe = (np.exp(-(xx**2 + yy**2) / 150.0) * np.exp(0.02j * yy)).astype(np.complex64)
    obj = np.exp(1j * rng.uniform(-1, 1, (140, 160))).astype(np.complex64)
    product = Product(
        metadata=ProductMetadata(name="sim", comments="", detector_distance_m=DIST_M, photon_energy_eV=ENERGY_EV,
                                 probe_photon_count=0.0, exposure_time_s=0.0, mass_attenuation_m2_per_kg=0.0,
                                 tomography_angle_deg=0.0),
        probe_positions=positions,
        probes=ProbeSequence(array=probe, opr_weights=None, pixel_geometry=PixelGeometry(DX, DX)),
        object_=Object(array=obj, pixel_geometry=PixelGeometry(DX, DX), center=ObjectCenter(2e-7, -1e-7)),
        losses=[],
    )
    counts = rng.poisson(30.0, (M, N, N)).astype(np.uint16)
    return product, counts


def _dataset(counts: np.ndarray, indexes: np.ndarray) -> SimpleDiffractionDataset:
    meta = DiffractionMetadata(num_patterns_per_array=[len(counts)], pattern_dtype=counts.dtype,
                               detector_extent=ImageExtent(N, N), detector_distance_m=DIST_M,
                               detector_pixel_geometry=PixelGeometry(DET_PIX_M, DET_PIX_M), photon_energy_eV=ENERGY_EV)
    return SimpleDiffractionDataset(meta, DiffractionDatasetLayoutNode.create_root(),
                                    [SimpleDiffractionArray("scan", indexes, counts)])


def _expected_px(product: Product) -> tuple[np.ndarray, np.ndarray]:
    geometry = product.object_.get_geometry()
    return (geometry.map_probe_positions_to_object_x_px(product.probe_positions),
            geometry.map_probe_positions_to_object_y_px(product.probe_positions))


@pytest.mark.parametrize("product_kind", ["NPZ", "HDF5", "CXI"])
def test_ptychodus_written_products_convert_with_ptychodus_geometry(tmp_path: Path, scene, product_kind: str) -> None:
    """specs/convert.md §2-§4: every ptychodus product format, with a diffraction file ptychodus wrote."""
    product, counts = scene
    indexes = np.arange(10, 10 + M)
    # NPY and CXI patterns are indexed by row: rows 0..9 belong to no position, rows 10.. to the product's
    by_row = np.concatenate([np.zeros((10, N, N), counts.dtype), counts])
    if product_kind == "NPZ":
        NPZProductFileIO().write(tmp_path / "product.npz", product)
        src = tmp_path / "product.npz"
        NPYDiffractionFileIO().write(tmp_path / "diffraction.npy", _dataset(by_row, np.arange(10 + M)))
        diffraction = tmp_path / "diffraction.npy"
    elif product_kind == "HDF5":
        H5ProductFileIO().write(tmp_path / "product.h5", product)
        src = tmp_path / "product.h5"
        bad = np.zeros((N, N), bool)
        bad[0, :3] = True
        save_diffraction_data(tmp_path / "diffraction.h5",
                              AssembledDiffractionData(indexes, counts, PixelGeometry(DET_PIX_M, DET_PIX_M), bad))
        diffraction = tmp_path / "diffraction.h5"
    else:
        CXIProductFileIO().write(tmp_path / "product.cxi", product)
        src = tmp_path / "product.cxi"
        CXIDiffractionFileWriter().write(tmp_path / "diffraction.cxi", _dataset(by_row, np.arange(10 + M)))
        diffraction = tmp_path / "diffraction.cxi"
    conv = convert_to_npz(src, tmp_path / "scan.npz", diffraction=diffraction)
    data = validate_npz(tmp_path / "scan.npz")
    assert data["M"] == M
    x_px, y_px = _expected_px(product)
    np.testing.assert_allclose(data["xcoords"], x_px, atol=1e-9)
    np.testing.assert_allclose(data["ycoords"], y_px, atol=1e-9)
    expected = np.sqrt(counts.astype(np.float64))
    if product_kind == "HDF5":
        expected[:, 0, :3] = 0.0
    np.testing.assert_array_equal(data["diffraction"], expected.astype(np.float32))
    np.testing.assert_array_equal(data["probeGuess"], product.probes.get_array()[0, 0])
    np.testing.assert_array_equal(data["objectGuess"], product.object_.get_array()[0])
    assert conv.metadata["convert"]["object_pixel_size_m"] == pytest.approx([DX, DX], rel=1e-12)
    if product_kind != "HDF5":  # rows 0..9 of the NPY / CXI file
        assert any("10 pattern(s) have no position" in n for n in conv.notices)


@pytest.mark.parametrize("suffix, reader", [(".h5", H5ProductFileIO), (".npz", NPZProductFileIO)])
def test_reconstruction_written_back_opens_in_ptychodus(tmp_path: Path, scene, suffix: str, reader) -> None:
    """specs/convert.md §7: ptychodus reads our product; its positions are the original metres, and
    ptychodus maps each onto the reconstruction canvas at column x_px - origin_x."""
    product, counts = scene
    H5ProductFileIO().write(tmp_path / "product.h5", product)
    save_diffraction_data(tmp_path / "diffraction.h5", AssembledDiffractionData(
        np.arange(10, 10 + M), counts, PixelGeometry(DET_PIX_M, DET_PIX_M), np.zeros((N, N), bool)))
    convert_to_npz(tmp_path / "product.h5", tmp_path / "scan.npz", diffraction=tmp_path / "diffraction.h5")
    scan = validate_npz(tmp_path / "scan.npz")
    canvas = product.object_.get_array()[0, 12:120, 8:150]
    np.savez(tmp_path / "recon.npz", reconstruction=canvas, origin_xy=np.array([8.0, 12.0]))
    reconstruction_to_product(tmp_path / "recon.npz", tmp_path / "scan.npz", tmp_path / f"out{suffix}")
    back = reader().read(tmp_path / f"out{suffix}")
    np.testing.assert_allclose(back.probe_positions.get_coordinates_x_m(), product.probe_positions.get_coordinates_x_m(),
                               rtol=0, atol=1e-15)
    np.testing.assert_allclose(back.probe_positions.get_coordinates_y_m(), product.probe_positions.get_coordinates_y_m(),
                               rtol=0, atol=1e-15)
    np.testing.assert_array_equal(back.probe_positions.get_indexes(), np.arange(10, 10 + M))
    np.testing.assert_array_equal(back.object_.get_array()[0], canvas)
    np.testing.assert_array_equal(back.probes.get_array()[0, 0], scan["probeGuess"])
    assert back.metadata.photon_energy_eV == ENERGY_EV and back.metadata.detector_distance_m == DIST_M
    geometry = back.object_.get_geometry()
    assert geometry.pixel_width_m == pytest.approx(DX, rel=1e-12)
    np.testing.assert_allclose(geometry.map_probe_positions_to_object_x_px(back.probe_positions), scan["xcoords"] - 8.0, atol=1e-9)
    np.testing.assert_allclose(geometry.map_probe_positions_to_object_y_px(back.probe_positions), scan["ycoords"] - 12.0, atol=1e-9)
