"""Atomic output (specs/data-contract.md §8): old file or complete new file, never a partial one."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ptycho.atomic_io import (
    atomic_write,
    save_json_atomic,
    save_npz_atomic,
    save_npz_compressed_atomic,
    save_text_atomic,
)


def _leftovers(folder: Path, name: str) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(f".{name}.") and p.name.endswith(".tmp")]


def test_exception_mid_write_keeps_old_file_and_removes_temp(tmp_path: Path) -> None:
    """§8.1: an error inside the block leaves the old bytes and no temporary file."""
    target = tmp_path / "out.bin"
    target.write_bytes(b"old content")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_write(target, "wb") as fh:
            fh.write(b"new partial")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"old content"
    assert _leftovers(tmp_path, "out.bin") == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_success_replaces_and_sets_normal_permissions(tmp_path: Path) -> None:
    """§8.1: on success the target holds the new bytes; permissions are not mkstemp's 0o600."""
    target = tmp_path / "sub" / "out.txt"
    with atomic_write(target, "w") as fh:
        fh.write("héllo\n")
    assert target.read_text(encoding="utf-8") == "héllo\n"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert _leftovers(target.parent, "out.txt") == []


def test_bad_mode_and_exclusive_mode(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected a write mode"):
        with atomic_write(tmp_path / "a", "rb"):
            pass
    target = tmp_path / "x.txt"
    target.write_text("keep")
    with pytest.raises(FileExistsError):
        with atomic_write(target, "x") as fh:
            fh.write("new")
    assert target.read_text() == "keep"
    assert _leftovers(tmp_path, "x.txt") == []


_WRITER = r"""
import sys, time
from ptycho.atomic_io import atomic_write
path = sys.argv[1]
with atomic_write(path, "wb") as fh:
    for i in range(100000):
        fh.write(b"N" * 4096)
        fh.flush()
        if i == 3:
            print("writing", flush=True)
        time.sleep(0.001)
"""


def test_sigkill_mid_write_leaves_old_file(tmp_path: Path) -> None:
    """§8.1: a writer killed with SIGKILL in the middle of a write leaves the old file intact."""
    target = tmp_path / "data.bin"
    target.write_bytes(b"OLD" * 1000)
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == b"writing"
        time.sleep(0.05)
        # the temporary file exists and is growing while the target is untouched
        assert len(_leftovers(tmp_path, "data.bin")) == 1
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert target.read_bytes() == b"OLD" * 1000


def test_sigkill_after_commit_leaves_new_file(tmp_path: Path) -> None:
    """§8.1: once the writer finished, the target holds exactly the new bytes."""
    target = tmp_path / "data.bin"
    target.write_bytes(b"OLD")
    code = (
        "import sys, os, signal\n"
        "from ptycho.atomic_io import atomic_write\n"
        "with atomic_write(sys.argv[1], 'wb') as fh:\n"
        "    fh.write(b'NEW' * 5000)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(target)], timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert target.read_bytes() == b"NEW" * 5000


def test_npz_roundtrip_deterministic_and_no_suffix(tmp_path: Path) -> None:
    """§8.2: NPZ bytes depend only on the arrays; np.load reads them without pickle."""
    rng = np.random.default_rng(3)
    arrays = {"a": rng.random((3, 4)).astype(np.float32), "b": np.arange(5), "c": np.array("txt")}
    p1, p2 = tmp_path / "one.bin", tmp_path / "two.npz"
    save_npz_atomic(p1, **arrays)
    save_npz_atomic(p2, **arrays)
    assert p1.exists() and not (tmp_path / "one.bin.npz").exists()
    assert hashlib.sha256(p1.read_bytes()).digest() == hashlib.sha256(p2.read_bytes()).digest()
    with np.load(p1, allow_pickle=False) as z:
        assert list(z.files) == ["a", "b", "c"]
        for k, v in arrays.items():
            np.testing.assert_array_equal(z[k], v)
            assert z[k].dtype == v.dtype
    with zipfile.ZipFile(p1) as zf:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        # a fixed member timestamp, not the clock (np.savez stamps the current time)
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    save_npz_compressed_atomic(tmp_path / "c.npz", **arrays)
    with zipfile.ZipFile(tmp_path / "c.npz") as zf:
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zf.infolist())
    with np.load(tmp_path / "c.npz", allow_pickle=False) as z:
        np.testing.assert_array_equal(z["a"], arrays["a"])


def test_npz_refuses_object_arrays_before_touching_target(tmp_path: Path) -> None:
    target = tmp_path / "d.npz"
    target.write_bytes(b"old")
    with pytest.raises(ValueError, match="key 'bad'.*object"):
        save_npz_atomic(target, good=np.zeros(2), bad=np.array([{"x": 1}], dtype=object))
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path, "d.npz") == []


def test_json_and_text(tmp_path: Path) -> None:
    save_json_atomic(tmp_path / "r.json", {"b": 1, "a": [1.5, "x"]})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": [1.5, "x"], "b": 1}
    (tmp_path / "n.json").write_text("old")
    with pytest.raises(ValueError):
        save_json_atomic(tmp_path / "n.json", {"x": float("nan")})
    assert (tmp_path / "n.json").read_text() == "old"
    save_text_atomic(tmp_path / "t.txt", "1\n2\n")
    assert (tmp_path / "t.txt").read_text() == "1\n2\n"
    with pytest.raises(TypeError, match="expected str"):
        save_text_atomic(tmp_path / "t.txt", b"bytes")  # type: ignore[arg-type]
