"""The training recipe of ``ptycho train`` (specs/cli.md §4.1): what the command uses for a field the user
leaves unset, where it differs from the canonical config's (seed-documented) defaults.

Chosen for a CPU budget of minutes (benchmarks/RESULTS.md "Why the network learns slowly"): at equal wall time
on the realistic Siemens scan (one thread), n_filters_scale 1 trained 599 steps to a loss of -1358 (true object
-1417) and amplitude SSIM 0.33 on the unseen half, while n_filters_scale 2 made 79 steps and had not left the flat
start (-1208, SSIM 0.33 = the flat floor): each step costs ~4x as much and the wider Glorot-initialised network
starts deeper in the flat solution. ``input_refine_passes`` 5 with ``teacher`` 'refine'
(PyTorch, CNN): the generator corrects the scan's object after 5 refinement passes, cut at every pattern
(specs/network.md §8.3), and learns from the training scan's refined object (specs/torch-training.md §8): on the
three benchmark scans' unseen halves after 14 minutes, ``ptycho infer``'s canvas scores 0.768 / 0.889, 0.906 / 0.971
and 0.990 / 0.869 against 0.592 / 0.713, 0.633 / 0.788 and 0.917 / 0.759 for the previous recipe (gridsize 2 with 20
group projections as the input; benchmarks/RESULTS.md "The network on the refined scan"). The teacher applies when the training scan's diffraction
fits in memory (:func:`teacher_fits`: the teacher refines it whole); a larger HDF5 scan trains without it. Explicit
flags and ``--config`` values always win.
"""

from __future__ import annotations

import os
from pathlib import Path

from ptycho.config import teacher_options
from ptycho.scan_hdf5 import is_hdf5, read_scan_hdf5

__all__ = ["TRAIN_RECIPE", "REALISTIC_SCAN", "recipe_for", "teacher_fits"]

#: canonical field -> value used by ``ptycho train`` when the flag is not given. ``input_projections`` applies to the
#: PyTorch route with the CNN generator only (the TensorFlow generator reads the amplitude; the Fourier generators do
#: not take the projected input), and so does ``teacher`` (the refinement solver and the two-stage loss exist only
#: in ptycho_torch; measured with the CNN): see :func:`recipe_for`.
TRAIN_RECIPE: dict[str, object] = {"n_filters_scale": 1, "input_refine_passes": 5, "teacher": "refine"}
#: entries of TRAIN_RECIPE that apply to the PyTorch CNN route only
_TORCH_CNN_ONLY = ("input_refine_passes", "teacher")

def teacher_fits(train_data_file: str | os.PathLike[str] | None) -> bool:
    """Whether the recipe's teacher applies to this training scan: an NPZ scan (read into memory anyway), or an
    HDF5 scan whose float32 diffraction stack fits the teacher's memory limit
    (:func:`ptycho.config.teacher_options.teacher_memory_limit`). A file that cannot be read answers True:
    training reports its error."""
    if train_data_file is None:
        return True
    path = Path(train_data_file)
    try:
        if not path.is_file() or not is_hdf5(path):
            return True
        arrays = read_scan_hdf5(path)
        stack = arrays["diffraction"] if "diffraction" in arrays else arrays["diff3d"]
        nbytes = int(stack.nbytes)
        close = getattr(stack, "close", None)
        if callable(close):
            close()
    except Exception:  # noqa: BLE001 - a bad file is training's error to report, with its one line
        return True
    limit = teacher_options.teacher_memory_limit()
    return limit is None or nbytes <= limit


def recipe_for(backend: str, architecture: str | None,
               train_data_file: str | os.PathLike[str] | None = None) -> dict[str, object]:
    """The recipe entries that apply to ``backend`` ('pytorch' / 'tensorflow') with the user's ``architecture``
    (None = not given, i.e. 'cnn') and training scan ``train_data_file`` (None: not known; see
    :func:`teacher_fits`)."""
    if backend == "pytorch" and (architecture or "cnn") == "cnn":
        recipe = dict(TRAIN_RECIPE)
        if not teacher_fits(train_data_file):  # neither the teacher nor the refined estimate: both refine it whole
            recipe.update(teacher="none", input_refine_passes=0, input_projections=20)
        return recipe
    return {k: v for k, v in TRAIN_RECIPE.items() if k not in _TORCH_CNN_ONLY}

#: The scan ``ptycho simulate`` writes by default and ``ptycho demo`` trains on (specs/cli.md §2, §7): the lines
#: object at N=64, a Fermat spiral of 512 positions (uniform coverage, no holes in a stitched canvas) with 1 px
#: Gaussian position errors, a defocused zone-plate probe (phase structure, like a beamline probe), 1e9 photons,
#: measured through the neutral fine-grid model (``interpolation='finegrid'``, 4x oversampling: no
#: reconstruction code's own sub-pixel model, specs/simulation.md §6).
REALISTIC_SCAN: dict[str, object] = {"object_kind": "lines", "N": 64, "n_positions": 512, "scan": "fermat",
                                     "probe_kind": "zoneplate", "jitter": 1.0, "interpolation": "finegrid",
                                     "oversample": 4, "nphotons": 1e9}
