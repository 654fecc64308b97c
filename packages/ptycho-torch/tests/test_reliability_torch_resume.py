"""Resume after SIGKILL, determinism and the non-finite guard of the PyTorch backend.

Pins specs/reliability.md §1 (resume), §2 (NaN/inf guard), §6 (determinism) and
specs/torch-workflow.md (``resume_from=``). Training runs in subprocesses on the 64-position fixture
(N=64, gridsize 1, n_filters_scale 1, batch 16 -> 4 batches per epoch, 3 epochs, Exponential scheduler).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"

CHILD = textwrap.dedent(
    r'''
    import json, os, signal, sys
    from pathlib import Path
    import torch
    import lightning.pytorch as L
    from safetensors.torch import save_file
    from ptycho.config.config import ModelConfig, TrainingConfig
    from ptycho.raw_data import RawData
    from ptycho_torch.workflows import components
    from ptycho_torch.lightning_module import NonFiniteLossError

    fixture, out, mode, kill_step, nan_step = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(1)

    class Saboteur(L.Callback):
        """kill: SIGKILL this process when global_step reaches kill_step (mid-epoch, after a checkpoint);
        nan: make the batch of global step nan_step non-finite."""
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if mode == "kill" and trainer.global_step == kill_step:
                os.kill(os.getpid(), signal.SIGKILL)
            if mode == "nan" and trainer.global_step == nan_step:
                batch["X"][0, 0, 0, 0] = float("nan")

    from ptycho_torch.workflows import checkpoints

    original = checkpoints.resume_callbacks
    checkpoints.resume_callbacks = lambda *a: original(*a) + [Saboteur()]
    config = TrainingConfig(
        model=ModelConfig(N=64, gridsize=1, n_filters_scale=1), n_groups=64, batch_size=16, nepochs=3,
        neighbor_count=4, subsample_seed=3, output_dir=out, backend="pytorch", scheduler="Exponential")
    raw = RawData.from_file(fixture)
    execution = {"accelerator": "cpu", "checkpoint_every_n_steps": 2, "logger_backend": "none",
                 "enable_progress_bar": False}
    try:
        _, _, results = components.run_cdi_example_torch(raw, None, config, execution_config=execution,
                                                         resume_from=True if mode == "resume" else None)
    except NonFiniteLossError as exc:
        print("NONFINITE:" + str(exc), flush=True)
        sys.exit(3)
    module = results["models"]["lightning_module"]
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(out / "final.safetensors"))
    (out / "history.json").write_text(json.dumps(results["history"]))
    opt = results["trainer"].optimizers[0]
    (out / "lr.json").write_text(json.dumps(opt.param_groups[0]["lr"]))
    '''
)


def _run(tmp_path: Path, out: Path, mode: str, kill_step: int = -1, nan_step: int = -1) -> subprocess.CompletedProcess:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0")
    return subprocess.run([sys.executable, str(script), str(FIXTURE), str(out), mode, str(kill_step), str(nan_step)],
                          env=env, capture_output=True, text=True, timeout=600)


def _weights(out: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(out / "final.safetensors"))


def _assert_ok(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_equals_uninterrupted_run_bitwise(tmp_path):
    """§1: kill -9 in the middle of epoch 1 (after the step-6 checkpoint, during step 7), resume with
    resume_from=True: final weights, loss history and learning rate equal the uninterrupted run bitwise."""
    ref, run = tmp_path / "ref", tmp_path / "run"
    _assert_ok(_run(tmp_path, ref, "full"))
    killed = _run(tmp_path, run, "kill", kill_step=7)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert not (run / "wts.h5.zip").exists()
    from ptycho_torch.workflows.components import load_checkpoint_safely

    ckpt = load_checkpoint_safely(run / "checkpoints" / "last.ckpt")
    assert ckpt["ptycho_data_order"] == {"epoch": 1, "batches_done": 2, "epoch_done": False, "world_size": 1}
    assert ckpt["global_step"] == 6
    _assert_ok(_run(tmp_path, run, "resume"))
    a, b = _weights(ref), _weights(run)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert json.loads((ref / "history.json").read_text()) == json.loads((run / "history.json").read_text())
    assert json.loads((ref / "lr.json").read_text()) == json.loads((run / "lr.json").read_text())
    assert len(json.loads((run / "history.json").read_text())["train_loss"]) == 3


@pytest.mark.slow
def test_two_runs_same_seed_identical_weights_and_history(tmp_path):
    """§6: two CPU runs with one seed give identical loss histories and weights (PyTorch)."""
    a, b = tmp_path / "a", tmp_path / "b"
    _assert_ok(_run(tmp_path, a, "full"))
    _assert_ok(_run(tmp_path, b, "full"))
    wa, wb = _weights(a), _weights(b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert (a / "history.json").read_text() == (b / "history.json").read_text()


def test_nan_stops_training_and_keeps_last_good_checkpoint(tmp_path):
    """§2: a NaN injected at global step 5 stops training with an error naming epoch 1, step 1; last.ckpt
    (the epoch-0 end state) stays loadable and finite; the bundle already in the folder is untouched."""
    import numpy as np

    from ptycho_torch.bundle import read_bundle, save_torch_bundle

    out = tmp_path / "nan"
    previous = save_torch_bundle(out, state_dict={"w": torch.ones(3)}, config_dict={"config_type": "TrainingConfig"},
                                 probe=np.ones((64, 64), np.complex64), intensity_scale=2.0)  # an earlier good bundle
    before = previous.read_bytes()
    proc = _run(tmp_path, out, "nan", nan_step=5)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "non-finite training loss (nan) at epoch 1, step 1 (global step 5)" in proc.stdout
    from ptycho_torch.workflows.components import load_checkpoint_safely

    ckpt = load_checkpoint_safely(out / "checkpoints" / "last.ckpt")
    assert ckpt["global_step"] == 4
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())
    assert previous.read_bytes() == before and read_bundle(out).intensity_scale == 2.0
