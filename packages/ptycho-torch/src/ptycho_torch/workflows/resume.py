"""Where a training run resumes from (specs/reliability.md §1): ``resolve_resume_checkpoint`` is the rule both
backends share (``ptycho.config.config.resume_checkpoint``), and a safe read of a Lightning checkpoint.
Framework-light: imports torch, not lightning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ptycho.config.config import resume_checkpoint as resolve_resume_checkpoint

__all__ = ["load_checkpoint_safely", "resolve_resume_checkpoint"]


def load_checkpoint_safely(path: str | Path) -> dict[str, Any]:
    """``torch.load(path, map_location='cpu', weights_only=True)``; a missing, truncated or foreign file is a
    one-line ValueError (FileNotFoundError when missing) naming the path."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: checkpoint not found (expected <output_dir>/checkpoints/last.ckpt)")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for damaged files
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"{p}: not a loadable checkpoint ({type(exc).__name__}: {first})") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "loops" not in ckpt:
        raise ValueError(f"{p}: expected a Lightning training checkpoint with 'state_dict' and 'loops'")
    return ckpt
