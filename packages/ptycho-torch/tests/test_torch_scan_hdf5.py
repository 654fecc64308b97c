"""Scans larger than memory in the PyTorch backend (specs/scaling.md §2-§3): an HDF5 scan trains from batches
read on demand and is reconstructed by streamed stitching; both agree with the same scan held in memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho.data_contract import read_npz, validate_arrays
from ptycho.raw_data import RawData
from ptycho.scan_hdf5 import write_scan_hdf5
from ptycho_torch.data import create_ptycho_data_container
from ptycho_torch.lazy_data import LazyGroupedStack
from ptycho_torch.stitching import StreamingStitcher, stitch_patches

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    path = tmp_path_factory.mktemp("h5") / "scan.h5"
    write_scan_hdf5(path, validate_arrays(read_npz(FIXTURE), source=str(FIXTURE)), chunk_patterns=16)
    return RawData.from_file(path), RawData.from_file(FIXTURE)


def _config(out, gridsize=1, **kw):
    return TrainingConfig(model=ModelConfig(N=64, gridsize=gridsize, n_filters_scale=1), n_groups=64, batch_size=16,
                          nepochs=2, subsample_seed=3, output_dir=out, backend="pytorch", **kw)


@pytest.mark.parametrize("gridsize", [1, 2])
def test_lazy_batches_equal_in_memory_batches(scans, tmp_path, gridsize):
    lazy_raw, mem_raw = scans
    cfg = _config(tmp_path, gridsize)
    lazy, mem = create_ptycho_data_container(lazy_raw, cfg), create_ptycho_data_container(mem_raw, cfg)
    assert isinstance(lazy.X, LazyGroupedStack) and torch.is_tensor(mem.X)
    assert lazy.X.shape == tuple(mem.X.shape) and len(lazy) == len(mem)
    idx = [7, 0, 31, 7, 63]
    a, b = lazy.batch(idx), mem.batch(idx)
    assert a["X"].dtype == torch.float32 and a["X"].shape == b["X"].shape
    torch.testing.assert_close(a["X"], b["X"], rtol=1e-6, atol=0)
    torch.testing.assert_close(a["coords_relative"], b["coords_relative"], rtol=0, atol=0)
    if gridsize == 1:  # a forked DataLoader worker reads through its own file handle
        from ptycho_torch.data import build_dataloader

        first = next(iter(build_dataloader(lazy, 16, shuffle=False, num_workers=1)))
        torch.testing.assert_close(first["X"], mem.batch(list(range(16)))["X"], rtol=1e-6, atol=0)


def test_streaming_stitcher_equals_stitch_patches_in_any_batch_order():
    """specs/scaling.md §3 against the one-shot stitch (itself pinned to the numpy physics)."""
    gen = torch.Generator().manual_seed(0)
    P, N = 300, 64
    patches = torch.complex(torch.rand(P, N, N, generator=gen), torch.rand(P, N, N, generator=gen))
    offsets = torch.rand(P, 1, 2, 1, generator=gen, dtype=torch.float64) * 80 + 30
    ref, ref_off = stitch_patches(patches, offsets, 20, flip_x=True, transpose=True)
    st = StreamingStitcher(offsets, N, 20, flip_x=True, transpose=True)
    order = torch.randperm(P, generator=gen)
    for lo in range(0, P, 37):
        idx = order[lo:lo + 37]
        st.add(patches[idx], idx)
    out = st.result()
    assert out.shape == ref.shape and out.dtype == torch.complex64
    torch.testing.assert_close(st.offsets, ref_off)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_hdf5_training_and_streamed_reconstruction_match_the_npz(scans, tmp_path):
    """Training reads batches lazily and gives the in-memory loss curve; inference streams (no per-patch array)
    and gives the in-memory canvas."""
    from ptycho_torch.workflows.components import reassemble_cdi_image_torch, train_cdi_model_torch

    lazy_raw, mem_raw = scans
    execution = {"accelerator": "cpu", "logger_backend": "none", "enable_checkpointing": False}
    runs = {}
    for name, raw in (("h5", lazy_raw), ("npz", mem_raw)):
        runs[name] = train_cdi_model_torch(raw, None, _config(tmp_path / name), execution_config=execution)
    h5, npz = runs["h5"]["history"]["train_loss"], runs["npz"]["history"]["train_loss"]
    assert len(h5) == 2 and h5[0] != h5[1]
    np.testing.assert_allclose(h5, npz, rtol=1e-4)
    models = runs["npz"]["models"]
    amp_l, phase_l, res_l = reassemble_cdi_image_torch(lazy_raw, _config(tmp_path), models=models, M=20,
                                                       execution_config={"accelerator": "cpu", "inference_batch_size": 7})
    amp_m, phase_m, res_m = reassemble_cdi_image_torch(mem_raw, _config(tmp_path), models=models, M=20,
                                                       execution_config={"accelerator": "cpu"})
    assert "obj_tensor_full" not in res_l and "obj_tensor_full" in res_m
    np.testing.assert_allclose(res_l["stitched_obj"], res_m["stitched_obj"], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(res_l["global_offsets"], res_m["global_offsets"])
