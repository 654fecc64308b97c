"""ptycho.physics.canvas_origin: where a reassemble_position canvas sits in the object (specs/physics.md §6)."""

from __future__ import annotations

import numpy as np
import pytest

from ptycho.physics import reassemble_position
from ptycho.physics.patches import STITCH_M, canvas_origin


@pytest.mark.parametrize("M", [STITCH_M, 15, 32])
def test_a_delta_lands_at_its_object_point(M: int) -> None:
    """A delta at the centre of patch 0 (object point offsets[0]) lands at canvas index offsets[0] - origin."""
    rng = np.random.default_rng(M)
    half = rng.integers(40, 120, size=(6, 2)).astype(np.float64)
    offsets = np.concatenate([half, 2 * np.array([80.0, 75.0]) - half])  # integer mean -> integer shifts
    N = 64
    patches = np.zeros((12, N, N), np.complex64)
    patches[0, N // 2, N // 2] = 1.0
    canvas = reassemble_position(patches, offsets, M=M)
    row, col = np.unravel_index(np.argmax(np.abs(canvas)), canvas.shape)
    for side in (canvas.shape, canvas.shape[0]):  # the canvas shape or its side
        origin = canvas_origin(offsets, side, M)
        assert (col + origin[0], row + origin[1]) == pytest.approx(tuple(offsets[0]), abs=1e-9)
    assert canvas_origin(offsets[:, None, :, None], canvas.shape[0], M) == pytest.approx(origin)  # (P, 1, 2, 1)
