"""The training recipe of ``ptycho train`` (specs/cli.md §4.1): what the command uses for a field the user
leaves unset, where it differs from the canonical config's (seed-documented) defaults.

Chosen for a CPU budget of minutes (benchmarks/RESULTS.md "Why the network learns slowly"): at equal wall time
on the realistic Siemens scan (one thread), n_filters_scale 1 trained 599 steps to a loss of -1358 (true object
-1417) and amplitude SSIM 0.33 on the unseen half, while n_filters_scale 2 made 79 steps and had not left the flat
start (-1208, SSIM 0.33 = the flat floor): each step costs ~4x as much and the wider Glorot-initialised network
starts deeper in the flat solution. Explicit flags and ``--config`` values always win.
"""

from __future__ import annotations

__all__ = ["TRAIN_RECIPE"]

#: canonical field -> value used by ``ptycho train`` when the flag is not given.
TRAIN_RECIPE: dict[str, object] = {"n_filters_scale": 1}
