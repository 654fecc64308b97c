"""The argument checks the numpy reference shares with the torch mirror (ptycho.physics.checks): each refused
value is one ``ValueError`` line naming the function, the argument, what was expected and what was found
(the operators that call them: packages/ptycho-torch/tests/test_torch_physics_refusals.py, both frameworks)."""

from __future__ import annotations

import pytest

from ptycho.physics import checks

#: (a check refusing its input, the exact message)
REFUSALS = [
    (lambda: checks.check_canvas_side(7, 8, "reassemble_groups"),
     "reassemble_groups: M: expected a canvas side >= N=8, found 7"),
    (lambda: checks.check_patch_side(11, 10, "extract_from_canvas"),
     "extract_from_canvas: N: expected a patch side <= canvas side M=10, found 11"),
    (lambda: checks.grid_shape((2, 2, 3, 8, 8, 1), "grid_to_channel"),
     "grid_to_channel: x: expected shape (B, gs, gs, N, N, 1), found shape (2, 2, 3, 8, 8, 1)"),
    (lambda: checks.grid_shape((2, 2, 2, 8, 8, 3), "grid_to_channel"),
     "grid_to_channel: x: expected shape (B, gs, gs, N, N, 1), found shape (2, 2, 2, 8, 8, 3)"),
    (lambda: checks.mode_axis((3, 8, 8), -2, "incoherent_amplitude"),
     "incoherent_amplitude: exit_waves: expected shape (..., K, N, N) with the modes on an axis before the last "
     "two, found shape (3, 8, 8) (mode_axis=-2)"),
    (lambda: checks.mode_axis((8, 8), 0, "incoherent_amplitude"),
     "incoherent_amplitude: exit_waves: expected shape (..., K, N, N) with the modes on an axis before the last "
     "two, found shape (8, 8) (mode_axis=0)"),
    (lambda: checks.is_mode_stack((2, 5, 5), 8, "forward_model"),
     "forward_model: probe: expected shape (8, 8) or (K, 8, 8) matching the patches, found shape (2, 5, 5)"),
    (lambda: checks.patch_gridsize((2, 8, 8, 1), 4, True, "forward_model"),
     "forward_model: object_patches: expected 4 channels like coords_relative (object_big=True), found shape "
     "(2, 8, 8, 1)"),
    (lambda: checks.patch_gridsize((2, 8, 8, 4), 4, False, "forward_model"),
     "forward_model: object_patches: expected shape (2, 8, 8, 1) when object_big=False, found shape (2, 8, 8, 4)"),
    (lambda: checks.patch_gridsize((2, 8, 8, 3), 3, True, "forward_model"),
     "forward_model: coords_relative: expected C = gridsize**2 channels, found C=3"),
]


@pytest.mark.parametrize("call, message", REFUSALS, ids=[m.split(" expected")[0] for _, m in REFUSALS])
def test_refusals_are_one_line(call, message):
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
