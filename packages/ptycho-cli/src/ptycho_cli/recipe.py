"""The training recipe of ``ptycho train`` (specs/cli.md §4.1): what the command uses for a field the user
leaves unset, where it differs from the canonical config's (seed-documented) defaults.

Chosen for a CPU budget of minutes (benchmarks/RESULTS.md "Why the network learns slowly"): at equal wall time
on the realistic Siemens scan (one thread), n_filters_scale 1 trained 599 steps to a loss of -1358 (true object
-1417) and amplitude SSIM 0.33 on the unseen half, while n_filters_scale 2 made 79 steps and had not left the flat
start (-1208, SSIM 0.33 = the flat floor): each step costs ~4x as much and the wider Glorot-initialised network
starts deeper in the flat solution. Explicit flags and ``--config`` values always win.
"""

from __future__ import annotations

__all__ = ["TRAIN_RECIPE", "BUDGET_EPOCHS", "budget_epochs"]

#: canonical field -> value used by ``ptycho train`` when the flag is not given.
TRAIN_RECIPE: dict[str, object] = {"n_filters_scale": 1}

#: The epoch cap when ``--max-time`` is given without ``--max_epochs``: the time budget decides when training
#: stops (a user who says "train for 14 minutes" means it; the canonical 50 epochs end a small scan's training
#: after 5 of them on 2 idle cores, measured).
BUDGET_EPOCHS = 100_000


def budget_epochs(max_time: object, max_epochs: object) -> int | None:
    """The epoch count ``ptycho train`` uses: ``max_epochs`` if given, :data:`BUDGET_EPOCHS` under a time budget
    alone, else None (the canonical default)."""
    if max_epochs is not None:
        return int(max_epochs)  # type: ignore[call-overload]
    return BUDGET_EPOCHS if max_time is not None else None
