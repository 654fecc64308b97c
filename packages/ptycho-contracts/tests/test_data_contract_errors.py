"""Every malformed-input class of specs/data-contract.md §5 and §6 raises a one-line ContractError.

Each malformed dataset is written to disk and checked through BOTH ``validate_npz`` and
``RawData.from_file``; the message must name the file and the offending key.
"""

from __future__ import annotations

import builtins
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scan_arrays import N, random_scan

from ptycho.data_contract import ContractError, read_npz, validate_arrays, validate_npz
from ptycho.raw_data import RawData


def valid_arrays(m: int, seed: int) -> dict[str, np.ndarray]:
    """:func:`random_scan` with a scan index, a unit (128, 130) object and unit labels ``Y``."""
    return {**random_scan(m, seed), "scan_index": np.zeros(m, dtype=np.int32),
            "objectGuess": np.ones((128, 130), dtype=np.complex64), "Y": np.ones((m, N, N), dtype=np.complex64)}


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    def f(a: dict[str, Any]) -> None:
        del a[key]

    return f


def _set(key: str, make: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], None]:
    def f(a: dict[str, Any]) -> None:
        a[key] = make(a)

    return f


def _poison(key: str, value: float | complex) -> Callable[[dict[str, Any]], None]:
    def f(a: dict[str, Any]) -> None:
        arr = np.array(a[key], copy=True)
        arr.reshape(-1)[arr.size // 2] = value
        a[key] = arr

    return f


def _m(a: dict[str, Any]) -> int:
    return int(a["xcoords"].shape[0])


# (case id, mutation, key the message must name, words the message must contain)
CASES: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    ("missing diffraction", _drop("diffraction"), "diffraction", "missing"),
    ("missing xcoords", _drop("xcoords"), "xcoords", "missing"),
    ("missing ycoords", _drop("ycoords"), "ycoords", "missing"),
    ("missing probe", _drop("probeGuess"), "probeGuess", "missing"),
    ("missing one start", _drop("ycoords_start"), "ycoords_start", "missing"),
    ("ycoords short", _set("ycoords", lambda a: a["ycoords"][:-1]), "ycoords", "length"),
    ("xcoords short", _set("xcoords", lambda a: a["xcoords"][:-1]), "xcoords", "length"),
    ("xcoords long", _set("xcoords", lambda a: np.zeros(_m(a) + 2)), "xcoords", "length"),
    ("xcoords_start long", _set("xcoords_start", lambda a: np.zeros(_m(a) + 1)), "xcoords_start", "length"),
    ("scan_index short", _set("scan_index", lambda a: np.zeros(_m(a) - 1, np.int64)), "scan_index", "length"),
    ("Y long", _set("Y", lambda a: np.ones((_m(a) + 1, N, N), np.complex64)), "Y", "length"),
    ("patterns vs coords", _set("diffraction", lambda a: a["diffraction"][:-1]), "diffraction", "patterns"),
    ("nan diffraction", _poison("diffraction", np.nan), "diffraction", "NaN or inf"),
    ("inf xcoords", _poison("xcoords", np.inf), "xcoords", "NaN or inf"),
    ("nan ycoords_start", _poison("ycoords_start", np.nan), "ycoords_start", "NaN or inf"),
    ("nan probe", _poison("probeGuess", complex(np.nan, 0)), "probeGuess", "NaN or inf"),
    ("inf object", _poison("objectGuess", complex(0, np.inf)), "objectGuess", "NaN or inf"),
    ("nan Y", _poison("Y", complex(np.nan, 1)), "Y", "NaN or inf"),
    ("negative amplitude", _poison("diffraction", -0.5), "diffraction", "non-negative"),
    ("complex amplitude", _set("diffraction", lambda a: a["diffraction"].astype(np.complex64)), "diffraction", "complex"),
    ("non-square", _set("diffraction", lambda a: a["diffraction"][:, :, :48].copy()), "diffraction", "square"),
    ("probe shape", _set("probeGuess", lambda a: np.ones((32, 32), np.complex64)), "probeGuess", "shape"),
    ("probe zero", _set("probeGuess", lambda a: np.zeros((N, N), np.complex64)), "probeGuess", "all zeros"),
    ("N not allowed", lambda a: a.update(
        diffraction=a["diffraction"][:, :32, :32].copy(), probeGuess=np.ones((32, 32), np.complex64)
    ), "diffraction", "pattern size"),
    ("coords 2-D", _set("xcoords", lambda a: a["xcoords"][:, None]), "xcoords", "1-D"),
    ("object too small", _set("objectGuess", lambda a: np.ones((32, 200), np.complex64)), "objectGuess", "at least as large"),
    ("object 3-D", _set("objectGuess", lambda a: np.ones((2, 128, 128), np.complex64)), "objectGuess", "2-D"),
    ("string coords", _set("xcoords", lambda a: np.array(["a"] * _m(a))), "xcoords", "real numbers"),
    ("fractional scan_index", _set("scan_index", lambda a: np.full(_m(a), 0.5)), "scan_index", "integer"),
    ("bad metadata", _set("_metadata", lambda a: np.array("{not json")), "_metadata", "JSON"),
    ("one label", _set("label_amp", lambda a: np.ones((_m(a), N, N), np.float32)), "label_phase", "missing"),
]


