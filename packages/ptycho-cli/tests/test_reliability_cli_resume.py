"""``ptycho train --resume`` on both backends (specs/reliability.md §1, specs/cli.md): the flag reaches the
PyTorch CLI as ``--resume`` and the TensorFlow workflow as ``resume_from=True``; a missing checkpoint is a
one-line exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"


def test_resume_flag_is_forwarded_to_the_torch_run(tmp_path, monkeypatch):
    """A bare ``--resume`` reaches the PyTorch run as True, ``--resume CKPT`` as the path, none as None."""
    from ptycho_cli.main import main
    from ptycho_torch.backend import BACKEND

    seen = []
    monkeypatch.setattr(type(BACKEND.command_line), "train",
                        lambda self, config, execution, *, resume=None, prog, command=None: seen.append(resume) or 0)
    base = ["train", "--backend", "pytorch", "--train_data_file", str(FIXTURE), "--output_dir", str(tmp_path / "o")]
    assert main([*base, "--resume"]) == 0 and main([*base, "--resume", "x.ckpt"]) == 0 and main(base) == 0
    assert seen == [True, "x.ckpt", None]


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
