"""``ptycho train --resume`` on both backends (specs/reliability.md §1, specs/cli.md): the flag reaches the
PyTorch CLI as ``--resume`` and the TensorFlow workflow as ``resume_from=True``; a missing checkpoint is a
one-line exit 2."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ptycho_cli.delegate import train_values

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"


def test_resume_flag_is_forwarded_to_the_torch_cli():
    from ptycho_torch.backend import TorchCommandLine

    args = argparse.Namespace(train_data_file="a.npz", output_dir="out", resume=True, max_epochs=3, quiet=False)
    assert train_values(TorchCommandLine(), args)["resume"] is True  # the torch CLI's value for a bare --resume
    assert "resume" not in train_values(TorchCommandLine(), argparse.Namespace(resume=None, quiet=False))


@pytest.mark.parametrize("backend", ["pytorch", "tensorflow"])
def test_resume_without_checkpoint_is_one_line_exit_2(tmp_path, capsys, backend):
    from ptycho_cli.main import main

    rc = main(["train", "--backend", backend, "--train_data_file", str(FIXTURE), "--output_dir", str(tmp_path / "o"),
               "--max_epochs", "1", "--n_groups", "8", "--resume"])
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if ": error:" in line]
    # progress lines (backend, config summary) may precede it; the error is exactly one line, the last one
    assert rc == 2 and errors == lines[-1:], lines
    assert "--resume" in errors[0] and "last.ckpt" in errors[0] and not any("Traceback" in line for line in lines)
