"""What both command lines (``ptycho`` and ``python -m ptycho_torch.train`` / ``.inference``) quiet in a
``--quiet`` run: the Python loggers of the frameworks, set to ERROR; and what every run quiets: third-party
messages that say nothing about the run (an advertisement, a deprecation inside Lightning). Framework-free."""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

__all__ = ["FRAMEWORK_LOGGERS", "NOISE_MESSAGES", "is_terminal", "quiet_third_party_noise"]

#: Python logger names of Lightning (all its spellings) and TensorFlow
FRAMEWORK_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric",
                     "tensorflow", "absl")

#: Substrings of log records dropped from Lightning's rank-zero logger: its 'Tip: ... litlogger' advert,
#: printed at every Trainer construction.
NOISE_MESSAGES = ("litlogger",)

_RANK_ZERO_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero",
                      "lightning_fabric.utilities.rank_zero", "pytorch_lightning.utilities.rank_zero")


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in NOISE_MESSAGES)


def quiet_third_party_noise() -> None:
    """Drop Lightning's litlogger advert, the FutureWarning Lightning's own use of torch's deprecated ``LeafSpec``
    raises, and its "validation_step but no val_dataloader" warning of a run without validation data (none is
    about a mistake in the user's run); idempotent. Errors and other warnings stay."""
    for name in _RANK_ZERO_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropNoise) for f in logger.filters):
            logger.addFilter(_DropNoise())
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*", category=FutureWarning)
    # a run without validation data: the module's validation_step simply has nothing to do (not the user's error)
    warnings.filterwarnings("ignore", message=r".*You defined a `validation_step` but have no `val_dataloader`.*")


def is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is a terminal a progress bar can be drawn on: a TTY with a known size. A pseudo-terminal
    without one (``script``, some CI runners and IDE consoles report 0 rows and columns) counts as a pipe: tqdm
    draws nothing there (it hides every bar beyond the last of 0 rows), so a run would look silent but for line
    ends. Progress displays print plain lines to anything else."""
    try:
        size = os.get_terminal_size(stream.fileno())
        return bool(stream.isatty()) and size.columns > 0 and size.lines > 0
    except (AttributeError, OSError, ValueError):
        return False
