"""Command-line support for ``python -m ptycho_torch.train`` and ``python -m ptycho_torch.inference``.

* :mod:`ptycho_torch.cli.shared` - accelerator resolution, execution config from flags, path checks,
  the one-line/exit-2 error contract and output rollback.
* :mod:`ptycho_torch.cli.run_training` - one training run from configs (``python -m ptycho_torch.train`` and
  ``ptycho train``).

``--config`` YAML/JSON files of canonical config fields are read by :mod:`ptycho_bridge.config_file`.

Normative text: specs/torch-cli.md. Importing this package imports neither torch nor lightning.
"""

from ptycho_torch.cli.shared import build_execution_config_from_args, resolve_accelerator, validate_paths

__all__ = ["build_execution_config_from_args", "resolve_accelerator", "validate_paths"]
