"""ptychodus and CXI files -> the data contract, and reconstructions back (specs/convert.md).

The input files are written here with numpy / h5py in the layouts ptychodus 1.7 reads and writes
(specs/convert.md §2), independently of ptychodus; coordinates are checked against the closed form
x_px = (x_m - centre) / pixel + (W - 1) / 2 and pixel sizes against lambda * z / (N * p).
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from ptycho.convert import (
    convert_scan,
    convert_to_npz,
    far_field_pixel_size,
    pixels_to_positions,
    positions_to_pixels,
    reconstruction_to_product,
    wavelength_m,
)
from ptycho.data_contract import ContractError, read_npz, validate_npz

N = 64
HC_EV_M = 6.62607015e-34 * 299792458.0 / 1.602176634e-19  # h c / e, eV * m
ENERGY_EV, DIST_M, DET_PIX_M = 8000.0, 2.0, 75e-6
DX = HC_EV_M / ENERGY_EV * DIST_M / (N * DET_PIX_M)  # far-field object pixel, metres
OBJ_HW = (150, 170)
CENTRE = (3.0e-6, -2.0e-6)


def _scene(seed: int = 0, m: int = 12):
    """Designed scan: object-pixel positions (cols, rows), their metres, int counts, probe, object."""
    rng = np.random.default_rng(seed)
    cols = rng.uniform(40.0, OBJ_HW[1] - 40.0, m)
    rows = rng.uniform(40.0, OBJ_HW[0] - 40.0, m)
    x_m = CENTRE[0] + (cols - (OBJ_HW[1] - 1) / 2) * DX
    y_m = CENTRE[1] + (rows - (OBJ_HW[0] - 1) / 2) * DX
    counts = rng.poisson(50.0, (m, N, N)).astype(np.uint32)
    yy, xx = np.mgrid[:N, :N] - N / 2
    probe = (np.exp(-(xx**2 + yy**2) / 200.0) * np.exp(0.01j * xx)).astype(np.complex64)
    obj = np.exp(1j * rng.uniform(-1, 1, OBJ_HW)).astype(np.complex64)
    return cols, rows, x_m, y_m, counts, probe, obj


def _product_npz(path, x_m, y_m, probe, obj, indexes=None, probe4=None):
    """A product as ptychodus's NPZProductFileIO.write writes it (numpy.savez, flat keys)."""
    m = len(x_m)
    np.savez(path, name="scan", comments="", detector_object_distance_m=DIST_M, photon_energy_eV=ENERGY_EV,
             probe_photon_count=0.0, exposure_time_s=0.0, mass_attenuation_m2_per_kg=0.0, tomography_angle_deg=0.0,
             focus_object_distance_m=0.0, tilt_angle_deg=0.0, far_field=True,
             probe_position_indexes=np.arange(m) if indexes is None else indexes,
             probe_position_x_m=x_m, probe_position_y_m=y_m,
             probe=probe[None, None] if probe4 is None else probe4, probe_pixel_width_m=DX, probe_pixel_height_m=DX,
             object=obj[None], object_center_x_m=CENTRE[0], object_center_y_m=CENTRE[1],
             object_pixel_width_m=DX, object_pixel_height_m=DX, object_layer_spacing_m=np.zeros(0),
             loss_epochs=np.zeros(0, int), loss_values=np.zeros(0))


def _product_h5(path, x_m, y_m, probe, obj):
    """A product as ptychodus.api.io.save_product writes it (root attributes, dataset attributes)."""
    with h5py.File(path, "w") as f:
        f.attrs["name"] = "scan"
        f.attrs["detector_object_distance_m"] = DIST_M
        f.attrs["photon_energy_eV"] = ENERGY_EV
        f.create_dataset("probe_position_indexes", data=np.arange(len(x_m)))
        f.create_dataset("probe_position_x_m", data=x_m)
        f.create_dataset("probe_position_y_m", data=y_m)
        p = f.create_dataset("probe", data=probe[None, None])
        p.attrs["pixel_width_m"] = p.attrs["pixel_height_m"] = DX
        o = f.create_dataset("object", data=obj[None])
        o.attrs["center_x_m"], o.attrs["center_y_m"] = CENTRE
        o.attrs["pixel_width_m"] = o.attrs["pixel_height_m"] = DX


