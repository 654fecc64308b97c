"""The argument checks the numpy reference shares with the torch mirror (ptycho.physics.checks): each refused
input is one ``ValueError`` line naming the function, the argument, what was expected and what was found."""

from __future__ import annotations

import numpy as np
import pytest

from ptycho import physics
from ptycho.physics import checks

N = 8


def _rel(b: int, c: int) -> np.ndarray:
    return np.zeros((b, 1, 2, c))


def _patches(b: int, c: int) -> np.ndarray:
    return np.ones((b, N, N, c), np.complex128)


#: (call, the exact message): the reference operators refusing one argument each
REFUSALS = [
    (lambda: physics.reassemble_groups(_patches(2, 4), _rel(2, 4), N - 1),
     "reassemble_groups: M: expected a canvas side >= N=8, found 7"),
    (lambda: physics.extract_from_canvas(np.ones((2, 10, 10)), _rel(2, 4), 11),
     "extract_from_canvas: N: expected a patch side <= canvas side M=10, found 11"),
    (lambda: physics.grid_to_channel(np.ones((2, 2, 3, N, N, 1))),
     "grid_to_channel: x: expected shape (B, gs, gs, N, N, 1), found shape (2, 2, 3, 8, 8, 1)"),
    (lambda: physics.incoherent_amplitude(np.ones((3, N, N), np.complex64), mode_axis=-2),
     "incoherent_amplitude: exit_waves: expected shape (..., K, N, N) with the modes on an axis before the last "
     "two, found shape (3, 8, 8) (mode_axis=-2)"),
    (lambda: physics.forward_model(_patches(2, 4), np.ones((2, 5, 5)), _rel(2, 4), 1.0),
     "forward_model: probe: expected shape (8, 8) or (K, 8, 8) matching the patches, found shape (2, 5, 5)"),
    (lambda: physics.forward_model(_patches(2, 1), np.ones((N, N)), _rel(2, 4), 1.0),
     "forward_model: object_patches: expected 4 channels like coords_relative (object_big=True), found shape "
     "(2, 8, 8, 1)"),
    (lambda: physics.forward_model(_patches(2, 4), np.ones((N, N)), _rel(2, 4), 1.0, object_big=False),
     "forward_model: object_patches: expected shape (2, 8, 8, 1) when object_big=False, found shape (2, 8, 8, 4)"),
    (lambda: physics.forward_model(_patches(2, 3), np.ones((N, N)), _rel(2, 3), 1.0),
     "forward_model: coords_relative: expected C = gridsize**2 channels, found C=3"),
    (lambda: physics.forward_model(_patches(2, 4), np.ones((N, N)), _rel(2, 4), 1.0, M=6),
     "forward_model: M: expected a canvas side >= N=8, found 6"),
]


@pytest.mark.parametrize("call, message", REFUSALS, ids=[m.split(":")[0] + ":" + m.split(":")[1] for _, m in REFUSALS])
def test_reference_refusals_are_one_line(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message


def test_checks_pass_valid_values_through():
    assert checks.check_canvas_side(12, 8, "f") == 12 and checks.check_patch_side(8, 8, "f") == 8
    assert checks.grid_shape((5, 3, 3, 8, 9, 1), "f") == (5, 3, 8, 9)
    assert checks.mode_axis((2, 3, 8, 8), -3, "f") == 1 and checks.mode_axis((3, 8, 8), 0, "f") == 0
    assert checks.is_mode_stack((3, 8, 8), 8, "f") and not checks.is_mode_stack((8, 8), 8, "f")
    assert not checks.is_mode_stack((8, 8, 1), 8, "f")
    assert checks.patch_gridsize((2, 8, 8, 9), 9, True, "f") == 3
    assert checks.patch_gridsize((2, 8, 8, 1), 4, False, "f") == 2
