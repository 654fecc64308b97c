"""Fuzzed inputs (specs/reliability.md §5): malformed NPZ files and configs make the loaders and validators
raise ContractError or ValueError - never another exception, never hang, never allocate much for a small file.

Hypothesis generates the malformed inputs (bounded example counts); every call runs under a SIGALRM
watchdog (a hang fails the example) and ``tracemalloc`` (peak Python + numpy allocation bounded).
"""

from __future__ import annotations

import io
import math
import signal
import struct
import tempfile
import tracemalloc
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ptycho.config.config import ModelConfig, TrainingConfig, config_from_dict, config_to_dict
from ptycho.data_contract import ContractError, validate_npz
from ptycho.raw_data import RawData, load_data

N = 64
KEYS = ["diffraction", "xcoords", "ycoords", "xcoords_start", "ycoords_start", "scan_index", "probeGuess",
        "objectGuess", "Y", "diff3d", "metadata"]
#: Most bytes a load may allocate for files of at most ~2 MiB (the valid data itself is < 1.2 MiB).
ALLOC_LIMIT = 48 * 1024 * 1024
TIME_LIMIT_S = 20
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.function_scoped_fixture])


class _Hang(BaseException):
    """Not an Exception: the loaders' ``except Exception`` wrappers must not turn a hang into a ContractError."""


