"""Which process of a distributed run writes the outputs (specs/scaling.md §1). Standard library only.

The processes of a DDP run all train, but only the first writes the bundle, prints the result and cleans up a
failed run. Which one a process is can be read from the environment before any Trainer exists, so the command
lines and the training workflows of every backend ask :func:`is_main_process`.
"""

from __future__ import annotations

import os

__all__ = ["RANK_VARIABLES", "is_main_process"]

#: environment variables that number the processes of a distributed run: Lightning's own launcher
#: (LOCAL_RANK, NODE_RANK), torchrun (RANK, LOCAL_RANK) and SLURM (SLURM_PROCID)
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID")


def is_main_process() -> bool:
    """True unless the environment numbers this process as another than the first of a distributed run.

    Read before a Trainer exists (and by the command lines after it): the other processes of a DDP run train
    but leave every output (bundle, printed result, clean-up of a failed run) to the first (specs/scaling.md §1).
    A variable that is unset, empty or not a non-negative integer counts as 0.
    """
    for name in RANK_VARIABLES:
        value = os.environ.get(name, "0").strip() or "0"
        if value.isdigit() and int(value) != 0:
            return False
    return True
