"""``python -m ptycho_torch.inference`` on the minimal fixture (specs/torch-cli.md §4, §5).

A bundle is trained once in-process (1 epoch, 16 groups, n_filters_scale 1). One subprocess run checks
the artefacts as users get them (flags in an unusual order); in-process runs check each flag's effect
and the bad-input contract.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.skipif(not FIXTURE.is_file(), reason=f"fixture {FIXTURE} not generated yet")


def infer(argv) -> int:
    from ptycho_torch.inference import main

    return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory) -> Path:
    from ptycho_torch.train import main as train_main

    root = tmp_path_factory.mktemp("bundle")
    cfg = root / "small.json"
    cfg.write_text(json.dumps({"model": {"n_filters_scale": 1}}))
    out = root / "trained"
    code = train_main([str(a) for a in ["--train_data_file", FIXTURE, "--output_dir", out, "--n_groups", "16",
                                          "--batch_size", "16", "--max_epochs", "1", "--accelerator", "cpu",
                                          "--quiet", "--logger", "none", "--config", cfg]])
    assert code == 0 and (out / "wts.h5.zip").is_file()
    return out


@pytest.fixture()
def spy(monkeypatch):
    """Record the batch size and device the workflow's predict_patches receives."""
    from ptycho_torch.workflows import reassembly

    calls = []
    real = reassembly.predict_patches

    def wrapper(module, container, *, batch_size, device, num_workers=0, precision="32", on_batch=None):
        calls.append({"batch_size": batch_size, "device": str(device), "groups": len(container),
                      "num_workers": num_workers, "precision": precision})
        return real(module, container, batch_size=batch_size, device=device, num_workers=num_workers,
                    precision=precision, on_batch=on_batch)

    monkeypatch.setattr(reassembly, "predict_patches", wrapper)
    return calls