def _diffraction_h5(path, counts, bad=None, indexes=None):
    """Patterns as ptychodus.api.io.save_diffraction_data writes them."""
    with h5py.File(path, "w") as f:
        f.create_dataset("indexes", data=np.arange(len(counts)) if indexes is None else indexes)
        d = f.create_dataset("patterns", data=counts, compression="lzf")
        d.attrs["detector_pixel_width_m"] = d.attrs["detector_pixel_height_m"] = DET_PIX_M
        f.create_dataset("bad_pixels", data=np.zeros(counts.shape[1:], bool) if bad is None else bad)


def _cxi(path, x_m, y_m, counts, probe, obj=None, probe_key="/entry_1/image_1/data"):
    """A CXI 1.x file: patterns, detector geometry, energy in joules, translation (P, 3), probe."""
    with h5py.File(path, "w") as f:
        f.create_dataset("cxi_version", data=160)
        det = f.create_group("/entry_1/instrument_1/detector_1")
        det.create_dataset("data", data=counts)
        det.create_dataset("distance", data=DIST_M)
        det.create_dataset("x_pixel_size", data=DET_PIX_M)
        det.create_dataset("y_pixel_size", data=DET_PIX_M)
        f.create_group("/entry_1/data_1")["data"] = h5py.SoftLink("/entry_1/instrument_1/detector_1/data")
        f.create_dataset("/entry_1/instrument_1/source_1/energy", data=ENERGY_EV * 1.602176634e-19)
        f.create_dataset("/entry_1/sample_1/geometry_1/translation", data=np.stack([x_m, y_m, 0 * x_m], 1))
        f.create_dataset(probe_key, data=probe)
        if obj is not None:
            f.create_dataset("/entry_1/image_2/data", data=obj)
            f.create_dataset("/entry_1/image_2/image_size", data=[obj.shape[1] * DX, obj.shape[0] * DX, 0.0])


def test_wavelength_and_far_field_pixel_closed_form():
    """specs/convert.md §3: lambda = h c / E (12398.42 eV <-> 1 Angstrom); dx = lambda z / (N p)."""
    assert wavelength_m(12398.419843320026) == pytest.approx(1e-10, rel=1e-12)
    assert far_field_pixel_size(12398.419843320026, 1.5, 50e-6, 128) == pytest.approx(1e-10 * 1.5 / (128 * 50e-6), rel=1e-12)
    with pytest.raises(ContractError, match="photon_energy_eV.*found nothing"):
        far_field_pixel_size(None, 1.0, 1e-6, 64, source="f.cxi")


def test_metres_pixels_mapping_is_ptychodus_formula_and_invertible():
    """specs/convert.md §3: x_px = (x_m - cx) / dx + (W - 1) / 2, rows likewise; the inverse returns metres."""
    x_px, y_px = positions_to_pixels(np.array([CENTRE[0], CENTRE[0] + 2 * DX]), np.array([CENTRE[1], CENTRE[1]]),
                                     CENTRE, (DX, 2 * DX), (11, 20))
    np.testing.assert_allclose(x_px, [9.5, 11.5], rtol=0, atol=1e-9)
    np.testing.assert_allclose(y_px, [5.0, 5.0], rtol=0, atol=1e-9)
    xm, ym = pixels_to_positions(x_px, y_px, CENTRE, (DX, 2 * DX), (11, 20))
    np.testing.assert_allclose(xm, [CENTRE[0], CENTRE[0] + 2 * DX], rtol=1e-12)


def test_ptychodus_npz_product_with_npy_counts(tmp_path):
    """specs/convert.md §2.1, §4: NPY counts -> sqrt amplitudes; positions on the product's object grid."""
    cols, rows, x_m, y_m, counts, probe, obj = _scene()
    _product_npz(tmp_path / "p.npz", x_m, y_m, probe, obj)
    np.save(tmp_path / "d.npy", counts)
    conv = convert_to_npz(tmp_path / "p.npz", tmp_path / "scan.npz", diffraction=tmp_path / "d.npy")
    data = validate_npz(tmp_path / "scan.npz")
    np.testing.assert_allclose(data["xcoords"], cols, atol=1e-9)
    np.testing.assert_allclose(data["ycoords"], rows, atol=1e-9)
    np.testing.assert_array_equal(data["diffraction"], np.sqrt(counts.astype(np.float64)).astype(np.float32))
    np.testing.assert_array_equal(data["probeGuess"], probe)
    np.testing.assert_array_equal(data["objectGuess"], obj)
    meta = data["metadata"]["convert"]
    assert meta["format"] == "ptychodus-npz" and meta["object_pixel_size_m"] == [DX, DX]
    assert meta["pixel_size_rule"].startswith("file")
    assert any("sqrt(counts)" in n for n in conv.notices)


