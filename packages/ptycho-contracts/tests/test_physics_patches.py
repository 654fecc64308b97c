"""Pins specs/physics.md §3-§6: extract_patches, reassemble_groups, extract_from_canvas,
canvas_size, reassemble_position (round trips with integer offsets, signs, normalisation)."""

import numpy as np
import pytest

from ptycho.physics import (
    canvas_size,
    extract_from_canvas,
    extract_patches,
    reassemble_groups,
    reassemble_position,
)


def _object(h=40, w=44, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(h, w)) + 1j * rng.normal(size=(h, w))).astype(np.complex128)


def test_extract_patches_centre_and_pixels():
    """specs/physics.md §3: patch[i, j] = obj[y - N//2 + i, x - N//2 + j]; centre index (N/2, N/2)."""
    obj = _object()
    n = 8
    pos = np.array([[10.0, 12.0], [30.0, 20.0]])
    patches = extract_patches(obj, pos, n)
    assert patches.shape == (2, n, n) and patches.dtype == np.complex128
    for k, (x, y) in enumerate(pos.astype(int)):
        np.testing.assert_array_equal(patches[k], obj[y - n // 2 : y + n // 2, x - n // 2 : x + n // 2])
        assert patches[k, n // 2, n // 2] == obj[y, x]


def test_extract_patches_subpixel_and_zero_outside():
    """specs/physics.md §3: bilinear between pixels, zero outside the object."""
    obj = np.ones((10, 10))
    p = extract_patches(obj, np.array([[0.0, 0.0]]), 4)[0]
    np.testing.assert_array_equal(p[:2], 0.0)
    np.testing.assert_array_equal(p[2:, 2:], 1.0)
    ramp = np.tile(np.arange(10.0), (10, 1))  # value = column
    q = extract_patches(ramp, np.array([[5.25, 5.0]]), 4)[0]
    np.testing.assert_allclose(q[0], [3.25, 4.25, 5.25, 6.25], atol=1e-12)


def _group(obj, centres, rel_xy, n):
    """Ground-truth group: patches at centre - rel (coords_relative sign -1)."""
    b, c = len(centres), rel_xy.shape[1]
    coords_rel = np.zeros((b, 1, 2, c))
    patches = np.zeros((b, n, n, c), dtype=obj.dtype)
    for bi, (cx, cy) in enumerate(centres):
        for ci in range(c):
            rx, ry = rel_xy[bi, ci]
            coords_rel[bi, 0, :, ci] = [rx, ry]
            patches[bi, :, :, ci] = extract_patches(obj, np.array([[cx - rx, cy - ry]]), n)[0]
    return patches, coords_rel


@pytest.mark.parametrize("gridsize", [1, 2])
def test_reassemble_then_extract_round_trip(gridsize):
    """specs/physics.md §4: extract_from_canvas(reassemble_groups(P, c, M), c, N) == P (integer offsets)."""
    obj = _object(60, 60)
    n = 16
    c = gridsize**2
    rng = np.random.default_rng(3)
    centres = [(30.0, 28.0), (26.0, 33.0), (31.0, 30.0)]
    if gridsize == 1:
        rel = np.zeros((3, 1, 2))
    else:
        rel = rng.integers(-5, 6, size=(3, c, 2)).astype(np.float64)
        rel[:, 0] = [3.0, -2.0]  # non-zero for sure
    patches, coords_rel = _group(obj, centres, rel, n)
    m = canvas_size(n, gridsize, coords_rel)
    assert m % 2 == 0 and m >= n + 2 * int(np.abs(rel).max())
    canvas = reassemble_groups(patches, coords_rel, m)
    assert canvas.shape == (3, m, m) and canvas.dtype == np.complex128
    back = extract_from_canvas(canvas, coords_rel, n)
    np.testing.assert_allclose(back, patches, atol=1e-5)
    # the canvas holds the object around the group centre: canvas[M//2 + v, M//2 + u] = obj[cy + v, cx + u]
    cx, cy = (int(v) for v in centres[0])
    np.testing.assert_allclose(canvas[0, m // 2, m // 2], obj[cy, cx], atol=1e-12)
    # sign: the member at position centre - rel has its patch centre at canvas (M//2 - rel_y, M//2 - rel_x)
    rx, ry = (int(v) for v in rel[0, 0])
    np.testing.assert_allclose(canvas[0, m // 2 - ry, m // 2 - rx], patches[0, n // 2, n // 2, 0], atol=1e-12)


def test_reassemble_groups_averages_and_never_amplifies():
    """specs/physics.md §4: overlaps are averaged (divide by max(count, 1)); border never amplified."""
    n, m = 8, 20
    patches = np.ones((1, n, n, 4), dtype=np.complex64)
    rel = np.zeros((1, 1, 2, 4))
    rel[0, 0, :, 1] = [3.0, 0.0]
    rel[0, 0, :, 2] = [0.0, -2.5]
    rel[0, 0, :, 3] = [1.5, 1.5]
    canvas = reassemble_groups(patches, rel, m)
    assert canvas.dtype == np.complex64
    assert np.max(np.abs(canvas)) <= 1.0 + 1e-6
    np.testing.assert_allclose(canvas[0, m // 2, m // 2], 1.0, atol=1e-6)


def test_groups_are_never_merged():
    """specs/physics.md §4: group b's canvas only depends on group b's patches."""
    rng = np.random.default_rng(4)
    patches = rng.normal(size=(3, 8, 8, 4)) + 0j
    rel = rng.uniform(-2, 2, size=(3, 1, 2, 4))
    full = reassemble_groups(patches, rel, 14)
    single = reassemble_groups(patches[1:2], rel[1:2], 14)
    np.testing.assert_allclose(full[1:2], single, atol=1e-12)


def test_canvas_size_original_formula_and_even():
    """specs/physics.md §5: N + (gs-1)*offset + jitter, raised to fit the offsets, even."""
    assert canvas_size(64, 1) == 74
    assert canvas_size(64, 2) == 78
    assert canvas_size(64, 2, offset=3) == 78  # 77 rounded up to even
    rel = np.zeros((1, 1, 2, 4))
    rel[0, 0, 0, 0] = 12.2
    assert canvas_size(64, 2, rel) == 64 + 2 * 13


def test_reassemble_position_reproduces_object_interior():
    """specs/physics.md §6: stitching exact patches at integer positions reproduces the object."""
    obj = _object(50, 50, seed=5)
    n, m = 16, 10
    xs, ys = np.meshgrid(np.arange(12, 39, 3.0), np.arange(12, 39, 3.0))
    pos = np.stack([xs.ravel(), ys.ravel()], axis=1)
    patches = extract_patches(obj, pos, n).astype(np.complex64)
    stitched = reassemble_position(patches[..., None], pos[:, None, :, None], M=m)
    centred = pos - pos.mean(axis=0)
    pad = int(np.ceil(np.abs(centred).max()))
    pad += pad % 2
    assert stitched.shape == (m + 2 * pad, m + 2 * pad) and stitched.dtype == np.complex64
    # canvas index (pad + M//2 + v, pad + M//2 + u) holds obj[mean_y + v, mean_x + u]
    mx, my = pos.mean(axis=0)
    assert mx == my == 24.0
    covered = stitched != 0
    side = 36 - 12 + m  # union of the crops: rows/cols 12 - M//2 ... 36 + M//2 - 1
    assert covered.sum() == side * side
    rows, cols = np.nonzero(covered)
    obj_r = rows - (pad + m // 2) + 24
    obj_c = cols - (pad + m // 2) + 24
    assert obj_r.min() == 12 - m // 2 and obj_r.max() == 36 + m // 2 - 1
    np.testing.assert_allclose(stitched[rows, cols], obj[obj_r, obj_c], atol=1e-5)


def test_reassemble_position_divides_by_count_and_zero_outside():
    """specs/physics.md §6: overlap-count normalisation; uncovered pixels are exactly 0."""
    patches = np.full((2, 8, 8), 2.0 + 1j)
    out = reassemble_position(patches, np.array([[0.0, 0.0], [6.5, 0.0]]), M=4)
    covered = np.abs(out) > 0
    np.testing.assert_allclose(out[covered], 2.0 + 1j, atol=1e-12)
    assert 0 < covered.sum() < out.size


def test_reassemble_position_matches_translate_reference():
    """specs/physics.md §6: scatter implementation equals pad + translate + sum / count (sub-pixel)."""
    from ptycho.physics import translate

    rng = np.random.default_rng(6)
    p, n, m = 5, 12, 6
    patches = rng.normal(size=(p, n, n)) + 1j * rng.normal(size=(p, n, n))
    offs = rng.uniform(-4, 4, size=(p, 2))
    out = reassemble_position(patches, offs, M=m)
    c = offs - offs.mean(axis=0)
    pad = int(np.ceil(np.abs(c).max()))
    pad += pad % 2
    crops = patches[:, n // 2 - m // 2 : n // 2 + m // 2, n // 2 - m // 2 : n // 2 + m // 2]
    padded = np.pad(crops, ((0, 0), (pad, pad), (pad, pad)))
    num = translate(padded, c).sum(axis=0)
    den = translate(np.pad(np.ones_like(crops.real), ((0, 0), (pad, pad), (pad, pad))), c).sum(axis=0)
    ref = np.where(den > 1e-6, num / np.where(den > 1e-6, den, 1), 0)
    np.testing.assert_allclose(out, ref, atol=1e-12)


def test_bad_shapes_raise_one_line():
    """specs/physics.md §4, §6: clear errors for wrong shapes."""
    with pytest.raises(
        ValueError, match=r"reassemble_groups: coords_relative: expected shape \(1, 1, 2, 4\)"
    ):
        reassemble_groups(np.zeros((1, 8, 8, 4), complex), np.zeros((1, 2, 4)), 10)
    with pytest.raises(ValueError, match=r"reassemble_position: M: expected a crop side <= N=8"):
        reassemble_position(np.zeros((1, 8, 8), complex), np.zeros((1, 2)), M=10)


def _plane_wave_patches(pos, n, freqs):
    """Closed-form patches of o(r, c) = sum_k a_k exp(2 pi i (fy_k r + fx_k c)) at float positions [x, y]."""
    grid = np.arange(n) - n // 2
    out = np.zeros((len(pos), n, n), complex)
    for a, fy, fx in freqs:
        rows = pos[:, 1, None, None] + grid[None, :, None]
        cols = pos[:, 0, None, None] + grid[None, None, :]
        out += a * np.exp(2j * np.pi * (fy * rows + fx * cols))
    return out


def test_reassemble_position_fourier_sinusoid_closed_form():
    """specs/physics.md §6.2 (interpolation='fourier'): patches of a sum of plane waves periodic over N
    (band-limited, closed form) at sub-pixel positions stitch back to the object exactly; canvas index
    (pad + M//2 + v, pad + M//2 + u) holds o(round(mean_y) + v, round(mean_x) + u). Bilinear does not."""
    rng = np.random.default_rng(11)
    n, m = 32, 12
    freqs = [(1.0, 3 / n, -5 / n), (0.5j, -11 / n, 7 / n), (0.3, 14 / n, 13 / n)]
    pos = rng.uniform(30, 50, (40, 2))
    patches = _plane_wave_patches(pos, n, freqs)
    out = reassemble_position(patches, pos, M=m, interpolation="fourier")
    centred = pos - np.floor(pos.mean(axis=0) + 0.5)
    pad = int(np.ceil(np.abs(centred).max()))
    pad += pad % 2
    assert out.shape == (m + 2 * pad, m + 2 * pad) and out.dtype == np.complex128
    rows, cols = np.nonzero(out)
    assert rows.size > 0.5 * out.size
    mx, my = np.floor(pos.mean(axis=0) + 0.5)
    r_obj = my - pad - m // 2 + rows
    c_obj = mx - pad - m // 2 + cols
    expect = sum(a * np.exp(2j * np.pi * (fy * r_obj + fx * c_obj)) for a, fy, fx in freqs)
    np.testing.assert_allclose(out[rows, cols], expect, atol=1e-9)
    # bilinear on the same patches: the mean is rounded away too, so compare at the same object points
    shift = pos - pos.mean(axis=0) - centred  # = round(mean) - mean, the bilinear canvas offset
    bil = reassemble_position(patches, pos, M=m)
    rb, cb = np.nonzero(bil)
    pad_b = (bil.shape[0] - m) // 2
    expect_b = sum(a * np.exp(2j * np.pi * (fy * (my - shift[0, 1] - pad_b - m // 2 + rb)
                                           + fx * (mx - shift[0, 0] - pad_b - m // 2 + cb))) for a, fy, fx in freqs)
    assert np.abs(bil[rb, cb] - expect_b).max() > 0.1


def test_reassemble_position_fourier_integer_positions_copy_pixels():
    """specs/physics.md §6.2: with 'fourier', integer positions (even with a fractional mean) copy pixels
    exactly; the object point at round(mean) sits at (pad + M//2, pad + M//2); counts are integers."""
    obj = _object(50, 50, seed=7)
    n, m = 16, 10
    xs, ys = np.meshgrid(np.arange(12, 39, 3.0), np.arange(13, 37, 4.0))
    pos = np.stack([xs.ravel(), ys.ravel()], axis=1)
    pos = np.concatenate([pos, [[20.0, 21.0]]])  # fractional mean
    assert np.any(pos.mean(axis=0) % 1)
    patches = extract_patches(obj, pos, n)
    out = reassemble_position(patches, pos, M=m, interpolation="fourier")
    ref = reassemble_position(patches, pos, M=m)  # bilinear shifts by the fractional mean: not a copy
    pad = (out.shape[0] - m) // 2
    mx, my = np.floor(pos.mean(axis=0) + 0.5).astype(int)
    rows, cols = np.nonzero(out)
    np.testing.assert_allclose(out[rows, cols], obj[rows - pad - m // 2 + my, cols - pad - m // 2 + mx], atol=1e-12)
    assert not np.allclose(ref[ref != 0], obj[np.nonzero(ref)[0] - pad - m // 2 + my, np.nonzero(ref)[1] - pad - m // 2 + mx])


def test_reassemble_position_fourier_beats_bilinear_on_sharp_object():
    """specs/physics.md §6.2: true patches of a sharp object cut with extract_patches(..., 'fourier') at
    jittered positions stitch back far closer to the object with 'fourier' than with 'bilinear'."""
    rng = np.random.default_rng(3)
    size, n, m = 96, 32, 12
    yy, xx = np.mgrid[:size, :size] - size / 2
    angle = np.arctan2(yy, xx)
    obj = np.where(np.sin(6 * angle) > 0, 1.0, 0.3) * np.exp(0.5j * (np.cos(6 * angle) > 0))
    g = np.arange(24, 73, 4.0)
    gx, gy = np.meshgrid(g, g)
    pos = np.stack([gx.ravel(), gy.ravel()], axis=1) + rng.normal(0, 1.0, (g.size**2, 2))
    pos -= pos.mean(axis=0) - np.round(pos.mean(axis=0))  # integer mean: both canvases share one frame
    patches = extract_patches(obj, pos, n, interpolation="fourier")
    errs = {}
    for interp in ("bilinear", "fourier"):
        out = reassemble_position(patches, pos, M=m, interpolation=interp)
        pad = (out.shape[0] - m) // 2
        ox, oy = (np.round(pos.mean(axis=0)) - pad - m // 2).astype(int)  # object [x, y] of canvas (0, 0)
        win = out[20:-20, 20:-20]
        truth = obj[oy + 20 : oy + out.shape[0] - 20, ox + 20 : ox + out.shape[1] - 20]
        assert np.all(win != 0)
        errs[interp] = np.sqrt(np.mean(np.abs(win - truth) ** 2))
    assert errs["fourier"] < 0.25 * errs["bilinear"], errs


def test_reassemble_position_interpolation_checked_and_real_stays_real():
    """specs/physics.md §6.2: unknown interpolation is a one-line ValueError; real patches give a real canvas."""
    with pytest.raises(ValueError, match=r"reassemble_position: interpolation: expected 'bilinear' or 'fourier'"):
        reassemble_position(np.zeros((1, 8, 8)), np.zeros((1, 2)), M=4, interpolation="cubic")
    out = reassemble_position(np.ones((3, 8, 8), np.float32), np.array([[0.0, 0.0], [1.3, 0.2], [2.7, -1.1]]),
                              M=4, interpolation="fourier")
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[out != 0], 1.0, atol=1e-5)
