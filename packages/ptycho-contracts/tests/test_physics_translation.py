"""Pins specs/physics.md §2 (translate): sign, sub-pixel accuracy, composition, zero fill."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ptycho.physics import translate


def test_single_pixel_moves_plus_dx_cols_plus_dy_rows():
    """specs/physics.md §2: content moves +dx columns and +dy rows."""
    img = np.zeros((2, 16, 16))
    img[:, 8, 8] = 1.0
    out = translate(img, np.array([[3.0, 0.0], [0.0, 2.0]]))
    assert np.argwhere(out[0] > 0.5).tolist() == [[8, 11]]
    assert np.argwhere(out[1] > 0.5).tolist() == [[10, 8]]


@settings(max_examples=20)
@given(dx=st.floats(-3, 3), dy=st.floats(-3, 3), a=st.floats(-2, 2), b=st.floats(-2, 2))
def test_linear_ramp_is_shifted_exactly(dx, dy, a, b):
    """specs/physics.md §2: bilinear interpolation reproduces a linear ramp exactly away from borders."""
    h = w = 20
    yy, xx = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    ramp = a * xx + b * yy + 0.5
    out = translate(ramp[None], np.array([[dx, dy]]))[0]
    expected = a * (xx - dx) + b * (yy - dy) + 0.5
    inner = (slice(4, -4), slice(4, -4))
    np.testing.assert_allclose(out[inner], expected[inner], rtol=0, atol=1e-12)


def test_integer_shift_is_exact_and_zero_filled():
    """specs/physics.md §2: integer shifts copy pixels exactly; uncovered pixels are 0."""
    rng = np.random.default_rng(0)
    img = (rng.normal(size=(1, 10, 12)) + 1j * rng.normal(size=(1, 10, 12))).astype(np.complex64)
    out = translate(img, np.array([[2.0, -3.0]]))
    assert out.dtype == np.complex64
    expected = np.zeros_like(img)
    expected[0, 0:7, 2:12] = img[0, 3:10, 0:10]
    np.testing.assert_array_equal(out, expected)


@settings(max_examples=15)
@given(d1=st.tuples(st.floats(-2, 2), st.floats(-2, 2)), k=st.tuples(st.integers(-2, 2), st.integers(-2, 2)))
def test_composition_with_integer_shift(d1, k):
    """specs/physics.md §2: translate(translate(x, d), k) == translate(x, d + k) for integer k (interior)."""
    rng = np.random.default_rng(1)
    img = rng.normal(size=(1, 24, 24))
    two = translate(translate(img, np.array([d1])), np.array([k], dtype=np.float64))
    one = translate(img, np.array([[d1[0] + k[0], d1[1] + k[1]]]))
    np.testing.assert_allclose(two[0, 6:-6, 6:-6], one[0, 6:-6, 6:-6], atol=1e-12)


def test_complex_equals_real_and_imag_separately_float64_kept():
    """specs/physics.md §2: complex = real and imag translated separately; float64 precision kept."""
    rng = np.random.default_rng(2)
    re, im = rng.normal(size=(3, 9, 9)), rng.normal(size=(3, 9, 9))
    offs = rng.uniform(-2, 2, size=(3, 2))
    out = translate(re + 1j * im, offs)
    assert out.dtype == np.complex128
    np.testing.assert_allclose(out, translate(re, offs) + 1j * translate(im, offs), atol=1e-14)
    assert translate(re.astype(np.float32), offs).dtype == np.float32


def test_bad_offsets_shape_raises_one_line():
    """specs/physics.md §2: offsets must be (K, 2)."""
    with pytest.raises(ValueError, match=r"translate: offsets: expected shape \(2, 2\)"):
        translate(np.zeros((2, 4, 4)), np.zeros((3, 2)))
