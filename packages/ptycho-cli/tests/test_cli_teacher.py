"""``ptycho train --teacher refine`` (specs/cli.md §4.2, specs/torch-training.md §8): a tiny end-to-end run whose
bundle ``ptycho infer`` reads, the TensorFlow refusal, and bad values as one line with exit 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cli_scans import write_siemens_scan

from ptycho_cli.main import main


@pytest.fixture(scope="module")
def scan(tmp_path_factory) -> Path:
    return write_siemens_scan(tmp_path_factory.mktemp("scan") / "scan.npz", 40, jitter=1.0)


def test_teacher_train_writes_a_bundle_that_infer_reads(scan: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    """§4.2: refine (2 passes) -> 1 supervised + 1 Poisson epoch -> wts.h5.zip; ``ptycho infer`` reconstructs
    with it like any other bundle; the stored config says teacher 'refine' and the history has both epochs."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    run, inf = tmp_path / "run", tmp_path / "inf"
    code = main(["train", "--backend", "pytorch", "--train_data_file", str(scan), "--output_dir", str(run),
                 "--teacher", "refine", "--teacher-iterations", "2", "--teacher-supervised-share", "0.5",
                 "--max_epochs", "2", "--n_groups", "40",
                 "--nphotons", "1e6", "--quiet", "--logger", "none"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert (run / "wts.h5.zip").is_file()
    from ptycho_torch.bundle import read_bundle

    stored = read_bundle(run).config
    assert stored["teacher"] == "refine" and stored["teacher_iterations"] == 2
    import torch

    state = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert state["ptycho_teacher"] == {"stage": "poisson", "switch_epoch": 1}
    losses = state["ptycho_resume"]["loss_history"]["train"]
    assert len(losses) == 2 and 0 < losses[0] < 10 and losses[1] < -100  # split loss, then Poisson NLL (counts)
    code = main(["infer", "--model_path", str(run), "--test_data", str(scan), "--output_dir", str(inf), "--quiet"])
    assert code == 0, capsys.readouterr().err
    with np.load(inf / "reconstructed_object.npz") as f:
        obj = f["object"]
    assert obj.ndim == 2 and np.isfinite(obj).all() and np.abs(obj).max() > 0


def test_tensorflow_refuses_the_teacher(scan: Path, tmp_path: Path, capsys) -> None:
    """§4.2: the TensorFlow backend has no teacher: one line naming the flag and the reason, exit 2, nothing
    written (whether or not TensorFlow is installed)."""
    code = main(["train", "--backend", "tensorflow", "--train_data_file", str(scan), "--output_dir",
                 str(tmp_path / "o"), "--teacher", "refine", "--teacher-iterations", "3"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert "--teacher, --teacher-iterations: the refinement teacher needs --backend pytorch" in err[0]
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("flags", "message"), [
    (["--teacher", "lsqml"], "--teacher"),
    (["--teacher", "refine", "--teacher-iterations", "0"], "--teacher-iterations"),
    (["--teacher", "refine", "--teacher-supervised-share", "0"], "TrainingConfig.teacher_supervised_share"),
    (["--teacher", "refine", "--teacher-supervised-share", "1.5"], "TrainingConfig.teacher_supervised_share"),
    (["--teacher", "refine", "--teacher-keep-weight", "-1"], "TrainingConfig.teacher_keep_weight"),
    (["--teacher", "refine", "--max-time", "00:00:00:01", "--teacher-iterations", "50"], "TrainingConfig.max_time"),
])
def test_bad_teacher_values_are_one_line_exit_2(scan: Path, tmp_path: Path, capsys, monkeypatch, flags,
                                                message) -> None:
    """§4.2: bad values print one line naming the flag or field, exit 2, and leave no run folder."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    code = main(["train", "--backend", "pytorch", "--train_data_file", str(scan), "--output_dir",
                 str(tmp_path / "o"), "--quiet", *flags])
    err = [line for line in capsys.readouterr().err.strip().splitlines() if line]
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not (tmp_path / "o").exists()


def test_teacher_flags_reach_the_torch_config() -> None:
    """§4.2: ``ptycho train`` sets the canonical teacher fields of the config it hands the PyTorch backend."""
    from ptycho_cli.delegate import training_configs
    from ptycho_cli.main import build_parser

    args, extra = build_parser().parse_known_args(
        ["train", "--train_data_file", "a.npz", "--output_dir", "o", "--teacher", "refine", "--teacher-iterations",
         "7", "--teacher-supervised-share", "0.25", "--teacher-keep-weight", "2"])
    assert extra == []
    cfg, _ = training_configs(args, 64, "pytorch")
    assert (cfg.teacher, cfg.teacher_iterations, cfg.teacher_supervised_share, cfg.teacher_keep_weight) == (
        "refine", 7, 0.25, 2.0)
