"""The ``ptycho`` command run for real in a subprocess (specs/cli.md §1, §2, §5).

Every user error is one stderr line and exit status 2; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "2"}


def ptycho(*args: str, cwd: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ptycho_cli", *args], capture_output=True, text=True,
                          env=ENV, cwd=cwd, timeout=timeout)


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sim") / "scan.npz"
    r = ptycho("simulate", "-o", str(path), "--n-positions", "40", "--seed", "5", "--quiet")
    assert r.returncode == 0, r.stderr
    return path


def test_simulate_writes_contract_valid_scan_with_ground_truth(scan: Path) -> None:
    """specs/cli.md §2: the file holds what was asked for and passes the contract."""
    from ptycho.data_contract import validate_npz

    data = validate_npz(scan)
    assert data["M"] == 40 and data["N"] == 64
    assert data["objectGuess"] is not None and data["objectGuess"].shape[0] >= 64
    raw = np.load(scan, allow_pickle=False)
    assert float(raw["nphotons"]) == 1e9 and int(raw["seed"]) == 5
    # the same command twice gives identical arrays (seeded)
    again = scan.parent / "again.npz"
    assert ptycho("simulate", "-o", str(again), "--n-positions", "40", "--seed", "5", "--quiet").returncode == 0
    np.testing.assert_array_equal(np.load(again)["diffraction"], raw["diffraction"])


def test_simulate_probe_modes_writes_a_mode_stack(tmp_path: Path) -> None:
    """specs/cli.md §2, specs/simulation.md §7: --probe-modes K (default probe: the realistic scan's zone plate) writes a (K, N, N) probeGuess with the asked powers;
    validate names the modes; a --mode-powers count that differs from K is a one-line usage error."""
    path = tmp_path / "modes.npz"
    r = ptycho("simulate", "-o", str(path), "--n-positions", "12", "--probe-modes", "3", "--mode-powers", "7,2,1",
               "--quiet")
    assert r.returncode == 0 and "zoneplate probe (3 modes)" in r.stdout, r.stderr
    modes = np.load(path)["probeGuess"]
    power = np.sum(np.abs(modes) ** 2, axis=(1, 2))
    np.testing.assert_allclose(power / power.sum(), [0.7, 0.2, 0.1], rtol=1e-5)
    ok = ptycho("validate", str(path))
    assert ok.returncode == 0 and "3 probe modes" in ok.stdout
    bad = ptycho("simulate", "-o", str(tmp_path / "x.npz"), "--probe-modes", "3", "--mode-powers", "0.5,0.5")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "--mode-powers: expected 3 comma-separated positive numbers" in bad.stderr
    assert not (tmp_path / "x.npz").exists()


def test_validate_ok_and_failures(scan: Path, tmp_path: Path) -> None:
    """specs/cli.md §2: one line per file, exit 2 if any fails."""
    bad = tmp_path / "bad.npz"
    arrays = dict(np.load(scan, allow_pickle=False))
    arrays["xcoords"] = arrays["xcoords"][:-1]
    np.savez(bad, **arrays)
    ok = ptycho("validate", str(scan))
    assert ok.returncode == 0 and ok.stdout.strip().startswith(f"{scan}: OK")
    r = ptycho("validate", str(scan), str(bad), str(tmp_path / "missing.npz"))
    assert r.returncode == 2
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3 and "OK" in lines[0]
    assert "key 'xcoords'" in lines[1] and "expected length 40" in lines[1]  # the short one is blamed
    assert "missing.npz" in lines[2] and "no such file" in lines[2]


@pytest.mark.parametrize("argv, needle", [
    (["simulate"], "--output"),
    (["simulate", "-o", "x.npz", "--N", "32"], "--N"),
    (["simulate", "-o", "x.npz", "--object", "cat"], "--object"),
    (["simulate", "-o", "x.npz", "--n-positions", "-3"], "n-positions"),
    (["simulate", "-o", "new/dir/x.txt"], ".npz"),
    (["simulate", "-o", "scan.txt"], ".npz"),
    (["simulate", "-o", "scan"], ".npz"),
    (["validate"], "FILE"),
    (["nosuchcommand"], "invalid choice"),
    (["evaluate", "--reconstruction", "nope.npz", "--ground-truth", "nope2.npz"], "nope.npz"),
    (["train", "--backend", "cobol", "--train_data_file", "a.npz", "--output_dir", "o"], "--backend"),
    (["train", "--output_dir", "o"], "--train-data-file"),
    (["train", "--train_data_file", "missing.npz", "--output_dir", "o"], "missing.npz"),
    (["infer", "--model_path", "m", "--test_data", "missing.npz", "--output_dir", "o"], "missing.npz"),
    (["demo", "--epochs", "0"], "--epochs"),
    (["validate", "a.npz", "--bogus"], "--bogus"),
])
def test_user_errors_are_one_line_exit_2(argv: list[str], needle: str, tmp_path: Path) -> None:
    """specs/cli.md §1: one stderr line naming the problem, exit 2, no traceback; --debug shows it."""
    r = ptycho(*argv, cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    err = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(err) == 1, r.stderr
    assert err[0].startswith("ptycho") and "error" in err[0] and needle in err[0]
    assert "Traceback" not in r.stderr


def test_simulate_creates_no_folder_and_no_file_on_a_bad_name(tmp_path: Path) -> None:
    """specs/cli.md §1.1, §2: a name not ending in .npz is refused; the folders made for it are removed."""
    for target in ("new/dir/x.txt", "scan.txt"):
        r = ptycho("simulate", "-o", target, "--n-positions", "8", cwd=tmp_path)
        assert r.returncode == 2, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_debug_shows_traceback(tmp_path: Path) -> None:
    r = ptycho("--debug", "evaluate", "--reconstruction", "nope.npz", "--ground-truth", "g.npz", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" in r.stderr
    r2 = ptycho("evaluate", "--reconstruction", "nope.npz", "--ground-truth", "g.npz", "--debug", cwd=tmp_path)
    assert r2.returncode == 2 and "Traceback" in r2.stderr


def test_evaluate_writes_metrics_and_figure(scan: Path, tmp_path: Path) -> None:
    """specs/cli.md §5: a shifted crop of the ground truth is placed by search, scored near-perfect."""
    gt = np.load(scan)["objectGuess"]
    recon = np.zeros((90, 90), np.complex64)
    recon[5:85, 5:85] = gt[60:140, 70:150] * np.exp(1j * 0.7)  # constant phase offset, zero border
    rpath = tmp_path / "recon.npz"
    np.savez(rpath, reconstruction=recon)
    r = ptycho("evaluate", "--reconstruction", str(rpath), "--ground-truth", str(scan),
               "--output-dir", str(tmp_path / "ev"), "--quiet")
    assert r.returncode == 0, r.stderr
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["placement"]["gt_offset"] == [60, 70]
    assert metrics["amplitude"]["ssim"] > 0.99 and metrics["phase"]["ssim"] > 0.99
    assert set(metrics["frc_curve"]) == {"amplitude", "phase"}
    assert (tmp_path / "ev" / "comparison.png").stat().st_size > 1024
    assert "ssim" in r.stdout and "psnr" in r.stdout
    # same data with the origin recorded: no search, same window (a bare object: no scan positions to limit it,
    # this crop is not where the scan's positions are)
    np.savez(rpath, reconstruction=recon, origin_xy=np.array([65.0, 55.0]))
    np.save(tmp_path / "object.npy", gt)
    r2 = ptycho("evaluate", "-r", str(rpath), "-g", str(tmp_path / "object.npy"), "--output-dir", str(tmp_path / "ev2"),
                "--quiet")
    assert r2.returncode == 0, r2.stderr
    m2 = json.loads((tmp_path / "ev2" / "metrics.json").read_text())
    assert m2["placement"]["placement"] == "origin" and m2["placement"]["gt_offset"] == [60, 70]


def test_console_scripts_are_declared() -> None:
    """Issue: ptycho, ptycho_train, ptycho_inference, ptycho_evaluate console scripts (pyproject)."""
    import tomllib

    meta = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    scripts = meta["project"]["scripts"]
    assert scripts == {"ptycho": "ptycho_cli.main:main", "ptycho_train": "ptycho_cli.main:train_main",
                       "ptycho_inference": "ptycho_cli.main:inference_main",
                       "ptycho_evaluate": "ptycho_cli.main:evaluate_main"}
    assert {"torch", "tf"} <= set(meta["project"]["optional-dependencies"])


def test_ptycho_evaluate_entry_point_in_process(tmp_path: Path) -> None:
    """ptycho_evaluate = ptycho evaluate (same parser, same exit codes)."""
    from ptycho_cli.main import evaluate_main

    assert evaluate_main(["--reconstruction", str(tmp_path / "r.npz"), "--ground-truth", "g.npz"]) == 2


def test_simulate_realistic_scan_flags(tmp_path: Path) -> None:
    """specs/cli.md §2: --probe/--jitter/--interpolation reach ptycho.simulation.simulate (recorded in _metadata);
    an unknown probe kind is exit 2, one line, no file."""
    import json

    import numpy as np

    out = tmp_path / "zp.npz"
    proc = ptycho("simulate", "-o", str(out), "--n-positions", "40", "--scan", "fermat", "--probe", "zoneplate",
                  "--jitter", "1", "--interpolation", "fourier")
    assert proc.returncode == 0, proc.stderr
    assert "zoneplate probe" in proc.stdout
    with np.load(out, allow_pickle=False) as data:
        meta = json.loads(str(data["_metadata"]))["simulation"]
        assert np.abs(data["probeGuess"].imag).max() > 0
    assert meta["probe_kind"] == "zoneplate" and meta["jitter"] == 1.0 and meta["interpolation"] == "fourier"
    _assert_simulate_refuses(tmp_path, ["--probe", "gauss"], "ptycho simulate: error: --probe: expected one of "
                             "disk, fresnel, zoneplate, phasescreen, found 'gauss'")


def _assert_simulate_refuses(tmp_path: Path, args: list[str], message: str) -> None:
    """``ptycho simulate -o bad.npz ARGS`` is a usage error: exit 2, ``message`` as the last stderr line, no file."""
    bad = ptycho("simulate", "-o", str(tmp_path / "bad.npz"), *args)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1] == message
    assert not (tmp_path / "bad.npz").exists()


def test_simulate_defaults_to_the_neutral_model(tmp_path: Path) -> None:
    """specs/cli.md §2, specs/simulation.md §6: without --interpolation the scan is simulated on a 4x finer grid
    (positions in quarter pixels, recorded in _metadata); --oversample changes the grid; a bad model is exit 2."""
    import json

    import numpy as np

    out = tmp_path / "neutral.npz"
    proc = ptycho("simulate", "-o", str(out), "--n-positions", "30", "--probe", "phasescreen", "--jitter", "1",
                  "--oversample", "2")
    assert proc.returncode == 0, proc.stderr
    with np.load(out, allow_pickle=False) as data:
        meta = json.loads(str(data["_metadata"]))["simulation"]
        x = data["xcoords"]
    assert meta["interpolation"] == "finegrid" and meta["oversample"] == 2 and meta["probe_kind"] == "phasescreen"
    np.testing.assert_array_equal(x * 2, np.round(x * 2))
    _assert_simulate_refuses(tmp_path, ["--interpolation", "cubic"], "ptycho simulate: error: --interpolation: "
                             "expected one of finegrid, fourier, probe, bilinear, found 'cubic'")


def test_flags_are_never_matched_by_a_prefix(tmp_path: Path) -> None:
    """specs/cli.md §1: a flag's prefix is not the flag (``--iter`` is not ``--iterations``, ``--train-data`` is
    not ``--train-data-file``): exit 2, one line, nothing run or written; the torch CLI's parser does the same."""
    scan = tmp_path / "s.npz"
    assert ptycho("simulate", "-o", str(scan), "--n-positions", "16", "-q").returncode == 0
    bad = ptycho("refine", "--test-data", str(scan), "--output-dir", str(tmp_path / "r"), "--iter", "2")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1] == ("ptycho refine: error: unrecognized arguments: --iter 2 "
                                                   "(see 'ptycho refine --help')")
    assert not (tmp_path / "r").exists()
    bad = ptycho("train", "--backend", "pytorch", "--train-data", str(scan), "--output-dir", str(tmp_path / "t"))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "t").exists()
    from ptycho_torch.cli.shared import CliArgumentParser

    parser = CliArgumentParser(prog="x")
    parser.add_argument("--train_data_file")
    assert not parser.allow_abbrev
