"""A signalled ``ptycho train`` (PyTorch) stops at a safe point and resumes to the uninterrupted run's weights;
SLURM's requeue signal requeues the job and the requeued command resumes by itself.

Pins specs/reliability.md §8 (stop signals during training) and §9 (SLURM requeue). Runs ``ptycho train`` in a
subprocess on the 64-position fixture (gridsize 1, batch 16 -> 4 batches per epoch, 3 epochs, Exponential
scheduler, periodic mid-epoch checkpoints off, so a mid-epoch ``last.ckpt`` can only come from the signal).
The child sends the signal to itself when a given optimizer step starts (a real signal through the real
handlers; sent from inside so that it lands in a known step).
"""

from __future__ import annotations

import os
import shlex
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("ptycho_torch")

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"

CHILD = textwrap.dedent(
    r'''
    import os, signal, sys
    import lightning.pytorch as L
    from ptycho_torch.workflows import checkpoints

    step, name = int(os.environ.get("SIGNAL_AT_STEP", "-1")), os.environ.get("SIGNAL_NAME", "SIGTERM")

    class Sender(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if trainer.global_step == step and not getattr(self, "sent", False):
                self.sent = True
                os.kill(os.getpid(), getattr(signal, name))

    original = checkpoints.resume_callbacks
    checkpoints.resume_callbacks = lambda *a: original(*a) + [Sender()]
    from ptycho_cli.main import main
    sys.exit(main(sys.argv[1:]))
    '''
)


def _args(out: Path) -> list[str]:
    return ["train", "--backend", "pytorch", "--train_data_file", str(FIXTURE), "--output_dir", str(out),
            "--max_epochs", "3", "--batch_size", "16", "--n_filters_scale", "1", "--scheduler", "Exponential",
            "--checkpoint-every-n-steps", "0", "--seed", "3", "--accelerator", "cpu", "--logger", "none", "--quiet"]


def _ptycho(tmp_path: Path, args: list[str], env: dict[str, str] | None = None, step: int = -1,
            name: str = "SIGTERM") -> subprocess.CompletedProcess:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    full = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0",
                SIGNAL_AT_STEP=str(step), SIGNAL_NAME=name, **(env or {}))
    return subprocess.run([sys.executable, str(script), *args], env=full, capture_output=True, text=True,
                          timeout=600)


def _final_state(out: Path) -> dict:
    from ptycho_torch.workflows.resume import load_checkpoint_safely

    ckpt = load_checkpoint_safely(out / "checkpoints" / "last.ckpt")
    # the §1 guarantee: weights, optimizer (incl. learning rate), scheduler and loss history. The torch RNG state
    # saved at the end is not part of it and differs after a resume (torch's DataLoader draws each iterator's
    # base seed from it; training itself draws nothing: the epoch order is seeded per epoch).
    history = {k: ckpt["ptycho_resume"][k] for k in ("loss_history", "epoch_sums")}
    return {"weights": ckpt["state_dict"], "adam": ckpt["optimizer_states"], "sched": ckpt["lr_schedulers"],
            "history": history, "step": ckpt["global_step"]}


