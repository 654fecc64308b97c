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

    from ptycho_torch.cli import stop_signals, stopped

    try:
        with pytest.raises(stopped.Terminated), stopped.sigterm_raises():
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # the handler runs between bytecodes
                pass
        assert describe_cause(SystemExit(1)) == ("interrupted by signal SIGTERM", 143)
        assert signal.getsignal(signal.SIGTERM) is not None  # the previous handler is back
    finally:
        stop_signals._STATE.clear()


def test_sigterm_handler_that_loses_its_peers_exits_quietly_with_status_143():
    """ptycho_torch.workflows.sigterm: a handler failing in its collective becomes SystemExit(143); others run."""
    import signal

    from ptycho_torch.workflows.sigterm import quiet_when_peers_are_gone

    calls = []

    def lost_peer(signum, frame):
        raise RuntimeError("Read error [127.0.0.1]:55489: Connection reset by peer")

    with pytest.raises(SystemExit) as stop:
        quiet_when_peers_are_gone(lost_peer)(signal.SIGTERM, None)
    assert stop.value.code == 143 and stop.value.__suppress_context__
    quiet_when_peers_are_gone(lambda s, f: calls.append(s))(signal.SIGTERM, None)
    assert calls == [signal.SIGTERM]
    quiet_when_peers_are_gone(signal.SIG_IGN)(signal.SIGTERM, None)
    with pytest.raises(SystemExit):
        quiet_when_peers_are_gone(signal.SIG_DFL)(signal.SIGTERM, None)


_SURVIVOR = r"""
import os, signal, sys, time
import multiprocessing as mp
import torch, torch.distributed as dist
from ptycho_torch.workflows.sigterm import quiet_when_peers_are_gone

def notify(signum, frame):  # what Lightning's SIGTERM handler does: tell the other ranks
    dist.broadcast(torch.tensor([1]), src=0)

def work(rank, port, wrap):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    dist.barrier()
    if rank == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    signal.signal(signal.SIGTERM, quiet_when_peers_are_gone(notify) if wrap else notify)
    try:
        dist.all_reduce(torch.ones(1))  # fails: the peer is gone
    except RuntimeError:
        print("lost peer", flush=True)
        time.sleep(60)  # the launcher's SIGTERM arrives while the error is being handled

if __name__ == "__main__":
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    ctx = mp.get_context("fork")
    ranks = [ctx.Process(target=work, args=(r, port, sys.argv[1] == "wrap")) for r in (0, 1)]
    for p in ranks:
        p.start()
    ranks[1].join()
    time.sleep(3)  # rank 0 is in its except block by now
    os.kill(ranks[0].pid, signal.SIGTERM)  # what torch.multiprocessing's launcher does to the survivors
    ranks[0].join()
    print("rank 0 exit status", ranks[0].exitcode)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork start method")
@pytest.mark.parametrize("wrap", [True, False])
def test_survivor_of_a_killed_rank_stops_on_sigterm_without_a_traceback(tmp_path, wrap):
    """The ddp_spawn case of specs/reliability.md §8: rank 1 is SIGKILLed and the launcher SIGTERMs rank 0 while it
    handles the lost connection. Wrapped, rank 0 exits 143 quietly; unwrapped (the control), Lightning-style
    notification fails in the handler and the process dies with a traceback."""
    import subprocess
    import sys

    script = tmp_path / "survivor.py"
    script.write_text(_SURVIVOR)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, str(script), "wrap" if wrap else "plain"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert "lost peer" in done.stdout, done.stdout + done.stderr
    assert f"rank 0 exit status {143 if wrap else 1}" in done.stdout, done.stdout + done.stderr
    assert ("Traceback" not in done.stderr) is wrap, done.stderr[-2000:]


@pytest.mark.skipif(not hasattr(os, "kill"), reason="POSIX signals")
def test_a_deferred_stop_signal_is_only_recorded_and_a_second_one_raises():
    """§8: while a training loop stops at safe points (SafeStop), the first SIGINT/SIGTERM is recorded for it;
    a second one raises at once; the first one decides the cause (Ctrl-C, 130)."""
    import signal

    from ptycho_torch.cli import stop_signals

    before = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN in a background job
    try:
        with stop_signals.stop_signals():
            stop_signals.defer(True)
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):
                pass
            assert stop_signals.pending() == "SIGINT"
            with pytest.raises(stop_signals.Terminated):
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(1000):
                    pass
        assert describe_cause(SystemExit(1)) == ("interrupted (Ctrl-C)", 130)
        assert signal.getsignal(signal.SIGINT) is before  # restored on exit
    finally:
        stop_signals._STATE.clear()
