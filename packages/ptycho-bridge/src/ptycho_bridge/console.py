"""What both command lines (``ptycho`` and ``python -m ptycho_torch.train`` / ``.inference``) quiet in a
``--quiet`` run: the Python loggers of the frameworks, set to ERROR. Framework-free."""

from __future__ import annotations

__all__ = ["FRAMEWORK_LOGGERS"]

#: Python logger names of Lightning (all its spellings) and TensorFlow
FRAMEWORK_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric",
                     "tensorflow", "absl")
