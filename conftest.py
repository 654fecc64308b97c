"""Workspace-wide pytest setup shared by every package's tests.

Hypothesis profiles: ``dev`` (default, 50 examples), ``ci`` (bounded: 25 examples, derandomised so a
CI run is reproducible), ``thorough`` (500 examples). Select with HYPOTHESIS_PROFILE.

Fixture ``rebuild_bundle``: the tampered-bundle maker of both backends' bundle tests (specs/bundle-format.md).
"""

import hashlib
import json
import os
import zipfile
from pathlib import Path

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
