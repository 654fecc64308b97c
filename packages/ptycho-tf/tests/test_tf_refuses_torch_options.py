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


def test_multimode_probe_is_refused_before_training(tmp_path):
    """specs/tf-backend.md §2.1: a (K, N, N) mixed-state probe is one ValueError line naming probeGuess, the modes
    and the PyTorch backend, when the container is built (before any training or inference)."""
    import numpy as np

    from ptycho import loader
    from ptycho.raw_data import RawData
    from ptycho.simulation import simulate

    sim = simulate(N=64, n_positions=12, probe_modes=3, seed=1)
    raw = RawData.from_coords_without_pc(sim["xcoords"], sim["ycoords"], sim["diffraction"], sim["probeGuess"],
                                         np.zeros(12, int))
    d = raw.generate_grouped_data(64, K=4, nsamples=6, seed=1, gridsize=1)
    with pytest.raises(ValueError, match=r"^probeGuess: expected one probe mode \(64, 64\) for the TensorFlow "
                                         r"backend, found 3 incoherent modes.*--backend pytorch.*--probe-mode 0'$"):
        loader.load(lambda: d, raw.probeGuess, nphotons=1e9)
