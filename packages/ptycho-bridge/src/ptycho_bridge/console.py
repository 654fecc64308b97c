"""What both command lines (``ptycho`` and ``python -m ptycho_torch.train`` / ``.inference``) quiet in a
``--quiet`` run: the Python loggers of the frameworks, set to ERROR; and what every run quiets: third-party
messages that say nothing about the run (an advertisement, a deprecation inside Lightning). Framework-free."""

from __future__ import annotations

import logging
import warnings

__all__ = ["FRAMEWORK_LOGGERS", "NOISE_MESSAGES", "quiet_third_party_noise"]

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
    """Drop Lightning's litlogger advert and the FutureWarning Lightning's own use of torch's deprecated
    ``LeafSpec`` raises (neither is about the user's run); idempotent. Errors and other warnings stay."""
    for name in _RANK_ZERO_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropNoise) for f in logger.filters):
            logger.addFilter(_DropNoise())
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*", category=FutureWarning)
