"""The TensorFlow backend refuses the PyTorch-only options with one line (specs/tf-backend.md §4)."""

from __future__ import annotations

import pytest

from ptycho.config.config import ModelConfig, TrainingConfig


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"optimizer": "sgd"}, "TrainingConfig.optimizer"), ({"weight_decay": 0.1}, "TrainingConfig.weight_decay"),
    ({"adam_beta1": 0.5}, "TrainingConfig.adam_beta1"), ({"gradient_clip_val": 1.0}, "TrainingConfig.gradient_clip_val"),
    ({"scheduler": "WarmupCosine"}, "TrainingConfig.scheduler"),
    ({"model": ModelConfig(N=64, architecture="fno")}, "ModelConfig.architecture"),
])
def test_compile_refuses_pytorch_only_options(kwargs, field):
    from ptycho.tf_backend.training import compile_models

    cfg = TrainingConfig(**{"model": ModelConfig(N=64), **kwargs})
    with pytest.raises(ValueError, match=rf"^{field}: the TensorFlow backend supports only [^\n]*; train with --backend pytorch$"):
        compile_models(None, cfg)
