"""ptychodus 1.7.0 drives both TensorFlow reconstructors through its own code (specs/ptychodus.md §2-§5).

For 'ptychopinn_pinn' and 'ptychopinn_supervised', on a small simulated scan given as integer detector
counts (NPY) and a ptychodus NPZ product: export training data -> train (ptychodus builds ModelConfig(N=0)
and assigns N; its probe is (1, N, N); output_dir=Path()) -> reconstruct (NumSamples=1) -> save the model
-> open the saved model (ptychodus unzips it into a folder) -> reconstruct -> batch train and batch
reconstruct (ModelCore.batch_mode_execute) from the files and settings a user would leave in a folder.
One epoch of the smallest network: the test checks the plumbing and the frame, not reconstruction quality
(specs/tf-backend.md §7 scores quality on the same call chain).
"""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest
from ptychodus.api.exit_codes import ExitCode
from ptychodus.api.io import load_product
from ptychodus.model.core import ModelCore

#: central crop of every patch that ptychodus stitches (its reassemble_position call uses M=20)
STITCH_M = 20


def _configure(core: ModelCore) -> None:
    """One epoch, the smallest network: the test checks the plumbing, not reconstruction quality."""
    lib = core.ptychopinn_reconstructor_library
    lib.training_settings.nepochs.set_value(1)
    lib.model_settings.n_filters_scale.set_value(1)


def _covered(scan, shape, half: float) -> np.ndarray:
    """Pixels of the object frame within ``half`` pixels (rows y, columns x) of some scan position."""
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    mask = np.zeros(shape, bool)
    for x, y in zip(scan.x_px, scan.y_px, strict=True):
        mask |= (np.abs(rows - y) <= half) & (np.abs(cols - x) <= half)
    return mask


def _check_object(obj, scan) -> np.ndarray:
    """The reconstruction is the input object's frame: same shape, finite, and filled wherever the scan's
    crops cover (every position reconstructed, not one patch), empty far from every position."""
    arr = np.asarray(obj.get_array())
    assert arr.shape == (1, *scan.object_shape), arr.shape
    layer = arr[0]
    assert np.all(np.isfinite(layer))
    assert np.all(np.abs(layer[_covered(scan, layer.shape, STITCH_M / 2 - 1)]) > 0)
    assert np.all(layer[~_covered(scan, layer.shape, STITCH_M / 2 + 1)] == 0)
    return layer


def _load(core: ModelCore, scan):
    w = core.workflow_api
    diffraction = w.load_diffraction_data(scan.diffraction_npy, file_type="NPY", block=True)
    return diffraction, w.load_product(scan.product_npz, file_type="NPZ", diffraction=diffraction)


