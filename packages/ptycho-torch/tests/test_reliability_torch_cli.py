"""``python -m ptycho_torch.train --resume`` and the CLI side of the NaN guard (specs/reliability.md §1, §2;
specs/torch-cli.md). In-process ``main(argv)`` runs on the 64-position fixture, N=64, n_filters_scale 1."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import torch

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"


def _args(out: Path, cfg: Path, epochs: int, *extra: str) -> list[str]:
    return ["--train_data_file", str(FIXTURE), "--output_dir", str(out), "--config", str(cfg), "--n_groups", "16",
            "--batch_size", "8", "--max_epochs", str(epochs), "--accelerator", "cpu", "--logger", "none", "--quiet",
            "--scheduler", "Exponential", "--subsample-seed", "5", *extra]


def _bundle_weights(out: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load

    with zipfile.ZipFile(out / "wts.h5.zip") as zf:
        return load(zf.read("weights.safetensors"))


@pytest.fixture()
def cfg(tmp_path) -> Path:
    p = tmp_path / "small.yaml"
    p.write_text("model:\n  n_filters_scale: 1\n")
    return p


def test_resume_without_checkpoint_is_a_one_line_error(tmp_path, cfg, capsys):
    """--resume with no checkpoints/last.ckpt: exit 2, one stderr line naming the missing file."""
    from ptycho_torch.train import main

    rc = main(_args(tmp_path / "none", cfg, 1, "--resume"))
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "last.ckpt" in err[0] and "--resume" in err[0], err


def test_resume_continues_to_the_same_weights(tmp_path, cfg, capsys, monkeypatch):
    """§1: 1 epoch, then --resume to 2 epochs == 2 uninterrupted epochs (bitwise bundle weights); the
    resumed run trains only the missing epoch (2 steps, not 4)."""
    from ptycho_torch.lightning_module import PtychoPINN_Lightning
    from ptycho_torch.train import main

    ref, run = tmp_path / "ref", tmp_path / "run"
    assert main(_args(ref, cfg, 2)) == 0
    assert main(_args(run, cfg, 1)) == 0
    steps: list[int] = []
    original = PtychoPINN_Lightning.training_step
    monkeypatch.setattr(PtychoPINN_Lightning, "training_step",
                        lambda self, batch, i: steps.append(i) or original(self, batch, i))
    assert main(_args(run, cfg, 2, "--resume")) == 0, capsys.readouterr().err
    assert steps == [0, 1]
    a, b = _bundle_weights(ref), _bundle_weights(run)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_damaged_checkpoint_is_a_one_line_error(tmp_path, cfg, capsys):
    """§3/§4: a truncated last.ckpt given to --resume: exit 2, one line, nothing executed or written."""
    from ptycho_torch.train import main

    out = tmp_path / "dmg"
    (out / "checkpoints").mkdir(parents=True)
    buf = io.BytesIO()
    torch.save({"state_dict": {"w": torch.zeros(1000)}, "loops": {}}, buf)
    (out / "checkpoints" / "last.ckpt").write_bytes(buf.getvalue()[:300])
    rc = main(_args(out, cfg, 1, "--resume"))
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "not a loadable checkpoint" in err[0], err
    assert not (out / "wts.h5.zip").exists()
