"""TF physics operators agree with the numpy reference ``ptycho.physics`` (specs/tf-backend.md §2,
specs/physics.md §2-§8) to 1e-6 relative in float64."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ptycho import physics
from ptycho_tf import network, ops

SETTINGS = settings(max_examples=6, deadline=None)


def _close(a, b, tol=1e-6):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    scale = max(1.0, float(np.abs(b).max()))
    assert float(np.abs(a - b).max()) <= tol * scale


def _cplx(rng, *shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def test_translate_sign_convention():
    """+dx moves content to higher columns, +dy to higher rows (specs/physics.md §2)."""
    img = np.zeros((1, 16, 16))
    img[0, 8, 8] = 1
    out = ops.translate(img, [[3.0, 0.0]]).numpy()[0]
    assert out[8, 11] == 1 and out.sum() == 1
    out = ops.translate(img, [[0.0, -2.0]]).numpy()[0]
    assert out[6, 8] == 1


@SETTINGS
@given(seed=st.integers(0, 10_000), k=st.integers(1, 3))
def test_translate_matches_numpy(seed, k):
    rng = np.random.default_rng(seed)
    img = _cplx(rng, k, 12, 10)
    off = rng.uniform(-5, 5, (k, 2))
    _close(ops.translate(img, off).numpy(), physics.translate(img, off))


@SETTINGS
@given(seed=st.integers(0, 10_000), gs=st.sampled_from([1, 2]), b=st.integers(1, 3))
def test_reassemble_extract_forward_match_numpy(seed, gs, b):
    rng = np.random.default_rng(seed)
    n, c = 16, gs * gs
    m = physics.canvas_size(n, gs)
    patches = _cplx(rng, b, n, n, c)
    rel = rng.uniform(-4, 4, (b, 1, 2, c))
    canvas = ops.reassemble_groups(patches, rel, m).numpy()
    _close(canvas, physics.reassemble_groups(patches, rel, m))
    _close(ops.extract_from_canvas(canvas, rel, n).numpy(), physics.extract_from_canvas(canvas, rel, n))
    probe = _cplx(rng, n, n)
    for big in (True, False):
        obj = patches if big else patches[..., :1]
        for mask in (False, True):
            _, amp, _ = ops.forward_from_patches(obj, probe, rel, 3.5, object_big=big,
                                                 probe_mask=physics.probe_mask(n) if mask else None, m=m)
            ref = physics.forward_model(obj, probe, rel, 3.5, object_big=big, probe_mask=mask, M=m)
            _close(amp.numpy(), ref)


@SETTINGS
@given(seed=st.integers(0, 10_000), p=st.integers(1, 12), m=st.sampled_from([8, 11, 16]))
def test_reassemble_position_matches_numpy(seed, p, m):
    rng = np.random.default_rng(seed)
    patches = _cplx(rng, p, 16, 16)
    off = rng.uniform(0, 30, (p, 2))
    _close(ops.reassemble_position(patches, off, m).numpy(), physics.reassemble_position(patches, off, m))


@SETTINGS
@given(seed=st.integers(0, 10_000), p=st.integers(1, 12), m=st.sampled_from([8, 11, 16]), real=st.booleans())
def test_reassemble_position_fourier_matches_numpy(seed, p, m, real):
    """specs/physics.md §6.2, interpolation='fourier' (also through tf_helper): equals the numpy reference."""
    from ptycho import tf_helper

    rng = np.random.default_rng(seed)
    patches = rng.standard_normal((p, 16, 16)) if real else _cplx(rng, p, 16, 16)
    off = rng.uniform(0, 30, (p, 2))
    ref = physics.reassemble_position(patches, off, m, interpolation="fourier")
    _close(ops.reassemble_position(patches, off, m, chunk=5, interpolation="fourier").numpy(), ref)
    helper = tf_helper.reassemble_position(patches[..., None], off[:, None, :, None], M=m, interpolation="fourier")
    _close(np.asarray(helper)[..., 0], ref)


def test_far_field_parseval_and_numpy():
    rng = np.random.default_rng(0)
    f = _cplx(rng, 3, 16, 16)
    a = ops.far_field_amplitude(f).numpy()
    _close(a, physics.far_field_amplitude(f))
    np.testing.assert_allclose((a**2).sum(axis=(1, 2)), (np.abs(f) ** 2).sum(axis=(1, 2)), rtol=1e-10)


def test_format_conversions_match_numpy_and_invert():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 8, 8, 4))
    flat = ops.channel_to_flat(x).numpy()
    _close(flat, physics.channel_to_flat(x))
    _close(ops.flat_to_channel(flat, 2).numpy(), x)
    grid = ops.channel_to_grid(x, 2).numpy()
    _close(grid, physics.channel_to_grid(x))
    _close(ops.grid_to_channel(grid).numpy(), x)


def test_canvas_size_matches_numpy():
    for n in (64, 128):
        for gs in (1, 2, 3):
            assert network.canvas_size(n, gs) == physics.canvas_size(n, gs)


def test_bad_shapes_raise_clear_errors():
    with pytest.raises(ValueError, match="coords_relative"):
        ops.reassemble_groups(np.zeros((1, 8, 8, 4), np.complex64), np.zeros((1, 2, 4)), 12)
    with pytest.raises(ValueError, match="M <= N"):
        ops.reassemble_position(np.zeros((2, 8, 8), np.complex64), np.zeros((2, 2)), 10)


def test_python_scale_is_not_rounded_to_float32_in_float64_graphs():
    """specs/tf-backend.md §2: a Python intensity scale enters a float64 graph at full precision.

    With ``tf.cast(s, float64)`` the scale was first rounded to float32 (relative error ~1e-8 for
    s = pi), far above float64 round-off; the scaled amplitude must equal s * unscaled to 1e-15."""
    rng = np.random.default_rng(3)
    n, c = 16, 4
    patches = _cplx(rng, 2, n, n, c)
    rel = rng.uniform(-3, 3, (2, 1, 2, c))
    probe = _cplx(rng, n, n)
    s = float(np.pi)
    assert abs(float(np.float32(s)) - s) / s > 1e-8  # the test value is not float32-representable
    _, unit, _ = ops.forward_from_patches(patches, probe, rel, 1.0, m=physics.canvas_size(n, 2))
    _, scaled, _ = ops.forward_from_patches(patches, probe, rel, s, m=physics.canvas_size(n, 2))
    assert scaled.dtype == np.float64
    ratio_err = np.max(np.abs(scaled.numpy() - s * unit.numpy())) / np.max(np.abs(s * unit.numpy()))
    assert ratio_err < 1e-15
    assert ops.scalar_like(s, np.float64).numpy() == s
    assert ops.scalar_like(np.float32(s), np.float64).numpy() == float(np.float32(s))


def test_far_field_norm_exact_for_non_square_fields():
    """far_field_amplitude divides by sqrt(H*W) in the field's precision: an (8, 32) complex128 field
    (sqrt(256)=16 exact) and a (6, 10) one (sqrt(60) irrational) match numpy's ortho FFT to 1e-14."""
    rng = np.random.default_rng(5)
    for shape in ((3, 8, 32), (3, 6, 10)):
        field = _cplx(rng, *shape)
        ref = np.abs(np.fft.fftshift(np.fft.fft2(field, norm="ortho"), axes=(-2, -1)))
        out = ops.far_field_amplitude(field).numpy()
        assert out.dtype == np.float64
        assert np.max(np.abs(out - ref)) / np.max(ref) < 1e-14


def test_scalar_like_rejects_arrays():
    with pytest.raises(ValueError, match=r"scalar_like: expected a scalar, found an array of shape \(2,\)"):
        ops.scalar_like(np.ones(2), np.float64)