def test_positions_pair_with_patterns_by_index(tmp_path):
    """specs/convert.md §4: position k takes the pattern whose index is k; unmatched ones are left out, said."""
    cols, rows, x_m, y_m, counts, probe, obj = _scene(m=6)
    order = np.array([5, 3, 9, 0, 1, 2])  # index 9 has no pattern; pattern 4 has no position
    _product_npz(tmp_path / "p.npz", x_m, y_m, probe, obj, indexes=order)
    _diffraction_h5(tmp_path / "d.h5", counts, indexes=np.arange(6))
    conv = convert_scan(tmp_path / "p.npz", diffraction=tmp_path / "d.h5")
    keep = np.array([0, 1, 3, 4, 5])
    np.testing.assert_allclose(conv.arrays["xcoords"], cols[keep], atol=1e-9)
    np.testing.assert_array_equal(conv.arrays["diffraction"], np.sqrt(counts[order[keep]].astype(np.float64)).astype(np.float32))
    np.testing.assert_array_equal(conv.position_indexes, order[keep])
    assert any("1 position(s) have no pattern" in n for n in conv.notices)
    assert any("1 pattern(s) have no position" in n for n in conv.notices)


def test_ptychodus_h5_product_with_h5_diffraction_and_bad_pixels(tmp_path):
    """specs/convert.md §2.1, §4: HDF5 product + ptychodus diffraction file; bad pixels become 0, said."""
    cols, rows, x_m, y_m, counts, probe, obj = _scene(seed=1)
    bad = np.zeros((N, N), bool)
    bad[3, 5] = bad[10, 10] = True
    _product_h5(tmp_path / "p.h5", x_m, y_m, probe, obj)
    _diffraction_h5(tmp_path / "d.h5", counts, bad=bad)
    conv = convert_scan(tmp_path / "p.h5", diffraction=tmp_path / "d.h5")
    assert conv.metadata["convert"]["format"] == "ptychodus-h5"
    np.testing.assert_allclose(conv.arrays["xcoords"], cols, atol=1e-9)
    amps = conv.arrays["diffraction"]
    assert np.all(amps[:, bad] == 0) and np.array_equal(amps[:, ~bad], np.sqrt(counts[:, ~bad].astype(np.float64)).astype(np.float32))
    assert any("2 bad detector pixel(s)" in n for n in conv.notices)


def test_cxi_without_object_computes_pixel_size(tmp_path):
    """specs/convert.md §2.2, §3: CXI energy (J), distance, detector pitch -> dx = lambda z / (N p); the frame
    is centred on the scanned area and N pixels larger than it."""
    cols, rows, x_m, y_m, counts, probe, obj = _scene(seed=2)
    _cxi(tmp_path / "s.cxi", x_m, y_m, counts, probe[None])
    conv = convert_scan(tmp_path / "s.cxi")
    meta = conv.metadata["convert"]
    assert meta["format"] == "cxi" and meta["pixel_size_rule"].startswith("computed")
    assert meta["object_pixel_size_m"][0] == pytest.approx(DX, rel=1e-12)
    w = int(np.ceil((x_m.max() - x_m.min()) / DX)) + N
    mid = (x_m.max() + x_m.min()) / 2
    np.testing.assert_allclose(conv.arrays["xcoords"], (x_m - mid) / DX + (w - 1) / 2, atol=1e-9)
    assert conv.arrays["objectGuess"] is None
    assert meta["photon_energy_eV"] == pytest.approx(ENERGY_EV, rel=1e-12)


def test_cxi_with_object_uses_image_size_and_illumination(tmp_path):
    """specs/convert.md §2.2: object pixel from image_2/image_size; probe from source_1/illumination."""
    cols, rows, x_m, y_m, counts, probe, obj = _scene(seed=3)
    _cxi(tmp_path / "s.cxi", x_m, y_m, counts, probe, obj=obj, probe_key="/entry_1/instrument_1/source_1/illumination")
    conv = convert_scan(tmp_path / "s.cxi", pixel_size_m=None)
    assert conv.metadata["convert"]["pixel_size_rule"] == "file (object pixel size)"
    np.testing.assert_array_equal(conv.arrays["objectGuess"], obj)
    assert any("centre not recorded" in n for n in conv.notices)


