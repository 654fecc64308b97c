"""The committed 64-position fixture (specs/data-contract.md §9): intact, valid, physically consistent."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ptycho.data_contract import validate_npz
from ptycho.physics import extract_patches, far_field_amplitude
from ptycho.raw_data import RawData

FIXTURES = Path(__file__).resolve().parent / "fixtures"
NPZ = FIXTURES / "minimal_dataset_v1.npz"
SHA = FIXTURES / "minimal_dataset_v1.sha256"


def _corr(u: np.ndarray, v: np.ndarray) -> float:
    u = u - u.mean()
    v = v - v.mean()
    return float((u * v).sum() / np.sqrt((u * u).sum() * (v * v).sum()))


def test_sha256_matches_record() -> None:
    """§9: the committed bytes are the recorded ones (sha256sum format)."""
    digest, name = SHA.read_text().split()
    assert name == NPZ.name
    assert hashlib.sha256(NPZ.read_bytes()).hexdigest() == digest


def test_fixture_validates_with_documented_shapes() -> None:
    """§9: N = 64, 64 positions, contract dtypes; no pickle needed to read it."""
    v = validate_npz(NPZ)
    assert v["N"] == 64 and v["M"] == 64
    raw = RawData.from_file(NPZ)
    assert raw.diff3d.shape == (64, 64, 64) and raw.diff3d.dtype == np.float32
    assert raw.probeGuess.shape == (64, 64) and raw.probeGuess.dtype == np.complex64
    assert raw.objectGuess is not None and min(raw.objectGuess.shape) >= 128
    assert raw.metadata is not None and raw.metadata["fixture"]["name"] == NPZ.name
    with np.load(NPZ, allow_pickle=False) as z:
        assert "diffraction" in z.files
    # positions keep every patch inside the object
    assert raw.xcoords.min() >= 32 and raw.xcoords.max() <= raw.objectGuess.shape[1] - 32
    assert raw.ycoords.min() >= 32 and raw.ycoords.max() <= raw.objectGuess.shape[0] - 32


def test_patterns_belong_to_their_positions() -> None:
    """§9: the stored patterns are the (noisy) far field of probe × object patch at each position.

    Noiseless re-simulation with ptycho.physics must match pattern by pattern (correlation of the
    deviations from the mean pattern > 0.99), while the same comparison with positions shifted
    by one index must fail: the check detects a pattern/position mismatch.
    """
    raw = RawData.from_file(NPZ)
    assert raw.objectGuess is not None
    pos = np.stack([raw.xcoords, raw.ycoords], axis=1)
    patches = extract_patches(raw.objectGuess, pos, 64).astype(np.complex128)
    clean = far_field_amplitude(patches * raw.probeGuess.astype(np.complex128)[None])
    data = raw.diff3d.astype(np.float64)
    # amplitudes are stored on the noiseless scale (sqrt(counts) / photon scale)
    assert abs((data * clean).sum() / (clean * clean).sum() - 1.0) < 1e-3
    dev_data = data - data.mean(axis=0)
    dev_clean = clean - clean.mean(axis=0)
    assert _corr(dev_data, dev_clean) > 0.99
    assert min(_corr(data[i], clean[i]) for i in range(64)) > 0.99
    shifted = np.roll(np.arange(64), 1)
    assert _corr(dev_data, dev_clean[shifted]) < 0.5
