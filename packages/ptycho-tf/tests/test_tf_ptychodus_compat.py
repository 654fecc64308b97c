"""The TensorFlow compatibility surface as ptychodus 1.7.0 uses it, each decision pinned without ptychodus
(specs/ptychodus.md §3-§4): opening an unzipped bundle folder, stitching into the input object's frame, no
checkpoint for output_dir=Path(), the original's ``ptycho.workflows.backend_selector`` path."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from ptycho import loader, physics, tf_helper
from ptycho.bundle_zip import BundleError
from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho.model_manager import load_inference_bundle
from ptycho.raw_data import RawData
from ptycho_tf import bundle as tfb

N = 64


@pytest.fixture(scope="module")
def saved_bundle(tmp_path_factory) -> Path:
    from ptycho_tf.network import build_models

    mc = ModelConfig(N=N, gridsize=1, n_filters_scale=1)
    return tfb.save_bundle(tmp_path_factory.mktemp("b"), build_models(mc, intensity_scale=7.0, seed=0),
                           TrainingConfig(model=mc))


def test_unzipped_bundle_folder_opens_like_the_zip(saved_bundle, tmp_path):
    """ptychodus's 'open model' extracts model.zip (a copy of wts.h5.zip) into a folder and loads that folder:
    the same weights, intensity scale and probe as the zip; the checks (hashes, listed members) still apply."""
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(saved_bundle) as zf:
        zf.extractall(folder)
    ref, _, ref_extras = tfb.load_bundle(saved_bundle)
    got, cfg, extras = tfb.load_bundle(folder)
    assert cfg.model.N == N and extras["intensity_scale"] == pytest.approx(7.0)
    np.testing.assert_array_equal(extras["probe"], ref_extras["probe"])
    for a, b in zip(ref.autoencoder.get_weights(), got.autoencoder.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    model, cfg_dict = load_inference_bundle(folder)
    assert cfg_dict["intensity_scale"] == pytest.approx(7.0) and model is not None
    (folder / "physics.npz").write_bytes(b"tampered")
    with pytest.raises(BundleError, match=r"unzipped: physics\.npz: sha256 does not match"):
        tfb.load_bundle(folder)
    with pytest.raises(FileNotFoundError, match="unzipped members"):
        tfb.load_bundle(tmp_path / "empty_dir_that_does_not_exist")


def test_stitching_lands_in_the_input_object_frame():
    """The loader's offsets remember the objectGuess shape; reassemble_position then returns that object's
    frame (pixel (row, col) = object pixel), which is what ptychodus labels with the input object's centre.
    Independent reference: the object itself (integer positions, ground-truth patches: exact)."""
    rng = np.random.default_rng(4)
    obj = (rng.random((150, 170)) + 1j * rng.random((150, 170))).astype(np.complex64)
    pos = np.rint(rng.uniform(40, 120, (30, 2)))
    pos[:, 1] = np.clip(pos[:, 1], 40, 100)
    patches = np.asarray(physics.extract_patches(obj, pos, N), np.complex64)
    raw = RawData.from_coords_without_pc(pos[:, 0], pos[:, 1], np.ones((30, N, N), np.float32),
                                         physics.default_probe(N), np.zeros(30, int), obj)
    d = raw.generate_grouped_data(N, K=7, nsamples=1, gridsize=1)
    cont = loader.load(lambda: d, raw.probeGuess, which=None, create_split=False)
    assert cont.global_offsets.object_shape == (150, 170) and cont.subset([0, 1]).global_offsets.object_shape == (150, 170)
    img = np.asarray(tf_helper.reassemble_position(cont.Y[..., :1], cont.global_offsets, M=20))[..., 0]
    assert img.shape == obj.shape
    rows, cols = np.mgrid[:150, :170]
    inside = np.any([(np.abs(rows - y) <= 9) & (np.abs(cols - x) <= 9) for x, y in pos], axis=0)
    np.testing.assert_allclose(img[inside], obj[inside], rtol=1e-5, atol=1e-5)
    assert np.all(img[~inside & ~np.any([(np.abs(rows - y) <= 10) & (np.abs(cols - x) <= 10) for x, y in pos],
                                        axis=0)] == 0)
    # plain offsets keep the mean-centred canvas of the original (what the workflows' stitcher uses)
    centred = np.asarray(tf_helper.reassemble_position(patches[..., None], np.asarray(cont.global_offsets), M=20))
    assert centred.shape[0] == centred.shape[1] != 150
    # an explicit frame works without a container too
    framed = tf_helper.reassemble_position(patches[..., None], pos[:, None, :, None], M=20, object_shape=(150, 170))
    np.testing.assert_allclose(np.asarray(framed)[..., 0], img, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("output_dir", "checkpoints", "expected"),
                         [(Path(), None, False), (Path("run"), None, True), (Path(), True, True), (Path("run"), False, False)])
def test_output_dir_empty_path_writes_no_checkpoint(monkeypatch, output_dir, checkpoints, expected):
    """ptychodus passes TrainingConfig(output_dir=Path()) meaning 'no output directory': run_cdi_example then
    asks the trainer for no resume checkpoint (which would land in the working directory); an explicit
    ``checkpoints`` wins. The ptychodus end-to-end test checks the working directory stays empty."""
    from ptycho.workflows import components

    seen = {}

    def fake_train(train, test, config, seed, **kw):
        seen.update(kw)
        return None, {}

    monkeypatch.setattr(components, "_train", fake_train)
    cfg = TrainingConfig(model=ModelConfig(N=N), output_dir=output_dir)
    components.run_cdi_example(None, None, cfg, **({} if checkpoints is None else {"checkpoints": checkpoints}))
    assert seen["checkpoints"] is expected


def test_workflows_backend_selector_is_the_bridge_selector(monkeypatch):
    """specs/backend-selection.md §7: the original's module path is the selector itself, so patching a name
    under it changes what the selector calls."""
    import ptycho_bridge.backend_selector as bridge_selector
    from ptycho.workflows import backend_selector
    from ptycho.workflows.backend_selector import resolve_backend, run_cdi_example_with_backend

    assert backend_selector is bridge_selector
    assert run_cdi_example_with_backend is bridge_selector.run_cdi_example_with_backend
    assert resolve_backend("tf") == "tensorflow"
    seen = []
    monkeypatch.setattr(backend_selector, "update_legacy_dict", lambda cfg, config: seen.append(config))
    monkeypatch.setattr("ptycho.workflows.components.run_cdi_example", lambda *a, **k: (None, None, {}))
    config = TrainingConfig(model=ModelConfig(N=N))
    assert bridge_selector.run_cdi_example_with_backend(None, None, config)[:2] == (None, None)
    assert seen == [config]


def test_reconstruct_call_sequence_with_three_probe_modes(tmp_path):
    """ptychodus's reconstruct (specs/ptychodus.md §2.3) with its (3, N, N) probe stack on a 3-mode model: the
    bundle puts the 3 modes into the legacy mirror, set_probe_guess and loader.load keep them, and the predicted
    object stitches into the input object's frame; the model's physics holds the modes (tf-backend.md §2.1)."""
    from ptycho import params
    from ptycho import probe as probe_mod
    from ptycho.simulation import simulate
    from ptycho_tf.network import build_models

    sim = simulate(N=N, n_positions=12, probe_kind="zoneplate", probe_modes=3, seed=1, object_size=128)
    modes = np.asarray(sim["probeGuess"])
    assert modes.shape == (3, N, N)
    mc = ModelConfig(N=N, gridsize=1, n_filters_scale=1)
    saved = dict(params.cfg)
    try:
        folder = tmp_path / "model"
        tfb.save_bundle(folder, build_models(mc, probe=physics.normalize_probe(modes, 4.0), intensity_scale=7.0,
                                             seed=0), TrainingConfig(model=mc))
        model, _ = load_inference_bundle(folder)
        assert params.get("probe").shape == (3, N, N, 1)
        from ptycho import model as model_mod

        assert model_mod.current_models().probe().shape == (3, N, N)
        raw = RawData.from_coords_without_pc(sim["xcoords"], sim["ycoords"], sim["diffraction"], modes,
                                             np.zeros(12, int), np.asarray(sim["objectGuess"]))
        probe_mod.set_probe_guess(None, raw.probeGuess)
        np.testing.assert_allclose(probe_mod.get_probe(N), physics.normalize_probe(modes, 4.0), rtol=1e-6)
        d = raw.generate_grouped_data(N, K=7, nsamples=1, gridsize=1)
        cont = loader.load(lambda: d, raw.probeGuess, which=None, create_split=False)
        assert cont.probeGuess.shape == (3, N, N)
        out = model.predict([cont.X * params.get("intensity_scale"), cont.local_offsets], verbose=0)
        img = np.asarray(tf_helper.reassemble_position(out, cont.global_offsets, M=20))
        assert np.squeeze(img).shape == np.shape(sim["objectGuess"]) and np.all(np.isfinite(img))
    finally:
        params.cfg.clear()
        params.cfg.update(saved)
