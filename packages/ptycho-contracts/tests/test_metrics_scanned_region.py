"""specs/metrics.md §5: the scanned region of a canvas, against a brute-force reference."""

from __future__ import annotations

import numpy as np

from ptycho.metrics import SCANNED_HALF_WIDTH, scanned_mask


def _reference(positions: np.ndarray, shape: tuple[int, int], origin: np.ndarray, half: float) -> np.ndarray:
    rr, cc = np.mgrid[0:shape[0], 0:shape[1]]
    x, y = origin[0] + cc, origin[1] + rr
    out = np.zeros(shape, dtype=bool)
    for px, py in positions:
        out |= (np.abs(px - x) < half) & (np.abs(py - y) < half)
    return out


def test_scanned_mask_is_the_union_of_squares_around_the_positions():
    rng = np.random.default_rng(0)
    positions = rng.uniform(20.0, 90.0, size=(40, 2))
    positions[0] = (30.0, 40.0)  # an integer position: its square's edge pixels lie exactly half px away
    origin = np.array([5.5, -3.25])
    for half in (SCANNED_HALF_WIDTH, 3):
        got = scanned_mask(positions, (120, 110), origin, half=half)
        np.testing.assert_array_equal(got, _reference(positions, (120, 110), origin, half))


def test_a_round_scan_leaves_its_bounding_box_corners_out():
    """A Fermat-like disk of positions: the corners of its bounding box are not scanned."""
    t = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    r = np.sqrt(np.linspace(0, 1, 200)) * 40
    positions = np.stack([60 + r * np.cos(7 * t), 60 + r * np.sin(7 * t)], axis=1)
    mask = scanned_mask(positions, (120, 120), np.zeros(2))
    assert mask[60, 60] and not mask[12, 12] and not mask[108, 108] and not mask[0, 0]
