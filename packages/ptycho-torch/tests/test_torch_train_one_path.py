"""``python -m ptycho_torch.train`` builds its configs with the one flag translation (specs/torch-cli.md §2-§3,
specs/architecture.md §5): ``ptycho_bridge.flag_configs`` over the option table, the guide's defaults (the
canonical ones, not the ``ptycho train`` recipe), the deprecated flags folded in with one warning line each."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho_bridge.execution import PyTorchExecutionConfig
from ptycho_bridge.flag_configs import configs_from_flags
from ptycho_torch import train
from ptycho_torch.cli.shared import training_configs, training_flag_values

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"
BASE = ["--train_data_file", "t.npz", "--output_dir", "o"]


def _configs(*flags: str, N: int = 64):
    return training_configs(training_flag_values(train.parse_explicit([*BASE, *flags])), N=N)


def test_defaults_are_the_canonical_defaults():
    """Flags left out keep the canonical TrainingConfig / ModelConfig / PyTorchExecutionConfig defaults (the guide's
    table), field by field; only the progress bar is on (no --quiet), and object_big follows the command lines'
    rule gridsize > 1 (False at the default gridsize 1, where both settings predict the same diffraction:
    test_torch_object_big.py; specs/cli.md §4.3)."""
    config, execution = _configs()
    assert (str(config.train_data_file), str(config.output_dir)) == ("t.npz", "o")
    expected = TrainingConfig(model=ModelConfig(N=64, object_big=False), backend="pytorch")
    assert replace(config, train_data_file=None, output_dir=expected.output_dir) == expected
    assert execution == replace(PyTorchExecutionConfig(), enable_progress_bar=True)


@pytest.mark.parametrize("flags", [
    [],
    ["--max_epochs", "7", "--batch_size", "8", "--gridsize", "2", "--learning-rate", "0.01", "--scheduler",
     "MultiStage", "--n-groups", "32", "--accelerator", "cpu", "--early-stop-patience", "4"],
    ["--max-time", "00:00:01:00", "--architecture", "fno", "--teacher", "refine", "--nphotons", "1e6",
     "--checkpoint-save-top-k", "0", "--logger", "none", "--quiet"],
])
def test_same_configs_as_the_bridge_translation(flags):
    """The command line adds nothing to ``ptycho_bridge.flag_configs.configs_from_flags`` but the progress default:
    one translation for ``python -m ptycho_torch.train`` and ``ptycho train``."""
    argv = [*BASE, *flags]
    config, execution = _configs(*flags, N=128)
    ref_config, ref_execution = configs_from_flags(vars(train.parse_explicit(argv)), "torch.train", N=128)
    assert config == ref_config
    assert execution == replace(ref_execution, enable_progress_bar="--quiet" not in flags)


def test_budget_without_epochs_trains_until_the_budget():
    config, _ = _configs("--max-time", "00:00:02:00")
    assert (config.nepochs, config.max_time) == (None, "00:00:02:00")


def test_deprecated_flags_fold_into_the_execution_config():
    with pytest.warns(DeprecationWarning, match="--device is deprecated"):
        _, execution = _configs("--device", "cpu")
    assert execution.accelerator == "cpu"
    with pytest.warns(DeprecationWarning, match="--disable_mlflow is deprecated"):
        _, execution = _configs("--disable-mlflow")
    assert (execution.logger_backend, execution.enable_progress_bar) == ("none", False)


def test_deprecated_flags_print_one_line_each_then_the_error(tmp_path, capsys):
    """Each deprecated flag prints its DeprecationWarning once, as one line; bad input is one line and exit 2."""
    code = train.main(["--train_data_file", str(tmp_path / "missing.npz"), "--output_dir", str(tmp_path / "o"),
                       "--device", "cpu", "--disable-mlflow"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert [line.split(";")[0] for line in err[:-1]] == [
        "ptycho_torch.train: DeprecationWarning: --device is deprecated",
        "ptycho_torch.train: DeprecationWarning: --disable_mlflow is deprecated"]
    assert err[-1].startswith("ptycho_torch.train: error: training data file") and "missing.npz" in err[-1]
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(not FIXTURE.is_file(), reason=f"fixture {FIXTURE} not generated yet")
def test_multistage_without_epochs_is_one_line_exit_2(tmp_path, capsys):
    """'MultiStage' milestones need an epoch count: refused after the data checks, before anything is written."""
    code = train.main(["--train_data_file", str(FIXTURE), "--output_dir", str(tmp_path / "o"), "--accelerator", "cpu",
                       "--scheduler", "MultiStage", "--max-time", "00:00:01:00"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0] == ("ptycho_torch.train: error: --scheduler MultiStage: expected --max-epochs (its milestones are "
                      "fractions of the run's epochs), found only --max-time")
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(not FIXTURE.is_file(), reason=f"fixture {FIXTURE} not generated yet")
def test_pattern_size_comes_from_the_data(tmp_path, monkeypatch):
    """``--N`` left out: the training data's pattern size reaches the config run_training gets."""
    import numpy as np

    seen = []

    def record(config, execution, **kwargs):
        seen.append((config, execution, kwargs["resume"]))
        return 0

    monkeypatch.setattr(train, "run_training", record)
    assert train.main(["--train_data_file", str(FIXTURE), "--output_dir", str(tmp_path / "o"),
                       "--accelerator", "cpu", "--max_epochs", "3"]) == 0
    (config, execution, resume), = seen
    assert config.model.N == int(np.load(FIXTURE)["diffraction"].shape[-1])
    assert (config.nepochs, execution.accelerator, resume) == (3, "cpu", None)