def test_subprocess_any_order_writes_pngs_and_complex_npz(bundle_dir, tmp_path):
    """specs/torch-cli.md §4: flags in any order; two PNGs + NPZ with the complex object; --quiet prints
    only the summary line."""
    out = tmp_path / "recon"
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    proc = subprocess.run(
        [sys.executable, "-m", "ptycho_torch.inference", "--quiet", "--output_dir", str(out), "--n_images", "16",
         "--inference-batch-size", "8", "--num-workers", "0", "--accelerator", "cpu", "--test_data", str(FIXTURE),
         "--model_path", str(bundle_dir)],
        capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr == ""
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"reconstruction={out.resolve()} ") and "groups=16" in lines[0]
    for name in ("reconstructed_amplitude.png", "reconstructed_phase.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 1024
    with np.load(out / "reconstructed_object.npz", allow_pickle=False) as z:
        obj, amp, phase, origin = z["object"], z["amplitude"], z["phase"], z["origin_xy"]
    assert obj.dtype == np.complex64 and obj.ndim == 2 and obj.shape == amp.shape == phase.shape
    with np.load(FIXTURE, allow_pickle=False) as scan:  # the canvas centre is the mean stitched offset
        xs, ys = scan["xcoords"], scan["ycoords"]
    centre = origin + obj.shape[0] / 2
    assert origin.shape == (2,) and xs.min() <= centre[0] <= xs.max() and ys.min() <= centre[1] <= ys.max()
    assert np.all(np.isfinite(obj)) and np.abs(obj).max() > 0
    np.testing.assert_allclose(np.abs(obj), amp, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.exp(1j * np.angle(obj)), np.exp(1j * phase), atol=1e-4)
    assert sorted(p.name for p in out.iterdir()) == [
        "reconstructed_amplitude.png", "reconstructed_object.npz", "reconstructed_phase.png"]


def test_flags_reach_the_workflow(bundle_dir, tmp_path, spy, capsys):
    """specs/torch-cli.md §4: --n_images (groups), --inference-batch-size, --accelerator, --num-workers, --precision reach
    prediction; without --inference-batch-size the bundle's training batch size (16) is used; not quiet =
    progress lines."""
    out = tmp_path / "a"
    assert infer(["--model_path", bundle_dir, "--test_data", FIXTURE, "--output_dir", out, "--accelerator", "cpu",
                  "--n_images", "5", "--inference-batch-size", "2", "--num-workers", "1", "--precision", "bf16-mixed"]) == 0
    assert spy[-1] == {"batch_size": 2, "device": "cpu", "groups": 5, "num_workers": 1, "precision": "bf16-mixed"}
    text = capsys.readouterr().out
    assert "loaded model from" in text and "wrote" in text and text.strip().splitlines()[-1].endswith("groups=5")
    out2 = tmp_path / "b"
    assert infer(["--model_path", bundle_dir / "wts.h5.zip", "--test_data", FIXTURE, "--output_dir", out2,
                  "--accelerator", "cpu", "--quiet"]) == 0
    assert spy[-1] == {"batch_size": 16, "device": "cpu", "groups": 64, "num_workers": 0,  # every position by default
                       "precision": "32"}
    assert capsys.readouterr().out.count("\n") == 1


def test_deprecated_device_flag(bundle_dir, tmp_path, spy, capsys):
    """specs/torch-cli.md §2.4: --device cpu warns (one line) and selects the CPU."""
    out = tmp_path / "d"
    assert infer(["--model_path", bundle_dir, "--test_data", FIXTURE, "--output_dir", out, "--device", "cpu",
                  "--n_images", "4", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "DeprecationWarning: --device is deprecated" in err and spy[-1]["device"] == "cpu"


def _rewrite_manifest(src: Path, dst: Path, **changes) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "manifest.json":
                manifest = json.loads(data)
                manifest.update(changes)
                data = json.dumps(manifest).encode()
            zout.writestr(info, data)


def _n128_npz(path: Path) -> None:
    """The fixture upsampled 2x (nearest) -> a valid N=128 scan, incompatible with an N=64 model."""
    from ptycho.atomic_io import save_npz_atomic

    with np.load(FIXTURE, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    up = np.ones((2, 2), dtype=np.float32)
    arrays["diffraction"] = np.stack([np.kron(d, up) for d in arrays["diffraction"]]).astype(np.float32)
    arrays["probeGuess"] = np.kron(arrays["probeGuess"], up).astype(np.complex64)
    arrays["objectGuess"] = np.kron(arrays["objectGuess"], up).astype(np.complex64)
    save_npz_atomic(path, **arrays)


@pytest.mark.parametrize(
    "case, match",
    [
        ("missing_model", "--model-path"),
        ("corrupt_bundle", "wts.h5.zip"),
        ("foreign_bundle", "tensorflow"),
        ("malformed_npz", "bad.npz"),
        ("missing_data", "nope.npz"),
        ("n_mismatch", "expected 64x64"),
        ("bad_flag", "--n-images"),
        ("missing_flag", "--model-path"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(bundle_dir, tmp_path, capsys, case, match):
    """specs/torch-cli.md §5: one stderr line, exit 2, no traceback, no output folder."""
    out = tmp_path / "recon"
    model, data = bundle_dir, FIXTURE
    extra: list = []
    if case == "missing_model":
        model = tmp_path / "no_such_run"
    elif case == "corrupt_bundle":
        model = tmp_path / "corrupt"
        model.mkdir()
        blob = (bundle_dir / "wts.h5.zip").read_bytes()
        (model / "wts.h5.zip").write_bytes(blob[: len(blob) // 2])
    elif case == "foreign_bundle":
        model = tmp_path / "foreign"
        model.mkdir()
        _rewrite_manifest(bundle_dir / "wts.h5.zip", model / "wts.h5.zip", backend="tensorflow")
    elif case == "malformed_npz":
        data = tmp_path / "bad.npz"
        data.write_bytes(b"PK\x03\x04 not really a zip")
    elif case == "missing_data":
        data = tmp_path / "nope.npz"
    elif case == "n_mismatch":
        data = tmp_path / "n128.npz"
        _n128_npz(data)
    elif case == "bad_flag":
        extra = ["--n_images", "0"]
    argv = ["--model_path", model, "--test_data", data, "--output_dir", out, "--accelerator", "cpu", *extra]
    if case == "missing_flag":
        argv = argv[2:]
    capsys.readouterr()
    assert infer(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and match in err and "Traceback" not in err, err
    assert not out.exists()


def test_corrupt_bundle_subprocess_no_traceback(bundle_dir, tmp_path):
    """specs/torch-cli.md §5: the same contract in a real process (no traceback on stderr)."""
    model = tmp_path / "corrupt"
    model.mkdir()
    (model / "wts.h5.zip").write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    out = tmp_path / "recon"
    proc = subprocess.run([sys.executable, "-m", "ptycho_torch.inference", "--model_path", str(model), "--test_data",
                           str(FIXTURE), "--output_dir", str(out), "--accelerator", "cpu"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not out.exists()


@pytest.mark.slow
def test_guide_example_commands_run_as_written(tmp_path):
    """specs/torch-cli.md §7: the user guide §12 example commands, with --accelerator cpu and the fixture path."""
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    run = tmp_path / "cli_smoke"
    train = subprocess.run(
        [sys.executable, "-m", "ptycho_torch.train", "--train_data_file", str(FIXTURE), "--test_data_file",
         str(FIXTURE), "--output_dir", str(run), "--n_images", "64", "--gridsize", "2", "--batch_size", "4",
         "--max_epochs", "1", "--accelerator", "cpu", "--deterministic", "--num-workers", "0",
         "--learning-rate", "1e-3", "--quiet"], capture_output=True, text=True, timeout=600, env=env)
    assert train.returncode == 0, train.stderr[-2000:]
    assert train.stderr.strip() == "ptycho_torch.train: DeprecationWarning: --n-images is deprecated; use --n-groups"
    out = tmp_path / "inference_results"
    infer_proc = subprocess.run(
        [sys.executable, "-m", "ptycho_torch.inference", "--model_path", str(run), "--test_data", str(FIXTURE),
         "--output_dir", str(out), "--n_images", "64", "--accelerator", "cpu", "--quiet"],
        capture_output=True, text=True, timeout=600, env=env)
    assert infer_proc.returncode == 0, infer_proc.stderr[-2000:]
    assert (out / "reconstructed_amplitude.png").stat().st_size > 1024
    assert (out / "reconstructed_phase.png").stat().st_size > 1024
