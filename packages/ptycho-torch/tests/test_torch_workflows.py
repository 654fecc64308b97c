"""Workflow API tests (specs/torch-workflow.md §4-§6): history, bundle reload, stitching, errors.

One tiny model (N=64, gridsize 1, 16 groups, 2 epochs) is trained once per module and shared.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho.physics import reassemble_position as np_reassemble_position
from ptycho.raw_data import RawData
from ptycho_torch.bundle import BundleError
from ptycho_torch.workflows.components import (
    _reassemble_cdi_image_torch,
    load_inference_bundle_torch,
    run_cdi_example_torch,
)

N = 64


def _raw(M: int = 25, seed: int = 0) -> RawData:
    rng = np.random.default_rng(seed)
    side = math.isqrt(M)
    gx, gy = np.meshgrid(np.arange(side) * 7.0, np.arange(side) * 7.0)
    x, y = gx.ravel() + 40 + rng.uniform(0, 1, M), gy.ravel() + 40 + rng.uniform(0, 1, M)
    diff = rng.uniform(0.0, 2.0, size=(M, N, N)).astype(np.float32)
    yy, xx = np.mgrid[:N, :N] - N / 2
    probe = np.exp(-(xx**2 + yy**2) / 150.0).astype(np.complex64)
    return RawData.from_coords_without_pc(x, y, diff, probe, np.zeros(M, np.int64))


def _config(tmp, **kw) -> TrainingConfig:
    base = dict(model=ModelConfig(N=N, gridsize=1, n_filters_scale=1), n_groups=16, batch_size=8, nepochs=2,
                nphotons=1e6, subsample_seed=11, output_dir=tmp, backend="pytorch")
    base.update(kw)
    return TrainingConfig(**base)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = _config(out)
    train, test = _raw(seed=0), _raw(seed=1)
    amp, phase, results = run_cdi_example_torch(train, test, cfg, do_stitching=False,
                                                execution_config={"accelerator": "cpu"})
    return cfg, train, test, amp, phase, results


def test_training_only_returns_none_and_history(trained):
    """§4: (None, None, results); one train and one val loss per epoch; checkpoint and bundle written."""
    cfg, _, _, amp, phase, results = trained
    assert amp is None and phase is None
    h = results["history"]
    assert set(h) >= {"train_loss", "val_loss"}
    assert len(h["train_loss"]) == cfg.nepochs and len(h["val_loss"]) == cfg.nepochs
    assert all(math.isfinite(v) for v in h["train_loss"] + h["val_loss"])
    assert results["backend"] == "pytorch"
    assert {"lightning_module", "diffraction_to_obj"} <= set(results["models"])
    assert (cfg.output_dir / "checkpoints" / "last.ckpt").is_file()
    assert results["bundle_path"] == cfg.output_dir / "wts.h5.zip" and results["bundle_path"].is_file()
    assert results["intensity_scale"] == pytest.approx(math.sqrt(1e6) / 32)


def test_training_in_a_fresh_interpreter_imports_no_tensorflow(tmp_path):
    """The PyTorch route never imports TensorFlow, even where TensorFlow is installed. Checked in a fresh
    interpreter: in this process other tests (e.g. ``--logger tensorboard``, whose package pulls TensorFlow in
    when it is present) may already have imported it."""
    code = f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_torch_workflows import _config, _raw
from ptycho_torch.workflows.components import run_cdi_example_torch
from pathlib import Path
cfg = _config(Path({str(tmp_path)!r}), nepochs=1)
run_cdi_example_torch(_raw(seed=0), _raw(seed=1), cfg, do_stitching=False, execution_config={{"accelerator": "cpu"}})
bad = [m for m in ("tensorflow", "keras") if m in sys.modules]
sys.exit(f"imported {{bad}}" if bad else 0)
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def test_bundle_reloads_without_config(trained):
    """§5: the bundle alone restores the TrainingConfig and identical weights/predictions."""
    cfg, _, test, _, _, results = trained
    models, loaded_cfg = load_inference_bundle_torch(cfg.output_dir)
    assert isinstance(loaded_cfg, TrainingConfig) and loaded_cfg == cfg
    a, b = results["models"]["lightning_module"].state_dict(), models["lightning_module"].state_dict()
    assert set(a) == set(b) and all(torch.equal(a[k].cpu(), b[k].cpu()) for k in a)
    container = results["test_container"]
    batch = container.batch(list(range(4)))
    with torch.no_grad():
        ref = results["models"]["lightning_module"].cpu().eval().predict_step(batch, 0)["object"]
        via_d2o = models["diffraction_to_obj"](batch["X"] * models["intensity_scale"], batch["coords_relative"])
    assert via_d2o.shape == (4, N, N) and via_d2o.dtype == torch.complex64
    torch.testing.assert_close(via_d2o, ref, rtol=1e-5, atol=1e-6)


def test_tensorflow_bundle_is_refused(trained, tmp_path):
    """specs/bundle-format.md §4.5: a 'tensorflow' manifest gives an error naming both backends."""
    cfg = trained[0]
    bad = tmp_path / "wts.h5.zip"
    with zipfile.ZipFile(cfg.output_dir / "wts.h5.zip") as zin, zipfile.ZipFile(bad, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "manifest.json":
                m = json.loads(data)
                m["backend"] = "tensorflow"
                data = json.dumps(m).encode()
            zout.writestr(name, data)
    with pytest.raises(BundleError, match="tensorflow.*pytorch"):
        load_inference_bundle_torch(tmp_path)


def test_stitching_matches_numpy_reference(trained):
    """§6: predicted patches placed at coords_offsets equal ptycho.physics.reassemble_position; flips negate offsets."""
    cfg, _, test, _, _, results = trained
    amp, phase, res = _reassemble_cdi_image_torch(test, cfg, False, False, False, 20, models=results["models"])
    obj = res["obj_tensor_full"]
    assert obj.shape == (16, N, N, 1) and obj.dtype == np.complex64
    assert res["global_offsets"].shape == (16, 1, 2, 1)
    ref = np_reassemble_position(obj[..., 0].astype(np.complex128), res["global_offsets"], M=20)
    assert amp.shape == ref.shape and amp.dtype == np.float32 and np.all(np.isfinite(amp))
    np.testing.assert_allclose(amp, np.abs(ref), atol=1e-5 * max(1.0, np.abs(ref).max()))
    np.testing.assert_allclose(res["stitched_obj"], ref, atol=1e-5 * max(1.0, np.abs(ref).max()))
    _, _, flipped = _reassemble_cdi_image_torch(test, cfg, True, True, False, 20, models=results["models"])
    np.testing.assert_array_equal(flipped["global_offsets"], -res["global_offsets"])
    # without models the bundle in config.output_dir is used (guide §7): same reconstruction
    amp2, _, _ = _reassemble_cdi_image_torch(test, cfg, False, False, False, 20)
    np.testing.assert_allclose(amp2, amp, atol=1e-6)
    # the guide's M = N * 8 is clamped to N: same canvas as M = N
    with pytest.warns(UserWarning, match="exceeds the patch size"):
        big, _, _ = _reassemble_cdi_image_torch(test, cfg, M=N * 8, models=results["models"])
    full, _, _ = _reassemble_cdi_image_torch(test, cfg, M=N, models=results["models"])
    np.testing.assert_array_equal(big, full)


def test_argument_errors(trained, tmp_path):
    cfg, train, _, _, _, _ = trained
    with pytest.raises(ValueError, match="do_stitching=True: expected test_data"):
        run_cdi_example_torch(train, None, _config(tmp_path), do_stitching=True)
    with pytest.raises(ValueError, match="no wts.h5.zip found"):
        _reassemble_cdi_image_torch(train, _config(tmp_path / "empty"), M=20)
    with pytest.raises(TypeError, match="RawData or PtychoDataContainerTorch"):
        run_cdi_example_torch({"diffraction": 1}, None, _config(tmp_path))


def test_same_seed_same_run(tmp_path):
    """§4.2: the seed is set before the model is built, so two runs give identical losses and weights."""
    from ptycho_torch.workflows.components import train_cdi_model_torch

    runs = []
    for i in range(2):
        cfg = _config(tmp_path / f"r{i}", n_groups=8, nepochs=1, subsample_seed=0)
        runs.append(train_cdi_model_torch(_raw(), None, cfg, execution_config={
            "accelerator": "cpu", "logger_backend": "none", "enable_checkpointing": False}))
    assert runs[0]["history"]["train_loss"] == runs[1]["history"]["train_loss"]
    assert runs[0]["history"]["val_loss"] == []
    a, b = (r["models"]["lightning_module"].state_dict() for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert runs[0]["seed"] == 0 and runs[0]["checkpoint_path"] is None


@pytest.mark.slow
def test_torch_fidelity_guard():
    """benchmarks/fidelity.py, reduced (256 positions, gridsize 2, 8 epochs, n_filters_scale 1, CPU).

    Measured bounds (seeded run, 2026-11-28 CPU, covered-only window): stitched true patches score amp/phase
    SSIM 0.987/0.990 (pipeline ceiling; catches stitching sign/flip/window errors); the trained model 0.198
    amplitude SSIM vs 0.109 untrained (a flat object scores 0.212: at 8 epochs of gridsize 2 the network has
    learned little). A full 50-epoch/1000-position run is the benchmark's job.
    """
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "benchmarks" / "fidelity.py"
    spec = importlib.util.spec_from_file_location("torch_fidelity_benchmark", path)
    fid = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fid)
    s = fid.run(positions=256, epochs=8, gridsize=2, n_filters_scale=1, accelerator="cpu")
    assert s["true_patches"]["amplitude"]["ssim"] > 0.95 and s["true_patches"]["phase"]["ssim"] > 0.95
    for label in ("untrained", "trained"):
        assert all(math.isfinite(s[label][p][k]) for p in ("amplitude", "phase") for k in ("ssim", "psnr"))
    assert s["trained"]["amplitude"]["ssim"] > s["untrained"]["amplitude"]["ssim"] + 0.04


def test_small_validation_scan_at_gridsize_2(tmp_path):
    """§4: validation data are grouped with at most one group per position (n_groups sized for the training
    scan must not make a smaller validation scan fail at gridsize > 1)."""
    cfg = _config(tmp_path, model=ModelConfig(N=N, gridsize=2, n_filters_scale=1), n_groups=30, nepochs=1)
    _, _, results = run_cdi_example_torch(_raw(M=36, seed=0), _raw(M=16, seed=1), cfg, do_stitching=False,
                                          execution_config={"accelerator": "cpu", "logger_backend": "none"})
    assert len(results["history"]["val_loss"]) == 1
    assert len(results["test_container"]) == 16 and len(results["train_container"]) == 30


def test_oversampling_reaches_the_grouping(tmp_path):
    """enable_oversampling (with neighbor_pool_size) is passed to the grouping: 40 groups from a 16-position scan
    at gridsize 2 train, and the validation scan is oversampled too (specs/config.md §3)."""
    cfg = _config(tmp_path, model=ModelConfig(N=N, gridsize=2, n_filters_scale=1), n_groups=40, nepochs=1,
                  enable_oversampling=True, neighbor_pool_size=6, neighbor_count=6)
    _, _, results = run_cdi_example_torch(_raw(M=16, seed=0), _raw(M=16, seed=1), cfg, do_stitching=False,
                                          execution_config={"accelerator": "cpu", "logger_backend": "none"})
    assert len(results["train_container"]) == 40 and len(results["test_container"]) == 40


@pytest.mark.parametrize(("changes", "needle"), [
    ({"realspace_weight": 0.5}, r"TrainingConfig\.realspace_weight: not implemented by either backend"),
    ({"realspace_mae_weight": 0.1}, r"TrainingConfig\.realspace_mae_weight: not implemented"),
    ({"model": ModelConfig(probe_mask_diameter=12.0)}, r"ModelConfig\.probe_mask_diameter: not implemented"),
    ({"model": ModelConfig(probe_mask_sigma=2.0)}, r"ModelConfig\.probe_mask_sigma: not implemented"),
])
def test_unimplemented_fields_are_rejected_before_training(changes, needle, tmp_path):
    """specs/config.md §3: the PyTorch workflow rejects what neither backend implements, before grouping."""
    import dataclasses

    cfg = dataclasses.replace(TrainingConfig(output_dir=tmp_path, backend="pytorch"), **changes)
    with pytest.raises(ValueError, match=needle):
        run_cdi_example_torch(None, None, cfg)


def test_typed_results_answer_the_seed_guide_keys():
    """specs/torch-workflow.md §4: TrainingResults is a dataclass and a mapping with the seed guide's keys."""
    from ptycho_torch.workflows.results import ReconstructionResults, TrainingResults

    r = TrainingResults(history={"train_loss": [1.0], "val_loss": []}, models={"lightning_module": None},
                        train_container="train", test_container=None, intensity_scale=2.0, probe=None,
                        trainer=None, checkpoint_path=None, seed=42, module_kwargs={})
    assert r["history"] is r.history and r.get("seed") == 42 and "checkpoint_path" in r
    assert "bundle_path" not in r and r.get("recon_amp") is None  # optional keys appear once set
    r["bundle_path"] = Path("b.zip")
    r.update(ReconstructionResults(obj_tensor_full=np.zeros((1, 2, 2, 1)), global_offsets=np.zeros((1, 1, 2, 1)),
                                   recon_amp=np.ones((3, 3)), recon_phase=np.zeros((3, 3)),
                                   stitched_obj=np.ones((3, 3), np.complex64), test_container="test"))
    r["note"] = "kept"
    assert r.bundle_path == Path("b.zip") and r.test_container == "test" and r.extra == {"note": "kept"}
    assert set(dict(r)) == {"history", "models", "train_container", "test_container", "intensity_scale", "probe",
                            "trainer", "checkpoint_path", "seed", "module_kwargs", "bundle_path", "obj_tensor_full",
                            "global_offsets", "recon_amp", "recon_phase", "stitched_obj", "note"}
    del r["bundle_path"]
    assert "bundle_path" not in r and len(r) == 16
    with pytest.raises(KeyError):
        r["nothing"]