def _assert_bitwise_equal(a, b, where="") -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _assert_bitwise_equal(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_bitwise_equal(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def _stop_line(proc: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert len(lines) == 1, proc.stderr[-3000:]
    return lines[0]


def _resume_words(line: str) -> list[str]:
    words = shlex.split(line.split("continue with: ", 1)[1])
    assert words[0] == "ptycho" and words[-1] == "--resume", line
    return words[1:]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "step", "code", "saved"), [
    ("SIGTERM", 5, 143, {"epoch": 1, "batches_done": 2, "epoch_done": False, "world_size": 1}),
    ("SIGINT", 7, 130, {"epoch": 1, "batches_done": 4, "epoch_done": True, "world_size": 1}),
])
def test_signalled_train_stops_at_a_safe_point_and_resumes_bitwise(tmp_path, name, step, code, saved):
    """§8: the signal during step 5 (epoch 1, batch 2 of 4) writes last.ckpt at the end of that batch (step 6);
    during step 7 (the epoch's last batch) the run stops after the epoch-end checkpoint (step 8). The one line
    names the signal and where it saved; the printed command, run as printed, ends at the weights, Adam state,
    scheduler state and loss history of an uninterrupted run, bitwise."""
    from ptycho_torch.workflows.resume import load_checkpoint_safely

    ref, run = tmp_path / "ref", tmp_path / "run"
    done = _ptycho(tmp_path, _args(ref))
    assert done.returncode == 0, done.stderr[-3000:]
    stopped = _ptycho(tmp_path, _args(run), step=step, name=name)
    assert stopped.returncode == code, stopped.stderr[-3000:]
    line = _stop_line(stopped)
    cause = "interrupted (Ctrl-C)" if name == "SIGINT" else "interrupted by signal SIGTERM"
    assert line.startswith(f"ptycho train: stopped: {cause}; checkpoints kept in {run / 'checkpoints'} "
                           f"(last.ckpt saved at epoch 1, step {step + 1}); continue with: "), line
    assert not (run / "wts.h5.zip").exists()
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints"]
    ckpt = load_checkpoint_safely(run / "checkpoints" / "last.ckpt")
    assert ckpt["ptycho_data_order"] == saved and ckpt["global_step"] == step + 1
    resumed = _ptycho(tmp_path, _resume_words(line))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (run / "wts.h5.zip").is_file()
    a, b = _final_state(ref), _final_state(run)
    assert a["step"] == b["step"] == 12
    _assert_bitwise_equal(a, b)


def _fake_slurm(tmp_path: Path) -> dict[str, str]:
    """SLURM variables of a one-task batch job and an ``scontrol`` on PATH that records its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scontrol = bin_dir / "scontrol"
    scontrol.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "scontrol.log"}\n')
    scontrol.chmod(scontrol.stat().st_mode | stat.S_IEXEC)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "SLURM_JOB_ID": "4242", "SLURM_NTASKS": "1",
            "SLURM_JOB_NAME": "ptycho-train", "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0",
            "SLURM_NODELIST": "node001", "SLURM_NTASKS_PER_NODE": "1"}


@pytest.mark.slow
def test_slurm_requeue_signal_saves_requeues_and_the_same_command_resumes_by_itself(tmp_path):
    """§9: SIGUSR1 (Lightning's SLURMEnvironment requeue signal) during step 5 saves last.ckpt at the end of
    that batch, runs ``scontrol requeue 4242``, exits 138 with one line; the same command, started again by
    the requeued job, resumes from the checkpoint without --resume and ends at the uninterrupted run's state."""
    slurm = _fake_slurm(tmp_path)
    ref, run = tmp_path / "ref", tmp_path / "run"
    done = _ptycho(tmp_path, _args(ref))
    assert done.returncode == 0, done.stderr[-3000:]
    stopped = _ptycho(tmp_path, _args(run), env=slurm, step=5, name="SIGUSR1")
    assert stopped.returncode == 128 + signal.SIGUSR1, stopped.stderr[-3000:]
    line = _stop_line(stopped)
    assert line.startswith(f"ptycho train: stopped: requeued SLURM job 4242 (signal SIGUSR1); checkpoints kept "
                           f"in {run / 'checkpoints'} (last.ckpt saved at epoch 1, step 6); the requeued job "
                           "resumes from it by itself"), line
    assert (tmp_path / "scontrol.log").read_text() == "requeue 4242\n"
    assert (run / "checkpoints" / "requeue.json").is_file()
    again = _ptycho(tmp_path, _args(run), env=dict(slurm, SLURM_RESTART_COUNT="1"))
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"requeued SLURM job 4242: resuming from {run / 'checkpoints' / 'last.ckpt'}" in again.stdout
    assert not (run / "checkpoints" / "requeue.json").exists()  # a finished run leaves nothing to resume
    a, b = _final_state(ref), _final_state(run)
    _assert_bitwise_equal(a, b)


def test_only_the_requeued_job_resumes_from_the_marker(tmp_path, monkeypatch):
    """§9: the marker is honoured only by the SLURM job that wrote it (same job id, or array job_task) and only
    while last.ckpt exists."""
    import json

    from ptycho_torch.cli.requeue import MARKER, job_id, requeued_checkpoint

    ckpts = tmp_path / "checkpoints"
    ckpts.mkdir()
    (ckpts / "last.ckpt").write_bytes(b"x")
    (ckpts / MARKER).write_text(json.dumps({"slurm_job_id": "4242_3"}))
    for name in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"):
        monkeypatch.delenv(name, raising=False)
    assert job_id() is None and requeued_checkpoint(tmp_path) is None
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    assert requeued_checkpoint(tmp_path) is None  # another job
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    assert job_id() == "4242_3" and requeued_checkpoint(tmp_path) == ckpts / "last.ckpt"
    (ckpts / "last.ckpt").unlink()
    assert requeued_checkpoint(tmp_path) is None


@pytest.mark.slow
def test_tensorflow_train_sigterm_keeps_the_checkpoint_and_its_command_finishes(tmp_path):
    """§8 for the TensorFlow backend: SIGTERM after the first epoch-end checkpoint exits 143 with one line naming
    the kept checkpoints and the command; no bundle; that command, run as printed, finishes the run."""
    import importlib.util
    import time

    if importlib.util.find_spec("ptycho_tf") is None:
        pytest.skip("TensorFlow backend not installed")
    run = tmp_path / "run"
    args = ["train", "--backend", "tensorflow", "--train_data_file", str(FIXTURE), "--output_dir", str(run),
            "--max_epochs", "30", "--batch_size", "16", "--quiet"]
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TF_NUM_INTRAOP_THREADS="1")
    proc = subprocess.Popen([sys.executable, str(script), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (run / "checkpoints" / "last.ckpt").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()[-3000:]
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-3000:]
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("ptycho train")]
    assert len(lines) == 1, err[-3000:]
    assert lines[0].startswith(f"ptycho train: stopped: interrupted by signal SIGTERM; checkpoints kept in "
                               f"{run / 'checkpoints'}; continue with: "), lines[0]
    assert (run / "checkpoints" / "last.ckpt").is_file() and not (run / "wts.h5.zip").exists()
    words = _resume_words(lines[0])
    i = words.index("--max_epochs")
    words[i + 1] = "2"  # finish quickly: the checkpoint holds at least one epoch
    resumed = _ptycho(tmp_path, words)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (run / "wts.h5.zip").is_file()
