"""Property 5: grouping and stitching, TF vs Torch (specs/parity.md §3 P5; specs/grouping.md,
specs/physics.md §6).

Grouping goes through each backend's own data path from the same RawData and canonical config:
TF ``ptycho.workflows.components.create_ptycho_data_container`` (-> ``ptycho.loader``) and Torch
``PtychoDataContainerTorch.from_raw_data``. Indices must be identical; arrays equal to 1e-6.
Stitching: numpy ``ptycho.physics.reassemble_position`` vs TF ``ptycho.tf_helper.reassemble_position``
vs Torch ``ptycho_torch.stitching.stitch_patches``, 1e-6 relative in float64/complex128.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import parity_support as ps
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ptycho import physics

FIXTURE = Path(__file__).resolve().parents[1] / "packages/ptycho-contracts/tests/fixtures/minimal_dataset_v1.npz"


def _raw():
    from ptycho.raw_data import RawData

    return RawData.from_file(FIXTURE)


def _config(gs, k, n_groups, seed, sequential=False):
    from ptycho.config.config import ModelConfig, TrainingConfig

    return TrainingConfig(model=ModelConfig(N=64, gridsize=gs), n_groups=n_groups, neighbor_count=k,
                          subsample_seed=seed, sequential_sampling=sequential, nphotons=1e6)


def _groups(cfg):
    from ptycho.workflows import components
    from ptycho_torch.data import PtychoDataContainerTorch

    raw = _raw()
    tf_c = components.create_ptycho_data_container(raw, cfg, seed=cfg.subsample_seed)
    t_c = PtychoDataContainerTorch.from_raw_data(raw, cfg)
    return tf_c, t_c


@pytest.mark.needs_tf
@settings(max_examples=ps.examples(12))
@given(gs=st.integers(1, 3), extra_k=st.integers(0, 4), n_groups=st.integers(1, 64), seed=st.integers(0, 2**20),
       sequential=st.booleans())
def test_grouping_identical(gs, extra_k, n_groups, seed, sequential):
    cfg = _config(gs, gs * gs + extra_k, n_groups, seed, sequential)
    tf_c, t_c = _groups(cfg)
    case = f"gs={gs} K={cfg.neighbor_count} n_groups={n_groups} seed={seed} sequential={sequential}"
    same = np.array_equal(np.asarray(tf_c.nn_indices), t_c.nn_indices.numpy())
    ps.check("P5-grouping-indices", 0.0 if same else 1.0, "nn_indices " + case, "test_grouping_identical")
    for name, a, b in (("X", t_c.X.numpy(), np.asarray(tf_c.X)),
                       ("coords_relative", t_c.coords_relative.numpy(), np.asarray(tf_c.coords_true)),
                       ("coords_offsets", t_c.global_offsets.numpy(), np.asarray(tf_c.global_offsets))):
        ps.check("P5-grouped-arrays", ps.rel_err(a, b), f"{name} {case}", "test_grouping_identical")


@pytest.mark.needs_tf
def test_default_seed_groups_identically():
    """The same config (subsample_seed left at None) must group identically in both backends' data paths.

    TF's ``create_ptycho_data_container`` / ``train_cdi_model`` default ``seed=0`` while Torch's
    ``from_raw_data`` passes ``config.subsample_seed`` (None = fresh entropy): different groups.
    """
    from ptycho.workflows import components
    from ptycho_torch.data import PtychoDataContainerTorch

    cfg = _config(2, 6, 16, None)
    tf_idx = np.asarray(components.create_ptycho_data_container(_raw(), cfg).nn_indices)
    t_idx = PtychoDataContainerTorch.from_raw_data(_raw(), cfg).nn_indices.numpy()
    same = np.array_equal(tf_idx, t_idx)
    ps.STATE.record("P5-grouping-indices", 0.0 if same else 1.0, "workflow defaults, subsample_seed=None",
                    "test_default_seed_groups_identically")
    assert same, (f"P5: subsample_seed=None: TF create_ptycho_data_container groups {tf_idx[:2].tolist()}..., "
                  f"Torch from_raw_data {t_idx[:2].tolist()}... (TF defaults seed=0, Torch uses fresh entropy)")


@settings(max_examples=ps.examples(10))
@given(p=st.integers(1, 40), m=st.sampled_from([10, 20, 32, 64]), seed=st.integers(0, 2**20),
       prec=st.sampled_from(["f64", "f32"]))
def test_stitching(device, p, m, seed, prec):
    from ptycho_torch.stitching import stitch_patches

    rng = np.random.default_rng(seed)
    cdt = np.complex128 if prec == "f64" else np.complex64
    patches = (rng.normal(size=(p, 64, 64)) + 1j * rng.normal(size=(p, 64, 64))).astype(cdt)
    off = rng.uniform(32, 96, (p, 1, 2, 1))
    ref = physics.reassemble_position(patches.astype(np.complex128), off, M=m)
    canvas, _ = stitch_patches(torch.from_numpy(patches).to(device), torch.from_numpy(off), M=m)
    tol_prop = "P5-stitching" if prec == "f64" else "P2-physics-f32"
    case = f"P={p} M={m} {prec}"
    ps.check(tol_prop, ps.rel_err(ps.to_numpy(canvas), ref), "torch stitch_patches " + case, "test_stitching")
    if ps.STATE.tf_live:
        from ptycho import tf_helper

        out = ps.to_numpy(tf_helper.reassemble_position(patches[..., None], off, M=m))[..., 0]
        ps.check(tol_prop, ps.rel_err(out, ref), "tf reassemble_position " + case, "test_stitching")
