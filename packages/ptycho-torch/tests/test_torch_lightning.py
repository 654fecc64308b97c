"""PtychoPINN_Lightning: outputs, losses, trainable scale/probe, schedulers, determinism, reload
(specs/torch-training.md §1-§6). Tiny models (N=64, nfs=1), a few samples, 1-2 epochs.
"""

from __future__ import annotations

import json
import math

import lightning as L
import numpy as np
import pytest
import torch

import ptycho.physics as R
from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho_torch.model import PtychoPINN_Lightning


class TinySet(torch.utils.data.Dataset):
    """Random normalised amplitudes with the batch-dict contract of specs/torch-training.md §1."""

    def __init__(self, n: int = 8, gs: int = 1, labels: bool = False, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        c = gs * gs
        self.X = torch.rand(n, 64, 64, c, generator=g)
        self.coords = (torch.rand(n, 1, 2, c, generator=g) - 0.5) * (4.0 if c > 1 else 0.0)
        self.labels = labels
        self.amp = torch.rand(n, 64, 64, c, generator=g)
        self.phase = torch.rand(n, 64, 64, c, generator=g) - 0.5

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        item = {"X": self.X[i], "coords_relative": self.coords[i], "index": torch.tensor(i, dtype=torch.int64)}
        if self.labels:
            item["label_amp"], item["label_phase"] = self.amp[i], self.phase[i]
        return item


def make(gs=1, model_type="pinn", nphotons=1e6, **train_kw):
    mc = ModelConfig(N=64, gridsize=gs, n_filters_scale=1, model_type=model_type)
    tc = TrainingConfig(model=mc, nepochs=2, batch_size=4, nphotons=nphotons, **train_kw)
    return mc, tc


def fit(module, ds, epochs=2, val=True, **trainer_kw):
    dl = torch.utils.data.DataLoader(ds, batch_size=4)
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", deterministic=True, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, **trainer_kw)
    trainer.fit(module, dl, dl if val else None)
    return trainer


def test_forward_outputs_and_predict_step():
    """§1: forward(X_scaled, coords) shapes/dtypes; predict_step object complex64 + index."""
    torch.manual_seed(0)
    mc, tc = make(gs=2)
    m = PtychoPINN_Lightning(mc, tc, R.default_probe(64), None).eval()
    ds = TinySet(3, gs=2)
    batch = torch.utils.data.default_collate([ds[i] for i in range(3)])
    s = math.sqrt(1e6) / 32
    assert math.isclose(m.intensity_scale, s)
    with torch.no_grad():
        out = m(batch["X"] * s, batch["coords_relative"])
        pred = m.predict_step(batch, 0)
    assert out["object"].shape == (3, 64, 64) and out["object"].is_complex()
    assert out["patches"].shape == (3, 64, 64, 4) and out["pred_amplitude"].shape == (3, 64, 64, 4)
    assert pred["object"].dtype == torch.complex64 and torch.equal(pred["index"], torch.arange(3))
    # pred_amplitude == s * |F(probe * object)| computed by the numpy reference physics
    probe = R.normalize_probe(R.default_probe(64), mc.probe_scale)
    ref = R.forward_model(out["patches"].numpy().astype(np.complex128), probe.astype(np.complex128),
                          batch["coords_relative"].numpy().astype(np.float64), s)
    assert np.allclose(out["pred_amplitude"].numpy(), ref, rtol=1e-4, atol=1e-4 * float(np.abs(ref).max()))


def test_poisson_loss_is_mean_nll_of_counts():
    """§3: poisson loss = mean(pred - obs*log(pred)) with obs = (s X)^2, pred = A_pred^2."""
    torch.manual_seed(0)
    mc, tc = make()
    m = PtychoPINN_Lightning(mc, tc)
    batch = torch.utils.data.default_collate([TinySet(2)[i] for i in range(2)])
    with torch.no_grad():
        loss, metrics = m.compute_loss(batch)
        out = m(batch["X"] * m.intensity_scale, batch["coords_relative"])
    obs = (batch["X"].double() * m.intensity_scale) ** 2
    pred = out["pred_amplitude"].double() ** 2
    assert math.isclose(float(loss), R.poisson_nll(obs.numpy(), pred.numpy()), rel_tol=1e-5)
    inv = float((out["pred_amplitude"] / m.intensity_scale - batch["X"]).abs().mean())
    assert math.isclose(float(metrics["amp_inv_mae"]), inv, rel_tol=1e-5)
    assert math.isclose(float(metrics["amp_mae_tf_scale"]), inv * m.intensity_scale, rel_tol=1e-4)


def test_logged_metric_names_poisson_and_mae():
    """§5: metric names in trainer.callback_metrics for both loss modes."""
    for mode in ("poisson", "mae"):
        L.seed_everything(0)
        mc, tc = make(torch_loss_mode=mode)
        m = PtychoPINN_Lightning(mc, tc)
        trainer = fit(m, TinySet(4), epochs=1)
        keys = set(trainer.callback_metrics)
        assert {f"{mode}_train_loss_step", f"{mode}_train_loss_epoch", f"{mode}_val_loss",
                "amp_inv_mae_epoch", "amp_mae_tf_scale_epoch", "lr"} <= keys, keys
        assert len(m.loss_history["train"]) == 1 and len(m.loss_history["val"]) == 1


def test_determinism_identical_loss_histories():
    """§6: seed_everything + deterministic=True -> identical loss histories on CPU."""
    histories = []
    for _ in range(2):
        L.seed_everything(123)
        mc, tc = make(gs=2)
        m = PtychoPINN_Lightning(mc, tc)
        fit(m, TinySet(8, gs=2), epochs=2)
        histories.append(m.loss_history)
    assert histories[0] == histories[1] and len(histories[0]["train"]) == 2
    assert all(math.isfinite(v) for v in histories[0]["train"] + histories[0]["val"])


def test_trainable_scale_and_probe_really_train_and_fixed_ones_do_not():
    """§2: intensity_scale_trainable / probe_trainable make real parameters that move."""
    L.seed_everything(0)
    mc, tc = make(intensity_scale_trainable=True, probe_trainable=True)
    m = PtychoPINN_Lightning(mc, tc)
    ls0 = m.forward_model.log_scale.detach().clone()
    p0 = m.forward_model.probe.detach().clone()
    fit(m, TinySet(8), epochs=1, val=False)
    assert abs(float(m.forward_model.log_scale.detach() - ls0)) > 1e-5
    assert float((m.forward_model.probe.detach() - p0).abs().max()) > 1e-5

    L.seed_everything(0)
    mc, tc = make()
    m = PtychoPINN_Lightning(mc, tc)
    names = {n for n, _ in m.named_parameters()}
    assert not any(n.startswith("forward_model.") for n in names)
    ls0 = m.forward_model.log_scale.clone()
    p0 = m.forward_model.probe.clone()
    fit(m, TinySet(4), epochs=1, val=False)
    assert torch.equal(m.forward_model.log_scale, ls0) and torch.equal(m.forward_model.probe, p0)


@pytest.mark.parametrize(
    ("name", "kwargs", "expected"),
    [("Default", None, 1e-3), ("Exponential", None, 1e-3 * 0.95**2), ("Exponential", {"gamma": 0.5}, 2.5e-4),
     ("MultiStage", {"milestones": [1]}, 1e-4),
     ("Adaptive", {"patience": 0, "threshold": 1.0, "min_lr": 1e-6}, 2.5e-4)],
)
def test_schedulers_step_at_epoch_end(name, kwargs, expected):
    """§4: schedulers stepped once per epoch by the module (manual optimisation)."""
    L.seed_everything(0)
    mc, tc = make(torch_loss_mode="mae")
    m = PtychoPINN_Lightning(mc, tc, scheduler=name, scheduler_kwargs=kwargs)
    fit(m, TinySet(4), epochs=2)
    lr = m.optimizers().param_groups[0]["lr"]
    assert math.isclose(lr, expected, rel_tol=1e-9), lr


def test_multistage_default_milestones_and_bad_scheduler():
    mc, tc = make()
    tc.nepochs = 20
    m = PtychoPINN_Lightning(mc, tc, scheduler="MultiStage")
    assert m.scheduler_kwargs["milestones"] == [10, 15]
    with pytest.raises(ValueError, match="scheduler: expected one of"):
        PtychoPINN_Lightning(mc, tc, scheduler="Cosine")
    with pytest.raises(ValueError, match="scheduler_kwargs: unknown key"):
        PtychoPINN_Lightning(mc, tc, scheduler="Exponential", scheduler_kwargs={"gama": 0.9})


def test_non_finite_loss_raises_with_epoch_and_step():
    L.seed_everything(0)
    mc, tc = make()
    m = PtychoPINN_Lightning(mc, tc)
    ds = TinySet(8)
    ds.X[5, 0, 0, 0] = float("nan")
    with pytest.raises(RuntimeError, match=r"non-finite training loss .* epoch 0, step 1"):
        fit(m, ds, epochs=1, val=False)


def test_gradient_accumulation_is_rejected():
    """§4: manual optimisation cannot accumulate; Lightning refuses accumulate_grad_batches > 1."""
    mc, tc = make()
    m = PtychoPINN_Lightning(mc, tc)
    with pytest.raises(Exception, match="(?i)accumulat"):
        fit(m, TinySet(4), epochs=1, val=False, accumulate_grad_batches=2)


def test_supervised_requires_labels_and_trains():
    L.seed_everything(0)
    mc, tc = make(gs=2, model_type="supervised")
    m = PtychoPINN_Lightning(mc, tc)
    assert m.loss_prefix == "mae"
    batch = torch.utils.data.default_collate([TinySet(2, gs=2)[i] for i in range(2)])
    with pytest.raises(ValueError, match="supervised batch: expected 'label_amp' and 'label_phase'"):
        m.compute_loss(batch)
    fit(m, TinySet(8, gs=2, labels=True), epochs=2)
    assert len(m.loss_history["train"]) == 2 and m.loss_history["train"][1] < m.loss_history["train"][0]


def test_hyperparameters_are_json_and_checkpoint_reloads(tmp_path):
    """§1: hparams are plain JSON; load_from_checkpoint rebuilds the module without arguments."""
    L.seed_everything(0)
    mc, tc = make(gs=2, probe_trainable=True)
    rng = np.random.default_rng(0)
    probe = R.default_probe(64) * np.exp(1j * rng.normal(size=(64, 64))).astype(np.complex64)
    m = PtychoPINN_Lightning(mc, tc, probe, 7.5, learning_rate=5e-4, scheduler="Exponential")
    json.dumps(dict(m.hparams))
    trainer = fit(m, TinySet(4, gs=2), epochs=1)
    path = tmp_path / "m.ckpt"
    trainer.save_checkpoint(path)
    back = PtychoPINN_Lightning.load_from_checkpoint(path, map_location="cpu")
    assert back.model_config == mc and back.intensity_scale == 7.5 and back.learning_rate == 5e-4
    sd0, sd1 = m.state_dict(), back.state_dict()
    assert sd0.keys() == sd1.keys() and all(torch.equal(sd0[k], sd1[k]) for k in sd0)
    assert "encoder.blocks.0.conv1.weight" in sd0 and "forward_model.probe" in sd0


def test_bad_batch_and_config_errors():
    mc, tc = make()
    m = PtychoPINN_Lightning(mc, tc)
    with pytest.raises(ValueError, match="batch: expected a dict with 'X' and 'coords_relative'"):
        m.compute_loss({"X": torch.zeros(1, 64, 64, 1)})
    with pytest.raises(ValueError, match=r"forward: X: expected shape \(B, 64, 64, 1\)"):
        m(torch.zeros(1, 32, 32, 1), torch.zeros(1, 1, 2, 1))
    with pytest.raises(ValueError, match="probe: expected shape"):
        PtychoPINN_Lightning(mc, tc, np.ones((32, 32), np.complex64))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (select with pytest -m gpu)")
def test_cuda_forward_matches_cpu_and_trains():
    """§6: the module follows its device; CUDA forward equals CPU forward; one fit runs on CUDA."""
    L.seed_everything(0)
    mc, tc = make(gs=2, probe_trainable=True, intensity_scale_trainable=True)
    m = PtychoPINN_Lightning(mc, tc).eval()
    batch = torch.utils.data.default_collate([TinySet(4, gs=2)[i] for i in range(4)])
    with torch.no_grad():
        cpu = m.predict_step(batch)["object"]
        gpu_batch = {k: v.cuda() for k, v in batch.items()}
        gpu = m.cuda().predict_step(gpu_batch)["object"]
    assert gpu.is_cuda and torch.allclose(gpu.cpu(), cpu, rtol=1e-3, atol=1e-4 * float(cpu.abs().max()))
    m = PtychoPINN_Lightning(mc, tc)
    dl = torch.utils.data.DataLoader(TinySet(8, gs=2), batch_size=4)
    trainer = L.Trainer(max_epochs=1, accelerator="gpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(m, dl)
    assert len(m.loss_history["train"]) == 1 and math.isfinite(m.loss_history["train"][0])
