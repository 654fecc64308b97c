"""The PyTorch backend object: ``BACKEND``, registered as the ``ptycho.backends`` entry point ``pytorch``
(specs/backend-selection.md §1; protocol ``ptycho_bridge.backend_api.Backend``).

The explicit methods call :mod:`ptycho_torch.workflows.components` and :mod:`ptycho_torch.bundle` with configs
and models passed explicitly; ``run_cdi_example`` / ``load_inference_bundle`` are the seed guide's
``run_cdi_example_torch`` / ``load_inference_bundle_torch`` (this backend keeps no legacy state of its own).
``command_line`` gives the ``ptycho`` command the runs of ``python -m ptycho_torch.train`` and
``ptycho_torch.inference``, from configs (``ptycho_torch.cli.run_training.run_training``, with its DDP launch,
resume and stop handling; ``ptycho_torch.inference.run_inference``).
Nothing here imports tensorflow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ptycho.config.config import check_implemented
from ptycho_bridge.backend_api import Reconstruction
from ptycho_bridge.execution import PyTorchExecutionConfig, execution_config_for
from ptycho_torch import inference
from ptycho_torch.bundle import save_torch_model_bundle
from ptycho_torch.cli.run_training import run_training
from ptycho_torch.cli.shared import run_cli
from ptycho_torch.workflows.components import (
    load_inference_bundle_torch,
    reassemble_cdi_image_torch,
    run_cdi_example_torch,
)

__all__ = ["TorchBackend", "TorchCommandLine", "BACKEND"]


class TorchCommandLine:
    """The runs of ``python -m ptycho_torch.train`` / ``ptycho_torch.inference`` for the ``ptycho`` command, from
    configs (protocol ``ptycho_bridge.backend_api.CommandLine``; specs/cli.md §4, specs/torch-cli.md §5)."""

    def train(self, config: Any, execution: PyTorchExecutionConfig, *, resume: Any = None, prog: str,
              command: Sequence[str] | None = None) -> int:
        return run_cli(prog, lambda _: run_training(config, execution, resume=resume, prog=prog, command=command),
                       None)

    def infer(self, models: Any, config: Any, execution: PyTorchExecutionConfig, *, prog: str) -> int:
        return run_cli(prog, lambda _: inference.run_inference(models, config, execution, prog=prog), None)


def _execution(config: Any, execution: Any) -> PyTorchExecutionConfig:
    """A ``PyTorchExecutionConfig`` agreeing with ``config`` (``execution_config_for``); a mapping gives fields
    over the config's learning rate and scheduler."""
    if isinstance(execution, Mapping):
        base = execution_config_for(config, None)
        execution = replace(base, **dict(execution))
    return execution_config_for(config, execution)


class TorchBackend:
    """The :class:`ptycho_bridge.backend_api.Backend` of ptycho-torch (method contracts: that protocol)."""

    name = "pytorch"
    command_line = TorchCommandLine()

    def unsupported(self, config: Any) -> str | None:
        try:
            check_implemented(config)
        except ValueError as exc:
            return str(exc)
        return None

    def train(self, train_data: Any, test_data: Any, config: Any, *, execution: Any = None,
              do_stitching: bool = False, M: int = 20, resume_from: Any = None, checkpoints: bool | None = None,
              progress: bool = False):
        settings = _execution(config, execution)
        if execution is None:  # a library run: the history comes back in the results, no logger files
            settings = replace(settings, enable_progress_bar=bool(progress), logger_backend="none")
        if checkpoints is not None:
            settings = replace(settings, enable_checkpointing=bool(checkpoints))
        return run_cdi_example_torch(train_data, test_data, config, do_stitching=do_stitching,
                                     execution_config=settings, M=M, resume_from=resume_from)

    def save_bundle(self, results: Mapping[str, Any], config: Any) -> Path:
        written = results.get("bundle_path")
        return Path(written) if written is not None else Path(save_torch_model_bundle(results, config))

    def load_bundle(self, path: str | Path) -> tuple[Any, Any]:
        return load_inference_bundle_torch(path)

    def reconstruct(self, models: Any, data: Any, config: Any, *, M: int = 20, execution: Any = None) -> Reconstruction:
        amp, phase, results = reassemble_cdi_image_torch(data, config, M=M, models=models,
                                                         execution_config=_execution(config, execution))
        crop = min(int(M), int(results["test_container"].N))  # the stitcher clamps M to the patch size
        return Reconstruction(object=results["stitched_obj"], amplitude=amp, phase=phase,
                              global_offsets=results["global_offsets"], crop=crop, results=results)

    def run_cdi_example(self, train_data: Any, test_data: Any, config: Any, *, flip_x: bool = False,
                        flip_y: bool = False, transpose: bool = False, M: int = 20, do_stitching: bool = False,
                        execution: Any = None):
        return run_cdi_example_torch(train_data, test_data, config, do_stitching=do_stitching,
                                     execution_config=execution_config_for(config, execution), flip_x=flip_x,
                                     flip_y=flip_y, transpose=transpose, M=M)

    def load_inference_bundle(self, path: str | Path, **kwargs: Any) -> Any:
        return load_inference_bundle_torch(path, **kwargs)


#: the object the ``ptycho.backends`` entry point ``pytorch`` names
BACKEND = TorchBackend()
