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
    from ptycho_tf.training import compile_models

    cfg = TrainingConfig(**{"model": ModelConfig(N=64), **kwargs})
    with pytest.raises(ValueError, match=rf"^{field}: the TensorFlow backend supports only [^\n]*; train with --backend pytorch$"):
        compile_models(None, cfg)



def test_multimode_probe_reaches_the_container(tmp_path):
    """specs/tf-backend.md §2.1: a (K, N, N) mixed-state probe is no longer refused: the container keeps the modes
    for the network's physics layer."""
    import numpy as np

    from ptycho import loader
    from ptycho.raw_data import RawData
    from ptycho.simulation import simulate

    sim = simulate(N=64, n_positions=12, probe_modes=3, seed=1)
    raw = RawData.from_coords_without_pc(sim["xcoords"], sim["ycoords"], sim["diffraction"], sim["probeGuess"],
                                         np.zeros(12, int))
    d = raw.generate_grouped_data(64, K=4, nsamples=6, seed=1, gridsize=1)
    cont = loader.load(lambda: d, raw.probeGuess, nphotons=1e9)
    assert cont.probe.shape == (3, 64, 64) and cont.probe.dtype == np.complex64
