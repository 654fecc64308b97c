"""Property 2: each physics op, numpy reference vs TensorFlow vs Torch (specs/parity.md §3 P2,
specs/physics.md §1.2, §2-§12).

Max relative error (``max|a - ref| / max|ref|``) <= 1e-6 in float64 and <= 1e-5 in float32. The numpy
reference always runs in float64 on the same (possibly float32-rounded) inputs, so the float32 figure is
the backend's own float32 error. The TF side runs when TensorFlow is live (conftest); the Torch side on
the suite's device.
"""

from __future__ import annotations

import numpy as np
import parity_support as ps
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ptycho import physics

DTYPES = {"f64": (np.float64, np.complex128, torch.float64), "f32": (np.float32, np.complex64, torch.float32)}


def _tf():
    from ptycho_tf import ops, training

    return ops, training


def _cplx(rng, shape, prec):
    z = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    return z.astype(DTYPES[prec][1])


def _compare(op: str, prec: str, ref, torch_out, tf_fn=None, case: str = "") -> None:
    prop = f"P2-physics-{prec}"
    errs = {"torch": ps.rel_err(ps.to_numpy(torch_out), ref)}
    if ps.STATE.tf_live and tf_fn is not None:
        errs["tf"] = ps.rel_err(ps.to_numpy(tf_fn()), ref)
        errs["tf-vs-torch"] = ps.rel_err(ps.to_numpy(torch_out), ps.to_numpy(tf_fn()))
    bad = []
    for side, err in errs.items():
        if not ps.STATE.record(prop, err, f"{op} {side} {case}", op):
            bad.append(f"{side} {err:.3e}")
    assert not bad, f"{prop}: {op} {case}: errors above {ps.TOLERANCES[prop][0]:.0e}: {', '.join(bad)}"


def _t(x, device):
    return torch.from_numpy(np.ascontiguousarray(x)).to(device)


precisions = st.sampled_from(["f64", "f32"])
sizes = st.sampled_from([64, 64, 128])


