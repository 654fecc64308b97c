"""``ptycho demo``'s training config (specs/cli.md §7): the ``ptycho train`` translation
(``ptycho_bridge.flag_configs.configs_from_flags`` with the recipe) gives, field by field, the config the demo
presets describe."""

from __future__ import annotations

from pathlib import Path

import pytest

from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho_cli import demo


def _expected(preset: demo.DemoPreset, out: Path, seed: int, backend: str) -> TrainingConfig:
    """The demo's config written out: the preset's sizes, the training recipe of specs/cli.md §4.1 (PyTorch CNN: the
    estimate of 5 refinement passes and the refinement teacher; TensorFlow: neither), object_big only for grouped patterns."""
    torch = backend == "pytorch"
    model = ModelConfig(N=preset.N, gridsize=preset.gridsize, object_big=preset.gridsize > 1,
                        n_filters_scale=preset.n_filters_scale, input_refine_passes=5 if torch else 0)
    return TrainingConfig(model=model, train_data_file=out / "data" / "train.npz",
                          test_data_file=out / "data" / "val.npz", batch_size=preset.batch_size,
                          nepochs=preset.epochs, max_time=preset.max_time, nphotons=preset.nphotons,
                          n_groups=preset.n_positions, subsample_seed=seed, output_dir=out / "model", backend=backend,
                          teacher="refine" if torch else "none")


@pytest.mark.parametrize("backend", ["pytorch", "tensorflow"])
@pytest.mark.parametrize("preset", [demo.DEFAULT_PRESET, demo.FAST_PRESET,
                                    demo.DemoPreset(n_positions=128, epochs=3, gridsize=2, batch_size=4,
                                                    val_positions=16, max_time="00:00:00:30")])
def test_demo_training_config_field_by_field(tmp_path, backend, preset):
    config = demo._training_config(preset, tmp_path, 7, backend, n_groups=preset.n_positions)
    expected = _expected(preset, tmp_path, 7, backend)
    assert config.model.object_big is (preset.gridsize > 1)
    assert (config.model.N, config.model.gridsize, config.model.n_filters_scale) == (preset.N, preset.gridsize, 1)
    assert config.model.input_refine_passes == (5 if backend == "pytorch" else 0)
    assert config.teacher == ("refine" if backend == "pytorch" else "none")
    assert (config.nepochs, config.max_time) == (preset.epochs, preset.max_time)
    assert (config.n_groups, config.subsample_seed, config.batch_size) == (preset.n_positions, 7, preset.batch_size)
    assert (config.nphotons, config.backend) == (preset.nphotons, backend)
    assert (Path(config.train_data_file), Path(config.test_data_file), Path(config.output_dir)) == (
        tmp_path / "data" / "train.npz", tmp_path / "data" / "val.npz", tmp_path / "model")
    assert config == expected  # every other field: the canonical default


def test_default_demo_trains_on_the_refined_scan(tmp_path):
    """The 2-minute demo trains single patterns on the recipe's refined-scan input (specs/cli.md §7, specs/network.md
    §8.3); --gridsize 2 still groups four patterns, each member's estimate cut from the same refined object."""
    assert (demo.DEFAULT_PRESET.gridsize, demo.FAST_PRESET.gridsize) == (1, 1)
    config = demo._training_config(demo.DEFAULT_PRESET, tmp_path, 1, "pytorch", n_groups=demo.DEFAULT_PRESET.n_positions)
    assert (config.model.gridsize, config.model.object_big, config.model.input_refine_passes) == (1, False, 5)
    assert config.teacher == "refine"