@contextmanager
def guarded():
    """Fail on a hang (SIGALRM after TIME_LIMIT_S) or on allocating more than ALLOC_LIMIT bytes."""

    def alarm(signum, frame):
        raise _Hang(f"call took more than {TIME_LIMIT_S} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(TIME_LIMIT_S)
    tracemalloc.start()
    try:
        yield
        peak = tracemalloc.get_traced_memory()[1]
        assert peak < ALLOC_LIMIT, f"allocated {peak} bytes for a small file"
    finally:
        tracemalloc.stop()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _valid(m: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "diffraction": rng.random((m, N, N)).astype(np.float32),
        "xcoords": rng.uniform(40, 80, m), "ycoords": rng.uniform(40, 80, m),
        "probeGuess": (rng.random((N, N)) + 0.1).astype(np.complex64),
        "objectGuess": np.ones((128, 128), np.complex64),
    }


DTYPES = st.sampled_from([np.float32, np.float64, np.int8, np.int64, np.uint16, np.complex64, np.complex128, np.bool_,
                          "<U3", "S2", np.float16, "datetime64[s]"])
SPECIAL = st.sampled_from([np.nan, np.inf, -np.inf, -1.0, 0.0, 1e308, -1e308, 3e38, 2**62, -(2**31)])


@st.composite
def arrays_for_key(draw):
    shape = tuple(draw(st.lists(st.integers(0, 70), min_size=0, max_size=3)))
    if math.prod(shape) > 20_000:
        shape = shape[:1]
    dtype = np.dtype(draw(DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if dtype.kind in "US":
        arr = np.full(shape, "ab", dtype=dtype)
    elif dtype.kind == "M":
        arr = np.zeros(shape, dtype=dtype)
    else:
        arr = rng.normal(size=shape).astype(dtype) if dtype.kind != "b" else rng.random(shape) > 0.5
        if arr.size and dtype.kind in "fc":
            arr.flat[draw(st.integers(0, arr.size - 1))] = draw(SPECIAL)
    return arr


@st.composite
def malformed_npz(draw) -> bytes:
    """A valid scan with keys dropped/replaced/added, then possibly truncated or with flipped bytes."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    arrays = _valid(draw(st.integers(1, 6)), rng)
    for key in draw(st.lists(st.sampled_from(KEYS + ["junk", "x/y", ""]), max_size=3, unique=True)):
        if draw(st.booleans()) and key in arrays:
            del arrays[key]
        elif key and "/" not in key:
            arrays[key] = draw(arrays_for_key())
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    data = bytearray(buf.getvalue())
    mode = draw(st.sampled_from(["as_is", "truncate", "flip", "both"]))
    if mode in ("truncate", "both"):
        data = data[: draw(st.integers(0, len(data)))]
    if mode in ("flip", "both") and data:
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= draw(st.integers(1, 255))
    return bytes(data)


def _load_all(path: Path) -> None:
    """Every public reader of scan files; each may only succeed or raise ContractError/ValueError."""
    for reader in (validate_npz, RawData.from_file, lambda p: load_data(p, n_subsample=2, subsample_seed=1)):
        try:
            reader(path)
        except ValueError:  # ContractError is a ValueError
            pass


@FUZZ
@given(data=malformed_npz())
def test_malformed_npz_only_contract_errors(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scan.npz"
        path.write_bytes(data)
        with guarded():
            _load_all(path)


def _npy_member(shape: tuple[int, ...], dtype: str, payload: bytes) -> bytes:
    header = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape!r}, }}".encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


@FUZZ
@given(dims=st.lists(st.integers(1, 2**40), min_size=1, max_size=3), key=st.sampled_from(KEYS),
       dtype=st.sampled_from(["<f4", "<f8", "<c16", "|u1"]), payload=st.integers(0, 4096))
def test_headers_that_lie_about_size_are_refused_before_allocating(dims, key, dtype, payload):
    """An .npy header declaring a huge shape (up to 2**120 elements) over a few bytes of payload."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{key}.npy", _npy_member(tuple(dims), dtype, bytes(payload)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "liar.npz"
        path.write_bytes(buf.getvalue())
        with guarded():
            for reader in (validate_npz, RawData.from_file):
                with pytest.raises(ContractError):
                    reader(path)


def test_truncation_at_every_point_of_a_valid_file(tmp_path):
    """Every prefix of a valid scan file: ContractError (or success for the complete file)."""
    buf = io.BytesIO()
    np.savez(buf, **_valid(2, np.random.default_rng(0)))
    raw = buf.getvalue()
    for cut in range(0, len(raw), max(1, len(raw) // 97)):
        p = tmp_path / f"cut{cut}.npz"
        p.write_bytes(raw[:cut])
        with guarded(), pytest.raises(ContractError):
            validate_npz(p)
    p = tmp_path / "full.npz"
    p.write_bytes(raw)
    assert validate_npz(p)["diffraction"].shape == (2, N, N)


FIELD_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
                         st.text(max_size=8), st.lists(st.integers(-3, 3), max_size=3),
                         st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))


@st.composite
def malformed_config(draw) -> dict:
    base = config_to_dict(TrainingConfig(model=ModelConfig(N=64)))
    model = dict(base["model"])
    for key in draw(st.lists(st.sampled_from(sorted(model)), max_size=3, unique=True)):
        model[key] = draw(FIELD_VALUES)
    out = dict(base, model=model)
    for key in draw(st.lists(st.sampled_from(sorted(k for k in base if k not in ("model", "config_type"))),
                             max_size=3, unique=True)):
        out[key] = draw(FIELD_VALUES)
    if draw(st.booleans()):
        out[draw(st.one_of(st.text(min_size=1, max_size=6), st.integers(), st.tuples(st.integers())))] = draw(FIELD_VALUES)
    if draw(st.integers(0, 9)) == 0:
        out["config_type"] = draw(FIELD_VALUES)
    return out


@settings(max_examples=150, deadline=None)
@given(cfg=st.one_of(malformed_config(), FIELD_VALUES))
def test_malformed_configs_raise_value_error_only(cfg):
    """config_from_dict on mutated TrainingConfig dicts (wrong types, NaN, huge/negative numbers, unknown
    keys, bad config_type, non-mappings): a valid config or ValueError naming the field, nothing else."""
    with guarded():
        try:
            config_from_dict(cfg)
        except ValueError as exc:
            assert "\n" not in str(exc).strip()
