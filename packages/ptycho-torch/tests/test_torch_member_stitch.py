"""Gridsize > 1 inference stitches every group member's patch at that member's own scan position
(specs/torch-workflow.md §6): checked against the scan's coordinates and the numpy reference stitcher, in memory
and streamed from an HDF5 scan."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho.data_contract import read_npz, validate_arrays
from ptycho.physics import reassemble_position
from ptycho.raw_data import RawData
from ptycho.scan_hdf5 import write_scan_hdf5
from ptycho_torch.data import create_ptycho_data_container
from ptycho_torch.workflows.reassembly import predict_patches, reassemble_cdi_image_torch, stitch_offsets

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"
CPU = {"accelerator": "cpu"}


def _config(out: Path, gridsize: int = 2) -> TrainingConfig:
    return TrainingConfig(model=ModelConfig(N=64, gridsize=gridsize, n_filters_scale=1, input_projections=4), n_groups=24, batch_size=8,
                          nepochs=1, neighbor_count=4, subsample_seed=3, output_dir=out, backend="pytorch")


@pytest.fixture(scope="module")
def module():
    from ptycho_torch.lightning_module import PtychoPINN_Lightning

    torch.manual_seed(0)
    tc = _config(Path("unused"))
    return PtychoPINN_Lightning(tc.model, tc, RawData.from_file(FIXTURE).probeGuess).eval()


def test_member_offsets_are_the_members_scan_coordinates():
    raw = RawData.from_file(FIXTURE)
    container = create_ptycho_data_container(raw, _config(Path("unused")), intensity_scale=1.0)
    off = stitch_offsets(container).reshape(-1, 2).numpy()
    nn = container.nn_indices.numpy().reshape(-1)  # group-major: row g·C + c is member c of group g
    expected = np.stack([raw.xcoords[nn], raw.ycoords[nn]], axis=1)
    assert off.shape == (len(container) * 4, 2)
    np.testing.assert_allclose(off, expected, atol=1e-4)


def test_gridsize_one_offsets_are_the_group_centres():
    raw = RawData.from_file(FIXTURE)
    container = create_ptycho_data_container(raw, _config(Path("unused"), gridsize=1), intensity_scale=1.0)
    assert torch.equal(stitch_offsets(container), container.global_offsets.to(torch.float64))


def test_canvas_is_the_numpy_stitch_of_every_member(module):
    raw = RawData.from_file(FIXTURE)
    config = _config(Path("unused"))
    amp, phase, res = reassemble_cdi_image_torch(raw, config, M=20, models={"lightning_module": module},
                                                 execution_config=CPU)
    container = res["test_container"]
    with torch.no_grad():
        batch = container.batch(torch.arange(len(container)))
        members = module(batch["X"] * module.intensity_scale, batch["coords_relative"])["patches"]
    members = members.permute(0, 3, 1, 2).reshape(-1, 64, 64).to(torch.complex64).numpy()
    nn = container.nn_indices.numpy().reshape(-1)
    positions = np.stack([raw.xcoords[nn], raw.ycoords[nn]], axis=1)
    reference = reassemble_position(members, positions, M=20)
    assert res["obj_tensor_full"].shape == (len(container) * 4, 64, 64, 1)
    np.testing.assert_allclose(res["obj_tensor_full"][..., 0], members, rtol=1e-5, atol=1e-6)
    assert res["stitched_obj"].shape == reference.shape
    np.testing.assert_allclose(res["stitched_obj"], reference, rtol=1e-4, atol=1e-5)
    assert predict_patches(module, container, batch_size=8, device=torch.device("cpu")).shape[0] == len(container) * 4


def test_streamed_member_stitch_equals_in_memory(module, tmp_path):
    path = tmp_path / "scan.h5"
    write_scan_hdf5(path, validate_arrays(read_npz(FIXTURE), source=str(FIXTURE)), chunk_patterns=16)
    config = _config(tmp_path)
    models = {"lightning_module": module}
    _, _, lazy = reassemble_cdi_image_torch(RawData.from_file(path), config, M=20, models=models,
                                            execution_config={**CPU, "inference_batch_size": 5})
    _, _, mem = reassemble_cdi_image_torch(RawData.from_file(FIXTURE), config, M=20, models=models,
                                           execution_config=CPU)
    assert "obj_tensor_full" not in lazy
    np.testing.assert_array_equal(lazy["global_offsets"], mem["global_offsets"])
    np.testing.assert_allclose(lazy["stitched_obj"], mem["stitched_obj"], rtol=1e-4, atol=1e-5)
