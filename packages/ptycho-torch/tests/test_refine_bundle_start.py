"""The fine-tuned network's start of object refinement, from a bundle and a scan (specs/refinement.md §9;
``ptycho infer --refine-target network|both``).

Bundle: an untrained ``PtychoPINN_Lightning`` (N = 64, n_filters_scale 1, gridsize 1) saved with the scan's probe
and intensity scale; scan: ``ptycho.simulation`` Siemens star, 24 positions, 1e6 photons. References: with zero
passes the start is exactly what plain inference (``python -m ptycho_torch.inference``, a separate path that
builds its own container) writes; the NLLs are ``network_nll`` of the bundle's module loaded independently.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptycho.config.config import InferenceConfig, ModelConfig, TrainingConfig
from ptycho.raw_data import RawData
from ptycho.simulation import write_simulation
from ptycho_torch.bundle import load_inference_bundle_torch, save_torch_model_bundle
from ptycho_torch.data import PtychoDataContainerTorch, create_ptycho_data_container
from ptycho_torch.model import PtychoPINN_Lightning
from ptycho_torch.refine import NetworkOptions, network_nll
from ptycho_torch.refine.bundle_start import finetuned_start


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundle_start")
    scan = root / "scan.npz"
    write_simulation(scan, object_kind="siemens", N=64, n_positions=24, object_size=160, probe_kind="zoneplate",
                     jitter=1.0, interpolation="fourier", nphotons=1e6, seed=3)
    tc = TrainingConfig(model=ModelConfig(N=64, gridsize=1, n_filters_scale=1), n_groups=24, batch_size=8,
                        nphotons=1e6, learning_rate=1e-3, output_dir=root / "model")
    container = PtychoDataContainerTorch.from_raw_data(RawData.from_file(str(scan)), tc)
    torch.manual_seed(0)
    module = PtychoPINN_Lightning(tc.model, tc, container.probe, container.intensity_scale).eval()
    save_torch_model_bundle({"models": {"lightning_module": module}, "probe": container.probe,
                             "intensity_scale": container.intensity_scale}, tc, root / "model")
    return root, scan, root / "model"


def test_zero_passes_is_plain_inference(case, tmp_path):
    from ptycho_torch.inference import main as infer_main

    root, scan, model = case
    start = finetuned_start(model, scan, NetworkOptions(iterations=0), tmp_path / "unused")
    assert start.history == [] and start.nll_before == start.nll_after
    assert start.canvas.dtype == np.complex64 and start.canvas.ndim == 2 and start.origin_xy.shape == (2,)
    assert not (tmp_path / "unused").exists()  # nothing written
    out = tmp_path / "plain"
    assert infer_main(["--model_path", str(model), "--test_data", str(scan), "--output_dir", str(out),
                       "--accelerator", "cpu", "--quiet"]) == 0
    with np.load(out / "reconstructed_object.npz") as plain:
        assert plain["object"].shape == start.canvas.shape
        np.testing.assert_allclose(start.origin_xy, plain["origin_xy"])
        np.testing.assert_allclose(start.canvas, plain["object"], rtol=1e-4, atol=1e-5 * np.abs(plain["object"]).max())


def test_two_passes_lower_the_scans_nll_and_leave_the_bundle_untouched(case, tmp_path):
    root, scan, model = case
    blob = (model / "wts.h5.zip").read_bytes()
    rows = []
    start = finetuned_start(model, scan, NetworkOptions(iterations=2, seed=1), tmp_path, on_iteration=rows.append)
    assert [r["iteration"] for r in start.history] == [1, 2] and rows == start.history
    assert start.nll_after < start.nll_before
    # the NLL before fine-tuning, measured independently on the bundle as loaded from disk
    models, tc = load_inference_bundle_torch(model)
    config = InferenceConfig(model=tc.model, model_path=model, test_data_file=scan, output_dir=tmp_path,
                             backend="pytorch")
    container = create_ptycho_data_container(RawData.from_file(str(scan)), config,
                                             intensity_scale=float(models["intensity_scale"]))
    assert network_nll(models["lightning_module"], container) == pytest.approx(start.nll_before, rel=1e-5)
    assert (model / "wts.h5.zip").read_bytes() == blob
    canvas, origin, history, before, after = start  # the tuple form refine_cmd unpacks
    assert np.isfinite(canvas).all() and after == start.nll_after
