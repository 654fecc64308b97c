"""Denormal floats are flushed while training and inference run on the CPU, and the caller's mode comes back
(specs/torch-training.md §4)."""

from __future__ import annotations

from pathlib import Path

import torch

from ptycho_torch.workflows.execution import (
    denormal_mode_restored,
    denormals_flushed,
    flush_denormals_enabled,
)

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"


def test_the_mode_reads_back_and_is_restored():
    torch.set_flush_denormal(False)
    assert not flush_denormals_enabled()
    assert float(torch.tensor([1e-39]).mul(2.0)[0]) != 0.0  # gradual underflow: a denormal survives
    with denormals_flushed("cpu"):
        assert flush_denormals_enabled()
        assert float(torch.tensor([1e-39]).mul(2.0)[0]) == 0.0
    assert not flush_denormals_enabled()
    with denormals_flushed("meta"):  # other devices: the CPU mode is left alone
        assert not flush_denormals_enabled()
    with denormal_mode_restored():
        torch.set_flush_denormal(True)
    assert not flush_denormals_enabled()


def test_training_flushes_inside_fit_and_restores_after(tmp_path):
    """The module turns flushing on in on_fit_start (seen from a training step); after the run the caller's
    mode (off) is back."""
    import lightning as L

    from ptycho.config.config import ModelConfig, TrainingConfig
    from ptycho.raw_data import RawData
    from ptycho_torch.workflows.components import train_cdi_model_torch

    seen: list[bool] = []

    class Probe(L.Callback):
        def on_train_batch_start(self, *args, **kwargs):
            seen.append(flush_denormals_enabled())

    torch.set_flush_denormal(False)
    cfg = TrainingConfig(model=ModelConfig(N=64, gridsize=1, n_filters_scale=1), n_groups=16, batch_size=16,
                         nepochs=1, output_dir=tmp_path, backend="pytorch")
    train_cdi_model_torch(RawData.from_file(FIXTURE), None, cfg, callbacks=[Probe()], execution_config={
        "accelerator": "cpu", "logger_backend": "none", "enable_checkpointing": False})
    assert seen == [True]
    assert not flush_denormals_enabled()
