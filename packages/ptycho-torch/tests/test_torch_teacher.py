"""The refinement-teacher recipe's pieces (specs/torch-training.md §8): label frame, phase centring, amplitude
calibration, the split loss's closed form, the two-stage module loss, the stage schedule, the budget."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho.raw_data import RawData
from ptycho.simulation import simulate
from ptycho_torch.data import create_ptycho_data_container
from ptycho_torch.teacher import (
    TeacherPINN_Lightning,
    TeacherSchedule,
    calibrate_amplitude,
    label_patches,
    recentre_phase,
    split_loss,
    wrapped_phase_difference,
)
from ptycho_torch.teacher.workflow import labelled_raw, remaining_budget


@pytest.fixture(scope="module")
def scan() -> dict:
    return simulate(object_kind="siemens", N=64, n_positions=24, object_size=128, probe_kind="zoneplate",
                    jitter=1.0, interpolation="fourier", nphotons=1e6, seed=3)


def _config(**kw) -> TrainingConfig:
    return TrainingConfig(model=ModelConfig(N=64, gridsize=1, n_filters_scale=1), backend="pytorch", nphotons=1e6,
                          n_groups=None, **kw)


def test_labels_of_the_true_object_are_the_true_patches(scan) -> None:
    """§8.1 frame: labels cut from the true object at the scan positions equal the scan's Y (the simulator's
    band-limited patches), also from a sub-canvas whose pixel (0, 0) sits at origin_xy."""
    pos = np.stack([scan["xcoords"], scan["ycoords"]], 1)
    assert not np.allclose(pos, np.round(pos))  # sub-pixel positions: the frame and the cut both matter
    Y = label_patches(scan["objectGuess"], (0, 0), pos, 64)
    np.testing.assert_allclose(Y, scan["Y"], atol=2e-5)
    # a canvas larger than the object (as refinement returns), its pixel (0, 0) at object coordinates (-7, -11)
    obj = scan["objectGuess"]
    canvas = np.zeros((obj.shape[0] + 30, obj.shape[1] + 30), np.complex64)
    canvas[11:11 + obj.shape[0], 7:7 + obj.shape[1]] = obj
    Y2 = label_patches(canvas, (-7, -11), pos, 64)
    np.testing.assert_allclose(Y2, scan["Y"], atol=2e-5)
    # a one-pixel error in the origin is visible: the test can fail
    Y3 = label_patches(canvas, (-6, -11), pos, 64)
    assert np.abs(Y3 - scan["Y"]).max() > 0.05


def test_recentre_phase_puts_the_emptiest_arc_at_the_wrap() -> None:
    """§8.1: a constant phase goes to ~0; a two-level phase with contrast ~π (a Siemens star's spokes at 2.9 rad,
    gaps at -0.3 rad, unequal amplitudes: the case where a circular mean fails) goes to about ±π/2, both levels
    as far from ±π as they can be; amplitudes unchanged."""
    for phi in (0.0, 3.0, -3.1, 1.0):
        out, c = recentre_phase(np.full((2, 4, 4), np.exp(1j * phi), np.complex64))
        assert np.abs(np.angle(out)).max() < 0.02, (phi, c)
    rng = np.random.default_rng(0)
    spokes = rng.random((3, 16, 16)) < 0.6
    Y = (np.where(spokes, 1.0, 0.5) * np.exp(1j * np.where(spokes, 2.9, -0.3))).astype(np.complex64)
    mean_centred = Y * np.exp(-1j * np.angle(Y.sum()))
    assert np.abs(np.angle(mean_centred)).max() > 3.0  # the circular mean leaves a level at the wrap
    out, c = recentre_phase(Y)
    levels = np.unique(np.round(np.angle(out), 2))
    assert len(levels) == 2 and np.abs(np.abs(levels) - np.pi / 2).max() < 0.06, levels
    np.testing.assert_allclose(np.abs(out), np.abs(Y), rtol=1e-6)
    np.testing.assert_allclose(out, Y * np.exp(-1j * c), rtol=1e-5, atol=1e-6)


def test_split_loss_closed_form_with_phase_wrapping() -> None:
    """§8.2: mean|Δamp| + mean|wrap(Δphase)|, on a 2-pixel example whose phases straddle ±π."""
    amp = torch.tensor([0.5, 1.0]).reshape(1, 1, 2, 1)
    label_amp = torch.tensor([0.7, 0.4]).reshape(1, 1, 2, 1)
    phase = torch.tensor([3.0, 0.1], requires_grad=True)
    label_phase = torch.tensor([-3.0, 0.3]).reshape(1, 1, 2, 1)
    loss = split_loss(amp, phase.reshape(1, 1, 2, 1), label_amp, label_phase)
    expected = (0.2 + 0.6) / 2 + ((2 * math.pi - 6.0) + 0.2) / 2
    assert math.isclose(float(loss.detach()), expected, rel_tol=1e-6)
    loss.backward()
    # 3.0 is 0.283 rad *past* -3.0 going down through -π: the gradient pushes it up, towards +π
    np.testing.assert_allclose(phase.grad.numpy(), [-0.5, -0.5], atol=1e-6)
    d = wrapped_phase_difference(torch.tensor([math.pi - 0.1]), torch.tensor([-math.pi + 0.1]))
    assert math.isclose(float(d), -0.2, abs_tol=1e-6)
    weighted = split_loss(amp, phase.detach().reshape(1, 1, 2, 1), label_amp, label_phase, phase_weight=2.0)
    assert math.isclose(float(weighted), 0.4 + 2 * ((2 * math.pi - 6.0) + 0.2) / 2, rel_tol=1e-6)
    with pytest.raises(ValueError, match=r"^split_loss: expected predictions and labels of one shape"):
        split_loss(amp, amp, label_amp.repeat(1, 1, 1, 4), label_phase)


def test_calibration_inverts_a_label_scale_and_ignores_the_ground_truth(scan) -> None:
    """§8.1: k(c·Y) = k(Y)/c; labelled_raw drops objectGuess so the truth never becomes a label."""
    arrays = {k: scan[k] for k in ("xcoords", "ycoords", "xcoords_start", "ycoords_start", "diffraction",
                                   "probeGuess", "scan_index", "objectGuess")}
    raw = RawData(arrays["xcoords"], arrays["ycoords"], arrays["xcoords_start"], arrays["ycoords_start"],
                  arrays["diffraction"], arrays["probeGuess"], arrays["scan_index"], objectGuess=arrays["objectGuess"])
    config = _config(teacher="refine")
    Y = scan["Y"]
    new = labelled_raw(raw, (0.5 * Y).astype(np.complex64))
    assert new.objectGuess is None and raw.objectGuess is not None
    module = TeacherPINN_Lightning(config.model, config, None, None)
    k_half = calibrate_amplitude(module.forward_model, create_ptycho_data_container(new, config))
    k_one = calibrate_amplitude(module.forward_model, create_ptycho_data_container(labelled_raw(raw, Y), config))
    assert k_one > 0 and math.isclose(k_half, 2 * k_one, rel_tol=1e-4)


def _batch(n: int = 2) -> dict:
    g = torch.Generator().manual_seed(0)
    return {"X": torch.rand(n, 64, 64, 1, generator=g) * 0.5, "coords_relative": torch.zeros(n, 1, 2, 1),
            "label_amp": torch.rand(n, 64, 64, 1, generator=g), "label_phase": torch.rand(n, 64, 64, 1, generator=g)}


def test_module_loss_per_stage() -> None:
    """§8.2: supervised stage = split loss; Poisson stage = NLL + keep_weight·split; eval mode = NLL alone."""
    torch.manual_seed(0)
    config = _config(teacher="refine", teacher_keep_weight=3.0)
    module = TeacherPINN_Lightning(config.model, config, None, 100.0)
    batch = _batch()
    module.train()
    with torch.no_grad():
        out = module(batch["X"] * module.intensity_scale, batch["coords_relative"])
        sup = split_loss(out["amp"], out["phase"], batch["label_amp"], batch["label_phase"])
        loss, metrics = module.compute_loss(batch)
        assert module.teacher_stage == "supervised" and math.isclose(float(loss), float(sup), rel_tol=1e-6)
        poisson = float(metrics["teacher_poisson"])
        module.enter_poisson_stage(1)
        loss, _ = module.compute_loss(batch)
        assert math.isclose(float(loss), poisson + 3.0 * float(sup), rel_tol=1e-5)
        module.eval()
        loss, _ = module.compute_loss(batch)
        assert math.isclose(float(loss), poisson, rel_tol=1e-6)
    assert module.loss_name == "teacher_train_loss"


def test_module_refuses_what_it_cannot_train() -> None:
    """§8: the supervised baseline, and gridsize > 1 without object_big, are refused with one line."""
    config = TrainingConfig(model=ModelConfig(N=64, model_type="supervised"), backend="pytorch")
    with pytest.raises(ValueError, match=r"^TrainingConfig\.teacher: .*model_type 'pinn'"):
        TeacherPINN_Lightning(config.model, config, None, None)
    config = TrainingConfig(model=ModelConfig(N=64, gridsize=2, object_big=False), backend="pytorch")
    with pytest.raises(ValueError, match=r"^TrainingConfig\.teacher: .*object_big"):
        TeacherPINN_Lightning(config.model, config, None, None)


def test_schedule_switches_by_epochs_or_time_and_clears_adam() -> None:
    """§8.3: the supervised stage ends after ceil(share·nepochs) epochs or share of the time budget; the
    optimiser's moments are cleared at the switch; share 1 never switches."""
    config = _config(teacher="refine")
    module = TeacherPINN_Lightning(config.model, config, None, 100.0)
    opt = torch.optim.Adam(module.parameters())
    module.encoder.parameters().__next__().grad = None
    loss = module(_batch()["X"], _batch()["coords_relative"])["amp"].mean()
    loss.backward()
    opt.step()
    assert len(opt.state) > 0
    trainer = SimpleNamespace(current_epoch=0, optimizers=[opt])
    module._trainer = trainer  # what Lightning attaches during fit
    sched = TeacherSchedule(0.5, 3, None)
    sched.on_train_start(trainer, module)
    sched.on_train_epoch_end(trainer, module)
    assert module.teacher_stage == "supervised" and sched.supervised_epochs() == 2
    trainer.current_epoch = 1
    sched.on_train_epoch_end(trainer, module)
    assert module.teacher_stage == "poisson" and module.switch_epoch == 2 and len(opt.state) == 0
    module.teacher_stage = "supervised"
    timed = TeacherSchedule(0.5, 100_000, budget_s=0.0)  # the time share is already spent
    timed.on_train_start(trainer, module)
    trainer.current_epoch = 0
    timed.on_train_epoch_end(trainer, module)
    assert module.teacher_stage == "poisson" and module.switch_epoch == 1
    module.teacher_stage = "supervised"
    never = TeacherSchedule(1.0, 2, None)
    trainer.current_epoch = 5
    never.on_train_epoch_end(trainer, module)
    assert module.teacher_stage == "supervised"


