"""'WarmupCosine' over a wall-clock budget (specs/torch-training.md §4): with no epoch count and a max_time, the
learning rate follows the cosine of the budget's spent share, stepped every batch, and a resumed fit continues
from the time already spent."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho_bridge.execution import PyTorchExecutionConfig
from ptycho_torch.lightning_module import PtychoPINN_Lightning
from ptycho_torch.optim import budget_cosine_factor, budget_cosine_scheduler, budget_fraction

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"


@pytest.mark.parametrize(("fraction", "ratio"), [(0.0, 0.1), (0.25, 0.0), (0.5, 0.1), (0.9, 0.2), (1.0, 0.1),
                                                 (1.7, 0.1)])
def test_factor_is_the_cosine_of_the_budget_share(fraction, ratio):
    f = min(1.0, fraction)
    expected = ratio + (1 - ratio) * 0.5 * (1 + math.cos(math.pi * f))
    assert budget_cosine_factor(5, 2, fraction, ratio) == pytest.approx(expected, rel=1e-12)
    assert budget_cosine_factor(1, 2, fraction, ratio) == pytest.approx(0.1 + 0.9 * 0.5)  # warm-up epoch 1 of 2


def test_scheduler_reads_the_progress_at_every_step():
    p = torch.nn.Parameter(torch.zeros(2))
    p.grad = torch.zeros(2)
    opt = torch.optim.SGD([p], lr=0.02)
    state = {"epoch": 0, "fraction": 0.0}
    sched = budget_cosine_scheduler(opt, 0, 0.0, lambda: (state["epoch"], state["fraction"]))
    assert opt.param_groups[0]["lr"] == pytest.approx(0.02)
    for fraction in (0.3, 0.5, 1.0):
        state["fraction"] = fraction
        opt.step()
        sched.step()
        assert opt.param_groups[0]["lr"] == pytest.approx(0.02 * 0.5 * (1 + math.cos(math.pi * fraction)))


def test_budget_fraction_reads_the_timer():
    from lightning.pytorch.callbacks import Timer

    timer = Timer(duration="00:00:01:40", verbose=False)
    timer._offset = 25.0  # what a resumed fit restores from its checkpoint: 25 s already spent
    trainer = type("T", (), {"callbacks": [timer], "strategy": None})()
    assert budget_fraction(trainer) == pytest.approx(0.25)
    assert budget_fraction(type("T", (), {"callbacks": [], "strategy": None})()) == 0.0


def test_budget_only_warmup_cosine_is_accepted_and_stepped_every_batch():
    mc = ModelConfig(N=64, n_filters_scale=1)
    tc = TrainingConfig(model=mc, nepochs=None, max_time="00:00:10:00", scheduler="WarmupCosine")
    module = PtychoPINN_Lightning(mc, tc)
    assert module.scheduler_kwargs["total_epochs"] is None
    conf = module.configure_optimizers()
    assert conf["lr_scheduler"]["interval"] == "step"
    with pytest.raises(ValueError, match="milestones"):
        PtychoPINN_Lightning(mc, TrainingConfig(model=mc, nepochs=None, max_time="00:00:10:00", scheduler="MultiStage"))
    epochs = PtychoPINN_Lightning(mc, TrainingConfig(model=mc, nepochs=7, max_time="00:00:10:00", scheduler="WarmupCosine"))
    assert epochs.scheduler_kwargs["total_epochs"] == 7  # an epoch count keeps the epoch schedule


def test_a_budgeted_fit_ends_near_the_minimum_rate(tmp_path):
    """A real fit until a 6-second budget: the last learning rate is the cosine's end (lr · min_ratio, within the
    share of one batch), far below the start."""
    from ptycho.raw_data import RawData
    from ptycho_torch.workflows.components import train_cdi_model_torch

    tc = TrainingConfig(model=ModelConfig(N=64, n_filters_scale=1), n_groups=32, batch_size=8, nepochs=None,
                        max_time="00:00:00:06", scheduler="WarmupCosine", learning_rate=1e-3, output_dir=tmp_path,
                        backend="pytorch")
    execution = PyTorchExecutionConfig(accelerator="cpu", logger_backend="none", enable_checkpointing=False,
                                       scheduler="WarmupCosine", lr_min_ratio=0.05)
    res = train_cdi_model_torch(RawData.from_file(FIXTURE), None, tc, execution_config=execution)
    module = res["models"]["lightning_module"]
    lr = module.trainer.optimizers[0].param_groups[0]["lr"] if module._trainer is not None else None
    assert lr is not None
    assert 1e-3 * 0.05 <= lr < 1e-3 * 0.08  # the execution config's lr_min_ratio 0.05, not the default 0.1
