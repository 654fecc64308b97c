"""The TensorFlow backend object: ``BACKEND``, registered as the ``ptycho.backends`` entry point ``tensorflow``
(specs/backend-selection.md §1; protocol ``ptycho_bridge.backend_api.Backend``).

The explicit methods (train, save_bundle, load_bundle, reconstruct) call :mod:`ptycho_tf.workflow` and
:mod:`ptycho_tf.bundle` with configs and models passed explicitly; they leave ``ptycho.params.cfg`` and
the current model of ``ptycho.model`` as they were. ``run_cdi_example`` and ``load_inference_bundle`` are the
seed guide's / ptychodus's calls (``ptycho.workflows.components``), which update that legacy mirror.
TensorFlow has no runtime settings object: an ``execution`` other than None is a ValueError. The ``ptycho``
command drives the explicit methods itself (``command_line`` is None).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ptycho.config.training_options import tf_unsupported
from ptycho_bridge.backend_api import Reconstruction
from ptycho_tf.compat import components

from . import bundle, workflow

__all__ = ["TensorFlowBackend", "BACKEND"]


def _no_execution(execution: Any) -> None:
    if execution is not None:
        raise ValueError("execution: expected None with the TensorFlow backend (it has no runtime settings object; "
                         f"the settings would be ignored), got {type(execution).__name__}")


class TensorFlowBackend:
    """The :class:`ptycho_bridge.backend_api.Backend` of ptycho-tf (method contracts: that protocol)."""

    name = "tensorflow"
    command_line = None

    def unsupported(self, config: Any) -> str | None:
        return tf_unsupported(config)

    def train(self, train_data: Any, test_data: Any, config: Any, *, execution: Any = None,
              do_stitching: bool = False, M: int = 20, resume_from: Any = None, checkpoints: bool | None = None,
              progress: bool = False):
        _no_execution(execution)
        return workflow.run(train_data, test_data, config, M=M, do_stitching=do_stitching, resume_from=resume_from,
                            checkpoints=checkpoints, progress=progress)

    def save_bundle(self, results: Mapping[str, Any], config: Any) -> Path:
        return bundle.save_bundle(Path(config.output_dir), results["tf_models"], config)

    def load_bundle(self, path: str | Path) -> tuple[Any, Any]:
        models, config, _ = bundle.load_bundle(Path(path))
        return models, config

    def reconstruct(self, models: Any, data: Any, config: Any, *, M: int = 20, execution: Any = None) -> Reconstruction:
        _no_execution(execution)
        obj, amp, phase, offsets = workflow.reassemble(models, data, config, M=M)
        return Reconstruction(object=obj, amplitude=amp, phase=phase, global_offsets=offsets, crop=int(M), results={})

    def run_cdi_example(self, train_data: Any, test_data: Any, config: Any, *, flip_x: bool = False,
                        flip_y: bool = False, transpose: bool = False, M: int = 20, do_stitching: bool = False,
                        execution: Any = None):
        _no_execution(execution)
        return components.run_cdi_example(train_data, test_data, config, flip_x=flip_x, flip_y=flip_y,
                                          transpose=transpose, M=M, do_stitching=do_stitching)

    def load_inference_bundle(self, path: str | Path, **kwargs: Any) -> Any:
        return components.load_inference_bundle(path, **kwargs)


#: the object the ``ptycho.backends`` entry point ``tensorflow`` names
BACKEND = TensorFlowBackend()
