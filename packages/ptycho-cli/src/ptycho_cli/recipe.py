"""The training recipe of ``ptycho train`` (specs/cli.md §4.1): what the command uses for a field the user
leaves unset, where it differs from the canonical config's (seed-documented) defaults.

Chosen for a CPU budget of minutes (benchmarks/RESULTS.md "Why the network learns slowly"): at equal wall time
on the realistic Siemens scan (one thread), n_filters_scale 1 trained 599 steps to a loss of -1358 (true object
-1417) and amplitude SSIM 0.33 on the unseen half, while n_filters_scale 2 made 79 steps and had not left the flat
start (-1208, SSIM 0.33 = the flat floor): each step costs ~4x as much and the wider Glorot-initialised network
starts deeper in the flat solution. ``input_projections`` 20 (PyTorch, CNN): the generator corrects each pattern's
projected estimate instead of starting from a patch that ignores its input (benchmarks/RESULTS.md "The generator on
projected input": on the three benchmark scans' unseen halves, mean amplitude / phase SSIM 0.330 / 0.305 against
0.232 / 0.169 after 3 minutes of training, 0.302 / 0.318 against 0.310 / 0.300 after 14). Explicit flags and
``--config`` values always win.
"""

from __future__ import annotations

__all__ = ["TRAIN_RECIPE", "REALISTIC_SCAN", "recipe_for"]

#: canonical field -> value used by ``ptycho train`` when the flag is not given. ``input_projections`` applies to the
#: PyTorch route with the CNN generator only (the TensorFlow generator reads the amplitude; the Fourier generators do
#: not take the projected input): see :func:`recipe_for`.
TRAIN_RECIPE: dict[str, object] = {"n_filters_scale": 1, "input_projections": 20}


def recipe_for(backend: str, architecture: str | None) -> dict[str, object]:
    """The recipe entries that apply to ``backend`` ('pytorch' / 'tensorflow') with the user's ``architecture``
    (None = not given, i.e. 'cnn')."""
    if backend == "pytorch" and (architecture or "cnn") == "cnn":
        return dict(TRAIN_RECIPE)
    return {k: v for k, v in TRAIN_RECIPE.items() if k != "input_projections"}

#: The scan ``ptycho simulate`` writes by default and ``ptycho demo`` trains on (specs/cli.md §2, §7): the lines
#: object at N=64, a Fermat spiral of 512 positions (uniform coverage, no holes in a stitched canvas) with 1 px
#: Gaussian position errors, a defocused zone-plate probe (phase structure, like a beamline probe), 1e9 photons,
#: measured through the neutral fine-grid model (``interpolation='finegrid'``, 4x oversampling: no
#: reconstruction code's own sub-pixel model, specs/simulation.md §6).
REALISTIC_SCAN: dict[str, object] = {"object_kind": "lines", "N": 64, "n_positions": 512, "scan": "fermat",
                                     "probe_kind": "zoneplate", "jitter": 1.0, "interpolation": "finegrid",
                                     "oversample": 4, "nphotons": 1e9}
