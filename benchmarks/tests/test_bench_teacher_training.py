"""benchmarks/teacher_training.py's labels: patches of a canvas placed at ``origin_xy`` land where the scan's
true patches are (the object frame of ``ptycho refine``'s output, specs/refinement.md §7). Runs in seconds."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import realistic as R  # noqa: E402
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
