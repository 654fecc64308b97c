"""SLURM requeue of a training run (specs/reliability.md §9), with Lightning's conventions.

On the requeue signal (``SIGUSR1``) the training loop writes ``<output_dir>/checkpoints/last.ckpt`` at its next
safe point, then :func:`requeue` records ``checkpoints/requeue.json`` and runs ``scontrol requeue <job id>``
(the job id as Lightning's ``SLURMEnvironment`` forms it: ``SLURM_ARRAY_JOB_ID_SLURM_ARRAY_TASK_ID`` for an array
task, else ``SLURM_JOB_ID``). SLURM starts the same batch script again under the same job id; the same
``ptycho train`` command then finds the marker (:func:`requeued_checkpoint`) and resumes from ``last.ckpt`` by
itself, as ``--resume`` would.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from ptycho.atomic_io import atomic_write

__all__ = ["MARKER", "job_id", "requeue", "requeued_checkpoint", "clear_marker"]

MARKER = "requeue.json"


def job_id() -> str | None:
    """The SLURM job id ``scontrol requeue`` takes (None outside SLURM)."""
    array_job = os.environ.get("SLURM_ARRAY_JOB_ID")
    if array_job is not None and os.environ.get("SLURM_ARRAY_TASK_ID") is not None:
        return f"{array_job}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    return os.environ.get("SLURM_JOB_ID")


def requeue(output_dir: Path, saved: str) -> str:
    """Record the marker next to ``last.ckpt`` and requeue this job; returns a phrase for the one line.

    Args:
        output_dir: the run folder (``checkpoints/last.ckpt`` was just written).
        saved: where the checkpoint was taken ('epoch E, step S').
    """
    job = job_id()
    if job is None or not re.fullmatch(r"[0-9_]+", job):
        return f"not requeued: expected a numeric SLURM job id, found {job!r}"
    folder = Path(output_dir) / "checkpoints"
    with atomic_write(folder / MARKER, "w") as fh:
        json.dump({"slurm_job_id": job, "checkpoint": "last.ckpt", "saved_at": saved}, fh)
    try:
        result = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"requeue of SLURM job {job} failed (scontrol: {type(exc).__name__}: {exc})"
    if result.returncode != 0:
        first = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[0]
        return f"requeue of SLURM job {job} failed (scontrol: {first})"
    return f"requeued SLURM job {job}"


def requeued_checkpoint(output_dir: Path) -> Path | None:
    """``<output_dir>/checkpoints/last.ckpt`` when this process is the requeued SLURM job that wrote the marker
    there (same job id) and the checkpoint exists; else None."""
    folder = Path(output_dir) / "checkpoints"
    job = job_id()
    if job is None or not (folder / MARKER).is_file() or not (folder / "last.ckpt").is_file():
        return None
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or str(marker.get("slurm_job_id")) != job:
        return None
    return folder / "last.ckpt"


def clear_marker(output_dir: Path) -> None:
    """Remove the marker once the run finished (a finished run has nothing to resume)."""
    try:
        (Path(output_dir) / "checkpoints" / MARKER).unlink()
    except FileNotFoundError:
        pass
