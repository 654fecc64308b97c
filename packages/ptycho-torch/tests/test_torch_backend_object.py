"""The PyTorch backend object ``ptycho_torch.backend.BACKEND`` (specs/backend-selection.md §1, protocol
``ptycho_bridge.backend_api.Backend``): the ``ptycho.backends`` entry point, its explicit methods against the
workflow functions they stand for, its execution settings and its command lines' runs from configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho.raw_data import RawData
from ptycho_bridge.backend_api import Backend, CommandLine
from ptycho_bridge.backend_selector import load_backend
from ptycho_bridge.execution import PyTorchExecutionConfig
from ptycho_torch import inference, train
from ptycho_torch.backend import BACKEND, _execution
from ptycho_torch.workflows.components import reassemble_cdi_image_torch

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts/tests/fixtures/minimal_dataset_v1.npz"


def _config(tmp_path: Path, **kw) -> TrainingConfig:
    return TrainingConfig(model=ModelConfig(N=64, gridsize=1, n_filters_scale=1), n_groups=8, batch_size=4, nepochs=1,
                          nphotons=1e6, output_dir=tmp_path / "run", backend="pytorch", **kw)


def test_the_entry_point_is_this_backend_object():
    assert load_backend("pytorch") is BACKEND and isinstance(BACKEND, Backend)
    assert BACKEND.name == "pytorch" and isinstance(BACKEND.command_line, CommandLine)


def test_command_line_infer_runs_the_inference_run_from_configs(monkeypatch, capsys):
    """``ptycho infer`` hands the inference command line models and configs (no argv, no values keyed by flag
    names): ``command_line.infer`` is ``ptycho_torch.inference.run_inference`` under the error contract."""
    seen = []
    monkeypatch.setattr(inference, "run_inference", lambda *a, **k: seen.append((a, k)) or 0)
    execution = PyTorchExecutionConfig(accelerator="cpu")
    assert BACKEND.command_line.infer("models", "config", execution, prog="ptycho infer") == 0
    assert seen == [(("models", "config", execution), {"prog": "ptycho infer"})]

    def bad(*a, **k):
        raise ValueError("InferenceConfig.n_groups: expected an int >= 1, found 0")

    monkeypatch.setattr(inference, "run_inference", bad)
    assert BACKEND.command_line.infer("models", "config", execution, prog="ptycho infer") == 2
    assert capsys.readouterr().err.splitlines() == [
        "ptycho infer: error: InferenceConfig.n_groups: expected an int >= 1, found 0"]


def test_the_torch_command_lines_take_exactly_the_options_of_the_table():
    """specs/torch-cli.md §2, §4: every flag of ``python -m ptycho_torch.train`` / ``.inference`` (the seed guide's
    spellings included) is an option of ``ptycho_bridge.options`` stored under its name, and every option of the
    table for these commands is there."""
    from ptycho_bridge.options import parser_problems

    assert parser_problems(train.build_parser(), "torch.train") == []
    assert parser_problems(inference.build_parser(), "torch.inference") == []
    guide = train.build_parser().parse_args(["--train_data_file", "a.npz", "--output_dir", "o", "--max_epochs", "2",
                                             "--n_images", "8", "--batch_size", "4", "--gridsize", "2"])
    assert (guide.max_epochs, guide.n_images, guide.batch_size, guide.gridsize) == (2, 8, 4, 2)


def test_execution_settings_agree_with_the_config():
    config = TrainingConfig(learning_rate=2e-3)
    built = _execution(config, {"accelerator": "cpu", "logger_backend": "none"})
    assert (built.accelerator, built.logger_backend, built.learning_rate) == ("cpu", "none", 2e-3)
    assert _execution(config, None) == PyTorchExecutionConfig(learning_rate=2e-3)
    with pytest.raises(ValueError, match=r"learning_rate: expected 0\.002"):
        _execution(config, PyTorchExecutionConfig(learning_rate=1e-3))


def test_train_save_load_reconstruct_round_trip(tmp_path):
    raw = RawData.from_file(FIXTURE)
    config = _config(tmp_path)
    amp, phase, results = BACKEND.train(raw, None, config)
    assert amp is None and phase is None and len(results["history"]["train_loss"]) == 1
    bundle = BACKEND.save_bundle(results, config)
    assert bundle == Path(results["bundle_path"]) and bundle.is_file()  # the workflow wrote it; not written twice
    assert not (tmp_path / "run" / "lightning_logs").exists()  # a library run writes no logger files
    models, loaded = BACKEND.load_bundle(tmp_path / "run")
    loaded.n_groups = None
    recon = BACKEND.reconstruct(models, raw, loaded, M=20)
    ref_amp, ref_phase, ref = reassemble_cdi_image_torch(raw, loaded, M=20, models=models)
    np.testing.assert_array_equal(recon.object, ref["stitched_obj"])
    np.testing.assert_array_equal(recon.amplitude, ref_amp)
    np.testing.assert_array_equal(recon.global_offsets, ref["global_offsets"])
    assert recon.crop == 20 and recon.object.shape == ref_amp.shape
    assert BACKEND.unsupported(config) is None
