"""Field validators shared by the canonical configs and ptycho-bridge's PyTorch-native configs.

Each ``check_*`` raises ``ValueError("<Owner>.<field>: expected <allowed>, got <value>")`` — one line that
names the field, the value and what is allowed (specs/config.md §1).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn

__all__ = ["fail", "is_int", "is_number", "check_choice", "check_int", "check_float", "check_bool", "as_path",
           "set_paths", "max_time_seconds", "check_max_time", "MAX_TIME_FORMAT"]

#: The wall-clock budget format (Lightning's ``Trainer(max_time=...)`` string form).
MAX_TIME_FORMAT = "DD:HH:MM:SS"


def fail(owner: str, name: str, value: Any, expected: str) -> NoReturn:
    """Raise the one-line ValueError every config uses."""
    raise ValueError(f"{owner}.{name}: expected {expected}, got {value!r}")


def is_int(value: Any) -> bool:
    """True for a Python int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """True for an int or float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_choice(owner: str, name: str, value: Any, allowed: tuple) -> None:
    """``value`` must be one of the string choices ``allowed``."""
    if not isinstance(value, str) or value not in allowed:
        fail(owner, name, value, "one of " + ", ".join(repr(a) for a in allowed))


def check_int(owner: str, name: str, value: Any, minimum: int, optional: bool = False) -> None:
    """``value`` must be an int >= ``minimum`` (or None when ``optional``)."""
    if optional and value is None:
        return
    if not is_int(value) or value < minimum:
        fail(owner, name, value, f"an integer >= {minimum}" + (" or None" if optional else ""))


def check_float(
    owner: str,
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    optional: bool = False,
) -> None:
    """``value`` must be a finite number within the given bounds (or None when ``optional``)."""
    if optional and value is None:
        return
    ok = is_number(value) and math.isfinite(float(value))
    if ok and low is not None:
        ok = float(value) > low if low_open else float(value) >= low
    if ok and high is not None:
        ok = float(value) <= high
    if not ok:
        parts = ["a finite number"]
        if low is not None:
            parts.append(("> " if low_open else ">= ") + repr(low))
        if high is not None:
            parts.append("<= " + repr(high))
        fail(owner, name, value, " ".join(parts) + (" or None" if optional else ""))


def max_time_seconds(value: str) -> float:
    """Seconds of a ``DD:HH:MM:SS`` budget (e.g. '00:00:14:00' = 840.0); ValueError when malformed or zero.

    Each field is a non-negative integer; hours < 24, minutes and seconds < 60 (days unbounded).
    """
    parts = value.split(":") if isinstance(value, str) else []
    ok = len(parts) == 4 and all(p.isdigit() for p in parts)
    if ok:
        d, h, m, s = (int(p) for p in parts)
        ok = h < 24 and m < 60 and s < 60 and (d, h, m, s) != (0, 0, 0, 0)
    if not ok:
        raise ValueError(f"expected a positive wall-clock budget {MAX_TIME_FORMAT} (e.g. '00:00:14:00'), got {value!r}")
    return float(((d * 24 + h) * 60 + m) * 60 + s)


def check_max_time(owner: str, name: str, value: Any) -> float | None:
    """``value`` must be None or a positive ``DD:HH:MM:SS`` string; returns its seconds (None for None)."""
    if value is None:
        return None
    try:
        return max_time_seconds(value)
    except ValueError:
        fail(owner, name, value, f"None or a positive wall-clock budget {MAX_TIME_FORMAT} (e.g. '00:00:14:00')")


def check_bool(owner: str, name: str, value: Any) -> None:
    """``value`` must be True or False (not 0/1, not a string)."""
    if not isinstance(value, bool):
        fail(owner, name, value, "True or False")


def as_path(owner: str, name: str, value: Any, optional: bool) -> Path | None:
    """A non-empty str or Path becomes a Path; None only when ``optional`` ('' would silently mean '.')."""
    if value is None and optional:
        return None
    if isinstance(value, (str, Path)) and str(value) != "":
        return Path(value)
    fail(owner, name, value, "a non-empty path (str or pathlib.Path)" + (" or None" if optional else ""))
    return None  # unreachable


def set_paths(obj: Any, owner: str, fields: Iterable[tuple[str, bool]]) -> None:
    """Store each named field of the (possibly frozen) dataclass ``obj`` as :func:`as_path` makes it;
    ``fields``: (name, None allowed) pairs. ValueError names ``owner.name`` for a bad value."""
    for name, optional in fields:
        object.__setattr__(obj, name, as_path(owner, name, getattr(obj, name), optional))
