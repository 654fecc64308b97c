"""The generator on the scan's refined object (specs/network.md §8.3): the estimate's frame, units and grouping,
the zero-head identity, the refusals, and training and inference computing it the same way."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho.physics import far_field_amplitude
from ptycho.raw_data import RawData
from ptycho.simulation import simulate
from ptycho_torch.data import create_ptycho_data_container
from ptycho_torch.generators.refined_input import attach_refined_estimate, place_on_grid
from ptycho_torch.lightning_module import PtychoPINN_Lightning
from ptycho_torch.teacher import label_patches
from ptycho_torch.teacher.labels import refine_and_cut


@pytest.fixture(scope="module")
def scan() -> dict:
    return simulate(object_kind="siemens", N=64, n_positions=40, object_size=128, probe_kind="zoneplate",
                    jitter=1.0, interpolation="fourier", nphotons=1e6, seed=5)


def _raw(scan: dict) -> RawData:
    return RawData(scan["xcoords"], scan["ycoords"], scan["xcoords_start"], scan["ycoords_start"],
                   scan["diffraction"], scan["probeGuess"], scan["scan_index"])


def _config(gridsize: int = 1, passes: int = 3, **kw) -> TrainingConfig:
    mc = ModelConfig(N=64, gridsize=gridsize, n_filters_scale=1, input_refine_passes=passes, **kw)
    return TrainingConfig(model=mc, backend="pytorch", nphotons=1e6, n_groups=None)


def _zero_heads(module: PtychoPINN_Lightning) -> None:
    for dec in (module.decoder_amp, module.decoder_phase):
        for name, m in dec.named_modules():
            if name in ("head", "border.out"):
                torch.nn.init.zeros_(m.weight)
                torch.nn.init.zeros_(m.bias)


def _misfit(module: PtychoPINN_Lightning, container, patches: torch.Tensor) -> float:
    """Relative amplitude misfit of ``patches`` (n, N, N, C) under the module's forward model."""
    batch = container.batch(torch.arange(len(container)))
    _, pred = module.forward_model(patches.to(torch.complex64), batch["coords_relative"])
    target = batch["X"] * container.intensity_scale
    return float((pred - target).norm() / target.norm())


@pytest.mark.parametrize("gridsize", [1, 2])
def test_the_estimate_is_the_refined_scan_cut_at_every_member_in_the_networks_units(scan, gridsize) -> None:
    """Each member's estimate is the refined object's patch at that member's scan position (nn_indices), up to
    one constant phase and one real factor; the factor is the least-squares one (scaling it by 0.9 or 1.1
    raises the misfit) and the estimate explains the data better than the flat start."""
    config = _config(gridsize)
    raw = _raw(scan)
    container = create_ptycho_data_container(raw, config)
    module = PtychoPINN_Lightning(config.model, config, container.probe, container.intensity_scale)
    info = attach_refined_estimate(container, raw, 3, module.forward_model)
    n, C = len(container), gridsize ** 2
    assert tuple(container.estimate.shape) == (n, 64, 64, C) and container.estimate.dtype == torch.complex64
    # independent cut: the refined object's patches at the raw positions, grouped by nn_indices
    pos = np.stack([scan["xcoords"], scan["ycoords"]], 1)
    patches, result = refine_and_cut(scan["diffraction"], pos, scan["probeGuess"], 3)
    canvas, origin = result.object, tuple(float(v) for v in result.origin_xy)
    np.testing.assert_allclose(info.object, canvas * info.amplitude_factor * np.exp(-1j * info.phase_offset),
                               rtol=0, atol=1e-5 * np.abs(canvas).max())
    assert info.origin_xy == origin and container.refined is info
    want = patches[container.nn_indices.numpy()].transpose(0, 2, 3, 1)
    want = want * info.amplitude_factor * np.exp(-1j * info.phase_offset)
    np.testing.assert_allclose(container.estimate.numpy(), want, rtol=0, atol=1e-4 * np.abs(want).max())
    best = _misfit(module, container, container.estimate)
    assert best < min(_misfit(module, container, container.estimate * 0.9),
                      _misfit(module, container, container.estimate * 1.1))
    flat = torch.full_like(container.estimate, complex(info.amplitude_factor))
    assert best < 0.5 * _misfit(module, container, flat)
    batch = container.batch([1, 0])
    torch.testing.assert_close(batch["estimate"], container.estimate[[1, 0]])


def test_more_passes_give_an_estimate_closer_to_the_truth(scan) -> None:
    """The estimate improves with R: the patches after 6 passes are nearer the true patches (after the best
    constant phase and scale) than after 1."""
    pos = np.stack([scan["xcoords"], scan["ycoords"]], 1)
    truth = label_patches(scan["objectGuess"], (0, 0), pos, 64)
    probe_power = np.abs(scan["probeGuess"]) ** 2
    w = probe_power / probe_power.max() > 0.1  # where the probe lights the patch

    def error(est: np.ndarray) -> float:
        c = np.vdot(est[:, w], truth[:, w]) / np.vdot(est[:, w], est[:, w])  # best complex factor
        return float(np.linalg.norm(c * est[:, w] - truth[:, w]) / np.linalg.norm(truth[:, w]))

    one = refine_and_cut(scan["diffraction"], pos, scan["probeGuess"], 1)[0]
    six = refine_and_cut(scan["diffraction"], pos, scan["probeGuess"], 6)[0]
    assert error(six) < 0.8 * error(one), (error(one), error(six))


