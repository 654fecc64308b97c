"""``ptycho train`` options of specs/cli.md §4: generator and optimiser flags reach both routes' configs, the
TensorFlow route refuses what it does not implement (specs/tf-backend.md §4), bad values are exit 2, and one
tiny end-to-end run trains a Fourier generator with AdamW on the whole scan and reconstructs with its bundle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "2"}
OPTIONS = ["--optimizer", "sgd", "--momentum", "0.5", "--weight-decay", "0.01", "--adam-beta1", "0.8",
           "--gradient-clip-val", "1.0", "--gradient-clip-algorithm", "value", "--scheduler", "WarmupCosine",
           "--lr-warmup-epochs", "2", "--lr-min-ratio", "0.05", "--architecture", "fno", "--fno-modes", "4",
           "--fno-width", "8", "--fno-blocks", "2"]


def _parse(*argv: str):
    from ptycho_cli.main import build_parser

    return build_parser().parse_known_args(["train", "--train-data-file", "a.npz", "--output_dir", "o", *argv])


def test_option_flags_reach_the_torch_config():
    """specs/cli.md §4, §4.3: the parsed values become the configs ``ptycho train`` hands the PyTorch backend."""
    from ptycho_cli.delegate import training_configs

    args, extra = _parse(*OPTIONS)
    assert extra == []
    cfg, ex = training_configs(args, 64, "pytorch")
    assert (cfg.optimizer, cfg.momentum, cfg.weight_decay, cfg.adam_beta1) == ("sgd", 0.5, 0.01, 0.8)
    assert (cfg.gradient_clip_val, cfg.gradient_clip_algorithm, cfg.scheduler) == (1.0, "value", "WarmupCosine")
    assert (cfg.model.architecture, cfg.model.fno_modes, cfg.model.fno_width, cfg.model.fno_blocks) == ("fno", 4, 8, 2)
    assert (ex.lr_warmup_epochs, ex.lr_min_ratio, ex.scheduler) == (2, 0.05, "WarmupCosine")
    assert cfg.n_groups is None  # specs/config.md §3: the whole scan by default


@pytest.mark.parametrize(("argv", "message"), [
    (["--optimizer", "adamw"], "TrainingConfig.optimizer: the TensorFlow backend supports only 'adam'"),
    (["--architecture", "ffno"], "ModelConfig.architecture: the TensorFlow backend supports only 'cnn'"),
    (["--input-projections", "5"], "ModelConfig.input_projections: the TensorFlow backend supports only 0"),
    (["--input-refine-passes", "3"], "ModelConfig.input_refine_passes: the TensorFlow backend supports only 0"),
    (["--correction-window", "32"], "ModelConfig.correction_window: expected 0 with input_projections 0"),
    (["--gradient-clip-val", "1"], "TrainingConfig.gradient_clip_val: the TensorFlow backend supports only None"),
    (["--weight-decay", "0.1"], "TrainingConfig.weight_decay: the TensorFlow backend supports only 0.0"),
    (["--scheduler", "Exponential"], "TrainingConfig.scheduler: the TensorFlow backend supports only 'Default'"),
    (["--lr-warmup-epochs", "3"], "--lr-warmup-epochs 3: the TensorFlow backend has no 'WarmupCosine'"),
])
def test_tensorflow_route_refuses_what_it_does_not_implement(argv, message):
    """specs/tf-backend.md §4: one line naming the field and what the TensorFlow backend supports."""
    from ptycho_cli.errors import UserError
    from ptycho_cli.tf_entry import build_training_config

    assert build_training_config(_parse()[0], 64).optimizer == "adam"
    with pytest.raises(UserError) as err:
        build_training_config(_parse(*argv)[0], 64)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


@pytest.mark.parametrize("argv", [["--optimizer", "rmsprop"], ["--momentum", "1"], ["--gradient-clip-val", "0"],
                                  ["--gradient-clip-algorithm", "agc"], ["--architecture", "unet"],
                                  ["--fno-modes", "0"], ["--scheduler", "cosine"], ["--input-projections", "-1"]])
def test_bad_option_values_are_exit_2(argv, tmp_path, capsys):
    """specs/cli.md §5: exit 2, one line naming the flag, nothing written."""
    from ptycho_cli.main import main

    assert main(["train", "--train-data-file", "a.npz", "--output_dir", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and argv[0] in err[0], err
    assert not (tmp_path / "o").exists()


def _ptycho(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ptycho_cli", *args], capture_output=True, text=True, env=ENV,
                          timeout=600)


def test_fno_adamw_train_then_infer_end_to_end(tmp_path: Path):
    """specs/cli.md §4, specs/network.md §7: a Fourier generator trained with AdamW for 1 epoch on the whole
    scan (64 groups of 64 positions) is saved with its architecture and reconstructs through ptycho infer."""
    scan = tmp_path / "scan.npz"
    assert _ptycho("simulate", "-o", str(scan), "--n-positions", "64", "--quiet").returncode == 0
    r = _ptycho("train", "--backend", "pytorch", "--train_data_file", str(scan), "--output_dir", str(tmp_path / "run"),
                "--max_epochs", "1", "--architecture", "fno", "--optimizer", "adamw", "--weight-decay", "0.01",
                "--fno-modes", "4", "--fno-width", "8", "--fno-blocks", "1")
    assert r.returncode == 0, r.stderr
    assert "groups=64 of 64 positions" in r.stdout and "architecture=fno optimizer=adamw" in r.stdout
    with zipfile.ZipFile(tmp_path / "run" / "wts.h5.zip") as zf:
        cfg = json.loads(zf.read("config.json"))
    assert (cfg["model"]["architecture"], cfg["model"]["fno_width"], cfg["optimizer"]) == ("fno", 8, "adamw")
    r = _ptycho("infer", "--model_path", str(tmp_path / "run"), "--test_data", str(scan),
                "--output_dir", str(tmp_path / "inf"), "--quiet")
    assert r.returncode == 0, r.stderr
    assert list((tmp_path / "inf").glob("*.npz"))


def _train_then_infer(tmp_path: Path, *flags: str) -> tuple[dict, dict]:
    """Simulate a 64-position scan, ``ptycho train --max-epochs 1`` with ``flags``, ``ptycho infer`` with the bundle
    (both exit 0, the reconstruction written); returns (the bundle's config.json, the last checkpoint)."""
    import torch

    scan = tmp_path / "scan.npz"
    assert _ptycho("simulate", "-o", str(scan), "--n-positions", "64", "--quiet").returncode == 0
    r = _ptycho("train", "--backend", "pytorch", "--train-data-file", str(scan), "--output-dir", str(tmp_path / "run"),
                "--max-epochs", "1", *flags)
    assert r.returncode == 0, r.stderr
    with zipfile.ZipFile(tmp_path / "run" / "wts.h5.zip") as zf:
        cfg = json.loads(zf.read("config.json"))
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")
    r = _ptycho("infer", "--model-path", str(tmp_path / "run"), "--test-data", str(scan),
                "--output-dir", str(tmp_path / "inf"), "--quiet")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "inf" / "reconstructed_object.npz").exists()
    return cfg, ckpt