def test_max_time_stops_training_at_the_budget(tmp_path):
    """specs/config.md §3 max_time, specs/torch-workflow.md §3: a 1-second budget ends a 500-epoch run after a
    few epochs; the history holds the epochs that ran."""
    import time

    from ptycho_torch.workflows.components import train_cdi_model_torch

    cfg = _config(tmp_path, n_groups=8, nepochs=500, subsample_seed=0, max_time="00:00:00:01")
    t0 = time.monotonic()
    res = train_cdi_model_torch(_raw(), None, cfg, execution_config={
        "accelerator": "cpu", "logger_backend": "none", "enable_checkpointing": False})
    elapsed = time.monotonic() - t0
    epochs = len(res["history"]["train_loss"])
    assert 1 <= epochs < 500
    assert elapsed < 30
    assert res["trainer"].max_epochs == 500


def test_nepochs_none_trains_until_the_budget(tmp_path, capsys):
    """specs/config.md §3: a library caller passing TrainingConfig(nepochs=None, max_time=...) trains until the
    budget, with no epoch cap in the trainer; in a pipe the display prints one line per epoch with the count done
    and the budget left."""
    import time

    from ptycho_torch.workflows.components import train_cdi_model_torch

    cfg = _config(tmp_path, n_groups=8, nepochs=None, subsample_seed=0, max_time="00:00:00:03")
    assert cfg.max_time_s == 3.0
    t0 = time.monotonic()
    res = train_cdi_model_torch(_raw(), None, cfg, execution_config={
        "accelerator": "cpu", "logger_backend": "none", "enable_checkpointing": False, "enable_progress_bar": True})
    elapsed = time.monotonic() - t0
    epochs = len(res["history"]["train_loss"])
    assert res["trainer"].max_epochs == -1
    assert elapsed >= 3.0 and epochs >= 2
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("epoch ")]
    assert len(lines) == epochs and lines[0].startswith("epoch 1  loss ") and " eta " in lines[0]
    assert "/" not in lines[-1].split()[1] and "100000" not in "".join(lines)
