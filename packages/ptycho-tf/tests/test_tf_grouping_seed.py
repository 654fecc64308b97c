"""Grouping seed of the TensorFlow workflow (specs/tf-backend.md §7): the PyTorch backend's rule.

``PtychoDataContainerTorch.from_raw_data`` passes ``config.subsample_seed`` to
``RawData.generate_grouped_data``; the TF workflow must group a config identically, so the reference here
is that contracts call with the config's seed (the cross-backend check is tests-parity P5).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ptycho.config.config import ModelConfig, TrainingConfig
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


def test_none_draws_fresh_entropy_and_records_it():
    cfg = _config(None)
    a = components.create_ptycho_data_container(_raw(), cfg)
    b = components.create_ptycho_data_container(_raw(), cfg)
    assert isinstance(a.grouping_seed, int) and a.grouping_seed != b.grouping_seed
    assert not np.array_equal(a.nn_indices, b.nn_indices)  # 16 random groups of 4 out of 64: never equal
    np.testing.assert_array_equal(a.nn_indices, _reference(cfg, a.grouping_seed))


def test_sequential_with_none_uses_seed_zero_like_contracts():
    cfg = _config(None, sequential=True)
    cont = components.create_ptycho_data_container(_raw(), cfg)
    assert cont.grouping_seed == 0
    np.testing.assert_array_equal(cont.nn_indices, _reference(cfg, None))


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_bad_seed_is_one_line_value_error(bad):
    with pytest.raises(ValueError, match=r"^grouping seed: expected a non-negative integer or None, found"):
        components.grouping_seed(_config(None), bad)


def test_train_cdi_model_records_and_resumes_with_the_entropy_seed(tmp_path):
    """subsample_seed=None: the seeds drawn are written to checkpoints/grouping.json; resume regroups with
    them (otherwise a resumed run would silently train on other groups); no record -> one-line error."""
    cfg = _config(None, gs=1, nepochs=1, batch_size=8, output_dir=tmp_path / "run", backend="tensorflow")
    first = components.train_cdi_model(_raw(), None, cfg)
    rec = json.loads((tmp_path / "run" / "checkpoints" / "grouping.json").read_text())
    assert rec == {"train": first["train_container"].grouping_seed, "test": None}
    cfg.nepochs = 2
    resumed = components.train_cdi_model(_raw(), None, cfg, resume_from=True)
    assert resumed["train_container"].grouping_seed == rec["train"]
    np.testing.assert_array_equal(resumed["train_container"].nn_indices, first["train_container"].nn_indices)
    assert resumed["history_epochs"] == 2
    (tmp_path / "run" / "checkpoints" / "grouping.json").unlink()
    with pytest.raises(ValueError, match=r"^resume_from: .*grouping\.json: expected the grouping seeds"):
        components.train_cdi_model(_raw(), None, cfg, resume_from=True)
