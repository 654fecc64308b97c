"""Faults users meet at the command line: damaged or outside-folder HDF5 (specs/data-contract.md §6.4) and
environment faults (specs/reliability.md §7): one line naming the `ptycho` subcommand, the path and the
cause, a non-zero exit status, never a traceback and never a half-written output."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from ptycho.data_contract import read_npz, validate_arrays
from ptycho.hdf5_guard import ALLOW_EXTERNAL_ENV
from ptycho_cli.main import main

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"


@pytest.fixture(scope="module")
def arrays():
    return validate_arrays(read_npz(FIXTURE), source=str(FIXTURE))


def _damaged_gzip_scan(path: Path, arrays: dict) -> Path:
    with h5py.File(path, "w") as fh:
        for key in ("xcoords", "ycoords", "probeGuess", "objectGuess"):
            fh[key] = arrays[key]
        fh.create_dataset("diffraction", data=arrays["diffraction"], chunks=(8, 64, 64), compression="gzip")
        info = fh["diffraction"].id.get_chunk_info(4)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + info.size // 3)
        fh.write(b"\xff\x00" * 16)
    return path


def _stderr_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def test_validate_and_infer_on_a_damaged_hdf5_chunk_exit_2_with_one_line(tmp_path, arrays, capsys):
    """The issue's case: a gzip chunk damaged mid-file was 'internal error: OSError', exit 1."""
    scan = _damaged_gzip_scan(tmp_path / "scan.h5", arrays)
    capsys.readouterr()
    assert main(["validate", str(scan)]) == 2
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"{scan}: key 'diffraction': expected a readable dataset")
    (tmp_path / "model").mkdir()
    rc = main(["infer", "--backend", "pytorch", "--model_path", str(tmp_path / "model"), "--test_data", str(scan),
               "--output_dir", str(tmp_path / "out"), "--quiet"])
    assert rc == 2
    line = _stderr_line(capsys)
    assert line.startswith("ptycho infer: error: ") and f"{scan}: key 'diffraction'" in line
    assert not (tmp_path / "out").exists()


def test_validate_refuses_an_external_link_to_another_folder_unless_allowed(tmp_path, arrays, monkeypatch, capsys):
    from ptycho.scan_hdf5 import write_scan_hdf5

    other = tmp_path / "other"
    other.mkdir()
    write_scan_hdf5(other / "victim.h5", arrays)
    (tmp_path / "here").mkdir()
    scan = tmp_path / "here" / "scan.h5"
    with h5py.File(scan, "w") as fh:
        for key in ("xcoords", "ycoords", "probeGuess", "objectGuess"):
            fh[key] = np.asarray(arrays[key])
        fh["diffraction"] = h5py.ExternalLink(str(other / "victim.h5"), "/diffraction")
    monkeypatch.delenv(ALLOW_EXTERNAL_ENV, raising=False)
    assert main(["validate", str(scan)]) == 2
    out = capsys.readouterr().out.strip()
    assert f"an external link to {other / 'victim.h5'}:/diffraction" in out and "\n" not in out
    monkeypatch.setenv(ALLOW_EXTERNAL_ENV, "1")
    assert main(["validate", str(scan)]) == 0


# ---------------------------------------------------------------------------------------------------------
# Environment faults (specs/reliability.md §7)
# ---------------------------------------------------------------------------------------------------------

def _refuse(code: int):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return fail


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("faults") / "model"
    rc = main(["train", "--backend", "pytorch", "--train_data_file", str(FIXTURE), "--output_dir", str(out),
               "--n_groups", "16", "--nepochs", "1", "--quiet"])
    assert rc == 0 and (out / "wts.h5.zip").is_file()
    return out


def test_simulate_on_a_full_disk_names_the_file_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    target = tmp_path / "scan.npz"
    monkeypatch.setattr(os, "fsync", _refuse(errno.ENOSPC))
    capsys.readouterr()
    assert main(["simulate", "-o", str(target), "--n-positions", "16", "--quiet"]) == 2
    assert _stderr_line(capsys) == f"ptycho simulate: error: {target}: No space left on device"
    assert list(tmp_path.iterdir()) == []  # no target, no stray temporary file


@pytest.mark.parametrize("code, cause", [(errno.ENOSPC, "No space left on device"),
                                         (errno.EROFS, "Read-only file system")])
def test_infer_on_a_full_disk_or_read_only_folder_is_one_line_naming_ptycho_infer(bundle, tmp_path, monkeypatch,
                                                                                  capsys, code, cause):
    """The issue's case: 'ptycho_torch.inference: internal error: OSError: [Errno 28] ...', exit 1."""
    import tempfile

    out = tmp_path / "recon"
    if code == errno.ENOSPC:
        monkeypatch.setattr(os, "fsync", _refuse(code))
    else:
        monkeypatch.setattr(tempfile, "mkstemp", _refuse(code))
    capsys.readouterr()
    rc = main(["infer", "--backend", "pytorch", "--model_path", str(bundle), "--test_data", str(FIXTURE),
               "--output_dir", str(out), "--quiet"])
    line = _stderr_line(capsys)
    assert rc != 0
    assert line.startswith(f"ptycho infer: error: {out}{os.sep}") and line.endswith(f": {cause}"), line
    assert not out.exists()  # nothing half-written: the run's folder is rolled back


def test_an_input_file_that_vanishes_after_the_check_is_one_line(bundle, tmp_path, monkeypatch, capsys):
    import ptycho_cli.delegate as delegate
    from ptycho.scan_hdf5 import write_scan_hdf5

    scan = tmp_path / "scan.h5"
    write_scan_hdf5(scan, validate_arrays(read_npz(FIXTURE), source=str(FIXTURE)))
    checked = delegate._check_data

    def check_then_vanish(*paths):
        checked(*paths)
        scan.unlink()

    monkeypatch.setattr(delegate, "_check_data", check_then_vanish)
    capsys.readouterr()
    rc = main(["infer", "--backend", "pytorch", "--model_path", str(bundle), "--test_data", str(scan),
               "--output_dir", str(tmp_path / "recon"), "--quiet"])
    line = _stderr_line(capsys)
    assert rc == 2 and line.startswith("ptycho infer: error: ") and str(scan) in line, line
    assert not (tmp_path / "recon").exists()
