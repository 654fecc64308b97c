"""Quiet runs of the PyTorch command lines: native start-up logs and framework loggers silenced for a run
(specs/torch-cli.md §5)."""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator

from ptycho.runtime.console import FRAMEWORK_LOGGERS

__all__ = ["silence_native_logs", "quiet_output"]


def silence_native_logs() -> None:
    """TensorBoard imports TensorFlow when it is installed; keep TF's C++ start-up log out of quiet runs.

    Must run before the first import of lightning/tensorboard (the variables are read at TF import).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


@contextlib.contextmanager
def quiet_output(quiet: bool) -> Iterator[None]:
    """With ``quiet``: silence Lightning's info logs and library warnings for the duration of a run.

    Our own deprecation warnings (messages starting with '--') stay visible: a user must learn that a
    flag goes away even in quiet mode.
    """
    if not quiet:
        yield
        return
    silence_native_logs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lightning.pytorch  # noqa: F401 - its import sets its loggers to INFO; adjust them afterwards
    saved = {name: logging.getLogger(name).level for name in FRAMEWORK_LOGGERS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.filterwarnings("always", category=DeprecationWarning, message="--")
        for name in FRAMEWORK_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
        try:
            yield
        finally:
            for name, level in saved.items():
                logging.getLogger(name).setLevel(level)
