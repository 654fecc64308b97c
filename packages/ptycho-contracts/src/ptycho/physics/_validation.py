"""Input checks shared by the numpy reference physics (private helpers).

Every public function of :mod:`ptycho.physics` validates its arguments with these helpers so that
bad input fails with one clear line naming the argument, what was expected and what was found.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ptycho.physics.checks import check_positive_float, check_positive_int  # noqa: F401  (re-exported for the physics modules)

_FLOAT_KINDS = "f"
_COMPLEX_KINDS = "c"


def as_array(value: Any, name: str, func: str, *, allow_complex: bool = True) -> np.ndarray:
    """Return ``value`` as a float or complex ndarray, keeping float32/float64/complex64/complex128.

    Integer and boolean arrays are promoted to float64 (counts stored as uint16, masks). Anything
    else (object, string arrays) raises ``TypeError``. Non-finite values raise ``ValueError``.
    """
    arr = np.asarray(value)
    kind = arr.dtype.kind
    if kind in "iub":
        arr = arr.astype(np.float64)
    elif kind == _COMPLEX_KINDS and not allow_complex:
        raise TypeError(f"{func}: {name}: expected a real array, found dtype {arr.dtype}")
    elif kind not in _FLOAT_KINDS + _COMPLEX_KINDS:
        raise TypeError(f"{func}: {name}: expected a float or complex array, found dtype {arr.dtype}")
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{func}: {name}: expected finite values, found NaN or inf")
    return arr


def check_ndim(arr: np.ndarray, ndims: tuple[int, ...], name: str, func: str, layout: str) -> None:
    """Raise ``ValueError`` unless ``arr.ndim`` is one of ``ndims`` (``layout`` describes the shape)."""
    if arr.ndim not in ndims:
        raise ValueError(f"{func}: {name}: expected shape {layout}, found shape {arr.shape}")


def check_square(arr: np.ndarray, axes: tuple[int, int], name: str, func: str, layout: str) -> int:
    """Raise ``ValueError`` unless the two ``axes`` have equal length; return that length."""
    a, b = arr.shape[axes[0]], arr.shape[axes[1]]
    if a != b or a == 0:
        raise ValueError(
            f"{func}: {name}: expected square non-empty patches {layout}, found shape {arr.shape}"
        )
    return int(a)


def real_dtype_for(arr: np.ndarray) -> np.dtype:
    """float32 for float32/complex64 inputs, float64 otherwise (the precision the caller gave)."""
    return np.dtype(np.float32) if arr.dtype in (np.float32, np.complex64) else np.dtype(np.float64)


def complex_dtype_for(arr: np.ndarray) -> np.dtype:
    """complex64 for float32/complex64 inputs, complex128 otherwise."""
    return np.dtype(np.complex64) if arr.dtype in (np.float32, np.complex64) else np.dtype(np.complex128)
