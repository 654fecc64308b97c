"""Replays ptychodus's call sequence (facts §11; specs/tf-backend.md §7) on a simulated scan:
update_legacy_dict -> RawData.from_coords_without_pc -> generate_grouped_data -> loader.load ->
model.predict([X*s, local_offsets]) -> reassemble_position(M=20)."""

from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from skimage.metrics import structural_similarity

from ptycho import loader, metrics, model_manager, params, physics, tf_helper
from ptycho.config.config import (
    DEFAULT_SEED,
    InferenceConfig,
    ModelConfig,
    TrainingConfig,
    update_legacy_dict,
)
from ptycho.raw_data import RawData
from ptycho.simulation import simulate
from ptycho.workflows import components

N = 64
#: SSIM margins of the slow replay test over max(untrained, flat); about half of the measured gains.
AMP_MARGIN, PHASE_MARGIN = 0.08, 0.06


def _scan(n_pos, seed):
    rng = np.random.default_rng(seed)
    size = 160
    amp = 0.5 + 0.5 * gaussian_filter(rng.random((size, size)), 4)
    amp = (amp - amp.min()) / (amp.max() - amp.min()) * 0.6 + 0.3
    phase = 1.0 * (gaussian_filter(rng.random((size, size)), 5) - 0.5) * 8
    obj = (amp * np.exp(1j * phase)).astype(np.complex64)
    pos = rng.uniform(56, 104, (n_pos, 2))
    probe = physics.default_probe(N)
    patches = physics.extract_patches(obj, pos, N)
    diff = physics.far_field_amplitude(physics.illuminate(patches, probe)).astype(np.float32)
    return RawData.from_coords_without_pc(pos[:, 0], pos[:, 1], diff, probe, np.zeros(n_pos, int), obj), obj, pos


def _replay(out_dir: Path, raw_test, probe):
    """ptychodus 'reconstruct': returns the stitched complex object (H, W) in the frame of
    ``raw_test.objectGuess`` (the loader's offsets carry its shape; specs/ptychodus.md §3), the container
    and the predicted patches."""
    params.reset()
    icfg = InferenceConfig(model=ModelConfig(N=N, gridsize=1), model_path=out_dir, test_data_file=out_dir / "x.npz",
                           output_dir=out_dir)
    update_legacy_dict(params.cfg, icfg)
    model, cfg = components.load_inference_bundle(out_dir)
    raw = RawData.from_coords_without_pc(raw_test.xcoords, raw_test.ycoords, raw_test.diff3d, probe,
                                         np.zeros(len(raw_test), int), raw_test.objectGuess)
    from ptycho import probe as probe_mod

    probe_mod.set_probe_guess(None, probe)
    d = raw.generate_grouped_data(N, K=7, nsamples=len(raw_test), gridsize=1)
    cont = loader.load(lambda: d, probe, which=None, create_split=False)
    s = params.get("intensity_scale")
    out = model.predict([cont.X * s, cont.local_offsets], verbose=0)
    return np.squeeze(np.asarray(tf_helper.reassemble_position(out, cont.global_offsets, M=20))), cont, out