def test_budget_left_after_the_teacher() -> None:
    """§8.3: the refinement's seconds come off max_time; nothing left is a one-line error."""
    assert remaining_budget(None, 12.0) == (None, None)
    assert remaining_budget(840.0, 61.5) == ("00:00:12:58", 778.0)
    assert remaining_budget(86400.0, 0.0) == ("01:00:00:00", 86400.0)
    with pytest.raises(ValueError, match=r"^TrainingConfig\.max_time: the teacher's refinement took 30 s of the 30 s"):
        remaining_budget(30.0, 30.0)


@pytest.mark.parametrize(("field", "bad"), [("teacher", "lsqml"), ("teacher_iterations", 0),
                                            ("teacher_supervised_share", 0.0), ("teacher_supervised_share", 1.5),
                                            ("teacher_keep_weight", -1.0)])
def test_bad_teacher_values_name_the_field(field, bad) -> None:
    """specs/config.md §3: one-line ValueError naming the field."""
    with pytest.raises(ValueError, match=rf"^TrainingConfig\.{field}: expected "):
        TrainingConfig(**{field: bad})


def test_teacher_needs_raw_data_in_memory(scan) -> None:
    """§8: a container (or anything but an in-memory RawData) is refused with one line."""
    from ptycho_torch.workflows.training import train_cdi_model_torch

    config = _config(teacher="refine")
    with pytest.raises(ValueError, match=r"^TrainingConfig\.teacher: 'refine' needs the training scan as RawData"):
        train_cdi_model_torch(object(), None, config)


