"""The ``argparse`` value types of the option table (:mod:`ptycho_bridge.options`, specs/cli.md §4.3).

Each option of the table names one of these as its type, so they are part of the one typed description of the
training and inference options: ``ptycho train/infer`` and ``python -m ptycho_torch.train`` / ``.inference``
parse a value with the same function. The ``ptycho`` command's own subcommands (refine, convert, simulate)
reuse them; a type that only those use lives in :mod:`ptycho_cli.value_types`.

Each rejects a bad value at parse time with ``argparse.ArgumentTypeError``, which argparse turns into the
one-line usage error with exit code 2 (specs/cli.md, specs/torch-cli.md). Pure Python: no framework import.
"""

from __future__ import annotations

import argparse
import math

from ptycho.config.validation import max_time_seconds

__all__ = ["int_value", "positive_int", "nonnegative_int", "positive_float", "nonnegative_float", "max_time_value",
           "unit_interval", "closed_unit", "top_k_int", "devices_value"]


def int_value(text: str) -> int:
    """argparse type: any integer."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, found {text!r}") from None


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int_value(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, found {text!r}")
    return value


def nonnegative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    value = int_value(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, found {text!r}")
    return value


def _bounded_float(text: str, strict: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, found {text!r}") from None
    if not math.isfinite(value) or value < 0 or (strict and value == 0):
        raise argparse.ArgumentTypeError(f"expected a finite number {'>' if strict else '>='} 0, found {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (``1e9`` style accepted)."""
    return _bounded_float(text, strict=True)


def nonnegative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    return _bounded_float(text, strict=False)


def max_time_value(text: str) -> str:
    """argparse type: a positive wall-clock budget ``DD:HH:MM:SS`` (returned as given, Lightning's format)."""
    try:
        max_time_seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def unit_interval(text: str) -> float:
    """argparse type: a number >= 0 and < 1."""
    value = nonnegative_float(text)
    if value >= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0 and < 1, found {text!r}")
    return value


def closed_unit(text: str) -> float:
    """argparse type: a number >= 0 and <= 1."""
    value = nonnegative_float(text)
    if value > 1.0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0 and <= 1, found {text!r}")
    return value


def top_k_int(text: str) -> int:
    """argparse type for ``--checkpoint-save-top-k``: -1 (keep all), 0 (keep none) or a positive count."""
    value = int_value(text)
    if value < -1:
        raise argparse.ArgumentTypeError(f"expected -1 (all), 0 (none) or a positive integer, found {text!r}")
    return value


def devices_value(text: str) -> int | str:
    """argparse type for ``--devices``: a positive integer or 'auto'."""
    if text == "auto":
        return text
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', found {text!r}") from None
