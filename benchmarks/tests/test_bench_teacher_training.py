"""benchmarks/teacher_training.py's labels: patches of a canvas placed at ``origin_xy`` land where the scan's
true patches are (the object frame of ``ptycho refine``'s output, specs/refinement.md §7). Runs in seconds."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import realistic as R  # noqa: E402
import teacher_scoring as TS  # noqa: E402
import teacher_training as T  # noqa: E402


def test_teacher_labels_follow_the_canvas_origin(tmp_path):
    case = R.prepare(R.ScanSpec(object_kind="siemens", n_positions=200, object_size=144, seed=3), tmp_path)
    true_y = case.scan["Y"][case.train]
    # the truth embedded in a larger canvas whose pixel (0, 0) sits at object (x, y) = (-7, -5)
    canvas = np.zeros((160, 170), np.complex64)
    canvas[5:149, 7:151] = case.truth
    labels = T.write_teacher_npz(case.files["train"], canvas, np.array([-7.0, -5.0]), tmp_path / "teacher.npz")
    assert labels.shape == true_y.shape
    assert np.linalg.norm(labels - true_y) / np.linalg.norm(true_y) < 1e-4
    with np.load(tmp_path / "teacher.npz") as f:
        assert np.array_equal(f["Y"], labels) and np.array_equal(f["diffraction"], np.load(case.files["train"])["diffraction"])
    # a wrong origin (one pixel off) is visibly wrong: the check above can fail
    off = T.write_teacher_npz(case.files["train"], canvas, np.array([-6.0, -5.0]), tmp_path / "off.npz")
    assert np.linalg.norm(off - true_y) / np.linalg.norm(true_y) > 1e-2


def test_phase_registration_finds_the_shift_despite_a_blotchy_amplitude():
    case = R.prepare(R.ScanSpec(object_kind="siemens", n_positions=200, object_size=144, seed=3))
    truth = case.truth
    # a strong phase pattern (the simulated star's phase), wrapped by a constant offset near pi
    obj = np.abs(truth) * np.exp(1j * (np.angle(truth) * 3.0 + 2.9))
    ref = obj[30:110, 25:120]
    from ptycho.metrics.alignment import fourier_shift

    moved = fourier_shift(ref, (2.5, -3.25))
    rng = np.random.default_rng(0)
    blotches = np.kron(rng.uniform(0.1, 3.0, (8, 10)), np.ones((10, 10)))[: ref.shape[0], : ref.shape[1]]
    recon = np.abs(moved) * blotches * np.exp(1j * np.angle(moved))
    dy, dx = TS.phase_shift(recon, ref)
    assert abs(dy + 2.5) < 0.2 and abs(dx - 3.25) < 0.2


def test_library_stitch_places_true_patches_like_the_ceiling(tmp_path):
    case = R.prepare(R.ScanSpec(object_kind="siemens", n_positions=200, object_size=144, seed=3), tmp_path)
    cfg = T.generator_config(case.files["train"], tmp_path / "x", 1, 16, len(case.train), 1e6)
    canvas, origin = TS.library_stitch(case.files["test"], case.scan["Y"][case.test], cfg)
    ref, ref_origin = R.stitch(case.scan["Y"][case.test], case.test_positions, M=T.M_STITCH, interpolation="bilinear")
    a = TS.scores(canvas, origin, case.truth, case.window, register=False)
    b = TS.scores(ref, ref_origin, case.truth, case.window, register=False)
    assert abs(a["amp_ssim"] - b["amp_ssim"]) < 1e-3 and abs(a["phase_ssim"] - b["phase_ssim"]) < 1e-3
    assert b["phase_ssim"] > 0.7  # unregistered: the sub-pixel part of origin_xy is left over
