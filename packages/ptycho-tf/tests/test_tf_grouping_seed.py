"""Grouping seed of the TensorFlow workflow (specs/tf-backend.md §7, specs/config.md §3): the rule both
backends share, ``ptycho.config.config.effective_seed`` (``subsample_seed``, else ``DEFAULT_SEED``).

The reference here is the contracts call ``RawData.generate_grouped_data`` with that seed (the
cross-backend check is tests-parity P5).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ptycho.config.config import DEFAULT_SEED, ModelConfig, TrainingConfig
from ptycho.raw_data import RawData
from ptycho.workflows import components

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts/tests/fixtures/minimal_dataset_v1.npz"


def _raw():
    return RawData.from_file(FIXTURE)


def _config(seed, gs=2, sequential=False, **kw):
    return TrainingConfig(model=ModelConfig(N=64, gridsize=gs, n_filters_scale=1), n_groups=16, neighbor_count=6,
                          subsample_seed=seed, sequential_sampling=sequential, nphotons=1e6, **kw)


def _reference(cfg, seed):
    return _raw().generate_grouped_data(64, K=cfg.neighbor_count, nsamples=cfg.n_groups, seed=seed,
                                        sequential_sampling=cfg.sequential_sampling,
                                        gridsize=cfg.model.gridsize)["nn_indices"]


def test_config_subsample_seed_is_the_default_grouping_seed():
    cfg = _config(7)
    cont = components.create_ptycho_data_container(_raw(), cfg)
    assert cont.grouping_seed == 7
    np.testing.assert_array_equal(cont.nn_indices, _reference(cfg, 7))
    assert not np.array_equal(cont.nn_indices, _reference(cfg, 0))  # the old default seed 0 groups differently
    other = components.create_ptycho_data_container(_raw(), cfg, seed=3)  # an explicit seed wins
    assert other.grouping_seed == 3
    np.testing.assert_array_equal(other.nn_indices, _reference(cfg, 3))


def test_none_uses_the_shared_default_seed():
    """Deterministic by default: two containers of one config are identical, grouped with DEFAULT_SEED."""
    cfg = _config(None)
    a = components.create_ptycho_data_container(_raw(), cfg)
    b = components.create_ptycho_data_container(_raw(), cfg)
    assert a.grouping_seed == b.grouping_seed == DEFAULT_SEED
    np.testing.assert_array_equal(a.nn_indices, b.nn_indices)
    np.testing.assert_array_equal(a.nn_indices, _reference(cfg, DEFAULT_SEED))


def test_sequential_with_none_uses_the_default_seed():
    cfg = _config(None, sequential=True)
    cont = components.create_ptycho_data_container(_raw(), cfg)
    assert cont.grouping_seed == DEFAULT_SEED
    np.testing.assert_array_equal(cont.nn_indices, _reference(cfg, DEFAULT_SEED))


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_bad_seed_is_one_line_value_error(bad):
    with pytest.raises(ValueError, match=r"^grouping seed: expected a non-negative integer or None, found"):
        components.grouping_seed(_config(None), bad)


def test_resumed_training_regroups_identically(tmp_path):
    """A resumed run with subsample_seed=None trains on the same groups (the default seed is fixed)."""
    cfg = _config(None, gs=1, nepochs=1, batch_size=8, output_dir=tmp_path / "run", backend="tensorflow")
    first = components.train_cdi_model(_raw(), None, cfg)
    cfg.nepochs = 2
    resumed = components.train_cdi_model(_raw(), None, cfg, resume_from=True)
    assert resumed["train_container"].grouping_seed == first["train_container"].grouping_seed == DEFAULT_SEED
    np.testing.assert_array_equal(resumed["train_container"].nn_indices, first["train_container"].nn_indices)
    assert resumed["history_epochs"] == 2


def test_small_validation_scan_at_gridsize_2(tmp_path):
    """Validation data are grouped with validation_groups (one group per position at most without
    oversampling), as in the PyTorch backend: n_groups sized for training must not fail a smaller scan."""
    from ptycho.config.config import ModelConfig, TrainingConfig
    from ptycho.raw_data import RawData
    from ptycho.workflows import components

    fixture = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"
    raw = RawData.from_file(fixture)
    small = RawData.from_coords_without_pc(raw.xcoords[:16], raw.ycoords[:16], raw.diff3d[:16], raw.probeGuess,
                                           raw.scan_index[:16], raw.objectGuess)
    cfg = TrainingConfig(model=ModelConfig(N=64, gridsize=2, n_filters_scale=1), n_groups=30, nepochs=1,
                         batch_size=16, neighbor_count=4, output_dir=tmp_path, backend="tensorflow")
    res = components.train_cdi_model(raw, small, cfg)
    assert len(res["train_container"]) == 30 and len(res["test_container"]) == 16
