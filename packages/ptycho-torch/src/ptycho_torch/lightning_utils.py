"""Finding the checkpoint a v2-API training run produced (specs/ptychodus-torch.md §4)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["find_best_checkpoint"]


def find_best_checkpoint(run_dir: str | Path) -> Path | None:
    """The best ``.ckpt`` under ``run_dir`` (searched recursively), or None when there is none.

    The best one is the file Lightning's ModelCheckpoint kept for the monitored loss (any ``*.ckpt`` not named
    ``last.ckpt``; the newest when several are kept); without one, ``last.ckpt`` (the end-of-run state).
    """
    root = Path(run_dir)
    if not root.is_dir():
        return None
    files = [p for p in root.rglob("*.ckpt") if p.is_file()]
    best = [p for p in files if p.name != "last.ckpt"]
    pool = best or files
    if not pool:
        return None
    return max(pool, key=lambda p: (p.stat().st_mtime_ns, p.name))
