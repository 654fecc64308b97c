"""``--checkpoint-every-n-steps`` reaches the execution config (specs/torch-cli.md, specs/reliability.md §1)."""

from __future__ import annotations

import pytest

from ptycho_bridge.execution import PyTorchExecutionConfig
from ptycho_torch.cli.shared import CliError, build_execution_config_from_args
from ptycho_torch.train import parse_explicit

BASE = ["--train_data_file", "t.npz", "--output_dir", "out"]


def _execution(argv):
    return build_execution_config_from_args(parse_explicit(BASE + argv), "training")


def test_flag_sets_the_cadence_and_default_is_50():
    assert _execution([]).checkpoint_every_n_steps == 50
    assert _execution(["--checkpoint-every-n-steps", "7"]).checkpoint_every_n_steps == 7
    assert _execution(["--checkpoint-every-n-steps", "0"]).checkpoint_every_n_steps == 0


def test_negative_cadence_is_a_usage_error():
    with pytest.raises(CliError, match=r"--checkpoint-every-n-steps: expected an integer >= 0, found '-1'"):
        parse_explicit(BASE + ["--checkpoint-every-n-steps", "-1"])


def test_execution_config_validates_the_cadence():
    with pytest.raises(ValueError, match=r"checkpoint_every_n_steps"):
        PyTorchExecutionConfig(checkpoint_every_n_steps=-3)
