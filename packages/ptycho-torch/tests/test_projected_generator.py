"""The generator on projected input (specs/network.md §8) and the torch modulus projections (specs/physics.md §13)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho.physics import default_probe, far_field_amplitude
from ptycho.physics import group_projections as numpy_group_projections
from ptycho.physics import modulus_projections as numpy_projections
from ptycho_torch.generators import build_generator
from ptycho_torch.generators.projected import AMP_STEP
from ptycho_torch.lightning_module import PtychoPINN_Lightning
from ptycho_torch.physics import modulus_projections
from ptycho_torch.physics.projection import group_projections


def _modes(n: int, k: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((k, n, n)) + 1j * rng.standard_normal((k, n, n))


@pytest.mark.parametrize("k", [1, 3])
def test_torch_projections_match_the_numpy_reference(k):
    rng = np.random.default_rng(1)
    amp = np.abs(rng.standard_normal((2, 3, 32, 32)))
    probe = _modes(32, k)[0] if k == 1 else _modes(32, k)
    ref = numpy_projections(amp, probe, 6)
    got = modulus_projections(torch.from_numpy(amp), torch.from_numpy(probe), 6)
    assert got.dtype == torch.complex128
    np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-12)
    got32 = modulus_projections(torch.from_numpy(amp).float(), torch.from_numpy(probe).to(torch.complex64), 6)
    assert got32.dtype == torch.complex64
    np.testing.assert_allclose(got32.numpy(), ref, rtol=0, atol=2e-4 * np.abs(ref).max())


def _module(gridsize: int = 1, projections: int = 4) -> PtychoPINN_Lightning:
    mc = ModelConfig(N=64, gridsize=gridsize, n_filters_scale=1, input_projections=projections)
    return PtychoPINN_Lightning(mc, TrainingConfig(model=mc, nphotons=1e6), default_probe(64), 1.0)


@pytest.mark.parametrize("gridsize", [1, 2])
def test_with_zero_heads_the_network_returns_the_projected_estimate(gridsize):
    """amp = |O_K| and phase = angle(O_K) when the correction heads output 0 (specs/network.md §8)."""
    torch.manual_seed(0)
    module = _module(gridsize).eval()
    for dec in (module.decoder_amp, module.decoder_phase):
        heads = [m for name, m in dec.named_modules() if name in ("head", "border.out")]
        for head in heads:
            torch.nn.init.zeros_(head.weight)
            torch.nn.init.zeros_(head.bias)
    C = gridsize ** 2
    probe = module.forward_model.probe.numpy()
    rng = np.random.default_rng(2)
    objects = np.exp(0.3j * rng.standard_normal((2, C, 64, 64)))  # amplitudes a weak object would give
    x = torch.from_numpy(far_field_amplitude(probe * objects)).float().permute(0, 2, 3, 1).contiguous()
    rel = torch.zeros(2, 1, 2, C)
    if C > 1:  # a group's members 3 px apart: the estimate is the members' joint one (specs/physics.md §13.1)
        rel[:, 0, 0] = torch.tensor([-1.5, 1.5, -1.5, 1.5])
        rel[:, 0, 1] = torch.tensor([-1.5, -1.5, 1.5, 1.5])
    with torch.no_grad():
        out = module(x, rel)
    if C == 1:
        est = modulus_projections(x.permute(0, 3, 1, 2), module.forward_model.probe, 4).numpy()
    else:
        est = group_projections(x.permute(0, 3, 1, 2), module.forward_model.probe, rel, 4).numpy()
    got = out["patches"].permute(0, 3, 1, 2).numpy()
    np.testing.assert_allclose(np.abs(got), np.abs(est), atol=1e-6)
    np.testing.assert_allclose(np.angle(got * np.conj(est)), 0.0, atol=1e-5)
    # and the estimate is the numpy reference's to float32 precision (the far-field phase of weak pixels, which
    # each pass keeps, carries float32 FFT rounding: ~1e-2 where the estimate is ~1)
    if C == 1:
        ref = numpy_projections(x.double().permute(0, 3, 1, 2).numpy(), probe, 4)
    else:
        ref = np.moveaxis(numpy_group_projections(x.double().numpy(), probe, rel.double().numpy(), 4), -1, 1)
    assert np.max(np.abs(est - ref)) < 2e-2 and np.mean(np.abs(est - ref)) < 1e-3


@pytest.mark.parametrize("k", [1, 3])
def test_torch_group_projections_match_the_numpy_reference(k):
    """specs/physics.md §13.1: the same canvas iteration in float64 to 1e-12, float32 to float32 precision."""
    rng = np.random.default_rng(4)
    amp = np.abs(rng.standard_normal((2, 32, 32, 4)))
    rel = rng.uniform(-5, 5, (2, 1, 2, 4))
    probe = _modes(32, k)[0] if k == 1 else _modes(32, k)
    ref = np.moveaxis(numpy_group_projections(amp, probe, rel, 5), -1, 1)
    got = group_projections(torch.from_numpy(amp).permute(0, 3, 1, 2), torch.from_numpy(probe),
                            torch.from_numpy(rel), 5)
    assert got.dtype == torch.complex128 and tuple(got.shape) == (2, 4, 32, 32)
    np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    got32 = group_projections(torch.from_numpy(amp).float().permute(0, 3, 1, 2), torch.from_numpy(probe).to(
        torch.complex64), torch.from_numpy(rel).float(), 5)
    np.testing.assert_allclose(got32.numpy(), ref, rtol=0, atol=1e-3 * np.abs(ref).max())
    with pytest.raises(ValueError, match=r"^group_projections: coords_relative: expected shape \(2, 1, 2, 4\)"):
        group_projections(torch.from_numpy(amp).permute(0, 3, 1, 2), torch.from_numpy(probe), torch.zeros(2, 1, 2), 1)


def test_the_correction_is_bounded_and_trained():
    """The amplitude correction spans +-AMP_STEP*pi = +-0.5; one Adam step on the Poisson loss changes the heads."""
    assert AMP_STEP * np.pi == pytest.approx(0.5)
    module = _module()
    batch = {"X": torch.rand(4, 64, 64, 1), "coords_relative": torch.zeros(4, 1, 2, 1)}
    before = module.decoder_phase.head.weight.detach().clone()
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    loss = module.compute_loss(batch)[0]
    loss.backward()
    opt.step()
    assert not torch.equal(before, module.decoder_phase.head.weight)
    assert module.encoder.blocks[0].conv1.weight.shape[1] == 2  # reads Re(O)-1 and Im(O)


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(input_projections=-1), "ModelConfig.input_projections: expected an integer >= 0"),
    (dict(input_projections=3, architecture="fno"), "the projected input feeds the CNN generator only"),
    (dict(input_projections=3, model_type="supervised"), "the supervised baseline reads the diffraction amplitude"),
    (dict(input_projections=3, gridsize=2, object_big=False), "needs object_big"),
    (dict(correction_window=32), "ModelConfig.correction_window: expected 0 with input_projections 0"),
    (dict(input_projections=3, correction_window=36), "a multiple of 8 <= N = 64"),
    (dict(input_projections=3, correction_window=72), "a multiple of 8 <= N = 64"),
])
def test_bad_configs_name_the_field(kwargs, message):
    with pytest.raises(ValueError) as err:
        build_generator(ModelConfig(N=64, **kwargs))
    assert message in str(err.value)


def test_each_member_is_corrected_on_its_own():
    """At gridsize 2 the CNN corrects every member's estimate in its own frame with the weights it uses at
    gridsize 1 (specs/network.md §8): a member's output does not change when another member's estimate does, and
    equals the output for that member's estimate alone."""
    from ptycho_torch.generators.projected import correct_estimates

    torch.manual_seed(3)
    module = _module(gridsize=2).eval()
    assert module.encoder.blocks[0].conv1.weight.shape[1] == 2  # one member: Re(O)-1 and Im(O)
    parts = (module.encoder, module.decoder_amp, module.decoder_phase)
    rng = np.random.default_rng(4)
    est = torch.from_numpy(np.exp(0.4j * rng.standard_normal((2, 4, 64, 64))) * (0.8 + 0.2 * rng.random((2, 4, 64, 64))))
    est = est.to(torch.complex64)
    with torch.no_grad():
        amp, phase = correct_estimates(*parts, est, torch.float32)
        other = est.clone()
        other[:, 1] = other[:, 1] * 0.5 + 0.3j
        amp2, phase2 = correct_estimates(*parts, other, torch.float32)
        amp_alone, phase_alone = correct_estimates(*parts, est[:, 2:3], torch.float32)
    assert amp.shape == phase.shape == (2, 4, 64, 64)
    assert not torch.allclose(amp[:, 1], amp2[:, 1])  # the changed member's own output moves
    for c in (0, 2, 3):
        torch.testing.assert_close(amp2[:, c], amp[:, c], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(phase2[:, c], phase[:, c], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(amp_alone[:, 0], amp[:, 2], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(phase_alone[:, 0], phase[:, 2], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("window", [32, 48])
def test_the_correction_window_is_all_the_cnn_reads_and_changes(window):
    """specs/network.md §8.2: with correction_window W the output outside the central W x W is the estimate
    itself, and inside it depends only on the estimate inside (changing the estimate outside changes nothing
    there); the layers are those of the whole-patch network (same parameter shapes)."""
    from ptycho_torch.generators.projected import correct_estimates

    torch.manual_seed(5)
    mc = ModelConfig(N=64, n_filters_scale=1, input_projections=4, correction_window=window)
    module = PtychoPINN_Lightning(mc, TrainingConfig(model=mc, nphotons=1e6), default_probe(64), 1.0).eval()
    whole = _module()
    assert [p.shape for p in module.parameters()] == [p.shape for p in whole.parameters()]
    for dec in (module.decoder_amp, module.decoder_phase):  # heads far from zero: a visible correction
        torch.nn.init.normal_(dec.head.weight, std=0.3)
    parts = (module.encoder, module.decoder_amp, module.decoder_phase)
    rng = np.random.default_rng(6)
    est = torch.from_numpy(np.exp(0.4j * rng.standard_normal((3, 1, 64, 64))) * (0.8 + 0.2 * rng.random((3, 1, 64, 64))))
    est = est.to(torch.complex64)
    lo = (64 - window) // 2
    inside = (slice(None), slice(None), slice(lo, lo + window), slice(lo, lo + window))
    outside = torch.ones(64, 64, dtype=torch.bool)
    outside[lo:lo + window, lo:lo + window] = False
    with torch.no_grad():
        amp, phase = correct_estimates(*parts, est, torch.float32)
        changed = est.clone()
        changed[..., outside] = changed[..., outside] * 0.5 + 0.2j
        amp2, phase2 = correct_estimates(*parts, changed, torch.float32)
    torch.testing.assert_close(amp[..., outside], est.abs()[..., outside], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(phase[..., outside], est.angle()[..., outside], rtol=1e-6, atol=1e-6)
    assert (amp[inside] - est.abs()[inside]).abs().max() > 1e-3  # the CNN does correct inside the window
    torch.testing.assert_close(amp2[inside], amp[inside], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(phase2[inside], phase[inside], rtol=1e-5, atol=1e-6)