def test_with_zero_heads_the_network_returns_its_refined_estimate(scan) -> None:
    """amp = |E| and phase = angle(E) when the correction heads output 0; the batch's 'estimate' is what the
    module reads (a different estimate gives a different output) and predict_step reads it too."""
    config = _config(1)
    raw = _raw(scan)
    container = create_ptycho_data_container(raw, config)
    module = PtychoPINN_Lightning(config.model, config, container.probe, container.intensity_scale).eval()
    _zero_heads(module)
    attach_refined_estimate(container, raw, 2, module.forward_model)
    batch = container.batch([0, 1, 2])
    with torch.no_grad():
        out = module(batch["X"] * container.intensity_scale, batch["coords_relative"], estimate=batch["estimate"])
        members = module.predict_step(batch)["members"]
    est = batch["estimate"]
    torch.testing.assert_close(out["amp"], est.abs(), rtol=0, atol=1e-5)
    diff = torch.angle(torch.exp(1j * (out["phase"] - est.angle())))
    assert float(diff.abs().max()) < 1e-4
    torch.testing.assert_close(members[:, 0], est[..., 0], rtol=0, atol=2e-5)
    with torch.no_grad():
        other = module(batch["X"] * container.intensity_scale, batch["coords_relative"],
                       estimate=torch.ones_like(est))
    assert float((other["amp"] - 1).abs().max()) < 1e-5


def test_a_batch_without_the_estimate_is_refused(scan) -> None:
    config = _config(1)
    module = PtychoPINN_Lightning(config.model, config, scan["probeGuess"], 1.0)
    x = torch.from_numpy(far_field_amplitude(scan["probeGuess"][None] * np.ones((2, 64, 64)))).float()[..., None]
    with pytest.raises(ValueError, match=r"input_refine_passes = 3: expected the batch's 'estimate' of shape "
                                         r"\(2, 64, 64, 1\).*found None"):
        module(x, torch.zeros(2, 1, 2, 1))


@pytest.mark.parametrize("kw, message", [
    (dict(input_refine_passes=-1), "ModelConfig.input_refine_passes: expected an integer >= 0"),
    (dict(input_refine_passes=2, input_projections=20), "expected 0 with input_projections 20"),
    (dict(input_refine_passes=2, architecture="fno"), "expected 0 with architecture 'fno'"),
    (dict(input_refine_passes=2, gridsize=2, object_big=False), "0 with object_big=False and gridsize > 1"),
])
def test_bad_refined_input_settings_name_the_field(kw, message) -> None:
    with pytest.raises(ValueError, match=message):
        ModelConfig(N=64, **kw)


def test_the_refined_estimate_needs_the_scan_itself(scan) -> None:
    """A container without its RawData cannot be given an estimate: one line naming the field."""
    config = _config(1)
    raw = _raw(scan)
    container = create_ptycho_data_container(raw, config)
    module = PtychoPINN_Lightning(config.model, config, container.probe, container.intensity_scale)
    with pytest.raises(ValueError, match="input_refine_passes: the refined estimate needs the scan as RawData"):
        attach_refined_estimate(container, container, 2, module.forward_model)


def test_place_on_grid_samples_the_object_at_fractional_origins() -> None:
    """A band-limited blob sampled on a grid whose origin is 3.25 / -1.5 px off the object's: the Fourier shift
    gives the blob's closed form there (no bilinear blur); pixels the object does not have are 0."""
    yy, xx = np.mgrid[0:48, 0:48].astype(np.float64)

    def blob(x, y):
        return np.exp(-((x - 20.0) ** 2 + (y - 26.0) ** 2) / (2 * 1.5 ** 2)) * np.exp(0.3j)

    obj = blob(xx + 10, yy + 5).astype(np.complex64)  # pixel (0, 0) at object (10, 5)
    got = place_on_grid(obj, (10.0, 5.0), np.array([13.25, 3.5]), (30, 40)).numpy()
    gy, gx = np.mgrid[0:30, 0:40].astype(np.float64)
    want = blob(gx + 13.25, gy + 3.5)
    inside = (gx + 13.25 - 10 <= 46) & (gy + 3.5 - 5 >= 0)
    assert np.abs(got[inside] - want[inside]).max() < 1e-3
    assert np.all(got[~inside] == 0)
    bilinear = 0.75 * blob(gx + 13, gy + 3.5) + 0.25 * blob(gx + 14, gy + 3.5)
    assert np.abs(bilinear[inside] - want[inside]).max() > 10 * np.abs(got[inside] - want[inside]).max()