def _write(folder: Path, arrays: dict[str, Any]) -> Path:
    path = folder / "bad.npz"
    np.savez(path, **arrays)
    return path


def _assert_names(exc: ContractError, path: Path, key: str, words: str) -> None:
    msg = str(exc)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: key '{key}': expected "), msg
    assert ", found " in msg
    assert words in msg, msg
    assert exc.key == key


def _assert_refused(path: Path, key: str, words: str) -> None:
    """validate_npz refuses ``path`` naming ``key`` and ``words``; RawData.from_file refuses it identically."""
    with pytest.raises(ContractError) as e1:
        validate_npz(path)
    _assert_names(e1.value, path, key, words)
    with pytest.raises(ContractError) as e2:
        RawData.from_file(path)
    assert str(e2.value) == str(e1.value)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_each_malformed_class_is_named(case: tuple[str, Any, str, str], tmp_path: Path) -> None:
    """specs/data-contract.md §5: one example per error class, through the file path."""
    _, mutate, key, words = case
    arrays = valid_arrays(4, 0)
    mutate(arrays)
    _assert_refused(_write(tmp_path, arrays), key, words)


@given(case=st.sampled_from(CASES), m=st.integers(2, 5), seed=st.integers(0, 2**16))
def test_malformed_property(case: tuple[str, Any, str, str], m: int, seed: int) -> None:
    """specs/data-contract.md §5: any valid dataset broken in any listed way is refused, naming the key."""
    _, mutate, key, words = case
    arrays = valid_arrays(m, seed)
    validate_arrays(arrays, "ok")  # the base really is valid
    mutate(arrays)
    with tempfile.TemporaryDirectory() as d:
        _assert_refused(_write(Path(d), arrays), key, words)


def test_zero_positions(tmp_path: Path) -> None:
    """§5: a scan with no positions is refused."""
    arrays = valid_arrays(3, 1)
    for k in ("xcoords", "ycoords", "xcoords_start", "ycoords_start", "scan_index"):
        arrays[k] = arrays[k][:0]
    arrays["diffraction"] = arrays["diffraction"][:0]
    arrays["Y"] = arrays["Y"][:0]
    path = _write(tmp_path, arrays)
    with pytest.raises(ContractError) as e:
        validate_npz(path)
    _assert_names(e.value, path, "xcoords", "0 positions")


def test_constructor_validates_same_contract() -> None:
    """§5: RawData(...) refuses what the file reader refuses (key named by constructor argument)."""
    a = valid_arrays(3, 2)
    x = a["xcoords"].copy()
    x[1] = np.nan
    with pytest.raises(ContractError, match=r"key 'xcoords': expected finite values"):
        RawData(x, a["ycoords"], None, None, a["diffraction"], a["probeGuess"], None)
    with pytest.raises(ContractError, match=r"key 'diff3d': expected non-negative"):
        RawData(a["xcoords"], a["ycoords"], None, None, -a["diffraction"] - 1, a["probeGuess"], None)
    with pytest.raises(ContractError, match=r"key 'ycoords_start'"):
        RawData(a["xcoords"], a["ycoords"], a["xcoords"], None, a["diffraction"], a["probeGuess"], None)


