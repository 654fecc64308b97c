"""TensorFlow backend: determinism, resume after SIGKILL, non-finite guard (specs/reliability.md §1, §2, §6;
specs/tf-backend.md §4). 64-position fixture, N=64, gridsize 1, n_filters_scale 1, batch 16."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"

CHILD = textwrap.dedent(
    r'''
    import json, os, signal, sys
    from pathlib import Path
    import numpy as np
    import keras
    from ptycho.config.config import ModelConfig, TrainingConfig
    from ptycho.raw_data import RawData
    from ptycho.workflows import components

    fixture, out, mode, kill_epoch = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])

    class Killer(keras.callbacks.Callback):
        """SIGKILL this process in the middle of epoch kill_epoch (after its second batch)."""
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
        def on_train_batch_end(self, batch, logs=None):
            if self.epoch == kill_epoch and batch == 1:
                os.kill(os.getpid(), signal.SIGKILL)

    if mode == "kill":
        from ptycho_tf import training
        original = training._FiniteGuard
        class GuardAndKill(original, Killer):
            def on_epoch_begin(self, epoch, logs=None):
                original.on_epoch_begin(self, epoch, logs)
                Killer.on_epoch_begin(self, epoch, logs)
            def on_train_batch_end(self, batch, logs=None):
                original.on_train_batch_end(self, batch, logs)
                Killer.on_train_batch_end(self, batch, logs)
        training._FiniteGuard = GuardAndKill
    config = TrainingConfig(model=ModelConfig(N=64, gridsize=1, n_filters_scale=1), n_groups=64, batch_size=16,
                            nepochs=3, neighbor_count=4, subsample_seed=2, output_dir=out, backend="tensorflow")
    raw = RawData.from_file(fixture)
    results = components.train_cdi_model(raw, None, config, resume_from=True if mode == "resume" else None)
    m = results["models"]["autoencoder"]
    np.savez(out / "final.npz", *m.get_weights())
    (out / "history.json").write_text(json.dumps(results["history"]["train_loss"]))
    '''
)


def _run(tmp_path: Path, out: Path, mode: str, kill_epoch: int = -1) -> subprocess.CompletedProcess:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = dict(os.environ, OMP_NUM_THREADS="1", TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1",
               TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0")
    return subprocess.run([sys.executable, str(script), str(FIXTURE), str(out), mode, str(kill_epoch)], env=env,
                          capture_output=True, text=True, timeout=600)


def _weights(out: Path) -> list[np.ndarray]:
    with np.load(out / "final.npz") as z:
        return [z[f"arr_{i}"] for i in range(len(z.files))]


@pytest.mark.slow
def test_tf_sigkill_mid_epoch_then_resume_equals_uninterrupted_run(tmp_path):
    """§1 (TensorFlow): SIGKILL after batch 1 of epoch 1; resume_from=True restarts epoch 1 from the
    epoch-0 checkpoint; final weights and loss history equal the uninterrupted run bitwise."""
    ref, run = tmp_path / "ref", tmp_path / "run"
    proc = _run(tmp_path, ref, "full")
    assert proc.returncode == 0, proc.stderr[-3000:]
    killed = _run(tmp_path, run, "kill", kill_epoch=1)
    assert killed.returncode == -9, killed.stderr[-3000:]
    with np.load(run / "checkpoints" / "last.ckpt", allow_pickle=False) as z:
        assert json.loads(str(z["state_json"]))["epochs_done"] == 1
    proc = _run(tmp_path, run, "resume")
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = _weights(ref), _weights(run)
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert json.loads((ref / "history.json").read_text()) == json.loads((run / "history.json").read_text())


def _container():
    from ptycho.config.config import ModelConfig, TrainingConfig
    from ptycho.raw_data import RawData
    from ptycho.workflows.components import create_ptycho_data_container

    raw = RawData.from_file(str(FIXTURE))
    config = TrainingConfig(model=ModelConfig(N=64, gridsize=1, n_filters_scale=1), n_groups=32, batch_size=16,
                            nepochs=2, neighbor_count=4, backend="tensorflow")
    return create_ptycho_data_container(raw, config), config


@pytest.mark.slow
def test_tf_two_runs_same_seed_identical(tmp_path):
    """§6 (TensorFlow): two runs with one seed give identical loss histories and weights."""
    from ptycho.train_pinn import train_with_config

    cont, config = _container()
    runs = [train_with_config(cont, config, seed=4) for _ in range(2)]
    (m1, h1), (m2, h2) = runs
    assert h1["train_loss"] == h2["train_loss"] and len(h1["train_loss"]) == 2
    assert all(np.array_equal(a, b) for a, b in zip(m1.autoencoder.get_weights(), m2.autoencoder.get_weights(),
                                                     strict=True))


def test_tf_nan_loss_stops_at_once_and_keeps_last_checkpoint(tmp_path, monkeypatch):
    """§2 (TensorFlow): a NaN written into log_scale before batch 1 of epoch 1 makes that batch's loss NaN;
    NonFiniteLossError names epoch 1, step 1; the epoch-0 checkpoint stays loadable with finite weights."""
    from ptycho.train_pinn import train_with_config
    from ptycho_tf import training

    class Poison(training._FiniteGuard):
        def on_train_batch_begin(self, batch, logs=None):
            if self.epoch == 1 and batch == 1:
                scale = next(v for v in self.model.weights if v.path.endswith("log_scale"))
                scale.assign(np.float32("nan"))  # predicted amplitudes = A * exp(log_scale) -> NaN

    monkeypatch.setattr(training, "_FiniteGuard", Poison)
    cont, config = _container()  # 30 training groups -> 2 batches per epoch
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    with pytest.raises(training.NonFiniteLossError, match=r"non-finite training loss \(nan\) at epoch 1, step 1"):
        train_with_config(cont, config, seed=1, checkpoint_path=ckpt)
    with np.load(ckpt, allow_pickle=False) as z:
        state = json.loads(str(z["state_json"]))
        assert state["epochs_done"] == 1
        assert all(np.all(np.isfinite(z[k])) for k in z.files if k.startswith("w_"))
