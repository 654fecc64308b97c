"""Bundle format tests (specs/bundle-format.md §1-§4): round trip, safety checks, cross-backend error."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from ptycho_torch.bundle import (
    BUNDLE_NAME,
    BundleError,
    BundleNotFoundError,
    read_bundle,
    save_torch_bundle,
)
from ptycho_torch.export import save_reconstruction_pngs


def _probe(N: int = 8) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.normal(size=(N, N)) + 1j * rng.normal(size=(N, N))).astype(np.complex64)


def _save(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    lin = torch.nn.Linear(4, 3)
    sd = {k: v.clone() for k, v in lin.state_dict().items()}
    path = save_torch_bundle(
        tmp_path,
        state_dict=sd,
        config_dict={"config_type": "TrainingConfig", "nepochs": 2},
        probe=_probe(),
        intensity_scale=988.0,
        module_kwargs={"learning_rate": 0.001, "scheduler": "Default"},
    )
    return path, sd


def _rewrite(src: Path, dst: Path, edit) -> Path:
    """Copy a bundle, letting ``edit(name, bytes) -> bytes | None`` change or drop members."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = edit(info.filename, zin.read(info.filename))
            if data is not None:
                zout.writestr(info.filename, data)
    return dst


def test_round_trip_is_exact(tmp_path):
    """§1: every tensor, the probe, the scale and the config come back bit-identical."""
    path, sd = _save(tmp_path)
    assert path == tmp_path / BUNDLE_NAME
    b = read_bundle(tmp_path)
    assert set(b.state_dict) == set(sd)
    for k, v in sd.items():
        assert torch.equal(b.state_dict[k], v)
    np.testing.assert_array_equal(b.probe, _probe())
    assert b.probe.dtype == np.complex64
    assert b.intensity_scale == 988.0
    assert b.config == {"config_type": "TrainingConfig", "nepochs": 2}
    assert b.module_kwargs == {"learning_rate": 0.001, "scheduler": "Default"}
    m = b.manifest
    assert m["backend"] == "pytorch" and m["format_version"] == 1
    with zipfile.ZipFile(path) as zf:
        for name, digest in m["files"].items():
            assert hashlib.sha256(zf.read(name)).hexdigest() == digest
        assert not any(n.endswith((".pt", ".pth", ".pkl", ".dill", ".ckpt")) for n in zf.namelist())


def test_missing_bundle_names_path(tmp_path):
    with pytest.raises(BundleNotFoundError, match="wts.h5.zip"):
        read_bundle(tmp_path)


def test_tensorflow_bundle_is_refused_naming_both_backends(tmp_path):
    """§3: a bundle tagged 'tensorflow' raises an error that names both backends."""
    path, _ = _save(tmp_path)

    def edit(name, data):
        if name == "manifest.json":
            m = json.loads(data)
            m["backend"] = "tensorflow"
            return json.dumps(m).encode()
        return data

    bad = _rewrite(path, tmp_path / "tf.zip", edit)
    with pytest.raises(BundleError, match="'tensorflow'.*'pytorch'"):
        read_bundle(bad)


