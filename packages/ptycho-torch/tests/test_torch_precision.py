"""Mixed precision (specs/scaling.md §4): the network under bf16/fp16 autocast, physics and loss in float32."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho.raw_data import RawData
from ptycho_torch.data import create_ptycho_data_container
from ptycho_torch.lightning_module import PtychoPINN_Lightning
from ptycho_torch.workflows.execution import autocast_for

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"


def _config(out, gridsize=2):
    return TrainingConfig(model=ModelConfig(N=64, gridsize=gridsize, n_filters_scale=1), n_groups=32, batch_size=16,
                          nepochs=1, subsample_seed=3, output_dir=out, backend="pytorch")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    cfg = _config(tmp_path_factory.mktemp("p"))
    container = create_ptycho_data_container(RawData.from_file(FIXTURE), cfg)
    torch.manual_seed(0)
    module = PtychoPINN_Lightning(cfg.model, cfg, container.probe, container.intensity_scale).eval()
    return cfg, container, module


def test_bf16_autocast_reaches_the_network_but_not_the_physics(setup):
    _, container, module = setup
    batch = container.batch(list(range(16)))
    seen = {}
    h1 = module.encoder.register_forward_hook(lambda m, i, o: seen.__setitem__("encoder", o.dtype))
    h2 = module.forward_model.register_forward_pre_hook(lambda m, args: seen.__setitem__("physics", args[0].dtype))
    try:
        with torch.no_grad():
            ref = module.compute_loss(batch)[0]
            ref_pred = module.predict_step(batch)["object"]
            with autocast_for(torch.device("cpu"), "bf16-mixed"):
                loss = module.compute_loss(batch)[0]
                pred = module.predict_step(batch)["object"]
    finally:
        h1.remove()
        h2.remove()
    assert seen == {"encoder": torch.bfloat16, "physics": torch.complex64}  # network bf16, physics complex64/float32
    assert loss.dtype == torch.float32 and pred.dtype == torch.complex64
    assert float(loss) != float(ref)  # autocast really changed the network's arithmetic
    assert abs(float(loss) - float(ref)) <= 0.02 * abs(float(ref))
    err = float((pred - ref_pred).abs().mean() / ref_pred.abs().mean())
    assert 0 < err < 0.05


def test_autocast_for_32_is_disabled():
    with autocast_for(torch.device("cpu"), "32"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_bf16_training_follows_float32_training(tmp_path):
    """One epoch with Trainer(precision='bf16-mixed') vs float32 from the same initial weights."""
    from ptycho_torch.workflows.training import train_cdi_model_torch

    raw = RawData.from_file(FIXTURE)
    losses = {}
    for precision in ("32", "bf16-mixed"):
        cfg = _config(tmp_path / precision)
        res = train_cdi_model_torch(raw, None, cfg, execution_config={
            "accelerator": "cpu", "logger_backend": "none", "enable_checkpointing": False, "precision": precision})
        losses[precision] = res["history"]["train_loss"][0]
    assert np.isfinite(losses["bf16-mixed"])
    assert losses["bf16-mixed"] != losses["32"]
    assert abs(losses["bf16-mixed"] - losses["32"]) <= 0.02 * abs(losses["32"])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (select with pytest -m gpu)")
@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
def test_mixed_precision_training_on_cuda(tmp_path, precision):
    from ptycho_torch.workflows.training import train_cdi_model_torch

    raw = RawData.from_file(FIXTURE)
    losses = {}
    for p in ("32", precision):
        res = train_cdi_model_torch(raw, None, _config(tmp_path / p), execution_config={
            "accelerator": "gpu", "logger_backend": "none", "enable_checkpointing": False, "precision": p})
        losses[p] = res["history"]["train_loss"][0]
    assert np.isfinite(losses[precision]) and abs(losses[precision] - losses["32"]) <= 0.05 * abs(losses["32"])