def test_projected_input_train_then_infer_end_to_end(tmp_path: Path):
    """specs/network.md §8: ``--input-projections 3`` and ``--correction-window 32`` reach the torch config, are
    saved in the bundle and the checkpoint, and the bundle reconstructs through ptycho infer with the same generator."""
    cfg, ckpt = _train_then_infer(tmp_path, "--input-projections", "3", "--correction-window", "32")
    assert (cfg["model"]["input_projections"], cfg["model"]["correction_window"]) == (3, 32)
    assert ckpt["hyper_parameters"]["model_config"]["input_projections"] == 3
    assert ckpt["hyper_parameters"]["model_config"]["correction_window"] == 32
    assert ckpt["state_dict"]["encoder.blocks.0.conv1.weight"].shape[1] == 2  # Re(O) - 1, Im(O)


def test_refined_input_train_then_infer_end_to_end(tmp_path: Path):
    """specs/network.md §8.3: ``--input-refine-passes 2`` reaches the torch config, is saved in the bundle and the
    checkpoint; ptycho infer refines the new scan 2 passes for the estimate and reconstructs; explicit
    ``--input-projections`` replaces the recipe's refined estimate (they are exclusive), both given is exit 2."""
    from ptycho_cli.delegate import training_configs

    cfg, ckpt = _train_then_infer(tmp_path, "--input-refine-passes", "2", "--teacher", "none")
    assert (cfg["model"]["input_refine_passes"], cfg["model"]["input_projections"]) == (2, 0)
    assert ckpt["hyper_parameters"]["model_config"]["input_refine_passes"] == 2
    config, _ = training_configs(_parse("--input-projections", "7")[0], 64, "pytorch")
    assert (config.model.input_projections, config.model.input_refine_passes) == (7, 0)
    r = _ptycho("train", "--backend", "pytorch", "--train-data-file", str(tmp_path / "scan.npz"), "--output-dir",
                str(tmp_path / "x"), "--max-epochs", "1", "--input-refine-passes", "2", "--input-projections", "3")
    assert r.returncode == 2 and "ModelConfig.input_refine_passes: expected 0 with input_projections 3" in r.stderr
    assert not (tmp_path / "x" / "wts.h5.zip").exists()
