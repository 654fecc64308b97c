"""ptychodus's PyTorch PtychoPINN reconstructors ('ptychopinn-torch_unsupervised' / '_supervised') on these
packages, driven through ptychodus's own non-GUI layer (specs/ptychodus-torch.md §5): load NPY diffraction and
an NPZ product, export training data, train, reconstruct, save the model, reopen it in a fresh ModelCore and
reconstruct again, then batch-mode 'reconstruct' and 'train' from a standard workflow folder.

ptychodus runs every train/reconstruct call in a spawned child process that imports torch and
``ptycho_torch.api.base_api``; a 36-point 64x64 scan and one epoch keep each mode to about two minutes on two
loaded CPU cores.
"""

import logging
import shutil

import numpy as np
import pytest
import torch
from ptychodus.api.io import StandardFileLayout
from ptychodus.model.core import ModelCore
from ptychodus.plugins.h5_product_file import H5ProductFileIO

from ptycho.simulation.simulate import simulate

N = 64
PIXEL_M = 1e-8


def _inputs(folder, **sim_kw):
    """diff.npy (counts, int32) and product-in.npz (ptychodus NPZ product, scan centred in a square object) of a
    simulated 36-position grid scan (``sim_kw``: more ``simulate`` keywords, e.g. probe modes); the product's
    probe is ptychodus's (1, K, N, N).

    Returns the object side S: the scan centre maps to object pixel ((S-1)/2, (S-1)/2).
    """
    sim = simulate(N=N, n_positions=36, nphotons=1e5, seed=3, scan="grid", **sim_kw)
    probe = sim["probeGuess"]
    counts = np.rint((sim["diffraction"].astype(np.float64) * float(sim["sim_intensity_scale"])) ** 2)
    np.save(folder / "diff.npy", counts.astype(np.int32))
    x, y = sim["xcoords"], sim["ycoords"]
    cx, cy = (x.min() + x.max()) / 2, (y.min() + y.max()) / 2
    side = int(round(2 * max(cx, cy))) + 1
    np.savez(folder / "product-in.npz", name="sim", comments="", detector_object_distance_m=1.0,
             photon_energy_eV=10000.0, probe_position_indexes=np.arange(len(x)),
             probe_position_x_m=(x - cx) * PIXEL_M, probe_position_y_m=(y - cy) * PIXEL_M,
             object_pixel_width_m=PIXEL_M, object_pixel_height_m=PIXEL_M, object_center_x_m=0.0,
             object_center_y_m=0.0, object=np.ones((1, side, side), np.complex64),
             probe=probe.reshape((1,) * (4 - probe.ndim) + probe.shape), probe_pixel_width_m=PIXEL_M,
             probe_pixel_height_m=PIXEL_M)
    return side


def _small_settings(core):
    lib = core.ptychopinn_torch_reconstructor_library
    lib.data_settings.model_size.set_value(N)
    lib.data_settings.num_channels.set_value(1)
    lib.data_settings.grid_size_x.set_value(1)
    lib.data_settings.grid_size_y.set_value(1)
    lib.training_settings.epochs.set_value(1)
    lib.training_settings.num_dataloader_workers.set_value(0)
    lib.training_settings.device.set_value("cpu")


def _load(core, folder):
    diff = core.workflow_api.load_diffraction_data(folder / "diff.npy", file_type="NPY", block=True)
    return diff, core.workflow_api.load_product(folder / "product-in.npz", file_type="NPZ", diffraction=diff)


def _object(product_api):
    return np.asarray(product_api.get_product().object_.get_array())


def _check_object(obj, side):
    assert obj.shape == (1, side, side)
    assert np.isfinite(obj).all()
    assert np.abs(obj).max() > 0


