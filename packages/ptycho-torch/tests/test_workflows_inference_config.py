"""``ptycho_torch.workflows.inference_config.build_inference_config``: the model and grouping come from the bundle's
TrainingConfig, paths and groups from the caller; a rejected value is one ValueError line (specs/torch-cli.md §4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho_torch.workflows.inference_config import build_inference_config


def test_the_bundles_model_and_grouping_with_the_callers_paths() -> None:
    tc = TrainingConfig(model=ModelConfig(N=64, gridsize=2), neighbor_count=6)
    cfg = build_inference_config(tc, Path("run"), Path("scan.npz"), Path("out"), 5)
    assert (cfg.model, cfg.neighbor_count, cfg.backend) == (tc.model, 6, "pytorch")
    assert (cfg.model_path, cfg.test_data_file, cfg.output_dir, cfg.n_groups) == (
        Path("run"), Path("scan.npz"), Path("out"), 5)
    assert build_inference_config(tc, Path("run"), Path("scan.npz"), Path("out"), None).n_groups is None


@pytest.mark.parametrize("bad", [0, -3, "x", 2.5])
def test_a_rejected_value_is_one_value_error_line(bad: object) -> None:
    tc = TrainingConfig(model=ModelConfig(N=64, gridsize=1))
    with pytest.raises(ValueError) as err:
        build_inference_config(tc, Path("run"), Path("scan.npz"), Path("out"), bad)  # type: ignore[arg-type]
    assert type(err.value) is ValueError  # a library error, not the command line's CliError
    assert str(err.value) == f"InferenceConfig.n_groups: expected an integer >= 1 or None, got {bad!r}"
