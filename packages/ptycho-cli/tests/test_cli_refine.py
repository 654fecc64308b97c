"""``ptycho refine`` and ``ptycho infer --refine-iterations`` (specs/refinement.md §7)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from cli_scans import write_siemens_scan

from ptycho.simulation import write_simulation
from ptycho_cli.main import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def scan(tmp_path_factory) -> Path:
    return write_siemens_scan(tmp_path_factory.mktemp("scan") / "scan.npz", 48, jitter=1.0)


def test_refine_writes_object_log_probe_positions(scan: Path, tmp_path: Path, capsys) -> None:
    """§7: files, keys, placement, log (JSON = CSV), last stdout line; the NLL falls."""
    out = tmp_path / "ref"
    code = main(["refine", "--test-data", str(scan), "--output-dir", str(out), "--iterations", "3",
                 "--refine-probe", "--refine-positions", "--seed", "1", "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    last = captured.out.strip().splitlines()[-1]
    assert last.startswith(f"refined={out.resolve()} iterations=3 nll=")
    assert sorted(p.name for p in out.iterdir()) == [
        "reconstructed_amplitude.png", "reconstructed_object.npz", "reconstructed_phase.png", "refine_convergence.png",
        "refine_log.csv", "refine_log.json", "refined_positions.npz", "refined_probe.npz"]
    for name in ("reconstructed_amplitude.png", "reconstructed_phase.png", "refine_convergence.png"):
        assert (out / name).read_bytes().startswith(PNG_MAGIC)
    with np.load(scan) as z:
        xs, ys, probe = z["xcoords"], z["ycoords"], z["probeGuess"]
    with np.load(out / "reconstructed_object.npz") as z:
        obj, origin = z["object"], z["origin_xy"]
        np.testing.assert_allclose(z["amplitude"], np.abs(obj), rtol=1e-6)
    # the box of the positions grown by 10 px (half the stitching crop)
    assert tuple(origin) == (np.floor(xs.min()) - 10, np.floor(ys.min()) - 10)
    assert obj.shape == (np.ceil(ys.max()) - np.floor(ys.min()) + 20, np.ceil(xs.max()) - np.floor(xs.min()) + 20)
    log = json.loads((out / "refine_log.json").read_text())
    assert [r["iteration"] for r in log["history"]] == [1, 2, 3]
    assert log["options"]["refine_probe"] and log["options"]["seed"] == 1 and log["nll_units"] == "counts"
    assert log["final_nll"] < log["initial_nll"]
    rows = (out / "refine_log.csv").read_text().splitlines()
    assert rows[0] == "iteration,nll,time_s,change" and len(rows) == 4
    assert float(rows[3].split(",")[3]) == log["history"][2]["change"] > 0
    assert float(rows[3].split(",")[1]) == log["history"][2]["nll"]
    with np.load(out / "refined_probe.npz") as z:
        assert z["probe"].shape == probe.shape and not np.array_equal(z["probe"], probe)
    with np.load(out / "refined_positions.npz") as z:
        np.testing.assert_array_equal(z["xcoords_start"], xs)
        assert z["xcoords"].shape == xs.shape and not np.array_equal(z["xcoords"], xs)


def test_refine_with_probe_modes(scan: Path, tmp_path: Path, capsys) -> None:
    """§10: a 3-mode scan refines its (3, N, N) probe and writes it back; --probe-modes 2 splits a one-mode probe
    into 2 orthogonal modes; a --probe-modes that disagrees with the scan's modes is one line, exit 2."""
    modes = tmp_path / "modes.npz"
    write_siemens_scan(modes, 48, probe_modes=3)
    out = tmp_path / "m3"
    assert main(["refine", "--test-data", str(modes), "--output-dir", str(out), "--iterations", "3",
                 "--refine-probe", "-q"]) == 0
    with np.load(out / "refined_probe.npz") as z, np.load(modes) as m:
        assert z["probe"].shape == (3, 64, 64) and not np.array_equal(z["probe"], m["probeGuess"])
    out2 = tmp_path / "m2"
    assert main(["refine", "--test-data", str(scan), "--output-dir", str(out2), "--iterations", "3",
                 "--refine-probe", "--probe-modes", "2", "-q"]) == 0
    with np.load(out2 / "refined_probe.npz") as z:
        p = z["probe"].astype(np.complex128)
    gram = np.einsum("kxy,jxy->kj", p.conj(), p)
    assert p.shape == (2, 64, 64) and abs(gram[0, 1]) < 1e-4 * abs(gram[0, 0])
    capsys.readouterr()
    assert main(["refine", "--test-data", str(modes), "--output-dir", str(tmp_path / "bad"), "--probe-modes", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--probe-modes 2: expected the 3 modes" in err[0]
    assert not (tmp_path / "bad").exists()


def test_infer_probe_modes_is_checked_before_inference(scan: Path, tmp_path: Path, capsys) -> None:
    """specs/cli.md §4: infer's --probe-modes needs --refine-iterations, object refinement, and the scan's number of
    modes when the scan has several; each is one line, exit 2, with nothing written (checked before inference)."""
    modes = tmp_path / "modes.npz"
    write_simulation(modes, N=64, n_positions=16, object_size=96, probe_kind="zoneplate", seed=2, probe_modes=3)
    out = tmp_path / "inf"
    base = ["infer", "--model-path", str(tmp_path / "no-model"), "--test-data", str(modes), "--output-dir", str(out)]
    for argv, message in ((["--probe-modes", "2"], "--probe-modes: needs --refine-iterations K"),
                          (["--refine-iterations", "2", "--probe-modes", "2"], "--probe-modes 2: expected the 3 modes"),
                          (["--refine-iterations", "2", "--refine-target", "network", "--probe-modes", "3"],
                           "--probe-modes: expected --refine-target object or both")):
        capsys.readouterr()
        assert main([*base, *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
        assert not out.exists()


@pytest.mark.slow
def test_infer_then_refine_with_probe_modes(scan: Path, tmp_path: Path) -> None:
    """§10 after the network (specs/cli.md §4): a TensorFlow model trained on a 3-mode scan infers it, then the
    object refinement runs with the scan's 3 modes (--probe-modes 3, probe refined, written back as (3, N, N));
    on a one-mode scan --probe-modes 2 refines 2 orthogonal modes split from its probe."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}

    def ptycho(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "ptycho_cli", *args], capture_output=True, text=True,
                              env=env, timeout=900)

    modes = tmp_path / "modes.npz"
    write_siemens_scan(modes, 48, probe_modes=3)
    r = ptycho("train", "--backend", "tensorflow", "--train-data-file", str(modes), "--output-dir",
               str(tmp_path / "run"), "--nepochs", "1", "--n-groups", "32", "--n-filters-scale", "1", "--quiet")
    assert r.returncode == 0, r.stderr
    with zipfile.ZipFile(tmp_path / "run" / "wts.h5.zip") as zf, np.load(io.BytesIO(zf.read("physics.npz"))) as ph:
        assert ph["probe"].shape == (3, 64, 64)  # the network trained with the 3 modes
    for data, k in ((modes, 3), (scan, 2)):
        out = tmp_path / f"inf{k}"
        r = ptycho("infer", "--model-path", str(tmp_path / "run"), "--test-data", str(data), "--output-dir", str(out),
                   "--refine-iterations", "2", "--refine-probe", "--probe-modes", str(k), "--quiet")
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip().splitlines()[-1].startswith(f"refined={out.resolve()} iterations=2 ")
        assert (out / "network_object.npz").is_file()
        with np.load(out / "refined_probe.npz") as z:
            p = z["probe"].astype(np.complex128)
        gram = np.einsum("kxy,jxy->kj", p.conj(), p)
        assert p.shape == (k, 64, 64) and abs(gram[0, 1]) < 1e-4 * abs(gram[0, 0])


def test_refine_evaluates_with_ptycho_evaluate(scan: Path, tmp_path: Path, capsys) -> None:
    """§7: the refined file is placed on the ground truth by its origin_xy (no search)."""
    out = tmp_path / "ref"
    assert main(["refine", "--test-data", str(scan), "--output-dir", str(out), "--iterations", "2", "-q"]) == 0
    assert main(["evaluate", "-r", str(out / "reconstructed_object.npz"), "-g", str(scan),
                 "--output-dir", str(tmp_path / "ev"), "-q"]) == 0
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert 0 < metrics["amplitude"]["ssim"] <= 1
    capsys.readouterr()


@pytest.mark.parametrize("argv,message", [
    (["refine", "--test-data", "missing.npz", "--output-dir", "o"], "missing.npz"),
    (["refine", "--test-data", "S", "--output-dir", "o", "--iterations", "-1"], "--refine-iterations"),
    (["refine", "--test-data", "S", "--output-dir", "o", "--likelihood", "l2"], "--refine-likelihood"),
    (["infer", "--model_path", "m", "--test_data", "S", "--output_dir", "o", "--refine-probe"],
     "--refine-probe: needs --refine-iterations K"),
    (["infer", "--model_path", "m", "--test_data", "S", "--output_dir", "o", "--refine-target", "network"],
     "--refine-target: needs --refine-iterations K"),
    (["infer", "--model_path", "m", "--test_data", "S", "--output_dir", "o", "--refine-iterations", "2",
      "--refine-target", "network", "--refine-positions"], "found --refine-target network"),
    (["infer", "--model_path", "m", "--test_data", "S", "--output_dir", "o", "--refine-iterations", "2",
      "--refine-target", "weights"], "--refine-target"),
])
def test_bad_input_is_one_line_exit_2(scan: Path, tmp_path: Path, capsys, argv, message) -> None:
    """§7: user errors print one line on stderr, exit 2, and write nothing."""
    argv = [str(scan) if a == "S" else (str(tmp_path / a) if a in ("o", "m") else a) for a in argv]
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not (tmp_path / "o").exists()


def test_a_failed_write_leaves_no_files(scan: Path, tmp_path: Path, monkeypatch) -> None:
    """§7: when a later file cannot be written, the files written before it are removed."""
    import ptycho.atomic_io as aio
    from ptycho_cli.refine_outputs import write_refinement
    from ptycho_torch.refine import RefineOptions, refine
    from ptycho_torch.refine.scan import load_scan

    data = load_scan(scan)
    opts = RefineOptions(iterations=1, refine_probe=True)
    res = refine(data["diffraction"], data["positions"], data["probe"], scale=data["scale"], options=opts)

    def broken(path, text):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(aio, "save_text_atomic", broken)
    out = tmp_path / "out"
    with pytest.raises(OSError):
        write_refinement(out, res, data, opts)
    assert list(out.iterdir()) == []


@pytest.mark.slow
def test_infer_then_refine_round_trip(scan: Path, tmp_path: Path) -> None:
    """§7, specs/cli.md §4: OUTPUT_DIR/reconstructed_object.npz is the final answer (the refined object, started
    from the network's); the network's own result stays beside it as network_object.npz."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}

    def ptycho(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "ptycho_cli", *args], capture_output=True, text=True,
                              env=env, timeout=900)

    r = ptycho("train", "--backend", "pytorch", "--train_data_file", str(scan), "--output_dir", str(tmp_path / "run"),
               "--max_epochs", "1", "--n_images", "32", "--quiet")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "inf"
    r = ptycho("infer", "--model_path", str(tmp_path / "run"), "--test_data", str(scan), "--output_dir", str(out),
               "--refine-iterations", "2", "--refine-positions", "--quiet")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1].startswith(f"refined={out.resolve()} iterations=2 ")
    assert sorted(p.name for p in out.iterdir()) == [
        "network_amplitude.png", "network_object.npz", "network_phase.png", "reconstructed_amplitude.png",
        "reconstructed_object.npz", "reconstructed_phase.png", "refine_convergence.png", "refine_log.csv",
        "refine_log.json", "refined_positions.npz"]
    with np.load(out / "reconstructed_object.npz") as z, np.load(out / "network_object.npz") as n:
        assert z["object"].ndim == 2 and np.all(np.isfinite(z["object"]))
        assert n["object"].ndim == 2 and not np.array_equal(n["object"], z["object"][: n["object"].shape[0]])


@pytest.mark.slow
def test_infer_then_finetune_the_network(scan: Path, tmp_path: Path) -> None:
    """§9: --refine-target both fine-tunes the network (its NLL falls), then refines the object from its stitch;
    --refine-target network writes the fine-tuned network's stitch."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    run = [sys.executable, "-m", "ptycho_cli"]
    r = subprocess.run([*run, "train", "--backend", "pytorch", "--train_data_file", str(scan), "--output_dir",
                        str(tmp_path / "run"), "--max_epochs", "1", "--n_images", "32", "--quiet"],
                       capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "inf"
    r = subprocess.run([*run, "infer", "--model_path", str(tmp_path / "run"), "--test_data", str(scan), "--output_dir",
                        str(out), "--refine-iterations", "2", "--refine-target", "both"],
                       capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr
    assert "refining the network: pass 2/2  nll " in r.stderr and "refining: pass 2/2  nll " in r.stderr
    log = json.loads((out / "refine_log.json").read_text())
    net = log["network"]
    assert net["target"] == "both" and [row["iteration"] for row in net["history"]] == [1, 2]
    assert net["final_nll"] < net["initial_nll"]
    assert [row["iteration"] for row in log["history"]] == [1, 2]
    with np.load(out / "reconstructed_object.npz") as z:
        assert z["object"].ndim == 2 and np.all(np.isfinite(z["object"]))
    # network only: the fine-tuned network's stitch is the result, with no object passes
    out2 = tmp_path / "inf_net"
    r = subprocess.run([*run, "infer", "--model_path", str(tmp_path / "run"), "--test_data", str(scan), "--output_dir",
                        str(out2), "--refine-iterations", "1", "--refine-target", "network", "--quiet"],
                       capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr
    log2 = json.loads((out2 / "refine_log.json").read_text())
    assert log2["network"]["target"] == "network" and len(log2["network"]["history"]) == 1
    assert log2["history"] == [] and log2["options"]["iterations"] == 0
    with np.load(out2 / "reconstructed_object.npz") as z:
        assert z["object"].ndim == 2 and np.all(np.isfinite(z["object"])) and np.abs(z["object"]).max() > 0


def test_a_failed_refinement_write_restores_plain_inference(scan: Path, tmp_path: Path, monkeypatch) -> None:
    """specs/cli.md §4: the network's files are renamed aside only for the refined ones to take their names; when
    writing those fails, the folder is plain inference's again (no final answer missing, nothing half-written)."""
    import ptycho_cli.refine_outputs as outputs
    from ptycho_cli.refine_cmd import _run
    from ptycho_torch.refine import RefineOptions
    from ptycho_torch.refine.scan import load_scan

    out = tmp_path / "inf"
    out.mkdir()
    for name in ("reconstructed_object.npz", "reconstructed_amplitude.png", "reconstructed_phase.png"):
        (out / name).write_bytes(name.encode())

    def broken(*args, **kwargs):
        assert sorted(p.name for p in out.iterdir()) == [
            "network_amplitude.png", "network_object.npz", "network_phase.png"]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outputs, "write_refinement", broken)
    with pytest.raises(OSError):
        _run(load_scan(scan), RefineOptions(iterations=1, device="cpu"), out, None, True, keep_network=True)
    assert sorted(p.name for p in out.iterdir()) == [
        "reconstructed_amplitude.png", "reconstructed_object.npz", "reconstructed_phase.png"]
    assert (out / "reconstructed_object.npz").read_bytes() == b"reconstructed_object.npz"