def test_teacher_reads_an_hdf5_scan_in_when_it_fits(scan, tmp_path, monkeypatch) -> None:
    """§8.1: an HDF5 scan's diffraction (read on demand) is read into memory for the teacher when it fits the
    memory limit; above it the refusal is one line naming the field, the size and the limit."""
    import h5py

    from ptycho.config import teacher_options
    from ptycho_torch.teacher.workflow import in_memory

    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as fh:
        for key in ("diffraction", "xcoords", "ycoords", "probeGuess"):
            fh[key] = np.asarray(scan[key])
    raw = RawData.from_file(str(path))
    assert not isinstance(raw.diff3d, np.ndarray)
    nbytes = int(np.asarray(scan["diffraction"], np.float32).nbytes)
    monkeypatch.setattr(teacher_options, "teacher_memory_limit", lambda: nbytes)
    loaded = in_memory(raw)
    assert isinstance(loaded.diff3d, np.ndarray) and loaded.diff3d.dtype == np.float32
    np.testing.assert_array_equal(loaded.diff3d, np.asarray(scan["diffraction"], np.float32))
    assert not isinstance(raw.diff3d, np.ndarray)  # the caller's RawData is left as it was
    assert in_memory(loaded) is loaded
    monkeypatch.setattr(teacher_options, "teacher_memory_limit", lambda: nbytes - 1)
    with pytest.raises(ValueError, match=r"^TrainingConfig\.teacher: 'refine' refines the training scan in memory; "
                                         r"expected its diffraction to take at most .* GiB .*found .* GiB in .*scan\.h5"):
        in_memory(raw)