@pytest.mark.parametrize("mode", ["Unsupervised", "Supervised"])
def test_torch_reconstructor_train_reconstruct_save_reopen_batch(tmp_path, mode):
    algo = f"ptychopinn-torch_{mode.lower()}"
    side = _inputs(tmp_path)
    batch_in = tmp_path / "batch_in"
    batch_in.mkdir()

    with ModelCore(log_level=logging.WARNING) as core:
        _small_settings(core)
        diff, product = _load(core, tmp_path)
        product.export_training_data(tmp_path / "train.npz", algorithm=algo)
        product.train_reconstructor_local(tmp_path / "train.npz", tmp_path / "trained", algorithm=algo, block=True)
        ckpts = sorted((tmp_path / "trained").rglob("*.ckpt"))
        assert ckpts, "training wrote no checkpoint"
        saved = torch.load(ckpts[0], map_location="cpu", weights_only=True)
        assert saved["ptycho_v2_configs"]["ModelConfig"]["mode"] == mode
        first = _object(product.reconstruct_local(algorithm=algo, block=True))
        _check_object(first, side)
        core.processing_core.processing_api.save_model_to_file(tmp_path / "model.ckpt", algorithm=algo)
        # a standard workflow folder for batch mode (HDF5 product, assembled diffraction, model, training data)
        core.product_core.settings.file_type.set_value("HDF5")
        core.workflow_api.save_settings(batch_in / StandardFileLayout.SETTINGS)
        diff.save_assembled_data(batch_in / StandardFileLayout.DIFFRACTION)
        product.save_product(batch_in / StandardFileLayout.PRODUCT, file_type="HDF5")
        product.export_training_data(batch_in / "train.npz", algorithm=algo)
        shutil.copyfile(tmp_path / "model.ckpt", batch_in / f"{StandardFileLayout.MODEL_BASENAME}.ckpt")

    with ModelCore(log_level=logging.WARNING) as core:  # reopen the saved model in a fresh application
        _small_settings(core)
        core.processing_core.processing_api.load_model_from_file(tmp_path / "model.ckpt", algorithm=algo)
        _, product = _load(core, tmp_path)
        again = _object(product.reconstruct_local(algorithm=algo, block=True))
        _check_object(again, side)
        np.testing.assert_allclose(again, first, atol=1e-6)

    with ModelCore(log_level=logging.WARNING) as core:
        assert core.batch_mode_execute("reconstruct", batch_in, tmp_path / "batch_out") == 0
        outputs = sorted((tmp_path / "batch_out").glob("product*.h5"))
        assert outputs, "batch reconstruct wrote no product"
        _check_object(np.asarray(H5ProductFileIO().read(outputs[0]).object_.get_array()), side)

    with ModelCore(log_level=logging.WARNING) as core:
        assert core.batch_mode_execute("train", batch_in, tmp_path / "batch_train") == 0
        assert sorted((tmp_path / "batch_train").rglob("*.ckpt")), "batch train wrote no checkpoint"


def test_torch_reconstructor_with_three_probe_modes(tmp_path):
    """specs/ptychodus-torch.md §3: a partially coherent scan (3 incoherent probe modes, ptychodus's (1, 3, N, N)
    probe) trains, reconstructs, saves and reopens through ptychodus with every mode in the network's physics; the
    product keeps its 3 modes."""
    algo = "ptychopinn-torch_unsupervised"
    side = _inputs(tmp_path, probe_kind="zoneplate", probe_modes=3)
    with ModelCore(log_level=logging.WARNING) as core:
        _small_settings(core)
        _, product = _load(core, tmp_path)
        product.export_training_data(tmp_path / "train.npz", algorithm=algo)
        with np.load(tmp_path / "train.npz") as z:
            assert z["probeGuess"].shape == (3, N, N)
        product.train_reconstructor_local(tmp_path / "train.npz", tmp_path / "trained", algorithm=algo, block=True)
        ckpts = sorted((tmp_path / "trained").rglob("*.ckpt"))
        assert ckpts, "training wrote no checkpoint"
        saved = torch.load(ckpts[0], map_location="cpu", weights_only=True)
        assert tuple(saved["state_dict"]["forward_model.probe"].shape) == (3, N, N)
        first_api = product.reconstruct_local(algorithm=algo, block=True)
        first = _object(first_api)
        _check_object(first, side)
        assert first_api.get_product().probes.num_incoherent_modes == 3
        core.processing_core.processing_api.save_model_to_file(tmp_path / "model.ckpt", algorithm=algo)
    with ModelCore(log_level=logging.WARNING) as core:  # the saved 3-mode model reopens in a fresh application
        _small_settings(core)
        core.processing_core.processing_api.load_model_from_file(tmp_path / "model.ckpt", algorithm=algo)
        _, product = _load(core, tmp_path)
        again = _object(product.reconstruct_local(algorithm=algo, block=True))
        np.testing.assert_allclose(again, first, atol=1e-6)
