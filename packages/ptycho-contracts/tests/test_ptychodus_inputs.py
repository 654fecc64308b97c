"""What ptychodus hands the contracts package, each decision pinned without ptychodus (specs/ptychodus.md §3):
ModelConfig(N=0) assigned later, a (1, N, N) probe, integer detector counts, NumSamples = 1."""

from __future__ import annotations

import dataclasses
import pickle
import warnings

import numpy as np
import pytest

from ptycho.config.config import (
    ModelConfig,
    TrainingConfig,
    check_implemented,
    config_from_dict,
    config_to_dict,
)
from ptycho.data_contract import ContractError, DiffractionCountsWarning, validate_arrays
from ptycho.raw_data import RawData

N = 64


def _scan(m: int = 6) -> dict:
    """m positions, random amplitudes (below 3, not whole numbers) and probe."""
    rng = np.random.default_rng(m)
    return {"xcoords": rng.uniform(40, 80, m), "ycoords": rng.uniform(40, 80, m),
            "diff3d": (rng.random((m, N, N)) * 3).astype(np.float32),
            "probeGuess": (rng.random((N, N)) + 0.1).astype(np.complex64)}


def test_model_config_n_zero_is_assigned_once_from_the_data():
    """specs/config.md §2.1: N=0 builds, survives pickling (ptychodus sends it to a child process), takes
    one assignment of an allowed size, and is frozen again afterwards."""
    cfg = TrainingConfig(model=ModelConfig(N=0, gridsize=1, model_type="supervised"), output_dir=".")
    cfg = pickle.loads(pickle.dumps(cfg))
    with pytest.raises(ValueError, match=r"ModelConfig\.N: expected one of 64, 128, 256, got 48"):
        cfg.model.N = 48
    assert cfg.model.N == 0
    cfg.model.N = 128
    assert cfg.model.N == 128 and cfg.model.model_type == "supervised"
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.model.N = 64
    with pytest.raises(dataclasses.FrozenInstanceError):
        ModelConfig(N=0).gridsize = 2  # type: ignore[misc]
    assert config_from_dict(config_to_dict(cfg)).model.N == 128


def test_n_zero_is_refused_where_the_size_is_needed():
    """specs/config.md §2.1: training (both backends call check_implemented) names the unset field; other
    invalid sizes still fail at construction."""
    with pytest.raises(ValueError, match=r"ModelConfig\.N: expected one of 64, 128, 256 before training, got 0"):
        check_implemented(TrainingConfig(model=ModelConfig(N=0)))
    with pytest.raises(ValueError, match=r"ModelConfig\.N: expected .*\(or 0: taken from the data.*got 32"):
        ModelConfig(N=32)
    check_implemented(TrainingConfig(model=ModelConfig(N=64)))


def test_one_mode_probe_stack_is_squeezed_and_several_modes_are_kept():
    """specs/data-contract.md §2.2, §2.4: ptychodus exports probeGuess as (modes, N, N); one mode is squeezed,
    K >= 2 incoherent modes stay (K, N, N) complex64."""
    a = _scan()
    probe = a["probeGuess"]
    raw = RawData.from_coords_without_pc(a["xcoords"], a["ycoords"], a["diff3d"], probe[None], np.zeros(6, int))
    assert raw.probeGuess.shape == (N, N)
    np.testing.assert_array_equal(raw.probeGuess, probe)
    modes = np.stack([probe, 0.5 * probe, 0.25j * probe]).astype(np.complex128)
    out = validate_arrays({**a, "probeGuess": modes}, source="scan.npz")
    assert out["probeGuess"].shape == (3, N, N) and out["probeGuess"].dtype == np.complex64
    np.testing.assert_array_equal(out["probeGuess"], modes.astype(np.complex64))


@pytest.mark.parametrize("probe, match", [
    (lambda p: np.stack([p, 0 * p, p]), r"expected every probe mode with non-zero values, found mode 1 all zeros"),
    (lambda p: np.stack([p, p])[..., :32, :32], r"or \(K, 64, 64\) for K incoherent probe modes, found shape \(2, 32, 32\)"),
    (lambda p: p[None, None], r"found shape \(1, 1, 64, 64\)"),
    (lambda p: np.repeat(p[None], 33, axis=0), r"expected at most 32 probe modes, found 33 modes"),
    (lambda p: np.zeros((3, N, N)), r"expected a probe with non-zero values, found all zeros"),
])
def test_bad_multimode_probes_are_one_line_errors(probe, match):
    """specs/data-contract.md §2.2, §5: a bad mode stack names the file, 'probeGuess', expected and found."""
    a = _scan()
    with pytest.raises(ContractError, match=match) as err:
        validate_arrays({**a, "probeGuess": probe(a["probeGuess"])}, source="scan.npz")
    assert "\n" not in str(err.value) and str(err.value).startswith("scan.npz: key 'probeGuess': expected")


@pytest.mark.parametrize("dtype", [np.uint16, np.int32, np.float64])
def test_detector_counts_become_amplitudes_with_a_notice(dtype):
    """specs/data-contract.md §2.2: integer counts (integer dtype, or whole-number floats reaching 2) are
    square-rooted, never read as amplitudes silently; amplitudes and 0/1 arrays pass unchanged."""
    counts = np.random.default_rng(1).poisson(30.0, (6, N, N)).astype(dtype)
    a = {**_scan(), "diff3d": counts}
    with pytest.warns(DiffractionCountsWarning, match=r"scan\.npz: key 'diff3d': integer detector counts .* sqrt"):
        out = validate_arrays(a, source="scan.npz")
    np.testing.assert_allclose(out["diffraction"], np.sqrt(counts.astype(np.float64)), rtol=1e-6)
    amplitudes = np.sqrt(counts.astype(np.float64)).astype(np.float32)
    binary = (counts > 30).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for arr in (amplitudes, binary):
            np.testing.assert_array_equal(validate_arrays({**a, "diff3d": arr})["diffraction"], arr)
    with pytest.raises(ContractError, match=r"non-negative detector counts"):
        validate_arrays({**a, "diff3d": -counts.astype(np.int32)})


def test_nsamples_one_groups_every_position():
    """specs/grouping.md §2: nsamples=1 (ptychodus's NumSamples default) gives one group per position at
    gridsize 1 and 2; nsamples=2 gives two groups."""
    a = _scan(m=12)
    raw = RawData.from_coords_without_pc(a["xcoords"], a["ycoords"], a["diff3d"], a["probeGuess"], np.zeros(12, int))
    for gs in (1, 2):
        d = raw.generate_grouped_data(N, K=7, nsamples=1, gridsize=gs)
        assert d["X_full"].shape == (12, N, N, gs * gs)
        if gs == 1:
            assert sorted(d["nn_indices"][:, 0].tolist()) == list(range(12))
    assert raw.generate_grouped_data(N, K=7, nsamples=2, seed=0)["X_full"].shape[0] == 2
