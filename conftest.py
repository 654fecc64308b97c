"""Workspace-wide pytest setup shared by every package's tests.

Hypothesis profiles: ``dev`` (default, 50 examples), ``ci`` (bounded: 25 examples, derandomised so a
CI run is reproducible), ``thorough`` (500 examples). Select with HYPOTHESIS_PROFILE.

Fixtures ``rebuild_bundle``, ``declare_member_size`` and ``damaged_zips``: the tampered-bundle makers of both
backends' bundle tests (specs/bundle-format.md, specs/reliability.md); ``traced_peak``: a call's result and
its peak traced (Python + numpy) allocation in bytes.
"""

import hashlib
import json
import os
import struct
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def _rebuild_bundle(src: Path, dst: Path, replace: dict[str, bytes]) -> Path:
    """Copy the bundle zip ``src`` to ``dst`` with the members in ``replace`` swapped in (or added), and the
    manifest's sha256 entries updated for them, so only the loader's decoding checks stand between the
    payload and the caller. Returns ``dst``."""
    with zipfile.ZipFile(src) as zin:
        members = {n: zin.read(n) for n in zin.namelist()}
    members.update(replace)
    manifest = json.loads(members["manifest.json"])
    for name in replace:
        manifest["files"][name] = hashlib.sha256(members[name]).hexdigest()
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in members.items():
            zout.writestr(name, data)
    return dst


@pytest.fixture
def rebuild_bundle():
    """``rebuild_bundle(src, dst, {member: bytes})`` -> dst: a re-hashed copy of a bundle with members replaced."""
    return _rebuild_bundle


def _declare_member_size(data: bytes, name: bytes, size: int) -> bytes:
    """Zip bytes with the central-directory uncompressed size of member ``name`` rewritten to ``size``
    (a header that lies; the member's data are untouched)."""
    i = 0
    while True:
        i = data.index(b"PK\x01\x02", i)
        n = struct.unpack("<H", data[i + 28 : i + 30])[0]
        if data[i + 46 : i + 46 + n] == name:
            return data[: i + 24] + struct.pack("<I", size) + data[i + 28 :]
        i += 4


@pytest.fixture
def declare_member_size():
    """``declare_member_size(zip_bytes, b'member', size)`` -> zip bytes whose directory declares that size."""
    return _declare_member_size


def _damaged_zips(ok: Path, out: Path, cuts: int) -> list[tuple[Path, str]]:
    """Damaged variants of the bundle ``ok`` written under ``out``: about ``cuts`` prefix truncations, a foreign
    zip (no manifest) and 5000 random bytes. Returns (path, text the loader's error must contain)."""
    raw = ok.read_bytes()
    cases = []
    for k, cut in enumerate(range(0, len(raw), max(1, len(raw) // cuts))):
        p = out / f"cut{k}.zip"
        p.write_bytes(raw[:cut])
        cases.append((p, ""))
    foreign = out / "foreign.zip"
    with zipfile.ZipFile(foreign, "w") as zf:
        zf.writestr("word/document.xml", "<w:document/>")
    cases.append((foreign, "manifest.json"))
    garbage = out / "garbage.zip"
    garbage.write_bytes(np.random.default_rng(0).bytes(5000))
    cases.append((garbage, ""))
    return cases


@pytest.fixture
def damaged_zips():
    """``damaged_zips(ok_bundle, out_dir, cuts)`` -> [(path, expected error text)] (truncated, foreign, garbage)."""
    return _damaged_zips


@pytest.fixture
def traced_peak():
    """``traced_peak(fn)`` -> (fn(), peak bytes allocated while it ran, as ``tracemalloc`` counts them)."""

    def run(fn):
        tracemalloc.start()
        try:
            result = fn()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        return result, peak

    return run
