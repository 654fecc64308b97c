"""``ptycho.metrics.placement`` against closed forms: the coverage window is the brute-force largest covered
rectangle, placement recovers a known offset both from ``origin_xy`` and by search, bad input is one ValueError
line (specs/cli.md §5)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ptycho.metrics.placement import REGISTRATION_BORDER, covered_box, evaluate_arrays, place_on_ground_truth


def _brute_force_box_area(mask: np.ndarray) -> int:
    h, w = mask.shape
    best = 0
    for r0 in range(h):
        for r1 in range(r0 + 1, h + 1):
            for c0 in range(w):
                for c1 in range(c0 + 1, w + 1):
                    if mask[r0:r1, c0:c1].all():
                        best = max(best, (r1 - r0) * (c1 - c0))
    return best


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.booleans(), min_size=5, max_size=5), min_size=4, max_size=4))
def test_covered_box_is_the_largest_full_rectangle(rows: list[list[bool]]) -> None:
    mask = np.array(rows)
    img = mask.astype(np.complex64)
    if not mask.any():
        with pytest.raises(ValueError, match="all-zero image"):
            covered_box(img)
        return
    r0, r1, c0, c1 = covered_box(img)
    assert mask[r0:r1, c0:c1].all()
    assert (r1 - r0) * (c1 - c0) == _brute_force_box_area(mask)


def _object(shape: tuple[int, int] = (64, 64), seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.5 + rng.random(shape)) * np.exp(1j * (rng.random(shape) - 0.5))


def test_placement_from_origin_and_by_search_recovers_the_known_offset() -> None:
    gt = _object()
    canvas = np.zeros((30, 34), np.complex128)
    canvas[2:28, 3:31] = gt[12:38, 9:37]  # covered rows 2..27, cols 3..30; canvas[0, 0] is object (x=6, y=10)
    for origin, placement in ((np.array([6.0, 10.0]), "origin"), (None, "search")):
        win, target, info = place_on_ground_truth(canvas, gt, origin)
        assert info["box"] == [2, 28, 3, 31] and info["gt_offset"] == [12, 9] and info["placement"] == placement
        np.testing.assert_array_equal(win, target)
    metrics, shown, truth = evaluate_arrays(canvas, gt, np.array([6.0, 10.0]), register=False)
    assert shown.shape == truth.shape == (26 - 2 * REGISTRATION_BORDER, 28 - 2 * REGISTRATION_BORDER)
    assert metrics["amplitude"]["mae"] == pytest.approx(0.0, abs=1e-12)
    assert metrics["placement"]["placement"] == "origin"


def test_bad_placements_are_one_line_value_errors() -> None:
    gt = _object((20, 20))
    with pytest.raises(ValueError, match=r"no larger than the ground truth \(20, 20\), found \(24, 24\)"):
        place_on_ground_truth(np.ones((24, 24), np.complex128), gt, None)
    with pytest.raises(ValueError, match="places it outside the ground truth"):
        place_on_ground_truth(np.ones((12, 12), np.complex128), gt, np.array([40.0, 40.0]))
    with pytest.raises(ValueError, match="at least 11 pixels per side, found \\(8, 8\\)"):
        place_on_ground_truth(np.ones((8, 8), np.complex128), gt, None)
