"""Where a workflow resumes training from, the one rule both backends share (specs/reliability.md §1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["resume_checkpoint"]


def resume_checkpoint(resume_from: Any, output_dir: str | Path) -> Path | None:
    """The checkpoint a workflow resumes from, the same rule in both backends (specs/reliability.md §1):
    None/False -> None; True -> ``<output_dir>/checkpoints/last.ckpt``; a directory -> its
    ``checkpoints/last.ckpt`` (or ``<dir>/last.ckpt`` when it has no ``checkpoints/`` but that file); a file ->
    itself. FileNotFoundError (one line naming the path) when the checkpoint does not exist."""
    if resume_from is None or resume_from is False:
        return None
    p = Path(output_dir) if resume_from is True else Path(resume_from)
    if p.is_dir():
        p = p / "last.ckpt" if not (p / "checkpoints").is_dir() and (p / "last.ckpt").exists() \
            else p / "checkpoints" / "last.ckpt"
    if not p.is_file():
        raise FileNotFoundError(f"resume_from: no checkpoint at {p} (expected <output_dir>/checkpoints/last.ckpt)")
    return p