def test_inference_adds_the_stitched_corrections_to_the_refined_object(scan) -> None:
    """specs/network.md §8.3: with zero correction heads the inference canvas is the refined object on the stitch
    grid, exactly; with a trained-looking correction it is that object plus the stitch of (patch - estimate)."""
    from ptycho.physics.patches import canvas_origin
    from ptycho_torch.stitching import stitch_patches
    from ptycho_torch.workflows.reassembly import reassemble_cdi_image_torch, stitch_offsets

    config = _config(1, passes=2)
    raw = _raw(scan)
    module = PtychoPINN_Lightning(config.model, config, scan["probeGuess"], 1.0).eval()
    from ptycho_torch.workflows.models import module_intensity_scale

    s = module_intensity_scale(module)
    models = {"lightning_module": module, "intensity_scale": s}
    execution = {"accelerator": "cpu", "inference_batch_size": 8, "num_workers": 0}
    _zero_heads(module)
    _, _, res = reassemble_cdi_image_torch(raw, config, M=20, models=models, execution_config=execution)
    container = res["test_container"]
    canvas = torch.from_numpy(res["stitched_obj"])
    grid = canvas_origin(res["global_offsets"], canvas.shape[0], 20)
    placed = place_on_grid(container.refined.object, container.refined.origin_xy, grid, tuple(canvas.shape))
    torch.testing.assert_close(canvas, placed, rtol=0, atol=1e-5)
    torch.manual_seed(3)
    for dec in (module.decoder_amp, module.decoder_phase):  # heads that correct something
        for name, m in dec.named_modules():
            if name in ("head", "border.out"):
                torch.nn.init.normal_(m.weight, std=0.05)
    _, _, res = reassemble_cdi_image_torch(raw, config, M=20, models=models, execution_config=execution)
    patches = torch.from_numpy(res["obj_tensor_full"][..., 0])
    est = res["test_container"].estimate[..., 0]
    corr, _ = stitch_patches(patches - est, stitch_offsets(res["test_container"]), 20)
    got = torch.from_numpy(res["stitched_obj"])
    assert float((got - placed).abs().max()) > 1e-3  # the corrections are there
    torch.testing.assert_close(got, placed + corr, rtol=0, atol=1e-4)


def test_rotate_phase_turns_the_phase_and_keeps_the_amplitude() -> None:
    """The teacher's labels move into the estimate's frame by a complex factor (a real one would scale them)."""
    from ptycho_torch.generators.refined_input import rotate_phase

    y = torch.polar(torch.tensor([0.5, 2.0]), torch.tensor([0.1, -3.0])).to(torch.complex64)
    out = rotate_phase(y, 1.2)
    assert out.dtype == torch.complex64
    torch.testing.assert_close(out.abs(), y.abs())
    torch.testing.assert_close(torch.angle(out * y.conj()), torch.full((2,), 1.2), atol=1e-6, rtol=0)


def test_streamed_refined_canvas_equals_in_memory(tmp_path) -> None:
    """An HDF5 scan read on demand (stitched batch by batch) gives the same canvas as the in-memory scan: the
    refined object plus the stitched corrections (specs/network.md §8.3, specs/scaling.md §3)."""
    from pathlib import Path

    from ptycho.data_contract import read_npz, validate_arrays
    from ptycho.scan_hdf5 import write_scan_hdf5
    from ptycho_torch.workflows.reassembly import reassemble_cdi_image_torch

    fixture = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"
    path = tmp_path / "scan.h5"
    write_scan_hdf5(path, validate_arrays(read_npz(fixture), source=str(fixture)), chunk_patterns=16)
    mc = ModelConfig(N=64, gridsize=1, n_filters_scale=1, input_refine_passes=2)
    config = TrainingConfig(model=mc, n_groups=None, batch_size=8, nepochs=1, backend="pytorch",
                            output_dir=tmp_path)
    torch.manual_seed(1)
    module = PtychoPINN_Lightning(mc, config, RawData.from_file(fixture).probeGuess).eval()
    for dec in (module.decoder_amp, module.decoder_phase):  # heads that correct something
        for name, m in dec.named_modules():
            if name in ("head", "border.out"):
                torch.nn.init.normal_(m.weight, std=0.05)
    models = {"lightning_module": module}
    cpu = {"accelerator": "cpu", "inference_batch_size": 5}
    _, _, lazy = reassemble_cdi_image_torch(RawData.from_file(path), config, M=20, models=models, execution_config=cpu)
    _, _, mem = reassemble_cdi_image_torch(RawData.from_file(fixture), config, M=20, models=models,
                                           execution_config=cpu)
    assert "obj_tensor_full" not in lazy and mem["test_container"].refined is not None
    np.testing.assert_allclose(lazy["stitched_obj"], mem["stitched_obj"], rtol=1e-4, atol=1e-5)
    assert np.abs(mem["stitched_obj"] - mem["stitched_obj"].mean()).max() > 1e-3  # not a flat canvas
