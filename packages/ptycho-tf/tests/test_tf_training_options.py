"""Options of a TF training run: ``TrainingPolicy`` (validation hold-out, learning-rate plateau, early stopping;
specs/tf-backend.md §4) and ``init_weights`` (§7). N=64, gridsize 1, n_filters_scale 1, the 64-position fixture."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho.raw_data import RawData
from ptycho.workflows import components
from ptycho_tf import network, training
from ptycho_tf.training import PYTORCH_DEFAULTS, TrainingPolicy

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"
MC = ModelConfig(N=64, gridsize=1, n_filters_scale=1)


def _compiled_models(lr: float = 1e-3) -> network.Models:
    models = network.build_models(MC, probe=np.ones((64, 64), np.complex64), intensity_scale=100.0, seed=0)
    training.compile_models(models, TrainingConfig(model=MC, learning_rate=lr, nphotons=1e9))
    return models


def _fresh_state() -> dict:
    return {"plateau": {"best": float("inf"), "wait": 0}, "stop": {"best": float("inf"), "wait": 0}}


def _lr(models) -> float:
    return float(np.asarray(models.training_model.optimizer.learning_rate))


def test_default_policy_halves_lr_after_two_flat_epochs_and_stops_after_three():
    models, state = _compiled_models(1e-3), _fresh_state()
    stops, lrs = [], []
    for epoch, val in enumerate([1.0, 1.0, 1.0, 1.0]):
        stops.append(training._plateau_and_stop(state, models, epoch, val, TrainingPolicy()))
        lrs.append(_lr(models))
    assert lrs == pytest.approx([1e-3, 1e-3, 5e-4, 5e-4])
    assert stops == [False, False, False, True]


def test_plateau_respects_min_delta_and_min_lr():
    models, state = _compiled_models(1.5e-4), _fresh_state()
    policy = TrainingPolicy(plateau_patience=1, plateau_min_delta=0.1, early_stop_patience=None)
    # improvements of 0.05 are below min_delta: the plateau counter still runs; lr floors at 1e-4
    for epoch, val in enumerate([1.0, 0.95, 0.90, 0.85]):
        assert not training._plateau_and_stop(state, models, epoch, val, policy)
    assert _lr(models) == pytest.approx(1e-4)


def test_pytorch_defaults_never_decay_or_stop():
    models, state = _compiled_models(1e-3), _fresh_state()
    for epoch in range(20):
        assert not training._plateau_and_stop(state, models, epoch, 1.0, PYTORCH_DEFAULTS)
    assert _lr(models) == pytest.approx(1e-3)


@pytest.mark.parametrize(
    ("field", "value"),
    [("validation_fraction", 1.0), ("validation_fraction", -0.1), ("validation_fraction", float("nan")),
     ("plateau_factor", 1.0), ("plateau_factor", 0.0), ("plateau_patience", 0), ("plateau_patience", 1.5),
     ("plateau_min_lr", -1.0), ("plateau_min_delta", "x"), ("early_stop_patience", 0),
     ("early_stop_patience", True)],
)
def test_bad_policy_field_is_one_line_value_error(field, value):
    with pytest.raises(ValueError, match=rf"^TrainingPolicy\.{field}: expected .*, found ") as e:
        TrainingPolicy(**{field: value})
    assert "\n" not in str(e.value)


def test_fit_rejects_a_policy_of_another_type():
    models = _compiled_models()
    x = np.ones((4, 64, 64, 1), np.float32)
    with pytest.raises(ValueError, match="fit: policy: expected a TrainingPolicy or None, found dict"):
        training.fit(models, x, np.zeros((4, 1, 2, 1), np.float32), TrainingConfig(model=MC, nepochs=1), 100.0,
                     policy={"early_stop_patience": None})


def _config(tmp_path, nepochs):
    return TrainingConfig(model=MC, n_groups=64, batch_size=16, nepochs=nepochs, neighbor_count=4,
                          output_dir=tmp_path, backend="tensorflow")


def test_workflow_policy_reaches_the_fit(tmp_path):
    """run_cdi_example(policy=PYTORCH_DEFAULTS): no hold-out (no val_loss), every epoch runs; the default
    policy holds out 5 % (3 of 64 groups) and reports val_loss every epoch."""
    raw = RawData.from_file(FIXTURE)
    _, _, res = components.run_cdi_example(raw, None, _config(tmp_path / "a", 2), policy=PYTORCH_DEFAULTS)
    assert len(res["history"]["train_loss"]) == 2 and res["history"]["val_loss"] == []
    _, _, res = components.run_cdi_example(raw, None, _config(tmp_path / "b", 2))
    assert len(res["history"]["val_loss"]) == 2


def test_init_weights_replaces_the_random_initialisation(tmp_path):
    """The hook gets the freshly built autoencoder; with a negligible learning rate the trained weights are the
    hook's (copied from a model built with another seed), not the default seed's."""
    raw = RawData.from_file(FIXTURE)
    source = network.build_models(MC, probe=np.ones((64, 64), np.complex64), intensity_scale=100.0, seed=7)
    seen = []

    def init(model):
        seen.append(model)
        for layer in model.layers:
            if layer.name.startswith(("encoder_", "decoder_")) and layer.weights:
                layer.set_weights(source.autoencoder.get_layer(layer.name).get_weights())

    cfg = TrainingConfig(model=MC, n_groups=64, batch_size=16, nepochs=1, neighbor_count=4, learning_rate=1e-12,
                         output_dir=tmp_path / "a", backend="tensorflow")
    _, _, res = components.run_cdi_example(raw, None, cfg, policy=PYTORCH_DEFAULTS, init_weights=init)
    trained = res["models"]["autoencoder"]
    assert seen == [trained]
    got = trained.get_layer("encoder_blocks_0_conv1").kernel.numpy()
    np.testing.assert_allclose(got, source.autoencoder.get_layer("encoder_blocks_0_conv1").kernel.numpy(), atol=1e-6)
    _, _, plain = components.run_cdi_example(raw, None, replace(cfg, output_dir=tmp_path / "b"),
                                             policy=PYTORCH_DEFAULTS)
    assert not np.allclose(plain["models"]["autoencoder"].get_layer("encoder_blocks_0_conv1").kernel.numpy(), got,
                           atol=1e-3)


def test_fit_visits_groups_in_the_shared_epoch_order(monkeypatch):
    """The TF fit loop orders every epoch with ptycho.sampling.epoch_order(n_train, seed, epoch), as the PyTorch
    sampler does (specs/grouping.md §8)."""
    from ptycho import sampling

    assert training.epoch_order is sampling.epoch_order
    calls = []

    def spy(n, seed, epoch):
        calls.append((n, seed, epoch))
        return sampling.epoch_order(n, seed, epoch)

    monkeypatch.setattr(training, "epoch_order", spy)
    models = _compiled_models()
    x = np.abs(np.random.default_rng(0).normal(size=(6, 64, 64, 1))).astype(np.float32)
    training.fit(models, x, np.zeros((6, 1, 2, 1), np.float32), TrainingConfig(model=MC, nepochs=2, batch_size=2),
                 100.0, seed=5, policy=PYTORCH_DEFAULTS)
    assert calls == [(6, 5, 0), (6, 5, 1)]


def test_init_weights_that_is_not_callable_is_a_one_line_error(tmp_path):
    raw = RawData.from_file(FIXTURE)
    with pytest.raises(ValueError, match=r"^train: init_weights: expected a callable taking the Keras autoencoder, "
                                         r"or None, found dict$"):
        components.run_cdi_example(raw, None, _config(tmp_path, 1), init_weights={"encoder": 1})


def test_resuming_a_run_that_stopped_early_trains_no_further(tmp_path):
    """Early stopping (patience 1) ends a run after epoch 2 of 5; resuming its checkpoint keeps the same weights and
    history instead of training another epoch."""
    models = _compiled_models(1e-12)  # a negligible rate: val_loss never improves, so the run stops early
    x = np.abs(np.random.default_rng(0).normal(size=(8, 64, 64, 1))).astype(np.float32)
    coords = np.zeros((8, 1, 2, 1), np.float32)
    tc = TrainingConfig(model=MC, nepochs=5, batch_size=4)
    policy = TrainingPolicy(validation_fraction=0.25, early_stop_patience=1)
    ckpt = tmp_path / "last.ckpt"
    first = training.fit(models, x, coords, tc, 100.0, policy=policy, checkpoint_path=ckpt)
    assert len(first["train_loss"]) < 5
    again = _compiled_models(1e-12)
    resumed = training.fit(again, x, coords, tc, 100.0, policy=policy, resume_from=ckpt)
    assert resumed["train_loss"] == first["train_loss"]
    for a, b in zip(models.autoencoder.get_weights(), again.autoencoder.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("changes", "needle"), [
    ({"realspace_weight": 0.5}, r"TrainingConfig\.realspace_weight: not implemented by either backend"),
    ({"realspace_mae_weight": 0.1}, r"TrainingConfig\.realspace_mae_weight: not implemented"),
    ({"model": ModelConfig(probe_mask_diameter=12.0)}, r"ModelConfig\.probe_mask_diameter: not implemented"),
    ({"model": ModelConfig(probe_mask_sigma=2.0)}, r"ModelConfig\.probe_mask_sigma: not implemented"),
    ({"torch_loss_mode": "mae"}, r"TrainingConfig\.torch_loss_mode: .*expected 'poisson'"),
    ({"teacher": "refine"}, r"TrainingConfig\.teacher: the refinement teacher is implemented by the PyTorch backend only"),
])
def test_unimplemented_fields_are_rejected_not_ignored(changes, needle):
    """specs/config.md §3: a field neither backend implements is a ValueError in TensorFlow training (and so are
    the PyTorch-only loss mode and teacher, specs/torch-training.md §8)."""
    with pytest.raises(ValueError, match=needle):
        training.compile_models(None, replace(TrainingConfig(), **changes))


def test_max_time_stops_fit_after_the_budget_and_resume_trains_no_further(tmp_path):
    """specs/config.md §3 max_time, specs/tf-backend.md §4: a 1-second budget ends a 500-epoch fit after the batch
    that exhausts it; the run is finished, so resuming its checkpoint trains nothing more."""
    import time

    models = _compiled_models()
    x = np.abs(np.random.default_rng(0).normal(size=(8, 64, 64, 1))).astype(np.float32)
    coords = np.zeros((8, 1, 2, 1), np.float32)
    tc = TrainingConfig(model=MC, nepochs=500, batch_size=4, max_time="00:00:00:01")
    ckpt = tmp_path / "last.ckpt"
    t0 = time.monotonic()
    first = training.fit(models, x, coords, tc, 100.0, policy=PYTORCH_DEFAULTS, checkpoint_path=ckpt)
    assert time.monotonic() - t0 < 60
    assert 1 <= len(first["train_loss"]) < 500
    again = _compiled_models()
    resumed = training.fit(again, x, coords, tc, 100.0, policy=PYTORCH_DEFAULTS, resume_from=ckpt)
    assert resumed["train_loss"] == first["train_loss"]


def test_nepochs_none_fits_until_the_budget(tmp_path, capsys):
    """specs/config.md §3: nepochs None trains until max_time in the TensorFlow backend too: a 2-second budget
    runs more epochs than one and stops after the batch that exhausts it (no epoch cap), and a resume of the
    finished run trains nothing more. ``progress=True`` prints the PyTorch backend's line per epoch."""
    import time

    models = _compiled_models()
    x = np.abs(np.random.default_rng(0).normal(size=(8, 64, 64, 1))).astype(np.float32)
    coords = np.zeros((8, 1, 2, 1), np.float32)
    tc = TrainingConfig(model=MC, nepochs=None, batch_size=4, max_time="00:00:00:02")
    training.fit(models, x, coords, replace(tc, nepochs=1, max_time=None), 100.0, policy=PYTORCH_DEFAULTS)  # compile
    ckpt = tmp_path / "last.ckpt"
    t0 = time.monotonic()
    capsys.readouterr()
    first = training.fit(models, x, coords, tc, 100.0, policy=PYTORCH_DEFAULTS, checkpoint_path=ckpt, progress=True)
    elapsed = time.monotonic() - t0
    assert elapsed >= 2.0 and len(first["train_loss"]) >= 2
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split("  ")[0] for ln in lines] == [f"epoch {k}" for k in range(1, len(first["train_loss"]) + 1)]
    assert all(" loss " in ln and " elapsed " in ln and " eta " in ln for ln in lines)
    resumed = training.fit(_compiled_models(), x, coords, tc, 100.0, policy=PYTORCH_DEFAULTS, resume_from=ckpt)
    assert resumed["train_loss"] == first["train_loss"]