# ------------------------------------------------------------------ file-level problems (§6)


def _file_error(path: Path, words: str) -> None:
    for reader in (validate_npz, RawData.from_file):
        with pytest.raises(ContractError) as e:
            reader(path)
        msg = str(e.value)
        assert msg.startswith(f"{path}: "), msg
        assert "\n" not in msg
        assert words in msg, msg


def test_missing_empty_notzip_truncated_corrupt(tmp_path: Path) -> None:
    """§6: unreadable, empty, not-a-zip, truncated and corrupted files name the file."""
    _file_error(tmp_path / "nope.npz", "no such file")
    _file_error(tmp_path, "a directory")
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    _file_error(empty, "empty")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"this is not a zip archive at all")
    _file_error(junk, "not a zip")
    good = _write(tmp_path, valid_arrays(3, 3))
    data = good.read_bytes()
    trunc = tmp_path / "trunc.npz"
    trunc.write_bytes(data[: len(data) // 2])
    _file_error(trunc, "not a zip archive or truncated")
    # flip a byte inside the stored diffraction payload: the zip CRC check must catch it
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo("diffraction.npy")
    corrupt = tmp_path / "corrupt.npz"
    raw = bytearray(data)
    pos = info.header_offset + 30 + len(info.filename) + 200 + 1000  # inside the payload
    raw[pos] ^= 0xFF
    corrupt.write_bytes(bytes(raw))
    _file_error(corrupt, "damaged member")
    no_npy = tmp_path / "nonpy.npz"
    with zipfile.ZipFile(no_npy, "w") as zf:
        zf.writestr("readme.txt", "hello")
    _file_error(no_npy, "at least one .npy")


class _Payload:
    """Unpickling this object would create the marker file (the attack a pickled array carries)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (builtins.open, (str(self.marker), "w"))


def test_pickled_object_array_refused_and_not_executed(tmp_path: Path) -> None:
    """§6.2: an object array is refused from its header; the pickle payload never runs."""
    marker = tmp_path / "PWNED"
    arrays: dict[str, Any] = dict(valid_arrays(3, 4))
    arrays["_metadata"] = np.array([_Payload(marker)], dtype=object)
    path = tmp_path / "evil.npz"
    np.savez(path, **arrays)  # np.savez pickles the object array
    assert not marker.exists()
    for reader in (read_npz, validate_npz, RawData.from_file):
        with pytest.raises(ContractError) as e:
            reader(path)
        assert str(e.value).startswith(f"{path}: key '_metadata': expected a numeric or string array")
        assert "refused without unpickling" in str(e.value)
        assert not marker.exists()
    # the payload is live: loading it the unsafe way does create the marker
    with np.load(path, allow_pickle=True) as z:
        z["_metadata"]
    assert marker.exists()


def _npz_with_member(path: Path, name: str, header_shape: tuple[int, ...], payload: bytes) -> None:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f8", "fortran_order": False, "shape": header_shape}
    )
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(name + ".npy", buf.getvalue() + payload)


def test_size_bounds_refuse_before_allocating(tmp_path: Path) -> None:
    """§6.3: a header claiming absurd sizes, or a decompression bomb, is refused up front."""
    liar = tmp_path / "liar.npz"
    _npz_with_member(liar, "diffraction", (10**6, 10**6), b"\0" * 64)
    with pytest.raises(ContractError, match=r"key 'diffraction': expected 8000000000000 payload bytes.*inconsistent"):
        read_npz(liar)
    # a 4 MiB constant array deflates ~1000:1; with the floor lowered the ratio bound applies
    bomb = tmp_path / "bomb.npz"
    np.savez_compressed(bomb, diffraction=np.zeros(2**19))
    assert bomb.stat().st_size < 2**19 * 8 / 256
    with pytest.raises(ContractError, match=r"key 'diffraction': expected decoded size at most .*refused before allocating"):
        read_npz(bomb, max_expansion=256, min_budget_bytes=0)
    assert read_npz(bomb)["diffraction"].shape == (2**19,)  # under the default 64 MiB floor
