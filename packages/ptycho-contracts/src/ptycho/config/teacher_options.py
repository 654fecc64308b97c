"""The refinement-teacher fields of ``TrainingConfig`` (specs/config.md §3, specs/torch-training.md §8): their
allowed values and their one-line validation, shared by the canonical and the bridge's native configs."""

from __future__ import annotations

import os
from typing import Any

from ptycho.config.validation import check_choice, check_float, check_int

__all__ = ["TEACHERS", "TEACHER_MEMORY_SHARE", "teacher_memory_limit", "validate_teacher"]

#: ``TrainingConfig.teacher``: 'none' (self-supervised Poisson training) or 'refine' (the refinement-teacher
#: recipe, PyTorch only).
TEACHERS = ("none", "refine")
#: the teacher holds the training scan's diffraction in memory while it refines it: a stack read on demand (an
#: HDF5 scan) is read in when it takes at most this share of the machine's physical memory
TEACHER_MEMORY_SHARE = 0.25


def teacher_memory_limit() -> int | None:
    """Bytes of diffraction the teacher may read into memory (:data:`TEACHER_MEMORY_SHARE` of physical memory);
    None where the system does not say how much memory it has."""
    try:
        return int(TEACHER_MEMORY_SHARE * int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES")))
    except (ValueError, OSError, AttributeError):
        return None


def validate_teacher(owner: str, cfg: Any) -> None:
    """ValueError naming the first bad teacher field of ``cfg``: teacher in :data:`TEACHERS`,
    teacher_iterations >= 1, teacher_supervised_share in (0, 1], teacher_keep_weight >= 0."""
    check_choice(owner, "teacher", cfg.teacher, TEACHERS)
    check_int(owner, "teacher_iterations", cfg.teacher_iterations, 1)
    check_float(owner, "teacher_supervised_share", cfg.teacher_supervised_share, low=0.0, high=1.0, low_open=True)
    check_float(owner, "teacher_keep_weight", cfg.teacher_keep_weight, low=0.0)
