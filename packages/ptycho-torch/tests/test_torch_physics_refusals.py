"""The torch mirror refuses bad arguments with the reference's exact line (both call ptycho.physics.checks):
each case runs the numpy operator on numpy arrays and the torch operator on tensors of the same values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ptycho.physics as R
import ptycho_torch.physics as T

N = 8


def _rel(b: int, c: int) -> np.ndarray:
    return np.zeros((b, 1, 2, c))


def _patches(b: int, c: int) -> np.ndarray:
    return np.ones((b, N, N, c), np.complex128)


#: (operator name, positional arguments as numpy arrays / scalars, keyword arguments, the argument refused)
CASES = [
    ("reassemble_groups", (_patches(2, 4), _rel(2, 4), N - 1), {}, "M"),
    ("extract_from_canvas", (np.ones((2, 10, 10)), _rel(2, 4), 11), {}, "N"),
    ("grid_to_channel", (np.ones((2, 2, 3, N, N, 1)),), {}, "x"),
    ("incoherent_amplitude", (np.ones((3, N, N), np.complex64),), {"mode_axis": -2}, "exit_waves"),
    ("forward_model", (_patches(2, 4), np.ones((2, 5, 5), np.complex128), _rel(2, 4), 1.0), {}, "probe"),
    ("forward_model", (_patches(2, 1), np.ones((N, N), np.complex128), _rel(2, 4), 1.0), {}, "object_patches"),
    ("forward_model", (_patches(2, 4), np.ones((N, N), np.complex128), _rel(2, 4), 1.0), {"object_big": False},
     "object_patches"),
    ("forward_model", (_patches(2, 3), np.ones((N, N), np.complex128), _rel(2, 3), 1.0), {}, "coords_relative"),
    ("forward_model", (_patches(2, 4), np.ones((N, N), np.complex128), _rel(2, 4), 1.0), {"M": 6}, "M"),
    ("forward_model", (_patches(2, 4), np.ones((N, N), np.complex128), _rel(3, 4), 1.0), {}, "coords_relative"),
    ("extract_from_canvas", (np.ones((2, 12, 12)), _rel(2, 4)[:, :, :1], N), {}, "coords_relative"),
    ("reassemble_groups", (_patches(2, 4), _rel(2, 1), 12), {}, "coords_relative"),
    ("forward_model", (np.ones((2, N, N), np.complex128), np.ones((N, N), np.complex128), _rel(2, 1), 1.0), {},
     "object_patches"),
    ("illuminate_channels", (np.ones((2, N, N - 1, 1), np.complex128), np.ones((N, N), np.complex128)), {},
     "patches"),
    ("reassemble_groups", (np.ones((2, 0, 0, 4), np.complex128), _rel(2, 4), 12), {}, "patches"),
    ("far_field_amplitude", (np.ones(N, np.complex128),), {}, "field"),
    ("illuminate", (np.ones(N, np.complex128), np.ones((N, N), np.complex128)), {}, "patches"),
    ("illuminate", (np.ones((2, N, N - 1), np.complex128), np.ones((N, N), np.complex128)), {}, "patches"),
    ("modulus_projections", (np.ones((2, N, N - 1)), np.ones((N, N), np.complex128), 1), {}, "amplitude"),
    ("modulus_projections", (np.ones((2, N, N)), np.ones((N, N), np.complex128), -1), {}, "iterations"),
]


def _tensor(a):
    return torch.from_numpy(a) if isinstance(a, np.ndarray) else a


@pytest.mark.parametrize("name, args, kwargs, refused", CASES, ids=[f"{c[0]}-{c[3]}" for c in CASES])
def test_torch_refuses_with_the_reference_line(name, args, kwargs, refused):
    with pytest.raises(ValueError) as ref:
        getattr(R, name)(*args, **kwargs)
    with pytest.raises(ValueError) as mirror:
        getattr(T, name)(*(_tensor(a) for a in args), **kwargs)
    assert str(mirror.value) == str(ref.value)
    assert str(ref.value).startswith(f"{name}: {refused}: expected ") and "\n" not in str(ref.value)
