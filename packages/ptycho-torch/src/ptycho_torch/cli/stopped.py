"""A training run that stopped before it finished: keep its checkpoints, say why and how to continue
(specs/reliability.md §8).

One mechanism for every way a run can stop after training began — an exception (a non-finite loss, a full
disk, a bug), a training process that was killed (the survivors' collectives fail: gloo "Connection reset by
peer", or ``ProcessExitedException`` from ``ddp_spawn``), Ctrl-C or SIGTERM (Lightning turns a
``KeyboardInterrupt`` during ``fit`` into ``SystemExit(1)``). :func:`stop_run` rolls back what the run wrote
*except* ``checkpoints/`` when it holds ``last.ckpt`` — so the bundle, which claims completion, is never left
without its run — and returns a :class:`RunStopped` whose one line names the cause (and the rank, for a DDP
process other than the first) and the exact command that continues the run::

    ptycho train: stopped: another training process ended unexpectedly (connection lost); checkpoints kept in
    run/checkpoints; continue with: ptycho train --train-data-file scan.npz --output-dir run ... --resume

A failure before any checkpoint exists rolls everything back and re-raises the error that stopped it (nothing to
resume; input errors keep their exit status 2).
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ptycho.runtime.faults import environment_fault
from ptycho_torch.cli.stop_signals import Terminated, received, sigterm_raises, stop_signals

_ = (Terminated, sigterm_raises, stop_signals)  # re-exported: the names callers and tests use

__all__ = ["RunStopped", "Terminated", "stop_run", "resume_command", "describe_cause", "sigterm_raises",
           "stop_signals"]

#: substrings of the errors a surviving DDP process gets when another one died
_LOST_PEER = ("Connection reset by peer", "Connection closed by peer", "Broken pipe", "Read error",
              "Socket Timeout", "connection closed", "ProcessExitedException")


class RunStopped(Exception):
    """A training run stopped after it began; ``str(exc)`` is the one line, ``code`` the exit status."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(" ".join(message.split()))
        self.code = int(code)


def _rank() -> int | None:
    for name in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        value = os.environ.get(name)
        if value is not None and value.isdigit():
            return int(value)
    return None


def describe_cause(exc: BaseException) -> tuple[str, int]:
    """(one-line cause, exit status) for the exception that stopped a training run."""
    from ptycho_torch.lightning_module import NonFiniteLossError

    text = " ".join(str(exc).split())
    got = received()
    name = got.get("signal")
    if isinstance(exc, (KeyboardInterrupt, SystemExit)) and name not in (None, "SIGINT"):
        code = 128 + int(getattr(signal, name, signal.SIGTERM))
        if got.get("requeue"):
            return f"{got.get('job') or 'not requeued'} (signal {name})", code
        return f"interrupted by signal {name}", code
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return "interrupted (Ctrl-C)", 130
    if isinstance(exc, NonFiniteLossError):
        return text, 1
    fault = environment_fault(exc)
    if fault is not None:
        return fault, 2
    if type(exc).__name__ == "ProcessExitedException":  # ddp_spawn: a worker died; the message names it
        return f"a training process ended unexpectedly ({text})", 1
    if any(s in text for s in _LOST_PEER):
        return "another training process ended unexpectedly (connection lost)", 1
    if isinstance(exc, ValueError):
        return text, 2
    return f"internal error: {type(exc).__name__}: {text}", 1


def resume_command(command: Sequence[str] | None) -> str:
    """The command line that continues a run: ``command`` (the words that started it, e.g. ``['ptycho', 'train',
    ...]``; default ``sys.argv``) plus ``--resume`` unless present, quoted for a POSIX shell."""
    words = list(sys.argv if command is None else command)
    if not any(a == "--resume" or a.startswith("--resume=") for a in words):
        words.append("--resume")
    return shlex.join(words)


def stop_run(exc: BaseException, guard: Any, output_dir: Path,
             command: Sequence[str] | None = None) -> BaseException:
    """Roll back a stopped run and return the exception to raise (see the module docstring).

    Args:
        exc: what stopped the run.
        guard: the run's ``OutputGuard`` (None in a DDP process other than the first, which never cleans up).
        output_dir: the run's output folder.
        command: the command line that started the run (for the ``--resume`` hint; default ``sys.argv``).
    """
    last = Path(output_dir) / "checkpoints" / "last.ckpt"
    resumable = last.is_file()
    if guard is not None:
        guard.rollback(keep=("checkpoints",) if resumable else ())
    if not resumable and not isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return exc  # nothing to continue from: the error itself, with its own exit status
    cause, code = describe_cause(exc)
    who = "stopped" if guard is not None else f"rank {_rank() if _rank() is not None else '?'} stopped"
    if not resumable:
        return RunStopped(f"{who}: {cause}; no checkpoint was written yet, nothing to resume", code)
    got = received()
    saved = f" (last.ckpt saved at {got['saved']})" if got.get("saved") else ""
    how = "continue with"
    if got.get("requeue") and str(got.get("job", "")).startswith("requeued"):
        how = "the requeued job resumes from it by itself (same command); elsewhere continue with"
    return RunStopped(f"{who}: {cause}; checkpoints kept in {last.parent}{saved}; {how}: "
                      f"{resume_command(command)}", code)
