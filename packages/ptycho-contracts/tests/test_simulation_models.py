"""Measurement models of sub-pixel positions (specs/simulation.md §6), checked against closed forms and
the numpy physics."""

from __future__ import annotations

import numpy as np
import pytest

from ptycho.physics import extract_patches, far_field_amplitude
from ptycho.simulation import make_probe, simulate
from ptycho.simulation.models import (
    band_limit,
    finegrid_amplitudes,
    probe_shift_amplitudes,
    quantise_positions,
    upsample_probe,
)


def _smooth(r, c):
    """A smooth (effectively band-limited) complex test function of object coordinates."""
    return (0.6 + 0.4 * np.exp(-((r - 60.3) ** 2 + (c - 57.1) ** 2) / (2 * 12.0**2))) * np.exp(
        1j * np.sin(r / 6.0) * np.cos(c / 7.0))


def _sampled(size, s):
    u = np.arange(size * s) / s
    rr, cc = np.meshgrid(u, u, indexing="ij")
    return _smooth(rr, cc)


def test_band_limit_samples_a_band_limited_image_on_the_object_grid():
    """§6: coarse pixel i of band_limit is fine pixel S i; a smooth image comes back (the mirrored
    extension's kink at the border costs ~1e-2 in the outer pixels)."""
    fine, coarse = _sampled(96, 4), _sampled(96, 1)
    np.testing.assert_allclose(band_limit(fine, 4)[8:-8, 8:-8], coarse[8:-8, 8:-8], atol=1e-3)
    # a step (content beyond the band) does not: the band of a sharp edge is not its samples
    step = np.zeros((96 * 4, 96 * 4))
    step[:, 190:] = 1.0
    assert np.abs(band_limit(step, 4) - step[::4, ::4]).max() > 0.05


def test_upsampled_probe_passes_through_the_stored_probe():
    """§6: the fine probe sampled every S fine pixels is the (N, N) probe."""
    p = make_probe("zoneplate", 64)
    fine = upsample_probe(p, 4)
    assert fine.shape == (256, 256)
    np.testing.assert_allclose(fine[::4, ::4], p, atol=1e-5 * np.abs(p).max())


def test_finegrid_equals_the_object_grid_model_for_a_smooth_object():
    """§6: for a smooth object and a compact probe the neutral model is the (N, N) forward model of the
    object's samples (up to the aliasing of their product, < 1 %)."""
    n = 64
    probe = make_probe("zoneplate", n)
    pos = np.array([[60.0, 62.0], [57.25, 64.5]])
    a = finegrid_amplitudes(_sampled(128, 4), probe, pos, n, 4)
    b = far_field_amplitude(extract_patches(_sampled(128, 1), pos, n, "fourier") * probe)
    assert np.linalg.norm(a - b) / np.linalg.norm(b) < 0.01


def test_probe_shift_model_at_integer_positions_is_the_plain_forward_model():
    """§6: with whole-pixel positions the probe-shift model has nothing to shift."""
    rng = np.random.default_rng(0)
    obj = np.exp(1j * rng.uniform(-1, 1, (100, 100)))
    probe = make_probe("fresnel", 64)
    pos = np.array([[50.0, 48.0], [47.0, 52.0]])
    np.testing.assert_allclose(probe_shift_amplitudes(obj, probe, pos, 64),
                               far_field_amplitude(extract_patches(obj, pos, 64) * probe), rtol=1e-6, atol=1e-9)
    # a fractional shift changes the pattern
    moved = probe_shift_amplitudes(obj, probe, pos + 0.5, 64)
    assert np.abs(moved - probe_shift_amplitudes(obj, probe, pos, 64)).max() > 1e-3


@pytest.mark.parametrize("model", ["finegrid", "fourier", "probe", "bilinear"])
def test_every_model_simulates_a_contract_scan(model):
    """§3, §6: each model gives counts totalling nphotons per pattern on average; finegrid quantises positions."""
    d = simulate("siemens", N=64, n_positions=40, object_size=128, nphotons=1e5, seed=2, probe_kind="zoneplate",
                 jitter=1.0, interpolation=model)
    counts = (d["diffraction"].astype(np.float64) * float(d["sim_intensity_scale"])) ** 2
    assert abs(counts.sum(axis=(1, 2)).mean() / 1e5 - 1) < 0.02
    if model == "finegrid":
        pos = np.stack([d["xcoords"], d["ycoords"]], axis=1)
        np.testing.assert_array_equal(pos, quantise_positions(pos, 4))
        assert np.any(pos % 1 != 0)
        assert '"oversample": 4' in str(d["_metadata"])


def test_the_models_disagree_on_a_sharp_object():
    """§6: the Siemens star has content beyond the band, so the neutral data differ from each
    solver's own model (which is why a benchmark must not simulate with either)."""
    common = dict(object_kind="siemens", N=64, n_positions=30, object_size=128, nphotons=1e12, seed=4,
                  probe_kind="zoneplate", jitter=1.0)
    fine = simulate(interpolation="finegrid", **common)
    pos = np.stack([fine["xcoords"], fine["ycoords"]], axis=1)
    obj, probe = fine["objectGuess"], fine["probeGuess"]
    measured = fine["diffraction"].astype(np.float64)  # same units as the models' amplitudes
    object_shift = far_field_amplitude(extract_patches(obj, pos, 64, "fourier") * probe)
    probe_shift = probe_shift_amplitudes(obj, probe, pos, 64)
    for model in (object_shift, probe_shift):
        rel = np.linalg.norm(model - measured) / np.linalg.norm(measured)
        assert 0.002 < rel < 0.2


def test_bad_model_arguments_are_one_line_errors():
    """§3: unknown model and bad oversample name the argument."""
    with pytest.raises(ValueError, match="simulate: interpolation"):
        simulate(N=64, n_positions=4, object_size=128, interpolation="cubic")
    with pytest.raises(ValueError, match="simulate: oversample"):
        simulate(N=64, n_positions=4, object_size=128, interpolation="finegrid", oversample=0)
