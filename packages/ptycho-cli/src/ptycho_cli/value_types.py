"""``argparse`` value types of the ``ptycho`` command's own flags that the option table does not describe.

The types of the training and inference options are :mod:`ptycho_bridge.option_types` (part of the option
table); this module holds those only the ``ptycho`` subcommands use. Each rejects a bad value at parse time with
``argparse.ArgumentTypeError`` (the one-line usage error, exit code 2; specs/cli.md §1).
"""

from __future__ import annotations

import argparse

from ptycho_bridge.option_types import positive_float

__all__ = ["positive_float_list"]


def positive_float_list(text: str) -> list[float]:
    """argparse type: comma-separated finite numbers > 0 (``0.7,0.2,0.1``), e.g. ``ptycho simulate --mode-powers``."""
    try:
        return [positive_float(part.strip()) for part in str(text).split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers > 0, found {text!r}") from None
