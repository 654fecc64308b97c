"""Regression: train -> save -> load -> infer -> PNG on the 64-position fixture (guide §11;
specs/torch-workflow.md §4-§7). CPU, 2 epochs, small n_groups, gridsize 1 and 2."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from ptycho import params
from ptycho.config.config import ModelConfig, TrainingConfig, update_legacy_dict
from ptycho.raw_data import RawData
from ptycho_torch.export import save_reconstruction_pngs
from ptycho_torch.workflows.components import (
    _reassemble_cdi_image_torch,
    load_inference_bundle_torch,
    run_cdi_example_torch,
)

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"


@pytest.mark.parametrize("gridsize,n_groups", [(1, 32), (2, 16)])
def test_run_pytorch_train_save_load_infer(tmp_path, gridsize, n_groups):
    train_dir, infer_dir = tmp_path / "train", tmp_path / "infer"
    config = TrainingConfig(
        model=ModelConfig(N=64, gridsize=gridsize, n_filters_scale=1, amp_activation="silu"),
        train_data_file=FIXTURE,
        test_data_file=FIXTURE,
        n_groups=n_groups,
        batch_size=8,
        nepochs=2,
        neighbor_count=4,
        subsample_seed=1,
        output_dir=train_dir,
        backend="pytorch",
    )
    update_legacy_dict(params.cfg, config)
    train_data = RawData.from_file(str(config.train_data_file))
    test_data = RawData.from_file(str(config.test_data_file))

    # training phase
    amp, phase, results = run_cdi_example_torch(train_data, test_data, config, do_stitching=False,
                                                execution_config={"accelerator": "cpu"})
    assert amp is None and phase is None
    assert len(results["history"]["train_loss"]) == 2 and len(results["history"]["val_loss"]) == 2
    assert all(math.isfinite(v) for v in results["history"]["train_loss"])
    # persistence phase
    assert (train_dir / "checkpoints" / "last.ckpt").is_file()
    assert (train_dir / "wts.h5.zip").is_file()

    # load phase: no config supplied by the caller
    models, loaded = load_inference_bundle_torch(train_dir)
    assert loaded == config
    assert {"lightning_module", "diffraction_to_obj"} <= set(models)

    # inference phase
    recon_amp, recon_phase, res = _reassemble_cdi_image_torch(
        test_data, loaded, False, False, False, M=20, models=models,
        execution_config={"accelerator": "cpu"},
    )
    # gridsize > 1: every member of every group is stitched at its own position (specs/torch-workflow.md §6)
    assert res["obj_tensor_full"].shape == (n_groups * gridsize**2, 64, 64, 1)
    assert recon_amp.ndim == 2 and recon_amp.shape == recon_phase.shape
    # canvas side = M + 2·pad, pad = ceil(max |offset − mean offset|) rounded up to even (specs/physics.md §6)
    off = res["global_offsets"].reshape(-1, 2)
    pad = math.ceil(np.abs(off - off.mean(0)).max())
    pad += pad % 2
    assert recon_amp.shape == (20 + 2 * pad, 20 + 2 * pad)
    assert np.all(np.isfinite(recon_amp)) and np.all(np.isfinite(recon_phase))
    assert np.all(np.abs(recon_phase) <= np.pi + 1e-6) and recon_amp.max() > 0

    # artifact validation
    a_png, p_png = save_reconstruction_pngs(recon_amp, recon_phase, infer_dir)
    assert a_png.stat().st_size > 1024 and p_png.stat().st_size > 1024
    assert "tensorflow" not in sys.modules
