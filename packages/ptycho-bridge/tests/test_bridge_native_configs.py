"""Native PyTorch configs and PyTorchExecutionConfig: defaults, validation, scheduler kwargs
(specs/config-bridge.md §2, §3, §5)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from ptycho.config import config as canonical
from ptycho_bridge.config_params import (
    DataConfig,
    InferenceConfig,
    ModelConfig,
    TrainingConfig,
    update_config,
)
from ptycho_bridge.execution import PyTorchExecutionConfig, execution_config_for

# field -> values that must be refused (one per kind of mistake)
INVALID = {
    DataConfig: {
        "N": [0, -64, 64.0, True, "64"],
        "grid_size": [(2,), (0, 1), (2, 2.0), 2, (True, 1)],
        "K": [0, 1.5, None],
        "nphotons": [0.0, -1.0, math.inf, math.nan, "1e9", True],
        "probe_scale": [0.0, -1.0, math.nan],
        "n_subsample": [0, -1, 2.0],
        "subsample_seed": [-1, 1.5],
        "enable_oversampling": [1, "yes", None],
        "neighbor_pool_size": [0, 2.5],
        "sequential_sampling": [0, None],
        "positions_provided": ["True"],
    },
    ModelConfig: {
        "mode": ["pinn", "unsupervised", None],
        "architecture": ["unet", "FNO", None], "fno_modes": [0, 2.0], "fno_width": [0], "fno_blocks": [-1],
        "learned_input_channels": [2, 0],
        "input_projections": [-1, 1.5],
        "input_refine_passes": [-1, 2.5],
        "correction_window": [-8, 12, 4.0],
        "n_filters_scale": [0, 1.5],
        "amp_activation": ["tanh", "gelu", None],
        "object_big": [1], "probe_big": [None], "probe_mask": ["no"], "pad_object": [0],
        "probe_mask_sigma": [0.0, -1.0], "probe_mask_diameter": [0.0, math.inf],
        "gaussian_smoothing_sigma": [-0.1, math.nan],
    },
    TrainingConfig: {
        "train_data_file": [3, ""], "test_data_file": [1.0], "output_dir": [None, ""],
        "batch_size": [0, 16.0], "epochs": [0, -1], "max_time": ["14:00", "00:00:00:00", 840],
        "mae_weight": [-0.1, 1.5], "nll_weight": [2.0, math.nan],
        "realspace_mae_weight": [-1.0], "realspace_weight": [-1.0],
        "n_groups": [0, 3.0], "optimizer": ["rmsprop", "Adam", None], "momentum": [-0.1, 1.0],
        "weight_decay": [-1e-3, math.nan], "adam_beta1": [1.0, -0.5], "adam_beta2": [1.5],
        "gradient_clip_val": [0.0, -1.0, math.inf], "gradient_clip_algorithm": ["agc", "L2", None],
        "probe_trainable": [1], "intensity_scale_trainable": ["False"],
        "torch_loss_mode": ["Poisson", "l2"], "debug": [None], "backend": ["torch", "jax", None],
        "teacher": ["Refine", "lsqml", None], "teacher_iterations": [0, 2.0],
        "teacher_supervised_share": [0.0, 1.5, math.nan], "teacher_keep_weight": [-1.0, math.inf],
    },
    InferenceConfig: {
        "model_path": [5, ""], "test_data_file": [[]], "n_groups": [0], "output_dir": [None],
        "debug": [1], "backend": ["keras"],
    },
    PyTorchExecutionConfig: {
        "accelerator": ["tpu", "xla", None], "devices": [0, True, "all", 1.0], "strategy": ["", None, "fsdp", "DDP", "ddp_notebook"],
        "num_nodes": [0, 2.0, True], "precision": ["16", "bf16", 32, None],
        "deterministic": [1, "yes"], "num_workers": [-1, 1.5], "learning_rate": [0.0, -1e-3, math.inf],
        "scheduler": ["Cosine", "cosine", None], "lr_warmup_epochs": [-1, 1.5], "lr_min_ratio": [-0.1, 1.5], "exponential_gamma": [0.0, 1.5],
        "multistage_milestones": [(), (3, 2), (0, 5), (1.5,), "10"], "multistage_gamma": [0.0, 2.0],
        "plateau_factor": [0.0, 1.0, 1.5], "plateau_patience": [-1, 1.5], "plateau_min_lr": [-1e-6],
        "plateau_threshold": [-0.1], "accumulate_grad_batches": [0, 2.0],
        "enable_progress_bar": [1], "enable_checkpointing": [None], "checkpoint_save_top_k": [-2, 1.0],
        "checkpoint_monitor_metric": ["", 3], "checkpoint_mode": ["minimum"], "early_stop_patience": [0, 1.5], "checkpoint_every_n_steps": [-1, 2.5, None],
        "logger_backend": ["wandb", "CSV"], "inference_batch_size": [0, 8.0],
    },
}
CASES = [(cls, name, bad) for cls, table in INVALID.items() for name, values in table.items() for bad in values]


def test_every_field_has_invalid_examples():
    """specs/config-bridge.md §2/§5: the invalid-value table covers every validated field."""
    for cls, table in INVALID.items():
        assert set(table) == {f.name for f in dataclasses.fields(cls)}, cls.__name__


@pytest.mark.parametrize(("cls", "name", "bad"), CASES, ids=[f"{c.__name__}.{n}={b!r}" for c, n, b in CASES])
def test_invalid_value_raises_value_error_naming_the_field(cls, name, bad):
    """specs/config-bridge.md §1: a bad value raises ValueError('<Class>.<field>: expected ..., got ...')."""
    with pytest.raises(ValueError, match=rf"^{cls.__name__}\.{name}: expected .*, got "):
        cls(**{name: bad})


def test_defaults_follow_the_canonical_ones_except_the_documented_three():
    """specs/config-bridge.md §3: nphotons None, backend 'pytorch', required inference paths None."""
    d, m, t, i = DataConfig(), ModelConfig(), TrainingConfig(), InferenceConfig()
    c = canonical.TrainingConfig()
    assert (d.N, d.grid_size, d.K, d.probe_scale) == (c.model.N, (1, 1), c.neighbor_count, c.model.probe_scale)
    assert d.nphotons is None and t.backend == "pytorch" and i.backend == "pytorch"
    assert (m.amp_activation, m.mode, m.n_filters_scale) == ("sigmoid", "Unsupervised", c.model.n_filters_scale)
    assert (t.epochs, t.batch_size, t.n_groups, t.output_dir) == (c.nepochs, c.batch_size, None, Path("training_outputs"))
    assert t.intensity_scale_trainable is False and i.output_dir == Path("inference_outputs")
    assert i.model_path is None and i.test_data_file is None and i.n_groups is None


def test_grid_size_list_becomes_tuple_and_C_is_derived():
    d = DataConfig(grid_size=[2, 3])
    assert d.grid_size == (2, 3) and d.C == 6


def test_paths_are_normalised_and_configs_are_frozen():
    t = TrainingConfig(train_data_file="a/b.npz", output_dir="out")
    assert t.train_data_file == Path("a/b.npz") and t.output_dir == Path("out")
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.epochs = 3  # type: ignore[misc]


def test_update_config_validates_and_rejects_unknown_keys():
    d = update_config(DataConfig(), {"K": 7, "nphotons": 1e6})
    assert (d.K, d.nphotons) == (7, 1e6)
    with pytest.raises(ValueError, match=r"DataConfig: unknown field\(s\) K_quadrant"):
        update_config(DataConfig(), {"K_quadrant": 30})
    with pytest.raises(ValueError, match=r"^DataConfig\.K: "):
        update_config(DataConfig(), {"K": 0})
    with pytest.raises(ValueError, match="expected a config instance"):
        update_config(DataConfig, {})


def test_execution_defaults_match_the_issue():
    """specs/config-bridge.md §5.2 defaults."""
    e = PyTorchExecutionConfig()
    assert (e.accelerator, e.devices, e.strategy, e.deterministic, e.num_workers) == ("auto", 1, "auto", True, 0)
    assert (e.learning_rate, e.scheduler, e.accumulate_grad_batches) == (1e-3, "Default", 1)
    assert (e.enable_progress_bar, e.enable_checkpointing, e.checkpoint_save_top_k) == (False, True, 1)
    assert (e.checkpoint_monitor_metric, e.checkpoint_mode, e.early_stop_patience) == ("val_loss", "min", 100)
    assert (e.logger_backend, e.inference_batch_size) == ("csv", None)
    assert (e.exponential_gamma, e.multistage_milestones, e.multistage_gamma) == (0.95, None, 0.1)
    assert (e.plateau_factor, e.plateau_patience, e.plateau_min_lr, e.plateau_threshold) == (0.5, 2, 1e-5, 0.0)


def test_execution_normalisation_and_accepted_edge_values():
    e = PyTorchExecutionConfig(scheduler="ReduceLROnPlateau", logger_backend=None, multistage_milestones=[2, 5],
                               checkpoint_save_top_k=-1, early_stop_patience=None, devices="auto",
                               deterministic="warn", accumulate_grad_batches=4)
    assert (e.scheduler, e.logger_backend, e.multistage_milestones) == ("Adaptive", "none", (2, 5))
    assert PyTorchExecutionConfig(checkpoint_save_top_k=0).checkpoint_save_top_k == 0


def test_tpu_message_says_unsupported():
    with pytest.raises(ValueError, match="TPU/Torch-XLA is not supported"):
        PyTorchExecutionConfig(accelerator="tpu")


@pytest.mark.parametrize(
    ("kwargs", "nepochs", "expected"),
    [
        ({}, None, {}),
        ({"scheduler": "Exponential", "exponential_gamma": 0.9}, None, {"gamma": 0.9}),
        ({"scheduler": "MultiStage", "multistage_milestones": (3, 7)}, None, {"milestones": [3, 7], "gamma": 0.1}),
        ({"scheduler": "MultiStage"}, 10, {"milestones": [5, 7], "gamma": 0.1}),
        ({"scheduler": "MultiStage"}, 1, {"milestones": [1], "gamma": 0.1}),
        ({"scheduler": "Adaptive"}, None, {"factor": 0.5, "patience": 2, "min_lr": 1e-5, "threshold": 0.0}),
    ],
)
def test_scheduler_kwargs(kwargs, nepochs, expected):
    assert PyTorchExecutionConfig(**kwargs).scheduler_kwargs_for(nepochs) == expected


def test_multistage_without_milestones_needs_the_run_length():
    with pytest.raises(ValueError, match=r"^PyTorchExecutionConfig\.multistage_milestones: "):
        _ = PyTorchExecutionConfig(scheduler="MultiStage").scheduler_kwargs


def test_scheduler_kwargs_drive_torch_schedulers_as_the_closed_form_says():
    """The kwargs fit torch.optim.lr_scheduler: lr after k epochs = lr0 * gamma**(# milestones passed)."""
    torch = pytest.importorskip("torch")
    classes = {"Exponential": torch.optim.lr_scheduler.ExponentialLR,
               "MultiStage": torch.optim.lr_scheduler.MultiStepLR}
    for kwargs, closed in [
        ({"scheduler": "Exponential", "exponential_gamma": 0.8}, lambda k: 0.01 * 0.8**k),
        ({"scheduler": "MultiStage", "multistage_milestones": (2, 4), "multistage_gamma": 0.5},
         lambda k: 0.01 * 0.5 ** sum(k >= m for m in (2, 4))),
    ]:
        e = PyTorchExecutionConfig(learning_rate=0.01, **kwargs)
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=e.learning_rate)
        sched = classes[e.scheduler](opt, **e.scheduler_kwargs)
        for k in range(1, 6):
            opt.step()
            sched.step()
            assert opt.param_groups[0]["lr"] == pytest.approx(closed(k), rel=1e-12)
    e = PyTorchExecutionConfig(scheduler="Adaptive")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **e.scheduler_kwargs)  # accepted as is


