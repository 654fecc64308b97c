"""A training run that stops after it began keeps checkpoints/ and prints the --resume command
(specs/reliability.md §8, ptycho_torch.cli.stopped). The multi-process cases (a killed rank, 'ddp' and
'ddp_spawn') are in test_torch_ddp.py (slow, `nox -s ddp`)."""

from __future__ import annotations

import errno
import os
import shlex
from pathlib import Path

import pytest

from ptycho_torch.cli.stopped import RunStopped, describe_cause, resume_command, stop_run

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"


def test_causes_are_one_short_line_with_their_exit_status():
    from ptycho_torch.lightning_module import NonFiniteLossError

    gloo = RuntimeError("[../third_party/gloo/gloo/transport/tcp/pair.cc:537] Read error [127.0.0.1]:44220: "
                        "Connection reset by peer. This is typically caused by ... GLHF!")
    assert describe_cause(gloo) == ("another training process ended unexpectedly (connection lost)", 1)
    assert describe_cause(SystemExit(1)) == ("interrupted (Ctrl-C)", 130)  # Lightning's answer to Ctrl-C
    assert describe_cause(NonFiniteLossError("non-finite training loss (nan) at epoch 1, step 0"))[1] == 1
    assert describe_cause(OSError(errno.ENOSPC, "No space left on device", "run/checkpoints/last.ckpt")) == (
        "run/checkpoints/last.ckpt: No space left on device", 2)
    cause, code = describe_cause(KeyError("x"))
    assert cause == "internal error: KeyError: 'x'" and code == 1


def test_resume_command_is_the_same_command_plus_resume_quoted_for_a_shell():
    cmd = resume_command(["ptycho", "train", "--output-dir", "my run", "--nepochs", "3"])
    assert cmd == "ptycho train --output-dir 'my run' --nepochs 3 --resume"
    assert shlex.split(cmd)[-1] == "--resume"
    assert resume_command(["ptycho", "train", "--resume"]) == "ptycho train --resume"  # never twice


def test_stop_run_keeps_checkpoints_only_when_there_is_one(tmp_path):
    from ptycho_torch.cli.output_guard import OutputGuard

    out = tmp_path / "run"
    guard = OutputGuard(out)
    (out / "checkpoints").mkdir(parents=True)
    (out / "lightning_logs").mkdir()
    (out / "checkpoints" / "last.ckpt").write_bytes(b"x")
    stopped = stop_run(RuntimeError("boom"), guard, out, ["ptycho", "train", "--output-dir", str(out)])
    assert isinstance(stopped, RunStopped) and stopped.code == 1
    assert str(stopped) == (f"stopped: internal error: RuntimeError: boom; checkpoints kept in {out / 'checkpoints'}; "
                            f"continue with: ptycho train --output-dir {out} --resume")
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints"]
    fresh = tmp_path / "fresh"
    guard = OutputGuard(fresh)
    (fresh / "lightning_logs").mkdir(parents=True)
    err = ValueError("bad")
    assert stop_run(err, guard, fresh, None) is err and not fresh.exists()  # nothing to resume: as before


def test_a_failing_run_keeps_checkpoints_and_its_resume_command_finishes_it(tmp_path, capsys, monkeypatch):
    """One process, in-process CLI: a RuntimeError in epoch 1 (after the epoch-0 checkpoint) -> exit 1, one line
    naming the cause and the exact command; checkpoints/ kept, no bundle; that command then completes the run."""
    from ptycho_torch.lightning_module import PtychoPINN_Lightning
    from ptycho_torch.train import main

    cfg = tmp_path / "small.yaml"
    cfg.write_text("model:\n  n_filters_scale: 1\n")
    out = tmp_path / "run"
    argv = ["--train_data_file", str(FIXTURE), "--output_dir", str(out), "--config", str(cfg), "--n_groups", "16",
            "--batch_size", "8", "--max_epochs", "2", "--accelerator", "cpu", "--logger", "csv", "--quiet"]
    original = PtychoPINN_Lightning.compute_loss

    def failing(self, batch):
        if self.global_step >= 2:
            raise RuntimeError("simulated failure")
        return original(self, batch)

    monkeypatch.setattr(PtychoPINN_Lightning, "compute_loss", failing)
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1, err
    expected = " ".join(["python", "-m", "ptycho_torch.train", *map(shlex.quote, argv), "--resume"])
    assert err[0] == (f"ptycho_torch.train: stopped: internal error: RuntimeError: simulated failure; checkpoints "
                      f"kept in {out / 'checkpoints'}; continue with: {expected}")
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints"] and (out / "checkpoints" / "last.ckpt").is_file()
    monkeypatch.setattr(PtychoPINN_Lightning, "compute_loss", original)
    words = shlex.split(err[0].split("continue with: ", 1)[1])
    assert words[:3] == ["python", "-m", "ptycho_torch.train"]
    assert main(words[3:]) == 0, capsys.readouterr().err
    assert (out / "wts.h5.zip").is_file()


@pytest.mark.skipif(not hasattr(os, "kill"), reason="POSIX signals")
def test_sigterm_becomes_an_interrupt_that_names_the_signal():
    import signal

    from ptycho_torch.cli import stopped

    try:
        with pytest.raises(stopped.Terminated), stopped.sigterm_raises():
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # the handler runs between bytecodes
                pass
        assert describe_cause(SystemExit(1)) == ("interrupted by signal SIGTERM", 143)
        assert signal.getsignal(signal.SIGTERM) is not None  # the previous handler is back
    finally:
        stopped._RECEIVED.clear()
