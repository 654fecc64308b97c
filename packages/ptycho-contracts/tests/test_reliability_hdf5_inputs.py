"""HDF5 inputs as safe as NPZ (specs/data-contract.md §6.4, specs/reliability.md §5).

Damaged chunks, short files and unreadable objects are one ContractError line naming file and key; a
dataset declaring more than the file stores is refused before reading; data outside the file's folder
(external links, external raw storage, virtual datasets) is refused unless PTYCHO_HDF5_ALLOW_EXTERNAL=1;
links to files of the same folder keep working. A hypothesis test mutates a valid scan and requires a
ContractError or a success for every mutation, within a watchdog.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ptycho.convert.diffraction import read_diffraction
from ptycho.data_contract import ContractError, read_npz, validate_arrays, validate_npz
from ptycho.hdf5_guard import ALLOW_EXTERNAL_ENV
from ptycho.raw_data import RawData
from ptycho.scan_hdf5 import write_scan_hdf5

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "minimal_dataset_v1.npz"
TIME_LIMIT_S = 20


class _Hang(BaseException):
    """Not an Exception: no reader may turn a hang into a ContractError."""


@contextmanager
def watchdog(seconds: int = TIME_LIMIT_S):
    def alarm(signum, frame):
        raise _Hang(f"call took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def arrays():
    return validate_arrays(read_npz(FIXTURE), source=str(FIXTURE))


def _write(path: Path, arrays: dict, **kw) -> Path:
    write_scan_hdf5(path, arrays, **kw)
    return path


def _read_all(path: Path) -> None:
    """What ``ptycho validate``/``infer`` do with a scan: validate, then read every pattern."""
    validate_npz(path)
    raw = RawData.from_file(path)
    np.asarray(raw.diff3d)


def _one_line(err: pytest.ExceptionInfo, path: Path, key: str | None) -> str:
    text = str(err.value)
    assert "\n" not in text
    head = f"{path}: key '{key}'" if key else str(path)
    assert text.startswith(head), text
    return text


def _gzip_scan(path: Path, arrays: dict) -> Path:
    with h5py.File(path, "w") as fh:
        for key in ("xcoords", "ycoords", "probeGuess", "objectGuess"):
            fh[key] = arrays[key]
        fh.create_dataset("diffraction", data=arrays["diffraction"], chunks=(8, 64, 64), compression="gzip")
    return path


def test_damaged_gzip_chunk_is_one_line_naming_file_and_key(tmp_path, arrays):
    """specs/data-contract.md §6.4: a chunk whose filter fails is ContractError, not OSError."""
    path = _gzip_scan(tmp_path / "gz.h5", arrays)
    with h5py.File(path, "r") as fh:
        info = fh["diffraction"].id.get_chunk_info(4)  # a chunk in the middle of the stack
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + info.size // 3)
        fh.write(b"\xff\x00" * 16)
    with watchdog(), pytest.raises(ContractError) as err:
        validate_npz(path)
    assert "a readable dataset" in _one_line(err, path, "diffraction")


def test_declared_larger_than_stored_is_refused_at_once(tmp_path, arrays):
    """10^8 patterns declared, none stored: refused before any read (HDF5 would return fill values)."""
    huge = tmp_path / "huge.h5"
    with h5py.File(huge, "w") as fh:
        for key in ("xcoords", "ycoords"):
            fh.create_dataset(key, shape=(10**8,), dtype="f8", chunks=(1 << 16,))
        fh["probeGuess"] = arrays["probeGuess"]
        fh.create_dataset("diffraction", shape=(10**8, 64, 64), dtype="f4", chunks=(64, 64, 64))
    with watchdog(5), pytest.raises(ContractError) as err:
        validate_npz(huge)
    text = str(err.value)
    assert "\n" not in text and str(huge) in text and "chunks stored" in text
    flat = tmp_path / "contiguous.h5"  # right shapes, contiguous diffraction never written
    with h5py.File(flat, "w") as fh:
        for key in ("xcoords", "ycoords", "probeGuess", "objectGuess"):
            fh[key] = arrays[key]
        fh.create_dataset("diffraction", shape=arrays["diffraction"].shape, dtype="f4")
    with watchdog(5), pytest.raises(ContractError) as err:
        validate_npz(flat)
    assert "0 bytes stored" in _one_line(err, flat, "diffraction")


def _two_folders(tmp_path: Path) -> tuple[Path, Path]:
    here, there = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir()
    there.mkdir()
    return here, there


def test_external_link_outside_the_folder_is_refused_unless_allowed(tmp_path, arrays, monkeypatch):
    here, there = _two_folders(tmp_path)
    _write(there / "victim.h5", arrays)
    path = here / "scan.h5"
    with h5py.File(path, "w") as fh:
        for key in ("xcoords", "ycoords", "probeGuess", "objectGuess"):
            fh[key] = arrays[key]
        fh["diffraction"] = h5py.ExternalLink(str(there / "victim.h5"), "/diffraction")
    monkeypatch.delenv(ALLOW_EXTERNAL_ENV, raising=False)
    with pytest.raises(ContractError) as err:
        validate_npz(path)
    text = _one_line(err, path, "diffraction")
    assert f"external link to {there / 'victim.h5'}:/diffraction" in text and ALLOW_EXTERNAL_ENV in text
    rel = here / "rel.h5"  # a relative name climbing out of the folder is refused too
    with h5py.File(rel, "w") as fh:
        fh["diffraction"] = h5py.ExternalLink("../elsewhere/victim.h5", "/diffraction")
        for key in ("xcoords", "ycoords", "probeGuess", "objectGuess"):
            fh[key] = arrays[key]
    with pytest.raises(ContractError, match="external link to ../elsewhere/victim.h5"):
        validate_npz(rel)
    monkeypatch.setenv(ALLOW_EXTERNAL_ENV, "1")
    _read_all(path)  # the explicit option allows it


def test_links_to_files_of_the_same_folder_keep_working(tmp_path, arrays, monkeypatch):
    """A detector master file linking a data file beside it (relative and absolute names)."""
    monkeypatch.delenv(ALLOW_EXTERNAL_ENV, raising=False)
    _write(tmp_path / "data_000001.h5", arrays)
    for name, target in (("master_rel.h5", "data_000001.h5"), ("master_abs.h5", str(tmp_path / "data_000001.h5"))):
        master = tmp_path / name
        with h5py.File(master, "w") as fh:
            for key in ("diffraction", "xcoords", "ycoords", "probeGuess", "objectGuess"):
                fh[key] = h5py.ExternalLink(target, f"/{key}")
        with watchdog():
            assert validate_npz(master)["M"] == arrays["M"]
        np.testing.assert_array_equal(np.asarray(RawData.from_file(master).diff3d), arrays["diffraction"])


def test_external_raw_storage_outside_the_folder_is_refused_unless_allowed(tmp_path, arrays, monkeypatch):
    here, there = _two_folders(tmp_path)
    raw = there / "secret.bin"
    raw.write_bytes(np.asarray(arrays["diffraction"], dtype="<f4").tobytes())
    path = here / "scan.h5"
    with h5py.File(path, "w") as fh:
        for key in ("xcoords", "ycoords", "probeGuess", "objectGuess"):
            fh[key] = arrays[key]
        fh.create_dataset("diffraction", shape=arrays["diffraction"].shape, dtype="<f4",
                          external=[(str(raw), 0, h5py.h5f.UNLIMITED)])
    monkeypatch.delenv(ALLOW_EXTERNAL_ENV, raising=False)
    with pytest.raises(ContractError) as err:
        validate_npz(path)
    assert f"external raw storage in {raw}" in _one_line(err, path, "diffraction")
    monkeypatch.setenv(ALLOW_EXTERNAL_ENV, "1")
    _read_all(path)
    raw.write_bytes(b"\0" * 100)  # allowed, but shorter than declared: refused before reading
    with pytest.raises(ContractError, match="100 bytes in its external files"):
        validate_npz(path)


def test_virtual_dataset_reaching_another_folder_is_refused(tmp_path, arrays, monkeypatch):
    here, there = _two_folders(tmp_path)
    for folder in (here, there):
        _write(folder / "part.h5", arrays)
    d = arrays["diffraction"]
    for src_folder, ok in ((there, False), (here, True)):
        path = here / f"vds_{ok}.h5"
        layout = h5py.VirtualLayout(shape=d.shape, dtype="f4")
        layout[:] = h5py.VirtualSource(str(src_folder / "part.h5"), "diffraction", shape=d.shape)
        with h5py.File(path, "w") as fh:
            for key in ("xcoords", "ycoords", "probeGuess", "objectGuess"):
                fh[key] = arrays[key]
            fh.create_virtual_dataset("diffraction", layout)
        monkeypatch.delenv(ALLOW_EXTERNAL_ENV, raising=False)
        if ok:
            _read_all(path)
        else:
            with pytest.raises(ContractError) as err:
                validate_npz(path)
            assert "a virtual dataset reading" in _one_line(err, path, "diffraction")


def test_cxi_with_an_external_link_elsewhere_is_refused(tmp_path, arrays, monkeypatch):
    """ptycho convert's readers (CXI, ptychodus) go through the same guard."""
    monkeypatch.delenv(ALLOW_EXTERNAL_ENV, raising=False)
    here, there = _two_folders(tmp_path)
    with h5py.File(there / "frames.h5", "w") as fh:
        fh["data"] = np.ones((4, 8, 8), np.float32)
    cxi = here / "scan.cxi"
    with h5py.File(cxi, "w") as fh:
        fh.create_group("entry_1/data_1")
        fh["entry_1/data_1/data"] = h5py.ExternalLink(str(there / "frames.h5"), "/data")
    with pytest.raises(ContractError) as err:
        read_diffraction(cxi)
    assert "external link to" in _one_line(err, cxi, "entry_1/data_1/data")
    monkeypatch.setenv(ALLOW_EXTERNAL_ENV, "1")
    assert read_diffraction(cxi).counts.shape == (4, 8, 8)


