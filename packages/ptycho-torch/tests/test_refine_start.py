"""Start objects and output windows of refinement (specs/refinement.md §5, §7)."""

from __future__ import annotations

import numpy as np
import pytest

from ptycho_torch.refine.start import crop, embed_start, output_object, output_window


def _field(x, y):
    return (1 + 0.2 * np.sin(0.15 * x)) * np.exp(1j * (0.1 * x + 0.05 * y))


def test_embed_start_puts_a_fractional_origin_canvas_on_the_integer_grid():
    """specs/refinement.md §5: object pixel (x, y) of the start holds the canvas's value at (x, y)."""
    ox, oy = 30.3, 40.7
    rr, cc = np.mgrid[0:50, 0:60]
    canvas = _field(ox + cc, oy + rr)
    positions = np.array([[60.0, 60.0], [70.0, 72.0]])
    out, (x0, y0) = embed_start(canvas, (ox, oy), positions, 16, margin=4)
    assert out.dtype == np.complex64
    # smooth field: the spline shift reproduces it inside (away from the canvas edges)
    for r, c in [(20, 20), (30, 41), (12, 35)]:
        assert out[r, c] == pytest.approx(_field(x0 + c, y0 + r), abs=2e-3)
    # every window of the positions (plus the margin) is inside; outside the canvas: median amplitude, phase 0
    assert x0 <= 60 - 8 - 4 and y0 <= 60 - 8 - 4
    assert x0 + out.shape[1] >= 70 + 8 + 4 and y0 + out.shape[0] >= 72 + 8 + 4
    assert out[-1, -1] == pytest.approx(np.median(np.abs(canvas)), rel=1e-6)


def test_embed_start_rejects_a_bad_canvas():
    """specs/refinement.md §6."""
    with pytest.raises(ValueError, match=r"^refine: start object: expected a finite 2-D canvas"):
        embed_start(np.full((4, 4), np.nan), (0, 0), np.zeros((1, 2)), 4)


def test_output_window_and_crop():
    """specs/refinement.md §7: the box of the positions grown by 10 px, cut from a canvas at its origin."""
    origin, shape = output_window(np.array([[20.2, 30.0], [50.0, 41.5]]))
    assert origin == (10, 20) and shape == (42 - 20 + 10, 60 - 10)
    obj = np.arange(100 * 100).reshape(100, 100)
    part = crop(obj, (5, 7), origin, shape)
    assert part.shape == shape and part[0, 0] == obj[20 - 7, 10 - 5]


@pytest.mark.parametrize("canvas_origin", [(0, 0), (15, 25)])
def test_output_object_keeps_the_window_with_its_origin(canvas_origin):
    """Each pixel of the kept object is the canvas pixel at the same object coordinates; a canvas starting inside
    the window clips it and moves the origin to the canvas's corner."""
    positions = np.array([[20.2, 30.0], [50.0, 41.5]])  # window: origin (10, 20), 32 x 50
    x0, y0 = canvas_origin
    rows, cols = np.mgrid[0:100, 0:100]
    canvas = ((cols + x0) + 1j * (rows + y0)).astype(np.complex128)  # value = its own object coordinates x + iy
    obj, corner = output_object(canvas, canvas_origin, positions)
    assert obj.dtype == np.complex64 and corner == (max(10, x0), max(20, y0))
    assert obj.shape == (32 - (corner[1] - 20), 50 - (corner[0] - 10))
    r, c = np.mgrid[0:obj.shape[0], 0:obj.shape[1]]
    np.testing.assert_array_equal(obj, (c + corner[0]) + 1j * (r + corner[1]))