@settings(max_examples=ps.examples(12))
@given(prec=precisions, n=sizes, k=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_translate(device, prec, n, k, seed):
    rng = np.random.default_rng(seed)
    img = _cplx(rng, (k, n, n), prec)
    off = rng.uniform(-6, 6, (k, 2)).astype(DTYPES[prec][0])
    ref = physics.translate(img.astype(np.complex128), off.astype(np.float64))
    out = __import__("ptycho_torch.physics", fromlist=["translate"]).translate(_t(img, device), _t(off, device))
    _compare("translate", prec, ref, out, lambda: _tf()[0].translate(img, off), f"n={n} k={k}")


@settings(max_examples=ps.examples(10))
@given(prec=precisions, n=sizes, gs=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_reassemble_and_extract(device, prec, n, gs, seed):
    from ptycho_torch import physics as tp

    rng = np.random.default_rng(seed)
    c, b = gs * gs, 2
    patches = _cplx(rng, (b, n, n, c), prec)
    rel = (rng.uniform(-8, 8, (b, 1, 2, c)) if c > 1 else np.zeros((b, 1, 2, 1))).astype(DTYPES[prec][0])
    m = physics.canvas_size(n, gs, rel.astype(np.float64))
    ref = physics.reassemble_groups(patches.astype(np.complex128), rel.astype(np.float64), m)
    out = tp.reassemble_groups(_t(patches, device), _t(rel, device), m)
    _compare("reassemble_groups", prec, ref, out, lambda: _tf()[0].reassemble_groups(patches, rel, m),
             f"n={n} gs={gs} M={m}")
    canvas = ref.astype(DTYPES[prec][1])
    ref2 = physics.extract_from_canvas(canvas.astype(np.complex128), rel.astype(np.float64), n)
    out2 = tp.extract_from_canvas(_t(canvas, device), _t(rel, device), n)
    _compare("extract_from_canvas", prec, ref2, out2, lambda: _tf()[0].extract_from_canvas(canvas, rel, n),
             f"n={n} gs={gs} M={m}")


@settings(max_examples=ps.examples(8))
@given(prec=precisions, n=sizes, seed=st.integers(0, 2**16))
def test_extract_patches(device, prec, n, seed):
    """Object-position patch extraction (no TF counterpart: the TF model never cuts from a full object)."""
    from ptycho_torch import physics as tp

    rng = np.random.default_rng(seed)
    obj = _cplx(rng, (n + 40, n + 40), prec)
    pos = rng.uniform(n // 2, n // 2 + 40, (3, 2)).astype(DTYPES[prec][0])
    ref = physics.extract_patches(obj.astype(np.complex128), pos.astype(np.float64), n)
    _compare("extract_patches", prec, ref, tp.extract_patches(_t(obj, device), _t(pos, device), n), None, f"n={n}")


@settings(max_examples=ps.examples(8))
@given(prec=precisions, n=sizes, c=st.sampled_from([1, 4, 9]), mask=st.booleans(), seed=st.integers(0, 2**16))
def test_illuminate_and_far_field(device, prec, n, c, mask, seed):
    from ptycho_torch import physics as tp

    rng = np.random.default_rng(seed)
    patches = _cplx(rng, (2, n, n, c), prec)
    probe = ps.default_probe(n).astype(DTYPES[prec][1])
    ref = physics.illuminate_channels(patches.astype(np.complex128), probe.astype(np.complex128), mask=mask)
    out = tp.illuminate_channels(_t(patches, device), _t(probe, device), mask=mask)
    pm = physics.probe_mask(n) if mask else None
    _compare("illuminate_channels", prec, ref, out, lambda: _tf()[0].illuminate(patches, probe, pm), f"n={n} c={c}")
    field = np.moveaxis(ref, -1, 1).astype(DTYPES[prec][1])  # (B, C, N, N)
    ref2 = physics.far_field_amplitude(field.astype(np.complex128))
    out2 = tp.far_field_amplitude(_t(field, device))
    _compare("far_field_amplitude", prec, ref2, out2, lambda: _tf()[0].far_field_amplitude(field), f"n={n} c={c}")


@settings(max_examples=ps.examples(10))
@given(prec=precisions, n=sizes, gs=st.integers(1, 3), object_big=st.booleans(), mask=st.booleans(),
       seed=st.integers(0, 2**16))
def test_forward_model(device, prec, n, gs, object_big, mask, seed):
    """The composite physics chain (specs/physics.md §12) at the reference canvas size."""
    from ptycho_torch import physics as tp

    rng = np.random.default_rng(seed)
    c = gs * gs
    f = c if object_big else 1
    patches = _cplx(rng, (2, n, n, f), prec)
    rel = (rng.uniform(-7, 7, (2, 1, 2, c)) if c > 1 else np.zeros((2, 1, 2, 1))).astype(DTYPES[prec][0])
    probe = ps.default_probe(n).astype(DTYPES[prec][1])
    s = 31.6
    m = physics.canvas_size(n, gs, rel.astype(np.float64))
    ref = physics.forward_model(patches.astype(np.complex128), probe.astype(np.complex128), rel.astype(np.float64),
                                s, object_big=object_big, probe_mask=mask, M=m)
    out = tp.forward_model(_t(patches, device), _t(probe, device), _t(rel, device), s, object_big=object_big,
                           probe_mask=mask, M=m)
    pm = physics.probe_mask(n) if mask else None
    _compare("forward_model", prec, ref, out,
             lambda: _tf()[0].forward_from_patches(patches, probe, rel, s, object_big=object_big, probe_mask=pm, m=m)[1],
             f"n={n} gs={gs} object_big={object_big} mask={mask}")


@settings(max_examples=ps.examples(8))
@given(prec=precisions, n=sizes, gs=st.integers(1, 2), k=st.integers(1, 4), mask=st.booleans(),
       seed=st.integers(0, 2**16))
def test_forward_model_probe_modes(device, prec, n, gs, k, mask, seed):
    """K incoherent probe modes (specs/physics.md §12.1): the intensities of the modes add, in all three."""
    from ptycho_torch import physics as tp

    rng = np.random.default_rng(seed)
    c = gs * gs
    patches = _cplx(rng, (2, n, n, c), prec)
    rel = (rng.uniform(-7, 7, (2, 1, 2, c)) if c > 1 else np.zeros((2, 1, 2, 1))).astype(DTYPES[prec][0])
    base = ps.default_probe(n)
    modes = np.stack([base * (0.8 ** j) * np.exp(1j * rng.uniform(-3, 3, (n, n)) * j) for j in range(k)])
    modes = modes.astype(DTYPES[prec][1])
    s = 31.6
    m = physics.canvas_size(n, gs, rel.astype(np.float64))
    ref = physics.forward_model(patches.astype(np.complex128), modes.astype(np.complex128), rel.astype(np.float64),
                                s, probe_mask=mask, M=m)
    out = tp.forward_model(_t(patches, device), _t(modes, device), _t(rel, device), s, probe_mask=mask, M=m)
    pm = physics.probe_mask(n) if mask else None
    _compare("forward_model_modes", prec, ref, out,
             lambda: _tf()[0].forward_from_patches(patches, modes, rel, s, probe_mask=pm, m=m)[1],
             f"n={n} gs={gs} K={k} mask={mask}")
    waves = np.moveaxis(np.stack([physics.illuminate_channels(patches, p) for p in modes], 1), -1, 1)
    ref2 = physics.incoherent_amplitude(waves.astype(np.complex128), mode_axis=2)
    _compare("incoherent_amplitude", prec, ref2, tp.incoherent_amplitude(_t(waves, device), mode_axis=2),
             lambda: _tf()[0].incoherent_amplitude(waves, mode_axis=2), f"n={n} gs={gs} K={k}")


@pytest.mark.parametrize("interpolation", ["bilinear", "fourier"])
@settings(max_examples=ps.examples(8))
@given(prec=precisions, n=sizes, p=st.integers(1, 12), m=st.sampled_from([8, 20, 32]), seed=st.integers(0, 2**16))
def test_reassemble_position(device, interpolation, prec, n, p, m, seed):
    """specs/physics.md §6 (bilinear) and §6.2 (interpolation='fourier', sub-pixel offsets): numpy vs Torch vs TF."""
    from ptycho_torch import physics as tp

    rng = np.random.default_rng(seed)
    patches = _cplx(rng, (p, n, n), prec)
    off = rng.uniform(20, 60, (p, 2))
    ref = physics.reassemble_position(patches.astype(np.complex128), off, M=m, interpolation=interpolation)
    out = tp.reassemble_position(_t(patches, device), _t(off, device), M=m, interpolation=interpolation)
    name = "reassemble_position" + ("" if interpolation == "bilinear" else "_" + interpolation)
    _compare(name, prec, ref, out, lambda: _tf()[0].reassemble_position(patches, off, m, interpolation=interpolation),
             f"n={n} P={p} M={m}")


@settings(max_examples=ps.examples(8))
@given(prec=precisions, n=sizes, seed=st.integers(0, 2**16))
def test_losses(device, prec, n, seed):
    from ptycho_torch import physics as tp

    rng = np.random.default_rng(seed)
    pred = (rng.gamma(2.0, 50.0, (2, n, n, 1))).astype(DTYPES[prec][0])
    pred.flat[:5] = 0.0  # exercises the log floor
    obs = rng.poisson(pred.astype(np.float64) + 1.0).astype(DTYPES[prec][0])
    ref = physics.poisson_nll(obs.astype(np.float64), pred.astype(np.float64))
    out = tp.poisson_nll(_t(obs, device), _t(pred, device))
    _compare("poisson_nll", prec, ref, out, lambda: _tf()[1].poisson_nll(obs, pred), f"n={n}")
    ref2 = physics.amplitude_mae(np.sqrt(obs.astype(np.float64)), np.sqrt(pred.astype(np.float64)))
    a, b = np.sqrt(obs), np.sqrt(pred)
    _compare("amplitude_mae", prec, ref2, tp.amplitude_mae(_t(a, device), _t(b, device)),
             lambda: _tf()[1].amplitude_mae(a, b), f"n={n}")


@pytest.mark.parametrize("prec", ["f64", "f32"])
@pytest.mark.parametrize("gs", [1, 2, 3])
def test_layout_conversions(device, prec, gs):
    """channel <-> flat <-> grid (specs/physics.md §1.2): identical element placement in all three."""
    from ptycho_torch import physics as tp

    rng = np.random.default_rng(gs)
    c = gs * gs
    x = _cplx(rng, (3, 8, 8, c), prec)
    flat = physics.channel_to_flat(x)
    _compare("channel_to_flat", prec, flat, tp.channel_to_flat(_t(x, device)), lambda: _tf()[0].channel_to_flat(x))
    _compare("flat_to_channel", prec, physics.flat_to_channel(flat, c), tp.flat_to_channel(_t(flat, device), c),
             lambda: _tf()[0].flat_to_channel(flat, gs))
    grid = physics.channel_to_grid(x)
    _compare("channel_to_grid", prec, grid, tp.channel_to_grid(_t(x, device)), lambda: _tf()[0].channel_to_grid(x, gs))
    _compare("grid_to_channel", prec, physics.grid_to_channel(grid), tp.grid_to_channel(_t(grid, device)),
             lambda: _tf()[0].grid_to_channel(grid))
    # an independent closed form for the channel->flat order: flat[b*C + c] == x[b, :, :, c]
    assert np.array_equal(flat[1 * c + (c - 1), ..., 0], x[1, ..., c - 1])


@settings(max_examples=ps.examples(6))
@given(prec=precisions, sigma=st.floats(0.3, 3.0), seed=st.integers(0, 2**16))
def test_exit_wave_smoothing(device, prec, sigma, seed):
    """gaussian_smoothing_sigma: 3x3 Gaussian blur of the exit wave, reflect padding (facts §1.1; no numpy
    reference op exists, so the closed form is scipy.ndimage.convolve with mode='mirror' in float64)."""
    from scipy import ndimage

    from ptycho_torch.forward_model import ForwardModel

    rng = np.random.default_rng(seed)
    n, c = 64, 2
    field = _cplx(rng, (1, c, n, n), prec)
    r = np.arange(-1, 2)
    k = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2.0 * sigma**2))
    k /= k.sum()
    f64 = field.astype(np.complex128)
    ref = np.stack([ndimage.convolve(f64[0, i].real, k, mode="mirror")
                    + 1j * ndimage.convolve(f64[0, i].imag, k, mode="mirror") for i in range(c)])[None]
    ones = np.ones((n, n), DTYPES[prec][1])
    fm = ForwardModel(n, 1, torch.from_numpy(ones), 1.0, gaussian_smoothing_sigma=sigma).to(device)
    out = fm.exit_wave(_t(field, device))
    _compare("exit-wave smoothing", prec, ref, out, lambda: _tf()[0].gaussian_smooth_3x3(_tf_const(field), sigma), f"sigma={sigma:.2f}")


def _tf_const(x):
    import tensorflow as tf

    return tf.constant(x)
