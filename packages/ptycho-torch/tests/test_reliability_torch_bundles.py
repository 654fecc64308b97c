"""Safe loading of PyTorch bundles and checkpoints (specs/reliability.md §4, specs/bundle-format.md §4):
pickled payloads never run, zip-slip names and zip bombs are refused before decoding, damaged files give
one line."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from ptycho_torch.bundle import BundleError, read_bundle, save_torch_bundle


class _Marker:
    """Unpickling this object creates ``path`` - the proof that a loader executed code from a file."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def _bundle(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    sd = {k: v.clone() for k, v in torch.nn.Linear(4, 3).state_dict().items()}
    probe = np.ones((8, 8), np.complex64)
    return save_torch_bundle(tmp_path / "ok", state_dict=sd, config_dict={"config_type": "TrainingConfig"},
                             probe=probe, intensity_scale=10.0)


def _one_line_error(path: Path, **kw) -> str:
    with pytest.raises(BundleError) as info:
        read_bundle(path, **kw)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg
    return msg


def _pickled_npz(marker: Path) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, probe=np.array([_Marker(marker)], dtype=object), intensity_scale=np.float64(1.0))
    return buf.getvalue()


def _pickled_torch(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


@pytest.mark.parametrize("member", ["weights.safetensors", "physics.npz", "config.json"])
def test_pickled_payload_is_refused_and_never_executed(tmp_path, member, rebuild_bundle):
    """A member replaced by a pickle that would create a marker file (manifest hashes updated)."""
    marker = tmp_path / "PWNED"
    payload = {"weights.safetensors": _pickled_torch({"w": _Marker(marker)}), "physics.npz": _pickled_npz(marker),
               "config.json": pickle.dumps(_Marker(marker))}[member]
    bad = rebuild_bundle(_bundle(tmp_path), tmp_path / "evil.zip", {member: payload})
    _one_line_error(bad)
    assert not marker.exists()


def test_pickled_checkpoint_is_refused_and_never_executed(tmp_path):
    """checkpoints/last.ckpt is read with torch.load(weights_only=True): a pickle gadget is a one-line error."""
    from ptycho_torch.workflows.components import load_checkpoint_safely, resolve_resume_checkpoint

    marker = tmp_path / "PWNED"
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(_pickled_torch({"state_dict": {}, "loops": {"x": _Marker(marker)}}))
    assert resolve_resume_checkpoint(True, tmp_path / "run") == ckpt
    with pytest.raises(ValueError) as info:
        load_checkpoint_safely(ckpt)
    assert "\n" not in str(info.value) and "not a loadable checkpoint" in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["../evil.txt", "../../tmp/evil.txt", "/etc/evil.txt", "a/../../evil.txt",
                                  "C:\\evil.txt", "sub\\..\\evil.txt"])
def test_zip_slip_names_are_refused(tmp_path, name, rebuild_bundle):
    """A member named to escape the folder (listed in the manifest with a correct hash) is refused by name."""
    bad = rebuild_bundle(_bundle(tmp_path), tmp_path / "slip.zip", {name: b"owned"})
    assert "unsafe member name" in _one_line_error(bad)
    assert not (tmp_path / "evil.txt").exists()


def test_zip_bomb_is_refused_before_decompression(tmp_path, rebuild_bundle, traced_peak):
    """64 MiB of zeros (64 KiB compressed) against a 16 MiB limit: refused from the headers, with far less
    than the bomb's size allocated."""
    bomb = bytes(64 * 1024 * 1024)
    bad = rebuild_bundle(_bundle(tmp_path), tmp_path / "bomb.zip", {"physics.npz": bomb})
    del bomb
    assert bad.stat().st_size < 1024 * 1024
    msg, peak = traced_peak(lambda: _one_line_error(bad, max_uncompressed_bytes=16 * 1024 * 1024))
    assert "exceeds the limit" in msg and peak < 4 * 1024 * 1024


def test_declared_huge_member_is_refused_with_default_limit(tmp_path, declare_member_size):
    """A member declaring 3.5 GiB is over the default 2 GiB bound: refused before any byte is inflated."""
    ok = _bundle(tmp_path)
    bad = tmp_path / "huge.zip"
    bad.write_bytes(declare_member_size(ok.read_bytes(), b"weights.safetensors", 3_500_000_000))
    assert "exceeds the limit" in _one_line_error(bad)


def test_truncated_foreign_and_garbage_files_give_one_line(tmp_path, damaged_zips):
    """Every prefix cut of a bundle, a foreign zip and random bytes: BundleError, never another type."""
    for path, expected in damaged_zips(_bundle(tmp_path), tmp_path, cuts=23):
        assert expected in _one_line_error(path)
