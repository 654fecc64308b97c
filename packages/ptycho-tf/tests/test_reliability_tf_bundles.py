"""Safe loading of TensorFlow bundles (specs/reliability.md §4, specs/bundle-format.md §4, specs/tf-backend.md §5):
pickled payloads never run, zip-slip names and zip bombs are refused before decoding, damaged files give one
line (BundleError, a ValueError)."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import pytest

from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho_tf import bundle as tfb


class _Marker:
    """Unpickling this object creates ``path`` - the proof that a loader executed code from a file."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


@pytest.fixture(scope="module")
def ok_bundle(tmp_path_factory) -> Path:
    from ptycho_tf.network import build_models

    mc = ModelConfig(N=64, gridsize=1, n_filters_scale=1)
    models = build_models(mc, intensity_scale=10.0, seed=0)
    return tfb.save_bundle(tmp_path_factory.mktemp("tfb"), models, TrainingConfig(model=mc))


def _one_line_error(path: Path, **kw) -> str:
    with pytest.raises(ValueError) as info:
        tfb.load_bundle(path, **kw)
    assert isinstance(info.value, tfb.BundleError)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg
    return msg


def test_round_trip_still_loads(ok_bundle):
    models, config, extras = tfb.load_bundle(ok_bundle)
    assert config.model.N == 64 and extras["probe"].shape == (64, 64)


@pytest.mark.parametrize("member", ["model.weights.h5", "physics.npz", "config.json"])
def test_pickled_payload_is_refused_and_never_executed(tmp_path, ok_bundle, member, rebuild_bundle):
    """A member replaced by a pickle that would create a marker file (manifest hashes updated)."""
    marker = tmp_path / "PWNED"
    buf = io.BytesIO()
    np.savez(buf, probe=np.array([_Marker(marker)], dtype=object), intensity_scale=np.float64(1.0))
    payload = buf.getvalue() if member == "physics.npz" else pickle.dumps(_Marker(marker))
    bad = rebuild_bundle(ok_bundle, tmp_path / "evil.zip", {member: payload})
    _one_line_error(bad)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil.txt", "a/../../evil.txt", "C:\\evil.txt"])
def test_zip_slip_names_are_refused(tmp_path, ok_bundle, name, rebuild_bundle):
    bad = rebuild_bundle(ok_bundle, tmp_path / "slip.zip", {name: b"owned"})
    assert "unsafe member name" in _one_line_error(bad)
    assert not (tmp_path / "evil.txt").exists()


def test_zip_bomb_is_refused_before_decompression(tmp_path, ok_bundle, rebuild_bundle, traced_peak):
    bad = rebuild_bundle(ok_bundle, tmp_path / "bomb.zip", {"physics.npz": bytes(64 * 1024 * 1024)})
    msg, peak = traced_peak(lambda: _one_line_error(bad, max_uncompressed_bytes=16 * 1024 * 1024))
    assert "exceeds the limit" in msg and peak < 4 * 1024 * 1024


def test_declared_huge_member_is_refused_with_default_limit(tmp_path, ok_bundle, declare_member_size):
    bad = tmp_path / "huge.zip"
    bad.write_bytes(declare_member_size(ok_bundle.read_bytes(), b"physics.npz", 3_500_000_000))
    assert "exceeds the limit" in _one_line_error(bad)


def test_truncated_foreign_and_garbage_files_give_one_line(tmp_path, ok_bundle, rebuild_bundle, damaged_zips):
    for path, expected in damaged_zips(ok_bundle, tmp_path, cuts=17):
        assert expected in _one_line_error(path)
    weights_swapped = rebuild_bundle(ok_bundle, tmp_path / "swap.zip", {"model.weights.h5": b"\x89HDF\r\n\x1a\n" + bytes(64)})
    assert "model.weights.h5" in _one_line_error(weights_swapped)


@pytest.mark.parametrize("shape", [(32, 32), (64, 32), (64,), (3, 32, 32), (33, 64, 64)])
def test_probe_of_another_size_than_the_config_is_refused(tmp_path, ok_bundle, rebuild_bundle, shape):
    """Probe modes (K, N, N) are accepted (tf-backend.md §2.1); any other shape, or more than 32 modes, is refused."""
    buf = io.BytesIO()
    np.savez(buf, probe=np.ones(shape, np.complex64), intensity_scale=np.float64(10.0))
    bad = rebuild_bundle(ok_bundle, tmp_path / "probe.zip", {"physics.npz": buf.getvalue()})
    assert "expected a (64, 64) complex probe or (K, 64, 64) modes (config N=64)" in _one_line_error(bad)
