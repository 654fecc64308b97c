"""``train_with_teacher``: the refinement-teacher recipe on the usual training path (specs/torch-training.md §8).

Called by :func:`ptycho_torch.workflows.training.train_cdi_model_torch` when ``config.teacher == 'refine'``:
refine the training scan (its seconds come off ``max_time``), build the labelled container, calibrate the
labels' amplitude (and, with ``input_refine_passes``, attach the refined estimate, specs/network.md §8.3), then ``train_cdi_model_torch`` with :class:`TeacherPINN_Lightning` and
:class:`TeacherSchedule` - the same Lightning trainer, loaders, checkpoints, resume and results, so the bundle
saved afterwards is an ordinary PINN bundle that ``ptycho infer`` reads.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ptycho.config.config import check_implemented, effective_seed
from ptycho.raw_data import RawData
from ptycho.runtime.processes import is_main_process
from ptycho.runtime.progress import StepProgress
from ptycho_torch.data import create_ptycho_data_container
from ptycho_torch.generators.refined_input import ensure_refined_estimate, rotate_phase
from ptycho_torch.refine.scan import scan_in_memory
from ptycho_torch.workflows.execution import exec_get, resolve_device

from .labels import calibrate_amplitude, teacher_labels
from .module import TeacherPINN_Lightning, TeacherSchedule

__all__ = ["in_memory", "labelled_raw", "remaining_budget", "train_with_teacher"]


def _seconds_to_max_time(seconds: float) -> str:
    """Whole seconds -> 'DD:HH:MM:SS' (floor)."""
    s = int(seconds)
    return f"{s // 86400:02d}:{s // 3600 % 24:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def remaining_budget(total_s: float | None, spent_s: float) -> tuple[str | None, float | None]:
    """(max_time string, seconds) left for training of a ``total_s`` budget (``TrainingConfig.max_time_s``)
    after the teacher spent ``spent_s``; (None, None) without a budget. Raises ValueError (naming max_time and
    teacher_iterations) when less than one second is left."""
    if total_s is None:
        return None, None
    total = float(total_s)
    left = total - float(spent_s)
    if left < 1.0:
        raise ValueError(f"TrainingConfig.max_time: the teacher's refinement took {spent_s:.0f} s of the "
                         f"{total:.0f} s budget, expected time left to train; lower teacher_iterations or raise max_time")
    return _seconds_to_max_time(left), float(int(left))


def in_memory(raw: Any) -> Any:
    """``raw`` with its diffraction as an ndarray (:func:`ptycho_torch.refine.scan.scan_in_memory`): the teacher
    refines the training scan whole; ValueError (one line) when it does not fit."""
    return scan_in_memory(raw, "TrainingConfig.teacher: 'refine' refines the training scan in memory",
                          "use teacher 'none'")


def labelled_raw(raw: Any, Y: np.ndarray) -> Any:
    """A copy of RawData ``raw`` with labels ``Y`` (P, N, N) and without ``objectGuess`` (the ground truth, when
    a file carries one, must never become a label); recorded sample indices are kept."""
    new = RawData(raw.xcoords, raw.ycoords, raw.xcoords_start, raw.ycoords_start, raw.diff3d, raw.probeGuess,
                  raw.scan_index, objectGuess=None, Y=Y, norm_Y_I=raw.norm_Y_I, metadata=raw.metadata,
                  source="<teacher labels>")
    new.sample_indices, new.subsample_seed = raw.sample_indices, raw.subsample_seed
    return new


def train_with_teacher(train_data: Any, test_data: Any, config: Any, *, train: Callable[..., Any],
                       execution_config: Any = None, resume_from: Any = None, callbacks: Sequence[Any] = ()) -> Any:
    """Teacher recipe; arguments and result as :func:`~ptycho_torch.workflows.training.train_cdi_model_torch`,
    with ``results.teacher`` = {'seconds', 'nll', 'phase_offset', 'amplitude_factor', 'switch_epoch'}.
    ``train`` is that function (passed in by it, so this module does not import the training workflow back).

    ``train_data`` must be a RawData held in memory (positions, diffraction, probe): the teacher refines it.
    Raises ValueError (one line) otherwise, or when the refinement leaves no training time in ``max_time``."""

    t0 = time.perf_counter()
    check_implemented(config)
    if not (hasattr(train_data, "diff3d") and hasattr(train_data, "generate_grouped_data")):
        raise ValueError(f"TrainingConfig.teacher: 'refine' needs the training scan as RawData (it refines it), "
                         f"found {type(train_data).__name__}")
    train_data = in_memory(train_data)
    positions = np.stack([np.asarray(train_data.xcoords, np.float64), np.asarray(train_data.ycoords, np.float64)], 1)
    shown = exec_get(execution_config, "enable_progress_bar", config.debug) and is_main_process()
    with StepProgress(config.teacher_iterations, "teacher: refining the training scan, pass", enabled=shown) as bar:
        labels = teacher_labels(train_data.diff3d, positions, train_data.probeGuess,
                                iterations=config.teacher_iterations, seed=effective_seed(config),
                                device=str(resolve_device(execution_config)),
                                on_iteration=lambda row: bar.step(nll=float(row["nll"])))
    container = create_ptycho_data_container(labelled_raw(train_data, labels.Y), config)
    probe_module = TeacherPINN_Lightning(config.model, config, container.probe, container.intensity_scale)
    k = calibrate_amplitude(probe_module.forward_model, container)
    container.Y = container.Y * k
    refined = ensure_refined_estimate(container, train_data, probe_module, config, execution_config)
    del probe_module
    if refined is not None:  # labels in the estimate's phase frame: the CNN corrects it, no constant to learn
        container.Y = rotate_phase(container.Y, labels.phase_offset - refined.phase_offset)
    max_time, budget_s = remaining_budget(config.max_time_s, time.perf_counter() - t0)
    train_config = dataclasses.replace(config, max_time=max_time)
    schedule = TeacherSchedule(config.teacher_supervised_share, config.nepochs, budget_s)
    results = train(container, test_data, train_config, execution_config=execution_config,
                                    resume_from=resume_from, callbacks=[schedule, *callbacks],
                                    module_class=TeacherPINN_Lightning)
    module = results.models["lightning_module"]
    results["teacher"] = {"seconds": labels.seconds, "nll": labels.nll, "phase_offset": labels.phase_offset,
                       "amplitude_factor": k, "switch_epoch": getattr(module, "switch_epoch", None),
                       "estimate_seconds": None if refined is None else refined.seconds}
    return results
