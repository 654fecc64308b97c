"""Container, batch dict and loader tests (specs/torch-workflow.md §2-§3)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho.physics import normalize_probe
from ptycho.raw_data import RawData, load_data
from ptycho.sampling import epoch_order
from ptycho_torch.data import (
    IndexMismatchError,
    PtychoDataContainerTorch,
    build_dataloader,
)

N = 64


def _raw(M: int = 36, seed: int = 0, with_object: bool = True) -> RawData:
    rng = np.random.default_rng(seed)
    side = int(math.isqrt(M))
    gx, gy = np.meshgrid(np.arange(side) * 6.0, np.arange(side) * 6.0)
    x, y = gx.ravel() + 40 + rng.uniform(0, 1, M), gy.ravel() + 40 + rng.uniform(0, 1, M)
    diff = rng.uniform(0.0, 3.0, size=(M, N, N)).astype(np.float32)
    yy, xx = np.mgrid[:N, :N] - N / 2
    probe = (np.exp(-(xx**2 + yy**2) / 200.0) * np.exp(0.1j * xx)).astype(np.complex64)
    obj = np.exp(1j * rng.uniform(-0.5, 0.5, size=(160, 160))).astype(np.complex64) if with_object else None
    return RawData.from_coords_without_pc(x, y, diff, probe, np.zeros(M, np.int64), obj)


def _config(gridsize: int = 1, n_groups: int = 16, **kw) -> TrainingConfig:
    return TrainingConfig(
        model=ModelConfig(N=N, gridsize=gridsize), n_groups=n_groups, batch_size=4, nphotons=1e6, **kw
    )


@pytest.mark.parametrize("gridsize", [1, 2])
def test_container_layout_scale_and_probe(gridsize):
    """§2: shapes/dtypes, s = sqrt(nphotons)/(N/2), probe = normalize_probe(probeGuess, probe_scale)."""
    raw, cfg = _raw(), _config(gridsize, subsample_seed=3)
    c = PtychoDataContainerTorch.from_raw_data(raw, cfg)
    C = gridsize**2
    assert c.X.shape == (16, N, N, C) and c.X.dtype == torch.float32 and c.X.is_contiguous()
    assert c.coords_relative.shape == (16, 1, 2, C) and c.coords_relative.dtype == torch.float32
    assert c.global_offsets.shape == (16, 1, 2, 1) and c.global_offsets.dtype == torch.float64
    assert c.nn_indices.shape == (16, C) and c.nn_indices.dtype == torch.int64
    assert c.intensity_scale == pytest.approx(math.sqrt(1e6) / 32)
    # independent check of the normalisation: mean over groups of sum over pixels/channels of X² = (N/2)² per pattern
    assert float((c.X.double() ** 2).sum(dim=(1, 2)).mean()) == pytest.approx((N / 2) ** 2, rel=1e-4)
    np.testing.assert_allclose(c.probe.numpy(), normalize_probe(raw.probeGuess, 4.0), rtol=1e-6)
    # coordinates follow the grouped dict: offsets = member mean, relative = -(pos - mean)
    members = c.nn_indices.numpy()
    pos = np.stack([raw.xcoords[members], raw.ycoords[members]], axis=1)  # (B, 2, C)
    np.testing.assert_allclose(c.global_offsets.numpy()[:, 0, :, 0], pos.mean(-1), atol=1e-9)
    np.testing.assert_allclose(c.coords_relative.numpy()[:, 0], -(pos - pos.mean(-1, keepdims=True)), atol=1e-5)
    assert c.Y is not None and c.Y.shape == (16, N, N, C)


def test_batch_dict_and_labels():
    """§3: batch keys, shapes, dtypes; labels are |Y| and angle(Y)."""
    c = PtychoDataContainerTorch.from_raw_data(_raw(), _config(2, subsample_seed=1))
    b = c.batch([3, 0, 5])
    assert set(b) == {"X", "coords_relative", "index", "label_amp", "label_phase"}
    assert b["index"].tolist() == [3, 0, 5] and b["index"].dtype == torch.int64
    assert torch.equal(b["X"], c.X[[3, 0, 5]])
    np.testing.assert_allclose(b["label_amp"].numpy(), np.abs(c.Y.numpy()[[3, 0, 5]]), rtol=1e-6)
    np.testing.assert_allclose(b["label_phase"].numpy(), np.angle(c.Y.numpy()[[3, 0, 5]]), atol=1e-6)
    c_nolabel = PtychoDataContainerTorch.from_raw_data(_raw(with_object=False), _config(1, subsample_seed=1))
    assert set(c_nolabel.batch([0])) == {"X", "coords_relative", "index"}


def test_loader_is_deterministic_and_complete():
    """§3: a seeded generator fixes the order; every group appears once per epoch; no shuffle = sequential."""
    c = PtychoDataContainerTorch.from_raw_data(_raw(), _config(1, subsample_seed=0))
    order = lambda loader: torch.cat([b["index"] for b in loader]).tolist()  # noqa: E731
    a, b = order(build_dataloader(c, 5, shuffle=True, seed=7)), order(build_dataloader(c, 5, shuffle=True, seed=7))
    assert a == b and sorted(a) == list(range(16)) and a != list(range(16))
    assert order(build_dataloader(c, 5, shuffle=True, seed=8)) != a
    # the order shared with the TensorFlow trainer (specs/grouping.md §8): epoch 0 of seed 7
    assert a == epoch_order(16, 7, 0).tolist()
    loader = build_dataloader(c, 5, shuffle=True, seed=7)
    loader.sampler.set_epoch(3)
    assert order(loader) == epoch_order(16, 7, 3).tolist()
    assert order(build_dataloader(c, 5, shuffle=False)) == list(range(16))
    sizes = [len(b["index"]) for b in build_dataloader(c, 5, shuffle=False)]
    assert sizes == [5, 5, 5, 1]


def test_bad_inputs_raise_clear_errors():
    raw = _raw()
    with pytest.raises(ValueError, match=r"diff3d: expected shape \(M, 128, 128\)"):
        PtychoDataContainerTorch.from_raw_data(raw, TrainingConfig(model=ModelConfig(N=128), n_groups=4))
    with pytest.raises(ValueError, match="batch_size"):
        build_dataloader(PtychoDataContainerTorch.from_raw_data(raw, _config(1)), 0, shuffle=False)


def test_index_mismatch_is_detected(tmp_path):
    """§2: indices recorded by load_data(subsample_seed=X) must match the torch side (message names both)."""
    path = tmp_path / "scan.npz"
    _raw(M=49).to_file(path)
    raw = load_data(path, n_images=30, subsample_seed=5, output_dir=tmp_path)
    assert raw.sample_indices is not None
    ok = PtychoDataContainerTorch.from_raw_data(raw, _config(1, subsample_seed=5, output_dir=tmp_path))
    np.testing.assert_array_equal(ok.sample_indices, raw.sample_indices)
    with pytest.raises(IndexMismatchError, match="subsample_seed=5 but config.subsample_seed=6"):
        PtychoDataContainerTorch.from_raw_data(raw, _config(1, subsample_seed=6))
    # the persisted index list disagrees with the in-memory one
    (tmp_path / "tmp" / "subsample_seed5_indices.txt").write_text("0\n1\n2\n")
    with pytest.raises(IndexMismatchError, match=r"subsample_seed5_indices.txt lists \[0, 1, 2\]"):
        PtychoDataContainerTorch.from_raw_data(raw, _config(1, subsample_seed=5, output_dir=tmp_path))
