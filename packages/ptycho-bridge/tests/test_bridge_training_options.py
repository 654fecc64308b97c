"""Optimiser, scheduler, clipping and generator options through the bridge and the v2 dialect.

Pins specs/config.md §2-§3 (the canonical fields), specs/config-bridge.md §4 (their rows) and
specs/ptychodus-torch.md §2 (the v2 fields are honoured, not refused).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ptycho.config import config as canonical
from ptycho_bridge import v2_config as v2
from ptycho_bridge.bridge import from_training_config, to_training_config
from ptycho_bridge.execution import PyTorchExecutionConfig, execution_config_for
from ptycho_bridge.v2_convert import to_native

OPTIONS = dict(optimizer="sgd", momentum=0.5, weight_decay=0.01, adam_beta1=0.8, adam_beta2=0.99,
               gradient_clip_val=1.5, gradient_clip_algorithm="value", scheduler="WarmupCosine")
MODEL = dict(architecture="fno", fno_modes=8, fno_width=16, fno_blocks=2, learned_input_channels=1)


def test_canonical_options_round_trip_through_the_native_configs():
    """specs/config-bridge.md §4: every option has one row and survives canonical -> native -> canonical."""
    cfg = canonical.TrainingConfig(model=canonical.ModelConfig(**MODEL), nphotons=1e6, **OPTIONS)
    native = from_training_config(cfg)
    for name, value in OPTIONS.items():
        if name != "scheduler":
            assert getattr(native.training, name) == value, name
    assert native.execution.scheduler == "WarmupCosine"
    for name, value in MODEL.items():
        assert getattr(native.model, name) == value, name
    back = to_training_config(native.model, native.data, native.training, execution=native.execution)
    for name, value in OPTIONS.items():
        assert getattr(back, name) == value, name
    for name, value in MODEL.items():
        assert getattr(back.model, name) == value, name


def test_v2_options_are_honoured_not_refused():
    """specs/ptychodus-torch.md §2: a v2 config with optimizer='sgd' (refused before) reaches the canonical config."""
    training = v2.TrainingConfig(optimizer="sgd", momentum=0.7, weight_decay=1e-4, adam_beta1=0.85,
                                 gradient_clip_val=0.5, gradient_clip_algorithm="value", scheduler="Cosine",
                                 warmup_epochs=3, min_lr_ratio=0.05, n_groups=None)
    model = v2.ModelConfig(architecture="ffno", fno_modes=6, fno_width=8, fno_blocks=3)
    native = to_native(v2.DataConfig(nphotons=1e6), model, training)
    assert (native.training.optimizer, native.training.momentum, native.training.weight_decay) == ("sgd", 0.7, 1e-4)
    assert (native.training.gradient_clip_val, native.training.gradient_clip_algorithm) == (0.5, "value")
    assert (native.model.architecture, native.model.fno_modes, native.model.fno_width) == ("ffno", 6, 8)
    ex = native.execution
    assert (ex.scheduler, ex.lr_warmup_epochs, ex.lr_min_ratio) == ("WarmupCosine", 3, 0.05)
    cfg = to_training_config(model, v2.DataConfig(nphotons=1e6), training,
                             dict(train_data_file=Path("train.npz"), test_data_file=Path("t.npz")))
    assert (cfg.optimizer, cfg.momentum, cfg.adam_beta1, cfg.scheduler) == ("sgd", 0.7, 0.85, "WarmupCosine")
    assert (cfg.model.architecture, cfg.model.fno_blocks) == ("ffno", 3)
    assert cfg.n_groups is None  # specs/config.md §3: the whole scan


def test_v2_zero_clip_means_no_clipping_and_agc_is_refused_when_clipping():
    native = to_native(None, None, v2.TrainingConfig(gradient_clip_val=0.0, gradient_clip_algorithm="agc"))
    assert native.training.gradient_clip_val is None
    with pytest.raises(ValueError, match=r"^TrainingConfig\.gradient_clip_algorithm: expected 'norm' or 'value'.*'agc'$"):
        to_native(None, None, v2.TrainingConfig(gradient_clip_val=1.0, gradient_clip_algorithm="agc"))


def test_warmup_cosine_kwargs_carry_the_run_length():
    """specs/config-bridge.md §5: 'WarmupCosine' -> warm-up epochs, floor ratio and the run length (None: a run
    until its time budget, specs/torch-training.md §4)."""
    ex = PyTorchExecutionConfig(scheduler="WarmupCosine", lr_warmup_epochs=2, lr_min_ratio=0.2)
    assert ex.scheduler_kwargs_for(10) == {"warmup_epochs": 2, "min_ratio": 0.2, "total_epochs": 10}
    assert ex.scheduler_kwargs_for(None) == {"warmup_epochs": 2, "min_ratio": 0.2, "total_epochs": None}
    with pytest.raises(ValueError, match=r"^PyTorchExecutionConfig\.scheduler: expected a run length"):
        ex.scheduler_kwargs_for(0)
    cfg = canonical.TrainingConfig(scheduler="WarmupCosine")
    assert execution_config_for(cfg).scheduler == "WarmupCosine"


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"optimizer": "rmsprop"}, "optimizer"), ({"momentum": 1.0}, "momentum"), ({"weight_decay": -1.0}, "weight_decay"),
    ({"adam_beta2": 1.0}, "adam_beta2"), ({"gradient_clip_val": 0.0}, "gradient_clip_val"),
    ({"gradient_clip_val": math.nan}, "gradient_clip_val"), ({"gradient_clip_algorithm": "agc"}, "gradient_clip_algorithm"),
])
def test_bad_canonical_options_name_the_field(kwargs, field):
    """specs/config.md §3: one line naming the field, what is expected and what was found."""
    with pytest.raises(ValueError, match=rf"^TrainingConfig\.{field}: expected [^\n]*, got [^\n]*$"):
        canonical.TrainingConfig(**kwargs)


def test_input_projections_round_trip_and_v2():
    """specs/config-bridge.md: ModelConfig.input_projections has one row, survives canonical -> native -> canonical,
    and the v2 dialect honours it."""
    cfg = canonical.TrainingConfig(model=canonical.ModelConfig(input_projections=7), nphotons=1e6)
    native = from_training_config(cfg)
    assert native.model.input_projections == 7
    back = to_training_config(native.model, native.data, native.training, execution=native.execution)
    assert back.model.input_projections == 7
    assert to_native(v2.DataConfig(nphotons=1e6), v2.ModelConfig(input_projections=4),
                     v2.TrainingConfig(n_groups=None)).model.input_projections == 4
    with pytest.raises(ValueError, match="ModelConfig.input_projections"):
        canonical.ModelConfig(input_projections=-2)