@pytest.mark.parametrize("algorithm", ["ptychopinn_pinn", "ptychopinn_supervised"])
def test_tf_reconstructor_end_to_end(algorithm, ptychodus_scan, tmp_path, monkeypatch, capfd):
    scan = ptychodus_scan
    monkeypatch.chdir(tmp_path)
    train_in, train_out, batch_in, batch_out = (tmp_path / n for n in ("in", "out", "batch_in", "batch_out"))
    train_in.mkdir()
    with ModelCore(log_level=logging.WARNING) as core:
        _configure(core)
        assert algorithm in set(core.workflow_api.available_reconstructors())
        diffraction, product = _load(core, scan)
        product.export_training_data(train_in / "train_data.npz", algorithm=algorithm)
        shutil.copy(train_in / "train_data.npz", train_in / "test_data.npz")
        with np.load(train_in / "train_data.npz") as z:  # what ptychodus hands over (specs/ptychodus.md §2)
            assert z["diff3d"].dtype.kind == "u" and z["probeGuess"].shape == (1, 64, 64)

        product.train_reconstructor_local(train_in, train_out, algorithm=algorithm, block=True)
        assert (train_out / "wts.h5.zip").is_file()
        assert not (tmp_path / "checkpoints").exists()  # output_dir=Path(): no checkpoint in the working dir
        # the child read the exported counts as counts: converted to amplitudes, with the notice
        err = capfd.readouterr().err
        assert "DiffractionCountsWarning" in err and "train_data.npz: key 'diff3d': integer detector counts" in err

        first = _check_object(product.reconstruct_local(algorithm=algorithm, block=True).get_product().object_, scan)

        api = core.processing_core.processing_api
        api.save_model_to_file(tmp_path / "model.zip", algorithm=algorithm)
        api.load_model_from_file(tmp_path / "model.zip", algorithm=algorithm)
        reopened = product.reconstruct_local(algorithm=algorithm, block=True).get_product().object_
        # the reopened model is the trained one: same weights, same scan, same object
        np.testing.assert_allclose(_check_object(reopened, scan), first, rtol=1e-4, atol=1e-5)

        batch_in.mkdir()
        diffraction.save_assembled_data(batch_in / "diffraction.h5")
        product.save_product(batch_in / "product.h5", file_type="HDF5")
        for name in ("train_data.npz", "test_data.npz"):
            shutil.copy(train_in / name, batch_in / name)
        shutil.copy(tmp_path / "model.zip", batch_in / "model.zip")
        core.product_core.settings.file_type.set_value("HDF5")  # the batch folder's product is HDF5
        core.workflow_api.save_settings(batch_in / "settings.ini")

        # `ptychodus --batch train|reconstruct -i batch_in -o batch_out`: settings, data and model from the folder
        assert core.batch_mode_execute("train", batch_in, batch_out) == ExitCode.SUCCESS
        assert (batch_out / "wts.h5.zip").is_file()
        assert core.batch_mode_execute("reconstruct", batch_in, batch_out) == ExitCode.SUCCESS
    # ptychodus names the written product after the reconstruction's progress: product.000000.h5
    (written,) = sorted(batch_out.glob("product.*.h5"))
    _check_object(load_product(written).object_, scan)


def test_tf_reconstructor_with_three_probe_modes(scan_writer, tmp_path, monkeypatch):
    """specs/ptychodus.md §3: a partially coherent scan (ptychodus's (1, 3, N, N) probe) trains, reconstructs, saves
    and reopens through ptychodus's TensorFlow reconstructor with every mode in the network's physics (the bundle's
    probe is (3, N, N)); the product keeps its 3 modes."""
    import zipfile

    scan = scan_writer(tmp_path / "scan", n_positions=36, probe_kind="zoneplate", probe_modes=3)
    monkeypatch.chdir(tmp_path)
    algorithm = "ptychopinn_pinn"
    train_in, train_out = tmp_path / "in", tmp_path / "out"
    train_in.mkdir()
    with ModelCore(log_level=logging.WARNING) as core:
        _configure(core)
        _, product = _load(core, scan)
        product.export_training_data(train_in / "train_data.npz", algorithm=algorithm)
        shutil.copy(train_in / "train_data.npz", train_in / "test_data.npz")
        with np.load(train_in / "train_data.npz") as z:
            assert z["probeGuess"].shape == (3, 64, 64)
        product.train_reconstructor_local(train_in, train_out, algorithm=algorithm, block=True)
        with zipfile.ZipFile(train_out / "wts.h5.zip") as zf, np.load(zf.open("physics.npz")) as phys:
            assert phys["probe"].shape == (3, 64, 64)
        result = product.reconstruct_local(algorithm=algorithm, block=True).get_product()
        assert result.probes.num_incoherent_modes == 3
        first = _check_object(result.object_, scan)
        api = core.processing_core.processing_api
        api.save_model_to_file(tmp_path / "model.zip", algorithm=algorithm)
    with ModelCore(log_level=logging.WARNING) as core:  # the saved 3-mode model reopens in a fresh application
        _configure(core)
        core.processing_core.processing_api.load_model_from_file(tmp_path / "model.zip", algorithm=algorithm)
        _, product = _load(core, scan)
        again = product.reconstruct_local(algorithm=algorithm, block=True).get_product()
        assert again.probes.num_incoherent_modes == 3
        np.testing.assert_allclose(_check_object(again.object_, scan), first, rtol=1e-4, atol=1e-5)
