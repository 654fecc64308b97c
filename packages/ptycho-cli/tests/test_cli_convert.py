"""``ptycho convert`` both ways (specs/cli.md §9, specs/convert.md): exit codes, one-line errors, files.

The ptychodus product inputs are written with ``ptycho.convert.ptychodus.write_product``, whose layout
is pinned independently in packages/ptycho-contracts/tests/test_convert_formats.py and against
ptychodus itself in tests-ptychodus/test_convert_roundtrip.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ptycho.convert.parts import ProductParts
from ptycho.convert.ptychodus import write_product
from ptycho.data_contract import validate_npz
from ptycho_cli.main import main

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "packages" / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"
DX = 2.5e-8


def _product(tmp_path: Path, m: int = 9) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    """A ptychodus HDF5 product (object 100 x 120 centred at 0) with NPY counts; returns paths and columns/rows."""
    rng = np.random.default_rng(3)
    cols, rows = rng.uniform(35, 85, m), rng.uniform(35, 65, m)
    x_m, y_m = (cols - 59.5) * DX, (rows - 49.5) * DX
    probe = np.ones((64, 64), np.complex64)
    parts = ProductParts(source="t", position_indexes=np.arange(m), x_m=x_m, y_m=y_m, probe=probe, probe_key="probe",
                         probe_pixel_m=(DX, DX), object=np.ones((100, 120), np.complex64), object_pixel_m=(DX, DX),
                         object_center_m=(0.0, 0.0), photon_energy_eV=10000.0, detector_distance_m=1.0, name="t")
    write_product(tmp_path / "product.h5", parts)
    np.save(tmp_path / "counts.npy", rng.poisson(9.0, (m, 64, 64)).astype(np.int32))
    return tmp_path / "product.h5", tmp_path / "counts.npy", cols, rows


def test_forward_writes_contract_scan_and_says_sqrt(tmp_path, capsys):
    """specs/cli.md §9: exit 0, summary on stdout, the sqrt notice on stderr, a contract-valid scan."""
    product, counts, cols, rows = _product(tmp_path)
    rc = main(["convert", str(product), "--diffraction", str(counts), "-o", str(tmp_path / "scan.npz")])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert out.startswith(f"wrote {tmp_path / 'scan.npz'} from ptychodus-h5") and "9 positions, N=64" in out
    assert "notice:" in err and "sqrt(counts)" in err
    data = validate_npz(tmp_path / "scan.npz")
    np.testing.assert_allclose(data["xcoords"], cols, atol=1e-9)
    np.testing.assert_allclose(data["ycoords"], rows, atol=1e-9)
    np.testing.assert_array_equal(data["diffraction"], np.sqrt(np.load(counts).astype(np.float64)).astype(np.float32))


def test_reverse_then_forward_returns_the_scan(tmp_path, capsys):
    """specs/cli.md §9: scan + reconstruction -> product (--pixel-size for a plain scan) -> scan again: same
    positions and amplitudes (patterns squared into counts in between)."""
    fx = np.load(FIXTURE)
    np.savez(tmp_path / "recon.npz", reconstruction=fx["objectGuess"], origin_xy=np.zeros(2))
    rc = main(["convert", "--to-ptychodus", str(tmp_path / "recon.npz"), "--scan", str(FIXTURE), "--pixel-size", "1e-8",
               "--energy-ev", "8000", "--distance-m", "2", "-o", str(tmp_path / "product.npz")])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "ptychodus NPZ product" in out and err == ""
    np.save(tmp_path / "counts.npy", fx["diffraction"].astype(np.float64) ** 2)
    rc = main(["convert", str(tmp_path / "product.npz"), "--diffraction", str(tmp_path / "counts.npy"),
               "-o", str(tmp_path / "back.npz"), "--format", "ptychodus-npz"])
    assert rc == 0, capsys.readouterr().err
    back = validate_npz(tmp_path / "back.npz")
    np.testing.assert_allclose(back["xcoords"], fx["xcoords"], atol=1e-9)
    np.testing.assert_allclose(back["ycoords"], fx["ycoords"], atol=1e-9)
    np.testing.assert_allclose(back["diffraction"], fx["diffraction"], rtol=1e-6)
    np.testing.assert_array_equal(back["probeGuess"], fx["probeGuess"])
    np.testing.assert_array_equal(back["objectGuess"], fx["objectGuess"])


@pytest.mark.parametrize("case, message", [
    ("no_diffraction", "product.h5: expected a diffraction file with it (--diffraction FILE)"),
    ("scan_forward", "--scan: expected only with --to-ptychodus, found it without"),
    ("no_scan", "--scan: expected the scan .npz the reconstruction was made from"),
    ("diffraction_reverse", "--diffraction: expected only without --to-ptychodus, found it with"),
    ("suffix", "expected a ptychodus product name ending in .h5, .hdf5 or .npz, found suffix '.txt'"),
    ("same_file", "expected a new file, found one of the input files"),
    ("directory", "expected a file path, found a directory"),
    ("format", "argument --format: invalid choice"),
    ("garbage", "expected an NPY, NPZ or HDF5 file, found first bytes"),
])
def test_bad_invocations_exit_2_with_one_line(tmp_path, capsys, case, message):
    """specs/cli.md §9, §2: exit 2, exactly one stderr line naming the file or flag, nothing written."""
    product, counts, _, _ = _product(tmp_path)
    out = str(tmp_path / "out.npz")
    argv = {
        "no_diffraction": [str(product), "-o", out],
        "scan_forward": [str(product), "--diffraction", str(counts), "--scan", str(FIXTURE), "-o", out],
        "no_scan": ["--to-ptychodus", str(FIXTURE), "-o", str(tmp_path / "p.h5")],
        "diffraction_reverse": ["--to-ptychodus", str(FIXTURE), "--scan", str(FIXTURE), "--diffraction", str(counts),
                                "-o", str(tmp_path / "p.h5")],
        "suffix": ["--to-ptychodus", str(FIXTURE), "--scan", str(FIXTURE), "-o", str(tmp_path / "p.txt")],
        "same_file": [str(product), "--diffraction", str(counts), "-o", str(product)],
        "directory": [str(product), "--diffraction", str(counts), "-o", str(tmp_path)],
        "format": [str(product), "--format", "tiff", "-o", out],
        "garbage": [str(counts.with_suffix(".csv")), "-o", out],
    }[case]
    counts.with_suffix(".csv").write_text("1,2,3\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    rc = main(["convert", *argv])
    err = capsys.readouterr().err
    assert rc == 2
    prefix = "ptycho convert: error: "  # argparse errors name the subcommand too (specs/cli.md §1)
    assert len(err.strip().splitlines()) == 1 and err.startswith(prefix) and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
