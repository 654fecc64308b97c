"""The explicit TensorFlow workflow and the backend object (specs/tf-backend.md §7, specs/architecture.md §3-§4):
``ptycho_tf.workflow`` and ``BACKEND``'s explicit methods leave the legacy mirror (``ptycho.params.cfg``,
the current model of ``ptycho.model``) as they found it; the legacy wrappers (``ptycho.workflows.components``,
``ptycho.train_pinn``) update it from what the explicit workflow returned."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from ptycho import model as model_mod
from ptycho import params, train_pinn
from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho.raw_data import RawData
from ptycho.workflows import components
from ptycho_bridge.backend_api import Backend
from ptycho_bridge.backend_selector import load_backend
from ptycho_tf import workflow
from ptycho_tf.backend import BACKEND

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts/tests/fixtures/minimal_dataset_v1.npz"


def _config(tmp_path: Path, **kw) -> TrainingConfig:
    return TrainingConfig(model=ModelConfig(N=64, gridsize=1, n_filters_scale=1), n_groups=8, batch_size=4, nepochs=1,
                          nphotons=1e6, output_dir=tmp_path / "run", **kw)


def _snapshot() -> tuple[dict, object, object]:
    return copy.deepcopy(dict(params.cfg)), model_mod._state["models"], model_mod._state["config"]


def _same_cfg(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    return all(np.array_equal(np.asarray(a[k]), np.asarray(b[k])) if isinstance(a[k], np.ndarray) else a[k] == b[k]
               for k in a)


@pytest.fixture
def legacy_state():
    """A known legacy mirror (as a previous ptychodus call would leave it), restored afterwards."""
    saved = (dict(params.cfg), dict(model_mod._state))
    params.reset()
    params.cfg.update({"N": 128, "gridsize": 2, "intensity_scale": 123.0, "marker": "untouched"})
    model_mod._state.update({"models": None, "config": None})
    yield
    params.cfg.clear()
    params.cfg.update(saved[0])
    model_mod._state.update(saved[1])


def test_the_entry_point_is_this_backend_object():
    assert load_backend("tensorflow") is BACKEND and isinstance(BACKEND, Backend)
    assert BACKEND.name == "tensorflow" and BACKEND.command_line is None


def test_explicit_workflow_and_backend_methods_leave_the_legacy_mirror_untouched(tmp_path, legacy_state):
    before = _snapshot()
    raw = RawData.from_file(FIXTURE)
    config = _config(tmp_path)
    amp, phase, trained = BACKEND.train(raw, raw, config, do_stitching=True)  # ptycho_tf.workflow.run
    assert amp.shape == phase.shape and amp.ndim == 2 and len(trained["history"]["train_loss"]) == 1
    bundle = BACKEND.save_bundle(trained, config)
    models, loaded = BACKEND.load_bundle(bundle.parent)
    loaded.n_groups = None
    recon = BACKEND.reconstruct(models, raw, loaded, M=20)
    assert _same_cfg(_snapshot()[0], before[0]) and _snapshot()[1:] == (None, None)
    # the reconstruction from the reloaded bundle is the trained models' own (same weights, same stitching)
    direct = workflow.reassemble(trained["tf_models"], raw, loaded, M=20)[0]
    np.testing.assert_allclose(recon.object, direct, rtol=1e-5, atol=1e-6)
    assert recon.crop == 20 and recon.global_offsets.shape == (len(raw.diff3d), 1, 2, 1)


def test_legacy_wrappers_update_the_mirror_from_the_explicit_result(tmp_path, legacy_state):
    raw = RawData.from_file(FIXTURE)
    config = _config(tmp_path)
    _, _, results = components.run_cdi_example(raw, None, config)
    models = results["tf_models"]
    assert params.cfg["N"] == 64 and params.cfg["gridsize"] == 1 and params.cfg["nphotons"] == 1e6
    assert params.cfg["intensity_scale"] == pytest.approx(models.intensity_scale())
    np.testing.assert_array_equal(params.cfg["probe"][..., 0], models.probe())
    assert model_mod.current_models() is models and model_mod.current_config() is config


def test_train_with_config_is_the_explicit_fit_then_the_current_model(monkeypatch, legacy_state):
    fitted = []

    class _Models:  # what ptycho.model.set_current needs of the models
        autoencoder, diffraction_to_obj = object(), object()

    def fake_fit(container, config, *args, **kw):
        fitted.append((container, config))
        return _Models, {"train_loss": [1.0]}

    monkeypatch.setattr(workflow, "fit", fake_fit)
    config = TrainingConfig()
    models, hist = train_pinn.train_with_config("container", config)
    assert fitted == [("container", config)] and models is _Models and hist == {"train_loss": [1.0]}
    assert model_mod.current_models() is _Models and model_mod.current_config() is config


def test_backend_refuses_execution_settings_it_would_ignore():
    with pytest.raises(ValueError, match=r"^execution: expected None with the TensorFlow backend"):
        BACKEND.run_cdi_example(None, None, TrainingConfig(), execution={"accelerator": "cpu"})
    with pytest.raises(ValueError, match=r"^execution: expected None with the TensorFlow backend"):
        BACKEND.train(None, None, TrainingConfig(), execution={"accelerator": "cpu"})


def test_unsupported_names_an_option_this_backend_lacks():
    assert BACKEND.unsupported(TrainingConfig()) is None
    problem = BACKEND.unsupported(TrainingConfig(model=ModelConfig(architecture="fno")))
    assert problem is not None and problem.startswith("ModelConfig.architecture: the TensorFlow backend supports only")