def test_multimode_probe_is_kept_or_one_mode_chosen(tmp_path):
    """specs/convert.md §4: a (K > 1) mode probe is kept whole as a (K, N, N) probeGuess (written and validated);
    --probe-mode K keeps mode K only."""
    cols, rows, x_m, y_m, counts, probe, obj = _scene()
    modes = np.stack([probe, 0.5 * probe])[None]
    _product_npz(tmp_path / "p.npz", x_m, y_m, probe, obj, probe4=modes)
    np.save(tmp_path / "d.npy", counts)
    conv = convert_to_npz(tmp_path / "p.npz", tmp_path / "out.npz", diffraction=tmp_path / "d.npy")
    np.testing.assert_array_equal(conv.arrays["probeGuess"], modes[0].astype(np.complex64))
    assert any("2 incoherent modes; kept all of them" in n for n in conv.notices)
    np.testing.assert_array_equal(validate_npz(tmp_path / "out.npz")["probeGuess"], modes[0].astype(np.complex64))
    conv = convert_scan(tmp_path / "p.npz", diffraction=tmp_path / "d.npy", probe_mode=1)
    np.testing.assert_array_equal(conv.arrays["probeGuess"], 0.5 * probe)
    assert any("kept mode 1 (20.0% of the power)" in n for n in conv.notices)
    # and back: the reconstruction's product holds the (1, K, N, N) mode stack of the scan
    np.savez(tmp_path / "recon.npz", object=obj, origin_xy=np.array([0.0, 0.0]))
    reconstruction_to_product(tmp_path / "recon.npz", tmp_path / "out.npz", tmp_path / "back.npz")
    np.testing.assert_array_equal(read_npz(tmp_path / "back.npz")["probe"], modes.astype(np.complex64))


@pytest.mark.parametrize("case, match", [
    ("no_diffraction", r"p.npz: expected a diffraction file"),
    ("negative", r"d.npy: key '<npy>': expected non-negative detector counts, found 1 negative"),
    ("probe_grid", r"key 'probe_pixel_width_m': expected the probe sampled on the object grid"),
    ("contract_npz", r"already our format"),
    ("near_field", r"key 'far_field': expected a far-field product"),
    ("cxi_no_positions", r"key '/entry_1/sample_1/geometry_1/translation'.*missing"),
    ("not_a_scan", r"expected an NPY, NPZ or HDF5 file"),
])
def test_bad_inputs_fail_with_one_line_and_write_nothing(tmp_path, case, match):
    """specs/convert.md §6: one ContractError line naming file/key/expected/found; no output written."""
    cols, rows, x_m, y_m, counts, probe, obj = _scene()
    src, kw = tmp_path / "p.npz", {"diffraction": tmp_path / "d.npy"}
    np.save(tmp_path / "d.npy", counts)
    _product_npz(src, x_m, y_m, probe, obj)
    if case == "no_diffraction":
        kw = {}
    elif case == "negative":
        np.save(tmp_path / "d.npy", counts.astype(np.float32) - (np.arange(counts.size) == 7).reshape(counts.shape) * 99)
    elif case == "probe_grid":
        a = dict(np.load(src))
        a["probe_pixel_width_m"] = 2 * DX
        np.savez(src, **a)
    elif case == "near_field":
        a = dict(np.load(src))
        a["far_field"] = False
        np.savez(src, **a)
    elif case == "contract_npz":
        np.savez(src, diffraction=np.sqrt(counts), xcoords=cols, ycoords=rows, probeGuess=probe)
    elif case == "cxi_no_positions":
        src = tmp_path / "s.cxi"
        _cxi(src, x_m, y_m, counts, probe)
        with h5py.File(src, "a") as f:
            del f["/entry_1/sample_1/geometry_1/translation"]
        kw = {}
    else:
        src = tmp_path / "p.txt"
        src.write_text("x,y\n1,2\n")
    with pytest.raises(ContractError, match=match) as err:
        convert_to_npz(src, tmp_path / "out.npz", **kw)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out.npz").exists()


