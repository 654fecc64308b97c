"""Train / infer / demo through the real command in a subprocess (specs/cli.md §3, §4, §7). Slow: minutes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "2"}


def ptycho(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ptycho_cli", *args], capture_output=True, text=True,
                          env=ENV, cwd=cwd, timeout=900)


@pytest.mark.slow
def test_fast_demo_writes_every_output(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    r = ptycho("demo", "--fast", "--output-dir", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("backend: pytorch")
    assert "ssim" in r.stdout and "psnr" in r.stdout
    for name in ("reconstruction.png", "loss_curves.png", "comparison.png", "comparison_network.png",
                 "refined/reconstruction.png", "refined/reconstructed_object.npz"):
        assert (out / name).stat().st_size > 1024, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert -1 <= metrics["amplitude"]["ssim"] <= 1
    assert -1 <= metrics["network_alone"]["amplitude"]["ssim"] <= 1
    assert "after 1 refinement iterations" in r.stdout and "the network alone" in r.stdout
    assert metrics["demo"]["timings_s"]["refine"] > 0
    assert metrics["demo"]["history"]["train_loss"] and metrics["demo"]["history"]["val_loss"]
    assert "Lightning" not in r.stderr and "%|" not in r.stderr  # --quiet: no bars, no library chatter


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["pytorch", "tensorflow"])
def test_train_infer_evaluate_round_trip(backend: str, tmp_path: Path) -> None:
    scan = tmp_path / "scan.npz"
    assert ptycho("simulate", "-o", str(scan), "--n-positions", "64", "--quiet").returncode == 0
    r = ptycho("train", "--backend", backend, "--train_data_file", str(scan), "--output_dir", str(tmp_path / "run"),
               "--max_epochs", "1", "--n_images", "32", "--quiet")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"backend: {backend} (--backend)")
    assert (tmp_path / "run" / "wts.h5.zip").is_file()
    r = ptycho("infer", "--model_path", str(tmp_path / "run"), "--test_data", str(scan),
               "--output_dir", str(tmp_path / "inf"), "--quiet")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"backend: {backend} (recorded in the model bundle)")
    npz = next(p for p in (tmp_path / "inf").glob("*.npz"))
    r = ptycho("evaluate", "-r", str(npz), "-g", str(scan), "--output-dir", str(tmp_path / "ev"), "--quiet")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "ev" / "comparison.png").stat().st_size > 1024
