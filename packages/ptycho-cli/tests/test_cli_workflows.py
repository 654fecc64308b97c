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
                 "reconstructed_object.npz", "network_object.npz", "network_reconstruction.png"):
        assert (out / name).stat().st_size > 1024, name
    assert not (out / "refined").exists()
    metrics = json.loads((out / "metrics.json").read_text())
    assert -1 <= metrics["amplitude"]["ssim"] <= 1
    assert -1 <= metrics["network_alone"]["amplitude"]["ssim"] <= 1
    assert "after 1 refinement iterations" in r.stdout and "the network alone" in r.stdout
    assert metrics["demo"]["timings_s"]["refine"] > 0
    assert metrics["demo"]["history"]["train_loss"] and metrics["demo"]["history"]["val_loss"]
    assert "Lightning" not in r.stderr and "%|" not in r.stderr  # --quiet: no bars, no library chatter


@pytest.mark.slow
def test_demo_on_a_budget_shows_every_step_in_a_pipe(tmp_path: Path) -> None:
    """specs/cli.md §7: the demo trains until its budget (no epoch count) and, its output being a pipe, prints
    one line per epoch, per refinement pass, and a start and end line for the steps without a count; no bar,
    no Lightning version number, no per-step loss copies."""
    out = tmp_path / "demo"
    r = ptycho("demo", "--fast", "--max-time", "00:00:00:04", "--output-dir", str(out))
    assert r.returncode == 0, r.stderr
    assert "train for 4 s (a wall-clock budget)" in r.stdout
    epochs = [ln for ln in r.stdout.splitlines() if ln.startswith("epoch ")]
    assert epochs and all("/" not in ln.split()[1] and " elapsed " in ln and " eta " in ln for ln in epochs)
    assert "refining: maximum-likelihood pass 1/1  nll " in r.stderr
    assert "reconstructing 64 positions (pytorch) ..." in r.stderr and "(pytorch): done in " in r.stderr
    assert "\r" not in r.stdout + r.stderr and "v_num" not in r.stdout and "100000" not in r.stdout
    assert f"{len(epochs)} epoch(s) in 4 s" in r.stdout


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