@pytest.mark.parametrize("suffix, key", [(".h5", "object"), (".npz", "reconstruction")])
def test_reconstruction_back_to_product_restores_metres(tmp_path, suffix, key):
    """specs/convert.md §7: positions return to the product's metres; the canvas centre follows origin_xy."""
    cols, rows, x_m, y_m, counts, probe, obj = _scene(seed=4)
    _product_npz(tmp_path / "p.npz", x_m, y_m, probe, obj, indexes=np.arange(12) + 100)
    np.save(tmp_path / "d.npy", counts)
    _diffraction_h5(tmp_path / "d.h5", counts, indexes=np.arange(12) + 100)
    convert_to_npz(tmp_path / "p.npz", tmp_path / "scan.npz", diffraction=tmp_path / "d.h5")
    canvas = obj[10:110, 20:140]  # 100 x 120 canvas whose pixel (0, 0) is object pixel (x=20, y=10)
    np.savez(tmp_path / "recon.npz", **{key: canvas}, origin_xy=np.array([20.0, 10.0]))  # 'object': ptycho infer
    fmt, notes = reconstruction_to_product(tmp_path / "recon.npz", tmp_path / "scan.npz", tmp_path / f"out{suffix}")
    assert fmt == ("HDF5" if suffix == ".h5" else "NPZ") and notes == []
    if suffix == ".h5":
        with h5py.File(tmp_path / "out.h5") as f:
            got = {k: f[k][()] for k in ("probe_position_x_m", "probe_position_y_m", "probe_position_indexes", "object", "probe")}
            got.update({k: f["object"].attrs[k] for k in ("center_x_m", "center_y_m", "pixel_width_m")})
            got["photon_energy_eV"] = f.attrs["photon_energy_eV"]
    else:
        a = read_npz(tmp_path / "out.npz")
        got = {k: a[k] for k in ("probe_position_x_m", "probe_position_y_m", "probe_position_indexes", "object", "probe",
                                 "photon_energy_eV")}
        got.update(center_x_m=a["object_center_x_m"], center_y_m=a["object_center_y_m"], pixel_width_m=a["object_pixel_width_m"])
    np.testing.assert_allclose(got["probe_position_x_m"], x_m, rtol=0, atol=1e-15)
    np.testing.assert_allclose(got["probe_position_y_m"], y_m, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(got["probe_position_indexes"], np.arange(12) + 100)
    np.testing.assert_array_equal(got["object"], canvas[None])
    np.testing.assert_array_equal(got["probe"], probe[None, None])
    assert float(got["pixel_width_m"]) == DX and float(got["photon_energy_eV"]) == ENERGY_EV
    # canvas centre = object pixel (20 + 119/2, 10 + 99/2) in the product's frame
    assert float(got["center_x_m"]) == pytest.approx(CENTRE[0] + (20 + 59.5 - (OBJ_HW[1] - 1) / 2) * DX, rel=1e-12)
    assert float(got["center_y_m"]) == pytest.approx(CENTRE[1] + (10 + 49.5 - (OBJ_HW[0] - 1) / 2) * DX, rel=1e-12)


def test_reconstruction_of_a_plain_scan_needs_pixel_size(tmp_path):
    """specs/convert.md §7: a scan with no conversion record needs --pixel-size; pixel (0, 0) is then 0 m."""
    cols, rows, x_m, y_m, counts, probe, obj = _scene(seed=5)
    np.savez(tmp_path / "scan.npz", diffraction=np.sqrt(counts.astype(np.float32)), xcoords=cols, ycoords=rows,
             probeGuess=probe, _metadata=np.array(json.dumps({"nphotons": 1e9})))
    np.savez(tmp_path / "recon.npz", reconstruction=obj)
    with pytest.raises(ValueError, match="--pixel-size: expected the object pixel size"):
        reconstruction_to_product(tmp_path / "recon.npz", tmp_path / "scan.npz", tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()
    fmt, notes = reconstruction_to_product(tmp_path / "recon.npz", tmp_path / "scan.npz", tmp_path / "out.h5", pixel_size_m=1e-8)
    with h5py.File(tmp_path / "out.h5") as f:
        np.testing.assert_allclose(f["probe_position_x_m"][()], cols * 1e-8, rtol=1e-12)
        assert f["object"].attrs["center_x_m"] == pytest.approx((OBJ_HW[1] - 1) / 2 * 1e-8, rel=1e-12)
    assert len(notes) == 3 and "origin_xy" in notes[0]
