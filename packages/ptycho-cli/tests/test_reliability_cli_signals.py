"""SIGTERM and SIGINT during ``ptycho infer``, ``refine``, ``convert`` and ``demo``: one line, exit 143 / 130, no
traceback, nothing half-written (specs/cli.md §1, §1.1; specs/reliability.md §8).

Each command runs as a subprocess and gets the signal once it is working, seen from outside: infer and refine
after their first refinement iteration line; demo once its simulated scan is on disk (training is under way);
convert while its output file is being written (its ``fsync`` is made to wait, so the signal lands between the
last byte and the rename: the most half-written moment).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("ptycho_torch")

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"
SIGNALS = [("SIGTERM", 143, "interrupted by signal SIGTERM"), ("SIGINT", 130, "interrupted (Ctrl-C)")]

CHILD = textwrap.dedent(
    r'''
    import os, sys, time
    marker = os.environ.get("FSYNC_MARKER")
    if marker:  # the first fsync of an output file says so and waits for the signal
        real = os.fsync
        def slow_fsync(fd):
            if not os.path.exists(marker):
                open(marker, "w").close()
                time.sleep(60)
            return real(fd)
        os.fsync = slow_fsync
    from ptycho_cli.main import main
    sys.exit(main(sys.argv[1:]))
    '''
)


def _product(tmp_path: Path, m: int = 9) -> tuple[Path, Path]:
    """A small ptychodus HDF5 product and its NPY counts (the layout of test_cli_convert.py)."""
    from ptycho.convert.parts import ProductParts
    from ptycho.convert.ptychodus import write_product

    dx, rng = 2.5e-8, np.random.default_rng(3)
    x_m, y_m = (rng.uniform(35, 85, m) - 59.5) * dx, (rng.uniform(35, 65, m) - 49.5) * dx
    parts = ProductParts(source="t", position_indexes=np.arange(m), x_m=x_m, y_m=y_m,
                         probe=np.ones((64, 64), np.complex64), probe_key="probe", probe_pixel_m=(dx, dx),
                         object=np.ones((100, 120), np.complex64), object_pixel_m=(dx, dx),
                         object_center_m=(0.0, 0.0), photon_energy_eV=10000.0, detector_distance_m=1.0, name="t")
    write_product(tmp_path / "product.h5", parts)
    np.save(tmp_path / "counts.npy", rng.poisson(9.0, (m, 64, 64)).astype(np.int32))
    return tmp_path / "product.h5", tmp_path / "counts.npy"


def _start(tmp_path: Path, args: list[str], marker: Path | None = None) -> subprocess.Popen:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if marker is not None:
        env["FSYNC_MARKER"] = str(marker)
    return subprocess.Popen([sys.executable, str(script), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)


def _signal_when(proc: subprocess.Popen, ready, name: str, timeout: float = 180.0) -> tuple[str, str]:
    """Send ``name`` once ``ready()`` is true (polled); returns (stdout, stderr) after the process ended."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"ended before the signal: {proc.stderr.read()[-2000:]}"
        assert time.monotonic() < deadline, "no sign of progress"
        time.sleep(0.02)
    proc.send_signal(getattr(signal, name))
    out, err = proc.communicate(timeout=120)
    return out, err


def _line_reader(proc: subprocess.Popen, needle: str, stream: str = "stdout"):
    """A ``ready()`` that reads lines of ``stream`` (stdout or stderr) until one contains ``needle``."""
    seen: list[str] = []

    def ready() -> bool:
        line = getattr(proc, stream).readline()
        seen.append(line)
        return needle in line

    return ready


def _assert_one_line(proc: subprocess.Popen, err: str, code: int, prog: str, cause: str) -> None:
    assert proc.returncode == code, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines[-1] == f"{prog}: {cause}", err[-3000:]
    assert len([ln for ln in lines if ln.startswith(prog)]) == 1, err[-3000:]


@pytest.mark.parametrize(("name", "code", "cause"), SIGNALS)
def test_refine_interrupted_leaves_no_output_folder(tmp_path, name, code, cause):
    out = tmp_path / "rec" / "refine"
    proc = _start(tmp_path, ["refine", "--test-data", str(FIXTURE), "--output-dir", str(out), "--iterations", "500",
                             "--tolerance", "0", "--device", "cpu"])
    _, err = _signal_when(proc, _line_reader(proc, "refining: pass 1/", "stderr"), name)
    _assert_one_line(proc, err, code, "ptycho refine", cause)
    assert not (tmp_path / "rec").exists()  # the folders it created are gone


@pytest.mark.parametrize(("name", "code", "cause"), SIGNALS)
def test_convert_interrupted_while_writing_leaves_no_file(tmp_path, name, code, cause):
    product, counts = _product(tmp_path)
    (tmp_path / "scans").mkdir()
    (tmp_path / "scans" / "old.npz").write_bytes(b"kept")
    target, marker = tmp_path / "scans" / "scan.npz", tmp_path / "fsync.marker"
    proc = _start(tmp_path, ["convert", str(product), "--diffraction", str(counts), "-o", str(target)], marker)
    _, err = _signal_when(proc, marker.exists, name)
    _assert_one_line(proc, err, code, "ptycho convert", cause)
    assert sorted(p.name for p in (tmp_path / "scans").iterdir()) == ["old.npz"]  # no file, no temporary file


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("signals") / "model"
    r = subprocess.run([sys.executable, "-m", "ptycho_cli", "train", "--backend", "pytorch", "--train_data_file",
                        str(FIXTURE), "--output_dir", str(out), "--n_groups", "16", "--nepochs", "1", "--quiet"],
                       capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return out / "wts.h5.zip"


@pytest.mark.parametrize(("name", "code", "cause"), SIGNALS)
def test_infer_interrupted_during_its_refinement_leaves_the_folder_as_it_was(bundle, tmp_path, name, code, cause):
    out = tmp_path / "recon"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    proc = _start(tmp_path, ["infer", "--backend", "pytorch", "--model_path", str(bundle), "--test_data",
                             str(FIXTURE), "--output_dir", str(out), "--refine-iterations", "500",
                             "--refine-tolerance", "0", "--refine-device", "cpu"])
    _, err = _signal_when(proc, _line_reader(proc, "refining: pass 1/", "stderr"), name)
    _assert_one_line(proc, err, code, "ptycho infer", cause)
    # the network's reconstruction was written before the refinement began: the command's outputs are removed
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize(("name", "code", "cause"), SIGNALS)
def test_demo_interrupted_while_training_leaves_no_output_folder(tmp_path, name, code, cause):
    out = tmp_path / "demo"
    proc = _start(tmp_path, ["demo", "--fast", "--output-dir", str(out), "--epochs", "50"])
    _, err = _signal_when(proc, (out / "model" / "checkpoints" / "last.ckpt").exists, name)  # epoch 1 done
    _assert_one_line(proc, err, code, "ptycho demo", cause)
    assert not out.exists()