def test_execution_config_for_follows_the_canonical_config():
    """specs/config-bridge.md §5.1: the canonical config is the source of truth for lr and scheduler."""
    c = canonical.TrainingConfig(learning_rate=5e-4, scheduler="Exponential")
    e = execution_config_for(c)
    assert (e.learning_rate, e.scheduler) == (5e-4, "Exponential")
    given_ok = PyTorchExecutionConfig(learning_rate=5e-4, scheduler="Exponential", num_workers=2)
    assert execution_config_for(c, given_ok) is given_ok
    with pytest.raises(ValueError, match=r"^PyTorchExecutionConfig\.learning_rate: expected 0\.0005"):
        execution_config_for(c, PyTorchExecutionConfig(scheduler="Exponential"))
    with pytest.raises(ValueError, match=r"^PyTorchExecutionConfig\.scheduler: expected 'Exponential'"):
        execution_config_for(c, PyTorchExecutionConfig(learning_rate=5e-4))
    with pytest.raises(ValueError, match="expected a PyTorchExecutionConfig or None, got dict"):
        execution_config_for(c, {"learning_rate": 5e-4})
    inf = canonical.InferenceConfig(model=canonical.ModelConfig(), model_path="m", test_data_file="t")
    assert execution_config_for(inf) == PyTorchExecutionConfig()
