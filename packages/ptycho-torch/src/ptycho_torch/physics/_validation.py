"""Input checks shared by the torch physics (private). One clear line per failure."""

from __future__ import annotations

from typing import Any

import torch

_REAL = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_COMPLEX = (torch.complex64, torch.complex128)


def as_tensor(value: Any, name: str, func: str, *, allow_complex: bool = True,
              like: torch.Tensor | None = None) -> torch.Tensor:
    """Return ``value`` as a float/complex tensor (numpy arrays and lists are converted).

    Integer/bool input is promoted to float32 (or to ``like``'s real dtype). Other dtypes raise
    ``TypeError``. No finiteness check here: that would force a device sync inside training.
    """
    if not torch.is_tensor(value):
        value = torch.as_tensor(value)
        if like is not None:
            value = value.to(like.device)
    if value.dtype in _COMPLEX:
        if not allow_complex:
            raise TypeError(f"{func}: {name}: expected a real tensor, found dtype {value.dtype}")
        return value
    if value.dtype in _REAL:
        return value
    if value.dtype == torch.bool or not value.dtype.is_floating_point:
        target = real_dtype(like) if like is not None else torch.float32
        try:
            return value.to(target)
        except (TypeError, RuntimeError):
            pass
    raise TypeError(f"{func}: {name}: expected a float or complex tensor, found dtype {value.dtype}")


def check_ndim(t: torch.Tensor, ndims: tuple[int, ...], name: str, func: str, layout: str) -> None:
    """Raise ``ValueError`` unless ``t.dim()`` is one of ``ndims`` (``layout`` describes the shape)."""
    if t.dim() not in ndims:
        raise ValueError(f"{func}: {name}: expected shape {layout}, found shape {tuple(t.shape)}")


def check_shape(t: torch.Tensor, shape: tuple, name: str, func: str, layout: str) -> None:
    """Raise ``ValueError`` unless ``t.shape == shape`` (``None`` entries match anything)."""
    ok = t.dim() == len(shape) and all(s is None or int(a) == int(s) for a, s in zip(t.shape, shape, strict=False))
    if not ok:
        raise ValueError(f"{func}: {name}: expected shape {layout}, found shape {tuple(t.shape)}")


def check_positive_int(value: Any, name: str, func: str, minimum: int = 1) -> int:
    """Return ``value`` as int, raising ``ValueError`` unless it is an integer >= ``minimum``."""
    if isinstance(value, bool):
        raise ValueError(f"{func}: {name}: expected an integer >= {minimum}, found {value!r}")
    try:
        iv = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{func}: {name}: expected an integer >= {minimum}, found {value!r}") from None
    if iv != value or iv < minimum:
        raise ValueError(f"{func}: {name}: expected an integer >= {minimum}, found {value!r}")
    return iv


def real_dtype(t: torch.Tensor) -> torch.dtype:
    """float64 for float64/complex128, else float32 (the real precision of ``t``)."""
    return torch.float64 if t.dtype in (torch.float64, torch.complex128) else torch.float32


def complex_dtype(t: torch.Tensor) -> torch.dtype:
    """complex128 for float64/complex128, else complex64."""
    return torch.complex128 if t.dtype in (torch.float64, torch.complex128) else torch.complex64
