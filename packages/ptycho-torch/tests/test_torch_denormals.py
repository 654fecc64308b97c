"""Denormal floats are flushed while training and inference run on the CPU, and the caller's mode comes back
(specs/torch-training.md §4)."""

from __future__ import annotations

from pathlib import Path

import torch

from ptycho_torch.denormals import denormal_mode_restored, denormals_flushed, flush_denormals_enabled

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


def test_the_callback_restores_the_mode_after_a_fit_and_after_a_failed_one(tmp_path):
    """FlushDenormals restores the caller's mode in on_fit_end and in on_exception: the process-wide mode must
    not leak into later code (hypothesis, for one, refuses to run with it on)."""
    import lightning as L
    import pytest

    from ptycho.config.config import ModelConfig, TrainingConfig
    from ptycho.raw_data import RawData
    from ptycho_torch.data import PtychoDataContainerTorch, build_dataloader
    from ptycho_torch.denormals import FlushDenormals
    from ptycho_torch.lightning_module import PtychoPINN_Lightning

    cfg = TrainingConfig(model=ModelConfig(N=64, gridsize=1, n_filters_scale=1), n_groups=16, batch_size=16,
                         nepochs=1, output_dir=tmp_path, backend="pytorch")
    container = PtychoDataContainerTorch.from_raw_data(RawData.from_file(FIXTURE), cfg)
    loader = build_dataloader(container, 16, shuffle=False)
    seen: list[bool] = []

    class Fails(L.Callback):
        def on_train_batch_start(self, *args, **kwargs):
            seen.append(flush_denormals_enabled())
            raise RuntimeError("stop")

    def fit(*callbacks):
        module = PtychoPINN_Lightning(cfg.model, cfg, container.probe)
        L.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                  enable_model_summary=False, default_root_dir=tmp_path, callbacks=list(callbacks)).fit(module, loader)

    for before in (False, True):
        torch.set_flush_denormal(before)
        fit(FlushDenormals())
        assert flush_denormals_enabled() is before
        with pytest.raises(RuntimeError, match="stop"):
            fit(FlushDenormals(), Fails())
        assert seen[-1] is True and flush_denormals_enabled() is before
    torch.set_flush_denormal(False)
    fit()  # without the callback the module leaves the mode alone
    assert not flush_denormals_enabled()