@pytest.mark.parametrize(
    "case",
    ["truncated", "not_zip", "dotdot", "absolute", "tampered", "extra_member", "no_manifest", "pickle_npz", "future"],
)
def test_unsafe_or_corrupt_bundles_raise_bundle_error(tmp_path, case):
    """§4: each violation is a one-line BundleError (a ValueError) naming the file."""
    path, _ = _save(tmp_path)
    out = tmp_path / f"{case}.zip"
    raw = path.read_bytes()
    if case == "truncated":
        out.write_bytes(raw[: len(raw) // 2])
    elif case == "not_zip":
        out.write_bytes(b"PK\x03\x04 this is not really a zip archive" * 10)
    elif case in ("dotdot", "absolute", "extra_member"):
        name = {"dotdot": "../evil.py", "absolute": "/tmp/evil.py", "extra_member": "evil.py"}[case]
        _rewrite(path, out, lambda n, d: d)
        with zipfile.ZipFile(out, "a") as zf:
            zf.writestr(name, b"import os")
    elif case == "tampered":
        _rewrite(path, out, lambda n, d: d if n != "physics.npz" else d[:-1] + bytes([d[-1] ^ 1]))
    elif case == "no_manifest":
        _rewrite(path, out, lambda n, d: None if n == "manifest.json" else d)
    elif case == "future":
        _rewrite(path, out, lambda n, d: d if n != "manifest.json" else d.replace(b'"format_version": 1', b'"format_version": 99'))
    elif case == "pickle_npz":
        buf = io.BytesIO()
        np.savez(buf, probe=np.array([object()], dtype=object), intensity_scale=1.0)
        evil = buf.getvalue()

        def edit(n, d):
            if n == "physics.npz":
                return evil
            if n == "manifest.json":
                m = json.loads(d)
                m["files"]["physics.npz"] = hashlib.sha256(evil).hexdigest()
                return json.dumps(m).encode()
            return d

        _rewrite(path, out, edit)
    with pytest.raises(BundleError) as info:
        read_bundle(out)
    msg = str(info.value)
    assert str(out) in msg and "\n" not in msg


def test_uncompressed_size_bound(tmp_path):
    path, _ = _save(tmp_path)
    with pytest.raises(BundleError, match="exceeds the limit"):
        read_bundle(path, max_uncompressed_bytes=100)


def test_save_validates_inputs(tmp_path):
    with pytest.raises(ValueError, match="intensity_scale"):
        save_torch_bundle(tmp_path, state_dict={}, config_dict={}, probe=_probe(), intensity_scale=float("nan"))
    with pytest.raises(ValueError, match="probe"):
        save_torch_bundle(tmp_path, state_dict={}, config_dict={}, probe=np.ones((3, 4)), intensity_scale=1.0)
    assert not (tmp_path / BUNDLE_NAME).exists()


def test_pngs_written_atomically_and_large(tmp_path):
    """specs/torch-workflow.md §7: both PNGs exist, are valid PNG files and exceed 1 KB."""
    yy, xx = np.mgrid[0:40, 0:50]
    amp, phase = 1 + np.sin(xx / 5.0), np.cos(yy / 7.0)
    a, p = save_reconstruction_pngs(amp, phase, tmp_path / "out")
    assert a.name == "reconstructed_amplitude.png" and p.name == "reconstructed_phase.png"
    for f in (a, p):
        data = f.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1024
    assert sorted(x.name for x in (tmp_path / "out").iterdir()) == sorted([a.name, p.name])
    with pytest.raises(ValueError, match="equal shapes"):
        save_reconstruction_pngs(amp, phase[:3], tmp_path)
    with pytest.raises(ValueError, match="finite"):
        save_reconstruction_pngs(amp * np.nan, phase, tmp_path)


def test_save_outputs_writes_arrays_and_history(tmp_path):
    """specs/torch-workflow.md §7: save_outputs adds reconstruction.npz (float32) and history.json."""
    from ptycho_torch.export import save_outputs

    amp, phase = np.random.default_rng(0).uniform(size=(2, 30, 30))
    written = save_outputs(amp, phase, {"history": {"train_loss": [3.0, 2.0], "val_loss": []}}, tmp_path)
    assert set(written) == {"amplitude_png", "phase_png", "reconstruction", "history"}
    with np.load(written["reconstruction"], allow_pickle=False) as z:
        np.testing.assert_array_equal(z["amplitude"], amp.astype(np.float32))
        np.testing.assert_array_equal(z["phase"], phase.astype(np.float32))
    assert json.loads(written["history"].read_text()) == {"train_loss": [3.0, 2.0], "val_loss": []}
    assert save_outputs(None, None, None, tmp_path / "empty") == {}
