"""specs/architecture.md §7: ptycho-tf's code is ``ptycho_tf``; the legacy ``ptycho.*`` names are thin shims that
bind the same module objects, and the legacy loader reads the params mirror only for values a caller leaves out."""

from __future__ import annotations

import importlib
import subprocess
import sys

import numpy as np
import pytest

from ptycho import params
from ptycho.raw_data import RawData

SHIMS = {
    "ptycho.model": "ptycho_tf.compat.model",
    "ptycho.loader": "ptycho_tf.compat.loader",
    "ptycho.tf_helper": "ptycho_tf.compat.tf_helper",
    "ptycho.probe": "ptycho_tf.compat.probe",
    "ptycho.train_pinn": "ptycho_tf.compat.train_pinn",
    "ptycho.model_manager": "ptycho_tf.compat.model_manager",
    "ptycho.evaluation": "ptycho_tf.evaluation",
    "ptycho.workflows.components": "ptycho_tf.compat.components",
    "ptycho.workflows.backend_selector": "ptycho_bridge.backend_selector",
}
N = 64


@pytest.mark.parametrize("legacy, real", sorted(SHIMS.items()))
def test_each_legacy_name_is_the_real_module(legacy, real):
    assert importlib.import_module(legacy) is importlib.import_module(real)


def test_from_ptycho_import_binds_the_same_object_and_shares_patches(monkeypatch):
    from ptycho import model as legacy_model
    from ptycho_tf.compat import model

    assert legacy_model is model
    monkeypatch.setattr("ptycho.model._state", {"models": "patched", "config": None})
    assert model.current_models() == "patched"


def test_the_backend_entry_point_is_ptycho_tf():
    from importlib.metadata import entry_points

    eps = {ep.name: ep.value for ep in entry_points(group="ptycho.backends")}
    assert eps["tensorflow"] == "ptycho_tf.backend:BACKEND"


def test_importing_the_container_loads_no_tensorflow():
    code = ("import sys, ptycho_tf.data, ptycho.loader; "
            "sys.exit('tensorflow imported' if 'tensorflow' in sys.modules else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    # ptycho.loader binds ptycho_tf.compat.loader, which imports only numpy-side modules
    assert proc.returncode == 0, proc.stderr[-500:]


def _grouped(n_pos: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    pos = rng.uniform(40, 80, (n_pos, 2))
    diff = rng.random((n_pos, N, N)).astype(np.float32)
    probe = np.ones((N, N), np.complex64)
    return pos, diff, probe


def test_legacy_load_reads_nphotons_from_the_mirror_only_when_left_out(monkeypatch):
    from ptycho import loader
    from ptycho_tf import data

    pos, diff, probe = _grouped()
    raw = RawData.from_coords_without_pc(pos[:, 0], pos[:, 1], diff, probe, np.zeros(len(pos), np.int64))
    d = raw.generate_grouped_data(N, K=4, nsamples=8, gridsize=1, seed=1)
    monkeypatch.setitem(params.cfg, "nphotons", 4e6)
    from_mirror = loader.load(lambda: d, probe)
    explicit = data.load(lambda: d, probe, nphotons=4e6)
    other = loader.load(lambda: d, probe, nphotons=1e9)
    msum = float(np.mean(np.sum(d["X_full"].astype(np.float64) ** 2, axis=(1, 2))))
    assert from_mirror.norm_Y_I == pytest.approx(np.sqrt(4e6 / msum)) == explicit.norm_Y_I
    assert other.norm_Y_I == pytest.approx(np.sqrt(1e9 / msum))
    with pytest.raises(TypeError, match="nphotons"):
        data.load(lambda: d, probe)  # the core takes the value, never the mirror


def test_legacy_from_raw_data_without_pc_reads_gridsize_from_the_mirror(monkeypatch):
    from ptycho import loader
    from ptycho_tf.data import PtychoDataContainer

    pos, diff, probe = _grouped(20)
    args = (pos[:, 0], pos[:, 1], diff, probe, np.zeros(len(pos), np.int64))
    monkeypatch.setitem(params.cfg, "gridsize", 2)
    legacy = loader.from_raw_data_without_pc(*args, K=6, nsamples=5)
    assert legacy.X.shape[-1] == 4  # gridsize 2 from the mirror: groups of 4
    explicit = PtychoDataContainer.from_raw_data_without_pc(*args, K=6, nsamples=5, gridsize=1, nphotons=1e9)
    assert explicit.X.shape[-1] == 1
    with pytest.raises(TypeError, match="gridsize"):
        PtychoDataContainer.from_raw_data_without_pc(*args)


def test_container_to_npz_round_trip(tmp_path):
    from ptycho_tf import data

    pos, diff, probe = _grouped()
    raw = RawData.from_coords_without_pc(pos[:, 0], pos[:, 1], diff, probe, np.zeros(len(pos), np.int64))
    cont = data.load(lambda: raw.generate_grouped_data(N, K=4, nsamples=8, gridsize=1, seed=1), probe, nphotons=1e6)
    cont.to_npz(tmp_path / "c.npz")
    with np.load(tmp_path / "c.npz", allow_pickle=False) as z:
        np.testing.assert_array_equal(z["X"], cont.X)
        np.testing.assert_array_equal(z["probeGuess"], cont.probe)
        assert float(z["norm_Y_I"]) == pytest.approx(cont.norm_Y_I)
        assert ("nn_indices" in z.files) == (cont.nn_indices is not None)