def _train(tmp_path, nepochs, n_pos):
    params.reset()
    raw_train, obj, _ = _scan(n_pos, 0)
    raw_test, _, _ = _scan(n_pos // 2, 1)
    tc = TrainingConfig(model=ModelConfig(N=N, gridsize=1, n_filters_scale=1), nepochs=nepochs, batch_size=16,
                        n_groups=n_pos, output_dir=tmp_path, nphotons=1e9)
    update_legacy_dict(params.cfg, tc)
    amp, phase, results = components.run_cdi_example(raw_train, raw_test, tc, do_stitching=True)
    model_manager.save(str(tmp_path))
    components.save_outputs(amp, phase, results, str(tmp_path))
    return raw_test, obj, amp, results


def test_ptychodus_replay_shapes_and_files(tmp_path):
    raw_test, _, amp, results = _train(tmp_path, 1, 24)
    assert set(results["history"]) >= {"train_loss", "val_loss", "loss"}
    assert len(results["history"]["train_loss"]) == 1
    assert (tmp_path / "wts.h5.zip").is_file()
    assert (tmp_path / "reconstructed_amplitude.png").is_file() and (tmp_path / "reconstructed_phase.png").is_file()
    img, cont, out = _replay(tmp_path, raw_test, raw_test.probeGuess)
    assert img.shape == raw_test.objectGuess.shape and np.all(np.isfinite(img)) and cont.X.shape == (12, N, N, 1)
    # same weights, same data: the bundle reproduces the in-process stitched result (both on the mean-centred
    # canvas, which plain offsets select)
    centred = np.squeeze(np.asarray(tf_helper.reassemble_position(out, np.asarray(cont.global_offsets), M=20)))
    np.testing.assert_allclose(np.abs(centred), amp, rtol=1e-4, atol=1e-5)


def _lines_scan(n_pos: int, seed: int) -> RawData:
    """A simulated 'lines' scan (N=64, Fermat spiral, 1e9 photons; specs/simulation.md) as ptychodus hands it over."""
    sim = simulate("lines", N=N, n_positions=n_pos, seed=seed)
    return RawData.from_coords_without_pc(sim["xcoords"], sim["ycoords"], sim["diffraction"], sim["probeGuess"],
                                          sim["scan_index"], sim["objectGuess"])


def _stitched_scores(img, obj) -> dict:
    """``ptycho.metrics.evaluate`` of a replayed canvas (the object's frame) against the object, without
    registration (the replay must put the object where it is); the window is the covered part of the canvas
    shrunk by M//4 = 5 px per side."""
    rows, cols = np.nonzero(np.abs(img) > 0)
    a, b, c, d = rows.min() + 5, rows.max() - 4, cols.min() + 5, cols.max() - 4
    return metrics.evaluate(img[a:b, c:d], obj[a:b, c:d], register=False)


@pytest.mark.slow
def test_ptychodus_replay_reconstructs_the_trained_scan(tmp_path):
    """ptychodus's 'train, then reconstruct' on one simulated lines scan (512 positions, gridsize 1, 20 epochs,
    the TF trainer's default policy): the replayed reconstruction, scored against the true object without
    registration, beats the same network untrained (same seed, so the same initial weights) and a flat object
    by clear margins in amplitude and phase SSIM (specs/tf-backend.md §7 gives the measured figures).

    It fails if any link of the replay chain is wrong (intensity scale, offsets sign or frame, bundle weights,
    probe): the replay then scores at or below the untrained model. The quality reachable on a 2-core CPU in
    this budget is far from converged (benchmarks/RESULTS.md)."""
    from ptycho import model as model_mod

    raw = _lines_scan(512, 0)
    params.reset()
    tc = TrainingConfig(model=ModelConfig(N=N, gridsize=1, n_filters_scale=1), nepochs=20, batch_size=16,
                        n_groups=512, output_dir=tmp_path, nphotons=1e9)
    update_legacy_dict(params.cfg, tc)
    untrained = model_mod.build_from_config(tc.model, probe=physics.normalize_probe(raw.probeGuess, 4.0),
                                            intensity_scale=physics.intensity_scale(1e9, N), seed=DEFAULT_SEED)
    _, _, results = components.run_cdi_example(raw, None, tc)
    model_manager.save(str(tmp_path))
    img, cont, _ = _replay(tmp_path, raw, raw.probeGuess)
    s = params.get("intensity_scale")
    out = untrained.diffraction_to_obj.predict([cont.X * s, cont.local_offsets], verbose=0)
    img0 = np.squeeze(np.asarray(tf_helper.reassemble_position(out, cont.global_offsets, M=20)))
    flat = np.where(np.abs(img) > 0, 1.0 + 0.0j, 0.0)
    got = {name: _stitched_scores(im, raw.objectGuess)
           for name, im in (("trained", img), ("untrained", img0), ("flat", flat))}
    ssim = {name: (g["amplitude"]["ssim"], g["phase"]["ssim"]) for name, g in got.items()}
    print(f"epochs run {results['history_epochs']}; SSIM (amplitude, phase): {ssim}")
    assert ssim["trained"][0] > max(ssim["untrained"][0], ssim["flat"][0]) + AMP_MARGIN, ssim
    assert ssim["trained"][1] > max(ssim["untrained"][1], ssim["flat"][1]) + PHASE_MARGIN, ssim


def test_replay_stitch_frame_matches_ground_truth():
    """The stitching frame of the replay (specs/ptychodus.md §3): ground-truth patches through loader +
    reassemble_position land in the object's own frame, canvas pixel (row, col) = object pixel (row, col):
    at integer positions the covered pixels equal the object, with no interpolation; at the random
    positions of a scan the SSIM of the central region exceeds 0.95. So a low SSIM of a trained model is
    the model, not the frame."""
    raw, obj, pos = _scan(80, 1)
    d = raw.generate_grouped_data(N, K=7, nsamples=80, gridsize=1)
    cont = loader.load(lambda: d, raw.probeGuess, which=None, create_split=False)
    img = np.squeeze(np.asarray(tf_helper.reassemble_position(cont.Y[..., :1], cont.global_offsets, M=20)))
    assert img.shape == obj.shape
    crop = slice(64, 96)
    assert structural_similarity(np.abs(obj)[crop, crop], np.abs(img)[crop, crop],
                                 data_range=float(np.ptp(np.abs(obj)[crop, crop]))) > 0.95
    whole = np.rint(pos)
    raw_i = RawData.from_coords_without_pc(whole[:, 0], whole[:, 1], raw.diff3d, raw.probeGuess,
                                           np.zeros(len(whole), int), obj)
    d = raw_i.generate_grouped_data(N, K=7, nsamples=80, gridsize=1)
    cont = loader.load(lambda: d, raw.probeGuess, which=None, create_split=False)
    img = np.squeeze(np.asarray(tf_helper.reassemble_position(cont.Y[..., :1], cont.global_offsets, M=20)))
    rows, cols = np.mgrid[: obj.shape[0], : obj.shape[1]]

    def near(half):
        return np.any([(np.abs(rows - y) <= half) & (np.abs(cols - x) <= half) for x, y in whole], axis=0)

    covered, inside = np.abs(img) > 0, near(9)
    assert np.all(covered[inside]) and not np.any(covered[~near(10)])
    np.testing.assert_allclose(img[inside], obj[inside], rtol=1e-5, atol=1e-5)
