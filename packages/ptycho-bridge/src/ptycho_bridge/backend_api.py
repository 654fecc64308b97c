"""The ``Backend`` protocol: what a backend package offers its callers (normative text:
specs/backend-selection.md §1, specs/architecture.md §3).

Each backend package registers one object satisfying :class:`Backend` under the entry-point group
``ptycho.backends`` (``tensorflow = "ptycho_tf.backend:BACKEND"``, ``pytorch =
"ptycho_torch.backend:BACKEND"``); ``ptycho_bridge.backend_selector.load_backend(name)`` returns it. The backend
selector, the ``ptycho`` command (train, infer) and ``ptycho demo`` call only these methods, so none of them
names a backend's functions.

The methods are the union of what those callers need:

* the explicit API - canonical configs and data in, results out, no global state read or written:
  :meth:`Backend.unsupported`, :meth:`Backend.train`, :meth:`Backend.save_bundle`, :meth:`Backend.load_bundle`,
  :meth:`Backend.reconstruct`;
* the compatibility API of the seed guide and ptychodus (``run_cdi_example_with_backend`` /
  ``load_inference_bundle_with_backend`` return what these return): :meth:`Backend.run_cdi_example` and
  :meth:`Backend.load_inference_bundle`, which also update the legacy mirror (``ptycho.params.cfg``, the
  TensorFlow "current model") for the callers that read it;
* :attr:`Backend.command_line`: the runs of the backend's own train/infer command lines (PyTorch: ``python -m
  ptycho_torch.train``'s and ``ptycho_torch.inference``'s runs, from configs), or None when the ``ptycho`` command
  drives the explicit API itself (TensorFlow).

Importing this module imports no framework.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

__all__ = ["Backend", "CommandLine", "Reconstruction"]


@dataclass(frozen=True)
class Reconstruction:
    """A stitched reconstruction of one scan.

    object: (H, W) complex64, the stitched object; amplitude, phase: (H, W) float, its modulus and angle
    (radians); global_offsets: (P, 1, 2, 1) float, the patch positions in object pixels [x, y] after any
    flips, as the backend's stitching used them; crop: the central crop side M (pixels) of each patch in the
    canvas; results: the backend's other outputs (a mapping, possibly empty)."""

    object: Any
    amplitude: Any
    phase: Any
    global_offsets: Any
    crop: int
    results: Mapping[str, Any]


@runtime_checkable
class CommandLine(Protocol):
    """The runs of a backend's own train / infer command lines, for the ``ptycho`` command.

    ``train`` takes the configs ``ptycho_bridge.flag_configs.configs_from_flags`` built (canonical TrainingConfig
    and PyTorchExecutionConfig), ``resume`` (None, True or a checkpoint path), ``prog`` (the command's name in
    messages) and ``command`` (the command line as typed, for the ``--resume`` hint of a run that stops).
    ``infer`` takes the models of :meth:`Backend.load_bundle` and the configs
    ``ptycho_bridge.flag_configs.inference_configs_from_flags`` built from the flags and the bundle's stored config
    (canonical InferenceConfig and PyTorchExecutionConfig). Both return the exit status (0 success, 2 bad input
    with one line on stderr, 1 internal error, 130/143 interrupted)."""

    def train(self, config: Any, execution: Any, *, resume: Any = None, prog: str,
              command: Sequence[str] | None = None) -> int: ...

    def infer(self, models: Any, config: Any, execution: Any, *, prog: str) -> int: ...


@runtime_checkable
class Backend(Protocol):
    """One backend (specs/backend-selection.md §1). ``name``: 'tensorflow' or 'pytorch' (``config.backend``).

    ``execution`` arguments: backend runtime settings (a ``ptycho_bridge.execution.PyTorchExecutionConfig`` or a
    mapping of its fields) or None for the backend's defaults (for :meth:`train`: progress as ``progress`` says, no
    metrics-logger files); a backend without such settings (TensorFlow) raises ValueError for anything but None."""

    name: str
    command_line: CommandLine | None

    def unsupported(self, config: Any) -> str | None:
        """One line naming the first option of ``config`` (TrainingConfig) this backend cannot train with, or
        None when it can; imports no framework."""
        ...

    def train(self, train_data: Any, test_data: Any, config: Any, *, execution: Any = None,
              do_stitching: bool = False, M: int = 20, resume_from: Any = None, checkpoints: bool | None = None,
              progress: bool = False) -> tuple[Any, Any, MutableMapping[str, Any]]:
        """Train on ``train_data`` (RawData) with ``config`` (TrainingConfig), validating on ``test_data``
        (RawData or None); no legacy mirror. ``do_stitching``: stitch the test reconstruction (crop ``M``).
        ``resume_from``: None, True or a checkpoint/run folder (specs/reliability.md §1). ``checkpoints``: write
        ``<output_dir>/checkpoints/last.ckpt`` (None: the backend's default). ``progress``: show training
        progress on stdout. Returns ``(amplitude | None, phase | None, results)``; ``results`` holds at least
        ``history`` ({'train_loss': [...], 'val_loss': [...]}) and the trained models."""
        ...

    def save_bundle(self, results: Mapping[str, Any], config: Any) -> Path:
        """Write ``<config.output_dir>/wts.h5.zip`` for the models of a :meth:`train` result (a backend whose
        training already wrote it returns that path); returns the bundle path."""
        ...

    def load_bundle(self, path: str | Path) -> tuple[Any, Any]:
        """``(models, config)`` of the bundle at ``path`` (a run folder or the zip): the models as
        :meth:`reconstruct` takes them and the canonical config they were trained with. No legacy mirror."""
        ...

    def reconstruct(self, models: Any, data: Any, config: Any, *, M: int = 20,
                    execution: Any = None) -> Reconstruction:
        """Predict every group of ``data`` (RawData) with ``models`` and stitch them (central crop ``M``);
        ``config`` (the loaded config, with ``n_groups`` None = one group per position) sets the grouping."""
        ...

    def run_cdi_example(self, train_data: Any, test_data: Any, config: Any, *, flip_x: bool = False,
                        flip_y: bool = False, transpose: bool = False, M: int = 20, do_stitching: bool = False,
                        execution: Any = None) -> tuple[Any, Any, MutableMapping[str, Any]]:
        """The seed guide's ``run_cdi_example`` / ``run_cdi_example_torch`` of this backend, legacy mirror
        included (specs/backend-selection.md §2)."""
        ...

    def load_inference_bundle(self, path: str | Path, **kwargs: Any) -> Any:
        """The seed guide's ``load_inference_bundle`` / ``load_inference_bundle_torch`` of this backend: what
        it returns, legacy mirror included (specs/backend-selection.md §3)."""
        ...
