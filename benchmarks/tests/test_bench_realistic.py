"""The pure parts of benchmarks/realistic.py (split, files, scoring window, stitching + scoring).

Pins specs/physics.md §6.2 through the benchmark's use of it: the TRUE patches of a realistic scan
stitched back with the Fourier stitcher reproduce the object far better than with the bilinear one.
Runs in a few seconds (no training, no pty-chi).
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import realistic as R  # noqa: E402


@pytest.fixture(scope="module")
def scan():
    return R.simulate_scan(R.ScanSpec(object_kind="siemens", n_positions=200, object_size=144, seed=3))


def test_split_partitions_by_row(scan):
    train, test = R.split_scan(scan)
    centre = scan["objectGuess"].shape[0] / 2
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(scan["xcoords"])))
    assert np.all(scan["ycoords"][train] < centre) and np.all(scan["ycoords"][test] >= centre)
    assert 0.3 < len(train) / len(scan["xcoords"]) < 0.7
    half = R.subset(scan, test)
    assert half["diffraction"].shape[0] == half["Y"].shape[0] == len(test)
    assert half["objectGuess"] is scan["objectGuess"] and half["probeGuess"] is scan["probeGuess"]


def test_half_files_hold_no_ground_truth(scan, tmp_path):
    from ptycho.data_contract import validate_npz

    train, test = R.split_scan(scan)
    path = R.write_half(tmp_path / "test.npz", scan, test, "test")
    validate_npz(path)
    with np.load(path, allow_pickle=False) as f:
        assert "objectGuess" not in f.files and "Y" not in f.files
        np.testing.assert_array_equal(f["diffraction"], scan["diffraction"][test])
        assert json.loads(str(f["_metadata"]))["split"] == {"name": "test", "n_positions": len(test)}
    truth = R.write_truth(tmp_path / "truth.npz", scan, test)
    with np.load(truth, allow_pickle=False) as f:
        np.testing.assert_array_equal(f["Y"], scan["Y"][test])


def test_scoring_window_is_the_covered_rectangle():
    xs, ys = np.meshgrid(np.arange(30, 61, 5.0), np.arange(40, 71, 5.0))
    pos = np.stack([xs.ravel(), ys.ravel()], axis=1)
    # crops cover rows 40-10 .. 70+9 and cols 30-10 .. 60+9 exactly; margin 2 per side
    assert R.scoring_window(pos, (100, 100), M=20, margin=2) == (32, 78, 22, 68)
    # an extra isolated position does not enlarge the rectangle
    assert R.scoring_window(np.vstack([pos, [[90.0, 15.0]]]), (100, 100), M=20, margin=2) == (32, 78, 22, 68)


def test_window_of_places_canvas_by_origin():
    canvas = np.arange(100.0).reshape(10, 10).astype(complex)
    out = R.window_of(canvas, (5.0, 7.0), (8, 12, 4, 9))  # object rows 8..11, cols 4..8
    np.testing.assert_array_equal(out[:, 1:], canvas[1:5, 0:4])  # canvas row = object row - 7
    assert np.all(out[:, 0] == 0)  # object col 4 is left of the canvas


def test_true_patches_fourier_stitch_scores_near_one(scan):
    train, test = R.split_scan(scan)
    pos = np.stack([scan["xcoords"][test], scan["ycoords"][test]], axis=1)
    window = R.scoring_window(pos, scan["objectGuess"].shape)
    ssim = {}
    for interp in ("bilinear", "fourier"):
        canvas, origin = R.stitch(scan["Y"][test], pos, interpolation=interp)
        if interp == "fourier":
            assert np.all(origin == np.round(origin))
        metrics = R.score(R.window_of(canvas, origin, window), scan["objectGuess"], window)
        ssim[interp] = (metrics["amplitude"]["ssim"], metrics["phase"]["ssim"])
    assert ssim["fourier"][0] > 0.99 and ssim["fourier"][1] > 0.99, ssim
    assert ssim["bilinear"][0] < ssim["fourier"][0] - 0.05, ssim



def test_prepare_writes_the_case(tmp_path):
    case = R.prepare(R.ScanSpec(n_positions=60, object_size=96, seed=5), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.npz", "train.npz", "truth.npz"]
    assert case.files["test"] == tmp_path / "test.npz"
    np.testing.assert_array_equal(case.test_positions[:, 1], case.scan["ycoords"][case.test])
    assert case.window == R.scoring_window(case.test_positions, case.truth.shape)


@pytest.mark.parametrize("projections", [0, 20])
def test_zero_correction_heads_makes_the_projected_generator_return_its_estimate(projections):
    """The 'projected input alone' row: zeroing the heads leaves the network's output = its projected input
    (gridsize 1: the single-pattern projections), and a bundle without projected input has nothing to zero."""
    import torch

    from ptycho.config.config import ModelConfig, TrainingConfig
    from ptycho.physics import default_probe, far_field_amplitude
    from ptycho_torch.lightning_module import PtychoPINN_Lightning
    from ptycho_torch.physics import modulus_projections

    torch.manual_seed(0)
    mc = ModelConfig(N=64, gridsize=1, n_filters_scale=1, input_projections=projections)
    module = PtychoPINN_Lightning(mc, TrainingConfig(model=mc, nphotons=1e6), default_probe(64), 1.0).eval()
    from correction_heads import zero_correction_heads

    zeroed = zero_correction_heads({"diffraction_to_obj": module})
    if projections == 0:
        assert zeroed == 0
        return
    assert zeroed == 4  # head and border.out of both decoders
    probe = module.forward_model.probe.numpy()
    obj = np.exp(0.3j * np.random.default_rng(1).standard_normal((2, 64, 64)))
    x = torch.from_numpy(far_field_amplitude(probe * obj)).float()[..., None]
    with torch.no_grad():
        got = module(x, torch.zeros(2, 1, 2, 1))["patches"][..., 0].numpy()
    est = modulus_projections(x.permute(0, 3, 1, 2), module.forward_model.probe, projections)[:, 0].numpy()
    np.testing.assert_allclose(np.abs(got), np.abs(est), atol=1e-5)
