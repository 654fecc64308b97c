"""Torch physics against the numpy reference ``ptycho.physics`` (specs/physics.md §1-§12).

Every operator is compared in float64/complex128 on hypothesis-generated inputs to 1e-6 relative;
translation is also checked against ``grid_sample(align_corners=True)`` (an independent bilinear
implementation) and by gradcheck. ForwardModel is pinned to ``ptycho.physics.forward_model``
(specs/torch-training.md §2).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import convolve

import ptycho.physics as R
import ptycho_torch.physics as T
from ptycho_torch.forward_model import ForwardModel, gaussian_kernel3, object_patches

FAST = settings(max_examples=8, deadline=None, derandomize=True)
seeds = st.integers(0, 2**31 - 1)


def t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def close(ref, got, rtol=1e-6):
    ref = np.asarray(ref)
    got = got.detach().cpu().numpy() if torch.is_tensor(got) else np.asarray(got)
    assert ref.shape == got.shape, (ref.shape, got.shape)
    scale = max(float(np.max(np.abs(ref))) if ref.size else 0.0, 1e-12)
    err = float(np.max(np.abs(ref - got))) if ref.size else 0.0
    assert err <= rtol * scale, f"max abs error {err} > {rtol} * {scale}"


def cplx(rng, shape):
    return rng.normal(size=shape) + 1j * rng.normal(size=shape)


# --- §2 translation ------------------------------------------------------------------------------
@FAST
@given(seed=seeds, k=st.integers(1, 4), h=st.integers(2, 12), w=st.integers(2, 12), span=st.floats(0.0, 15.0),
       complex_=st.booleans())
def test_translate_matches_reference(seed, k, h, w, span, complex_):
    """specs/physics.md §2: content moves +dx columns, +dy rows, bilinear, zero fill."""
    rng = np.random.default_rng(seed)
    img = cplx(rng, (k, h, w)) if complex_ else rng.normal(size=(k, h, w))
    off = rng.uniform(-span, span, size=(k, 2))
    got = T.translate(t(img), t(off))
    assert got.dtype == (torch.complex128 if complex_ else torch.float64)
    close(R.translate(img, off), got)


def test_translate_integer_shift_moves_pixel_right_and_down():
    img = torch.zeros(1, 16, 16, dtype=torch.float64)
    img[0, 8, 8] = 1.0
    out = T.translate(img, torch.tensor([[3.0, 2.0]], dtype=torch.float64))
    assert out[0, 10, 11] == 1.0 and float(out.sum()) == 1.0


@FAST
@given(seed=seeds, span=st.floats(0.0, 6.0))
def test_translate_equals_grid_sample(seed, span):
    """Independent check: grid_sample(bilinear, zeros, align_corners=True) samples the same points."""
    rng = np.random.default_rng(seed)
    k, h, w = 3, 9, 13
    img = t(rng.normal(size=(k, h, w)))
    off = t(rng.uniform(-span, span, size=(k, 2)))
    theta = torch.zeros(k, 2, 3, dtype=torch.float64)
    theta[:, 0, 0] = 1.0
    theta[:, 1, 1] = 1.0
    theta[:, 0, 2] = -off[:, 0] * 2.0 / (w - 1)
    theta[:, 1, 2] = -off[:, 1] * 2.0 / (h - 1)
    grid = F.affine_grid(theta, (k, 1, h, w), align_corners=True)
    ref = F.grid_sample(img[:, None], grid, mode="bilinear", padding_mode="zeros", align_corners=True)[:, 0]
    close(ref.numpy(), T.translate(img, off), rtol=1e-9)


def test_translate_gradcheck_images_and_offsets():
    rng = np.random.default_rng(1)
    img = t(cplx(rng, (2, 5, 6))).requires_grad_(True)
    off = t(rng.uniform(-1.7, 1.7, size=(2, 2)) + 0.31).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: torch.view_as_real(T.translate(a, b)), (img, off))


def test_translate_keeps_float32_and_rejects_bad_shapes():
    out = T.translate(torch.ones(2, 4, 4), torch.zeros(2, 2))
    assert out.dtype == torch.float32
    with pytest.raises(ValueError, match=r"translate: offsets: expected shape \(2, 2\)"):
        T.translate(torch.ones(2, 4, 4), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="translate: images: expected shape"):
        T.translate(torch.ones(4, 4), torch.zeros(1, 2))


# --- §3-§6 patches -------------------------------------------------------------------------------
@FAST
@given(seed=seeds, n=st.sampled_from([4, 8, 9]), k=st.integers(1, 6))
def test_extract_patches_matches_reference(seed, n, k):
    rng = np.random.default_rng(seed)
    obj = cplx(rng, (20, 17))
    pos = rng.uniform(-4, 22, size=(k, 2))
    close(R.extract_patches(obj, pos, n), T.extract_patches(t(obj), t(pos), n))


@FAST
@given(seed=seeds, gs=st.integers(1, 3), n=st.sampled_from([8, 16]), b=st.integers(1, 3), span=st.floats(0, 6),
       extra=st.integers(0, 5))
def test_reassemble_and_extract_from_canvas_match_reference(seed, gs, n, b, span, extra):
    """specs/physics.md §4, §5: per-group merge (max(count,1)), re-extraction and canvas size."""
    rng = np.random.default_rng(seed)
    c = gs * gs
    patches = cplx(rng, (b, n, n, c))
    rel = rng.uniform(-span, span, size=(b, 1, 2, c))
    m_ref = R.canvas_size(n, gs, rel)
    assert T.canvas_size(n, gs, t(rel)) == m_ref
    m = m_ref + extra
    canvas_ref = R.reassemble_groups(patches, rel, m)
    canvas = T.reassemble_groups(t(patches), t(rel), m)
    close(canvas_ref, canvas)
    close(R.extract_from_canvas(canvas_ref, rel, n), T.extract_from_canvas(t(canvas_ref), t(rel), n))


def test_reassemble_groups_never_mixes_groups_and_averages_overlaps():
    patches = torch.ones(2, 8, 8, 4, dtype=torch.complex128)
    patches[1] *= 3.0
    rel = torch.zeros(2, 1, 2, 4, dtype=torch.float64)
    canvas = T.reassemble_groups(patches, rel, 12)
    assert torch.allclose(canvas[0, 2:10, 2:10], torch.ones(8, 8, dtype=torch.complex128))
    assert torch.allclose(canvas[1, 2:10, 2:10], 3 * torch.ones(8, 8, dtype=torch.complex128))
    assert float(canvas[:, :2].abs().max()) == 0.0  # nothing amplified outside the patches


@FAST
@given(seed=seeds, p=st.integers(1, 30), m=st.sampled_from([4, 7, 10]), layout=st.booleans())
def test_reassemble_position_matches_reference(seed, p, m, layout):
    rng = np.random.default_rng(seed)
    n = 12
    patches = cplx(rng, (p, n, n))
    offs = rng.uniform(0, 30, size=(p, 2)) + 100.0
    offs_in = offs[:, None, :, None] if layout else offs
    close(R.reassemble_position(patches, offs_in, m), T.reassemble_position(t(patches), t(offs_in), m))


@FAST
@given(seed=seeds, p=st.integers(1, 30), m=st.sampled_from([4, 7, 10]), real=st.booleans())
def test_reassemble_position_fourier_matches_reference(seed, p, m, real):
    """specs/physics.md §6.2, interpolation='fourier': torch equals the numpy reference (float64)."""
    rng = np.random.default_rng(seed)
    n = 12
    patches = rng.normal(size=(p, n, n)) if real else cplx(rng, (p, n, n))
    offs = rng.uniform(0, 30, size=(p, 2)) + 100.0
    ref = R.reassemble_position(patches, offs, m, interpolation="fourier")
    got = T.reassemble_position(t(patches), t(offs), m, interpolation="fourier")
    assert got.dtype == t(patches).dtype
    close(ref, got)


def test_reassemble_position_fourier_chunking_is_invisible(monkeypatch):
    rng = np.random.default_rng(4)
    patches = t(cplx(rng, (9, 10, 10)))
    offs = t(rng.uniform(0, 12, size=(9, 2)))
    whole = T.reassemble_position(patches, offs, 6, interpolation="fourier")
    monkeypatch.setattr(T.patches, "_POSITION_CHUNK", 2)
    close(whole.numpy(), T.reassemble_position(patches, offs, 6, interpolation="fourier"), rtol=1e-12)
    with pytest.raises(ValueError, match="interpolation: expected 'bilinear' or 'fourier'"):
        T.reassemble_position(patches, offs, 6, interpolation="nearest")


def test_reassemble_position_chunking_is_invisible(monkeypatch):
    rng = np.random.default_rng(3)
    patches = t(rng.normal(size=(9, 10, 10)))
    offs = t(rng.uniform(0, 12, size=(9, 2)))
    whole = T.reassemble_position(patches, offs, 6)
    monkeypatch.setattr(T.patches, "_POSITION_CHUNK", 2)
    close(whole.numpy(), T.reassemble_position(patches, offs, 6), rtol=1e-12)


# --- §7 probe ------------------------------------------------------------------------------------
@FAST
@given(seed=seeds, n=st.sampled_from([8, 16, 64]), scale=st.floats(0.5, 10.0), mask=st.booleans())
def test_probe_functions_match_reference(seed, n, scale, mask):
    rng = np.random.default_rng(seed)
    probe = cplx(rng, (n, n))
    close(R.normalize_probe(probe, scale), T.normalize_probe(t(probe), scale))
    patches = cplx(rng, (2, n, n, 3))
    close(R.illuminate(np.moveaxis(patches, -1, 1), probe, mask),
          T.illuminate(t(np.moveaxis(patches, -1, 1)), t(probe), mask))
    close(R.illuminate_channels(patches, probe, mask), T.illuminate_channels(t(patches), t(probe), mask))
    assert np.array_equal(R.probe_mask(n), T.probe_mask(n).numpy())


def test_normalize_probe_rejects_zero_probe():
    with pytest.raises(ValueError, match="normalize_probe: probe: expected non-zero"):
        T.normalize_probe(torch.zeros(8, 8, dtype=torch.complex64))


# --- §8-§11 diffraction, scaling, losses, formats ------------------------------------------------
@FAST
@given(seed=seeds, n=st.sampled_from([4, 8, 15]))
def test_far_field_amplitude_matches_reference_and_parseval(seed, n):
    rng = np.random.default_rng(seed)
    field = cplx(rng, (2, 3, n, n))
    got = T.far_field_amplitude(t(field))
    close(R.far_field_amplitude(field), got)
    assert torch.allclose((got**2).sum((-2, -1)), t(np.abs(field) ** 2).sum((-2, -1)), rtol=1e-12)


@FAST
@given(seed=seeds, nphot=st.floats(1.0, 1e10))
def test_scaling_and_losses_match_reference(seed, nphot):
    rng = np.random.default_rng(seed)
    diff = rng.uniform(0, 5, size=(4, 8, 8, 2))
    X_ref, f_ref = R.normalize_diffraction(diff)
    X, f = T.normalize_diffraction(t(diff))
    assert math.isclose(f, f_ref, rel_tol=1e-12) and X.dtype == torch.float32
    close(X_ref, X)
    assert math.isclose(T.intensity_scale(nphot, 64), math.sqrt(nphot) / 32, rel_tol=1e-12)  # closed form, §9.2
    assert math.isclose(T.dataset_intensity_scale(t(diff), nphot), R.dataset_intensity_scale(diff, nphot), rel_tol=1e-12)
    obs = rng.poisson(30.0, size=(3, 5)).astype(np.float64)
    pred = rng.uniform(0, 60, size=(3, 5))
    pred[0, 0] = 0.0
    assert math.isclose(float(T.poisson_nll(t(obs), t(pred))), R.poisson_nll(obs, pred), rel_tol=1e-9)
    assert math.isclose(float(T.amplitude_mae(t(obs), t(pred))), R.amplitude_mae(obs, pred), rel_tol=1e-12)


def test_formats_match_reference():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 5, 4))
    offs = rng.normal(size=(2, 1, 2, 4))
    assert np.array_equal(R.channel_to_flat(x), T.channel_to_flat(t(x)).numpy())
    assert np.array_equal(R.flat_to_channel(R.channel_to_flat(x), 4), T.flat_to_channel(T.channel_to_flat(t(x)), 4).numpy())
    assert np.array_equal(R.channel_to_grid(x), T.channel_to_grid(t(x)).numpy())
    assert np.array_equal(R.grid_to_channel(R.channel_to_grid(x)), T.grid_to_channel(T.channel_to_grid(t(x))).numpy())
    assert np.array_equal(R.offsets_channel_to_flat(offs), T.offsets_channel_to_flat(t(offs)).numpy())
    flat = R.offsets_channel_to_flat(offs)
    assert np.array_equal(R.offsets_flat_to_channel(flat, 4), T.offsets_flat_to_channel(t(flat), 4).numpy())


def test_poisson_sample_gives_integer_counts():
    amp = torch.full((1000,), 3.0, dtype=torch.float64)
    out = T.poisson_sample(amp, torch.Generator().manual_seed(0))
    counts = out**2
    assert torch.allclose(counts, counts.round(), atol=1e-9)
    assert abs(float(counts.mean()) - 9.0) < 0.6


# --- §12 forward model ---------------------------------------------------------------------------
@FAST
@given(seed=seeds, gs=st.integers(1, 2), object_big=st.booleans(), mask=st.booleans(), span=st.floats(0, 4))
def test_forward_model_function_matches_reference(seed, gs, object_big, mask, span):
    rng = np.random.default_rng(seed)
    n, b, c = 16, 2, gs * gs
    obj = cplx(rng, (b, n, n, c if object_big else 1))
    rel = rng.uniform(-span, span, size=(b, 1, 2, c))
    probe = R.default_probe(n).astype(np.complex128)
    ref = R.forward_model(obj, probe, rel, 3.5, object_big=object_big, probe_mask=mask)
    close(ref, T.forward_model(t(obj), t(probe), t(rel), 3.5, object_big=object_big, probe_mask=mask))


@FAST
@given(seed=seeds, gs=st.integers(1, 2), object_big=st.booleans(), mask=st.booleans(), zero=st.booleans())
def test_forward_model_module_matches_reference(seed, gs, object_big, mask, zero):
    """specs/torch-training.md §2: ForwardModel == ptycho.physics.forward_model (float64)."""
    rng = np.random.default_rng(seed)
    n, b, c = 16, 3, gs * gs
    amp = rng.uniform(0.1, 1.0, size=(b, n, n, c if object_big else 1))
    phase = rng.uniform(-3, 3, size=amp.shape)
    rel = np.zeros((b, 1, 2, c)) if zero else rng.uniform(-3, 3, size=(b, 1, 2, c))
    probe = R.normalize_probe(R.default_probe(n).astype(np.complex128) * np.exp(1j * rng.normal(size=(n, n))))
    s = 5.0
    fm = ForwardModel(n, gs, t(probe), s, object_big=object_big, probe_mask=mask)
    patches = object_patches(t(amp), t(phase))
    trimmed, pred = fm(patches, t(rel))
    obj = amp * np.exp(1j * phase)
    close(R.forward_model(obj, probe, rel, s, object_big=object_big, probe_mask=mask), pred)
    m = R.canvas_size(n, gs, rel)
    if object_big:
        canvas = R.reassemble_groups(obj, rel, m)
    else:
        lo = (m - n) // 2
        canvas = np.pad(obj[..., 0], ((0, 0), (lo, m - n - lo), (lo, m - n - lo)))
    lo = (m - n) // 2
    close(canvas[:, lo:lo + n, lo:lo + n], trimmed)
    assert pred.dtype == torch.float64 and trimmed.dtype == torch.complex128


def test_forward_model_gaussian_smoothing_matches_scipy():
    """3x3 Gaussian (sum 1) with reflect padding == scipy convolve(mode='mirror')."""
    rng = np.random.default_rng(5)
    n, sigma = 16, 0.8
    obj = cplx(rng, (1, n, n, 1))
    probe = np.ones((n, n), dtype=np.complex128)
    fm = ForwardModel(n, 1, t(probe), 1.0, gaussian_smoothing_sigma=sigma)
    _, pred = fm(t(obj), torch.zeros(1, 1, 2, 1, dtype=torch.float64))
    k = gaussian_kernel3(sigma, torch.float64).numpy()
    r = np.arange(-1, 2)
    assert np.allclose(k, np.exp(-(r[:, None] ** 2 + r[None] ** 2) / (2 * sigma**2)) / np.exp(
        -(r[:, None] ** 2 + r[None] ** 2) / (2 * sigma**2)).sum())
    blurred = convolve(obj[0, :, :, 0].real, k, mode="mirror") + 1j * convolve(obj[0, :, :, 0].imag, k, mode="mirror")
    close(R.far_field_amplitude(blurred)[None, :, :, None], pred)


def test_forward_model_trainable_flags_register_parameters():
    probe = torch.ones(8, 8, dtype=torch.complex64)
    fixed = ForwardModel(8, 1, probe, 2.0)
    assert list(fixed.parameters()) == [] and set(fixed.state_dict()) == {"log_scale", "probe"}
    both = ForwardModel(8, 1, probe, 2.0, probe_trainable=True, intensity_scale_trainable=True)
    names = {k for k, _ in both.named_parameters()}
    assert names == {"log_scale", "probe"}
    assert math.isclose(float(both.log_scale.detach()), math.log(2.0), rel_tol=1e-6)
    with pytest.raises(ValueError, match=r"ForwardModel: coords_relative: expected shape \(2, 1, 2, 1\)"):
        fixed(torch.ones(2, 8, 8, 1, dtype=torch.complex64), torch.zeros(2, 1, 2, 4))
