"""The pattern size ``ModelConfig.N`` when it is known only once the data are read (specs/config.md §2.1).

ptychodus builds ``ModelConfig(N=0, ...)`` before it has opened the training data and assigns
``config.model.N = <pattern side>`` afterwards. ``N = 0`` therefore means *taken from the data*: the
config is valid to build and to carry around, the one assignment ``model.N = n`` (n in 64, 128, 256) is
allowed while N is 0, and every use that needs the size (training in both backends, building a network)
calls :func:`require_n`, which names the field when it is still 0. Any other assignment to a
``ModelConfig`` field still raises ``dataclasses.FrozenInstanceError``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["ALLOWED_N", "N_FROM_DATA", "check_n", "assign_n_once", "require_n"]

ALLOWED_N = (64, 128, 256)
#: ``ModelConfig.N`` value meaning "not known yet: assigned from the data before use".
N_FROM_DATA = 0


def _is_size(value: Any, allowed: tuple[int, ...]) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value in allowed


def check_n(value: Any, *, allow_unset: bool) -> None:
    """ValueError ``ModelConfig.N: expected ..., got ...`` unless ``value`` is an allowed size
    (or 0 when ``allow_unset``)."""
    allowed = ALLOWED_N + ((N_FROM_DATA,) if allow_unset else ())
    if not _is_size(value, allowed):
        extra = " (or 0: taken from the data, assigned before use)" if allow_unset else ""
        raise ValueError(f"ModelConfig.N: expected one of 64, 128, 256{extra}, got {value!r}")


def assign_n_once(self: Any, name: str, value: Any) -> None:
    """``ModelConfig.__setattr__``: only ``N``, only while it is 0, only to an allowed size."""
    if name == "N" and self.__dict__.get("N") == N_FROM_DATA:
        check_n(value, allow_unset=False)
        object.__setattr__(self, "N", value)
        return
    raise dataclasses.FrozenInstanceError(
        f"cannot assign to field {name!r} (ModelConfig is frozen; only N=0 may be assigned once, from the data)")


def require_n(model: Any, use: str) -> int:
    """``model.N`` for a use that needs the pattern size; ValueError naming the field while it is 0."""
    n = getattr(model, "N", N_FROM_DATA)
    if n == N_FROM_DATA:
        raise ValueError(f"ModelConfig.N: expected one of 64, 128, 256 before {use}, got 0 "
                         "(N=0 means 'taken from the data': assign config.model.N = <pattern size> first)")
    return int(n)