# ---------------------------------------------------------------------------------------------------------
# Mutations of a valid scan (hypothesis)
# ---------------------------------------------------------------------------------------------------------

_KEYS = ("diffraction", "xcoords", "ycoords", "probeGuess", "objectGuess")
_DTYPES = ("f2", "f4", "f8", "i1", "u2", "c8", "S4", "bool")


def _small(arrays: dict) -> dict:
    out = {k: arrays[k] for k in _KEYS}
    out["diffraction"] = np.asarray(arrays["diffraction"][:16])
    out["xcoords"], out["ycoords"] = arrays["xcoords"][:16], arrays["ycoords"][:16]
    return out


def _mutate(path: Path, outside: Path, kind: str, where: float, key: str, dtype: str, shape_delta: int) -> None:
    size = path.stat().st_size
    at = int(where * (size - 1))
    if kind == "truncate":
        with open(path, "r+b") as fh:
            fh.truncate(at)
    elif kind == "flip":
        with open(path, "r+b") as fh:
            fh.seek(at)
            chunk = bytearray(fh.read(64))
            fh.seek(at)
            fh.write(bytes(b ^ 0xA5 for b in chunk))
    elif kind == "reshape":
        with h5py.File(path, "r+") as fh:
            old = fh[key]
            shape = tuple(max(0, s + shape_delta) if i == 0 else s for i, s in enumerate(old.shape)) or (shape_delta + 1,)
            del fh[key]
            fh.create_dataset(key, data=np.ones(shape, dtype="f4"))
    elif kind == "retype":
        with h5py.File(path, "r+") as fh:
            shape = fh[key].shape
            del fh[key]
            fh.create_dataset(key, data=np.ones(shape, dtype="f4").astype(dtype))
    elif kind == "unstored":
        with h5py.File(path, "r+") as fh:
            shape, dtype_ = fh[key].shape, fh[key].dtype
            del fh[key]
            fh.create_dataset(key, shape=(shape[0] * 10**6, *shape[1:]) if shape else (10**8,), dtype=dtype_,
                              chunks=True)
    elif kind in ("link_out", "link_same"):
        target = outside if kind == "link_out" else path.with_name("side.h5")
        with h5py.File(path, "r+") as fh:
            del fh[key]
            fh[key] = h5py.ExternalLink(str(target), f"/{key}")
    elif kind == "link_missing":
        with h5py.File(path, "r+") as fh:
            del fh[key]
            fh[key] = h5py.ExternalLink("nowhere.h5", f"/{key}")


FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.function_scoped_fixture])


@FUZZ
@given(kind=st.sampled_from(["truncate", "flip", "reshape", "retype", "unstored", "link_out", "link_same",
                             "link_missing"]),
       where=st.floats(0.0, 1.0), key=st.sampled_from(_KEYS), dtype=st.sampled_from(_DTYPES),
       shape_delta=st.integers(-3, 3))
def test_mutated_hdf5_scan_gives_contract_error_or_success(arrays, kind, where, key, dtype, shape_delta):
    """specs/reliability.md §5: every mutation ends in ContractError or success, within the watchdog;
    never another exception, never data from outside the folder."""
    small = _small(arrays)
    old_env = os.environ.pop(ALLOW_EXTERNAL_ENV, None)
    with tempfile.TemporaryDirectory() as tmp:
        here = Path(tmp) / "here"
        here.mkdir()
        outside = Path(tmp) / "outside.h5"
        path = _write(here / "scan.h5", small, chunk_patterns=4)
        shutil.copy(path, outside)
        shutil.copy(path, here / "side.h5")
        _mutate(path, outside, kind, where, key, dtype, shape_delta)
        try:
            with watchdog():
                _read_all(path)
            assert kind != "link_out", "data outside the folder was read"
        except ContractError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(str(path))
        finally:
            if old_env is not None:
                os.environ[ALLOW_EXTERNAL_ENV] = old_env


def test_a_damaged_chunk_read_in_a_dataloader_worker_stays_one_contract_error_line(tmp_path, arrays):
    """Streaming reads in DataLoader workers (num_workers > 0): torch re-creates the worker's exception from its
    text; it stays a ContractError with the original one line."""
    torch = pytest.importorskip("torch")
    from ptycho.scan_hdf5 import LazyDiffraction

    path = _gzip_scan(tmp_path / "gz.h5", arrays)
    with h5py.File(path, "r") as fh:
        info = fh["diffraction"].id.get_chunk_info(4)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + info.size // 3)
        fh.write(b"\xff\x00" * 16)
    stack = LazyDiffraction(path, "diffraction", arrays["diffraction"].shape)
    loader = torch.utils.data.DataLoader(stack, batch_size=8, num_workers=1)
    with pytest.raises(ContractError) as err:
        list(loader)
    _one_line(err, path, "diffraction")
