"""The v2 PyTorch API facade (specs/ptychodus-torch.md): configs, data conversion, stitching geometry,
checkpoints, and one tiny train -> save -> reload -> reconstruct run through the calls ptychodus makes."""

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from ptycho_bridge.v2_convert import to_native
from ptycho_torch.api import v2_checkpoint
from ptycho_torch.api.base_api import (
    ConfigManager,
    DataloaderFormats,
    InferenceEngine,
    PtychoDataLoader,
    PtychoModel,
    Trainer,
)
from ptycho_torch.api.v2_data import scan_from_arrays
from ptycho_torch.api.v2_stitch import object_grid_shape, place_on_object_grid
from ptycho_torch.config_params import DataConfig, InferenceConfig, ModelConfig, TrainingConfig, field_fates
from ptycho_torch.lightning_utils import find_best_checkpoint
from ptycho_torch.model import PtychoPINN_Lightning
from ptycho_torch.stitching import stitch_patches

SPEC = Path(__file__).resolve().parents[3] / "specs" / "ptychodus-torch.md"

# The keywords ptychodus 1.7.0 (ptychodus/model/ptychopinn_torch/reconstructor.py) passes, at its defaults.
PTYCHODUS_DATA = dict(N=128, C=4, normalize="Batch", neighbor_function="Nearest", scan_pattern="Isotropic",
                      probe_normalize=True, x_bounds=(0.1, 0.9), y_bounds=(0.1, 0.9), min_neighbor_distance=0.0,
                      max_neighbor_distance=3.0, K_quadrant=30, n_subsample=7, probe_scale=4.0, K=6,
                      grid_size=(2, 2), probe_ramp_removal=False, data_scaling="Parseval", phase_subtraction=True)
PTYCHODUS_MODEL = dict(mode="Unsupervised", object_big=True, probe_big=True, loss_function="Poisson",
                       amp_activation="silu", cbam_encoder=True, decoder_last_amp_channels=4, use_shared_decoder=False,
                       intensity_scale_trainable=False, intensity_scale=10000.0, max_position_jitter=10,
                       num_datasets=1, C_model=4, C_forward=4, amp_loss=None, phase_loss=None, amp_loss_coeff=1.0,
                       phase_loss_coeff=1.0, n_filters_scale=2, probe_mask=None, eca_decoder=False, batch_norm=False,
                       edge_pad=10, decoder_last_c_outer_fraction=0.125, cbam_bottleneck=False, cbam_decoder=False,
                       spatial_decoder=False, decoder_spatial_kernel=7, eca_encoder=False, offset=6,
                       probe_reference_coeff=0.0, amplitude_variance_loss=False, amplitude_variance_coeff=0.01)
PTYCHODUS_TRAINING = dict(
    epochs=50, batch_size=16, learning_rate=1e-3, n_devices=1, num_workers=4, accum_steps=1, epochs_fine_tune=0,
    fine_tune_gamma=0.1, gradient_clip_val=None, nll=True, device="cuda", strategy="ddp_spawn", framework="Lightning",
    orchestrator="Lightning", scheduler="Default", warmup_epochs=0, min_lr_ratio=0.1, notes="",
    model_name="PtychoPINNv2", enable_staged_finetuning=False, finetune_stage1_epochs=7, finetune_stage2_epochs=7,
    finetune_stage3_epochs=5, finetune_stage1_lr_decoder=0.1, finetune_stage2_lr_encoder_top=0.01,
    finetune_stage2_lr_decoder=0.05, finetune_stage2_lr_phase_head=0.1, finetune_stage3_lr_encoder_bottom=0.005,
    finetune_stage3_lr_encoder_top=0.01, finetune_stage3_lr_decoder=0.02, finetune_stage3_lr_phase_head=0.05,
    finetune_skip_stage3=True, finetune_early_stop_patience=3, finetune_val_split=0.05)
PTYCHODUS_INFERENCE = dict(batch_size=1000, middle_trim=32, experiment_number=0, patch_weighting="probe",
                           pad_eval=True, window=20)


def test_every_keyword_ptychodus_passes_is_accepted_and_converts():
    """specs/ptychodus-torch.md §2: 18 + 33 + 34 + 6 keywords, all accepted at ptychodus's defaults."""
    assert (len(PTYCHODUS_DATA), len(PTYCHODUS_MODEL), len(PTYCHODUS_TRAINING), len(PTYCHODUS_INFERENCE)) == \
        (18, 33, 34, 6)
    nat = to_native(DataConfig(**PTYCHODUS_DATA), ModelConfig(**PTYCHODUS_MODEL),
                    TrainingConfig(**PTYCHODUS_TRAINING), InferenceConfig(**PTYCHODUS_INFERENCE))
    assert (nat.data.N, nat.data.grid_size, nat.data.K, nat.data.n_subsample) == (128, (2, 2), 6, None)
    assert (nat.training.epochs, nat.training.batch_size, nat.training.nll_weight) == (50, 16, 1.0)
    assert (nat.execution.num_workers, nat.execution.learning_rate, nat.execution.inference_batch_size) == \
        (4, 1e-3, 1000)


@pytest.mark.parametrize(("cls", "kwargs", "message"), [
    (DataConfig, {"grid_size": (2, 2), "C": 3}, r"^DataConfig\.C: expected h\*w of grid_size"),
    (DataConfig, {"normalize": "Sometimes"}, r"^DataConfig\.normalize: expected one of"),
    (DataConfig, {"measurement_domain": "normalized_amplitude"}, r"^DataConfig\.measurement_domain: expected a "
                                                                  r"supported pair"),
    (ModelConfig, {"probe_mask": "yes"}, r"^ModelConfig\.probe_mask: expected a bool, None or a 2-D mask"),
    (TrainingConfig, {"epochs": 0}, r"^TrainingConfig\.epochs: expected an integer >= 1"),
    (TrainingConfig, {"n_devices": 0}, r"^TrainingConfig\.n_devices: expected an integer >= 1 or 'auto'"),
    (InferenceConfig, {"patch_weighting": "gauss"}, r"^InferenceConfig\.patch_weighting: expected one of"),
])
def test_bad_values_are_one_line_errors_naming_the_field(cls, kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        cls(**kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("cfg", "field"), [
    (TrainingConfig(accum_steps=2), "accum_steps"), (TrainingConfig(n_devices=2), "n_devices"),
    (TrainingConfig(gradient_clip_val=1.0, gradient_clip_algorithm="agc"), "gradient_clip_algorithm"),
    (TrainingConfig(torch_mae_pred_l2_match_target=True), "torch_mae_pred_l2_match_target"),
    (TrainingConfig(enable_staged_finetuning=True), "enable_staged_finetuning"),
    (ModelConfig(amp_loss="Total_Variation"), "amp_loss"), (ModelConfig(physics_forward_mode="rectangular_scaled"),
                                                            "physics_forward_mode"),
])
def test_refused_values_fail_at_conversion(cfg, field):
    args = {"model": cfg} if isinstance(cfg, ModelConfig) else {"training": cfg}
    with pytest.raises(ValueError, match=rf"\.{field}: expected"):
        to_native(DataConfig(), **args)


def test_assignment_after_construction_is_validated_at_conversion():
    tc = TrainingConfig()
    tc.n_devices = "many"  # ptychodus assigns n_devices; a bad value must not slip through
    with pytest.raises(ValueError, match=r"^TrainingConfig\.n_devices"):
        to_native(DataConfig(), training=tc)


def test_every_field_has_a_fate_and_the_spec_lists_it():
    text = SPEC.read_text()
    for cls in (DataConfig, ModelConfig, TrainingConfig, InferenceConfig):
        for name, fate in field_fates(cls).items():
            assert re.match(r"^(honoured|refused|inert): ", fate), (cls.__name__, name, fate)
            rows = [line for line in text.splitlines() if line.startswith(f"| `{name}` |")]
            assert any(f"**{fate.split(':')[0]}**" in row for row in rows), f"{cls.__name__}.{name}: {SPEC.name}"


def test_counts_become_amplitudes_and_the_photon_count_is_measured():
    rng = np.random.default_rng(0)
    counts = rng.poisson(3.0, size=(5, 64, 64)).astype(np.uint16)
    probe = np.ones((1, 64, 64), np.complex64)
    scan = scan_from_arrays(counts, probe, np.arange(5.0) + 40, np.full(5, 40.0), DataConfig(N=64, grid_size=(1, 1)))
    np.testing.assert_allclose(scan.raw.diff3d, np.sqrt(counts.astype(np.float64)), rtol=1e-6)
    assert scan.nphotons == pytest.approx(counts.reshape(5, -1).sum(1).mean())
    with pytest.raises(ValueError, match=r"expected finite detector counts >= 0"):
        scan_from_arrays(-counts.astype(np.int32), probe, np.arange(5.0), np.zeros(5), DataConfig(N=64))
    modes = np.stack([np.ones((64, 64)), 0.5j * np.ones((64, 64))]).astype(np.complex64)
    two = scan_from_arrays(counts, modes, np.arange(5.0) + 40, np.full(5, 40.0), DataConfig(N=64))
    np.testing.assert_array_equal(two.raw.probeGuess, modes)  # ptychodus's mode stack is kept (§3)
    with pytest.raises(ValueError, match=r"probeGuess: expected \(N, N\) or \(K, N, N\) probe modes"):
        scan_from_arrays(counts, np.ones((1, 2, 64, 64), np.complex64), np.arange(5.0), np.zeros(5), DataConfig(N=64))


def test_stitched_object_lands_on_the_object_pixel_grid():
    """A linear object f = x + i·y is reproduced exactly by bilinear cutting and stitching, so out[r, c] must
    equal c + i·r inside every patch's crop (specs/ptychodus-torch.md §3). The crops do not overlap, because
    the bilinear edge of one crop inside another blends values by design."""
    n, m = 64, 32
    xs, ys = np.array([40.3, 90.7, 45.1, 95.9]), np.array([44.6, 41.2, 94.4, 97.05])
    j = np.arange(n) - n // 2
    patches = np.stack([(x + j[None, :]) + 1j * (y + j[:, None]) for x, y in zip(xs, ys, strict=True)]).astype(np.complex64)
    offsets = np.stack([xs, ys], 1).reshape(-1, 1, 2, 1)
    canvas, used = stitch_patches(torch.from_numpy(patches), offsets, m)
    out = place_on_object_grid(canvas.numpy(), used.numpy(), m, xs, ys)
    assert out.shape == object_grid_shape(xs, ys) == (int(round(ys.min() + ys.max())) + 1,
                                                      int(round(xs.min() + xs.max())) + 1)
    r, c = np.mgrid[0:out.shape[0], 0:out.shape[1]]
    inside = np.zeros(out.shape, bool)
    for x, y in zip(xs, ys, strict=True):  # pixels at least one pixel inside a crop
        inside |= (np.abs(c - x) <= m / 2 - 2) & (np.abs(r - y) <= m / 2 - 2)
    np.testing.assert_allclose(out[inside], (c + 1j * r)[inside], atol=2e-3)


def test_find_best_checkpoint(tmp_path):
    assert find_best_checkpoint(tmp_path) is None
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"x")
    assert find_best_checkpoint(tmp_path).name == "last.ckpt"
    (tmp_path / "checkpoints" / "epoch=0-step=3.ckpt").write_bytes(b"x")
    assert find_best_checkpoint(tmp_path).name == "epoch=0-step=3.ckpt"


def _training_npz(path: Path) -> np.ndarray:
    from ptycho.simulation.simulate import simulate

    sim = simulate(N=64, n_positions=16, nphotons=1e5, seed=2, scan="grid")
    counts = np.rint((sim["diffraction"].astype(np.float64) * float(sim["sim_intensity_scale"])) ** 2)
    np.savez(path, xcoords=sim["xcoords"], ycoords=sim["ycoords"], diff3d=counts.astype(np.int32),
             probeGuess=sim["probeGuess"][None], objectGuess=sim["objectGuess"], scan_index=np.zeros(16, int))
    return counts


def test_ptychodus_call_sequence_train_save_reload_reconstruct(tmp_path):
    """The calls of ptychodus's child process (_subprocess.run_train / run_reconstruct), on a 16-point scan."""
    counts = _training_npz(tmp_path / "train.npz")
    cm = ConfigManager(data_config=DataConfig(N=64, C=1, grid_size=(1, 1)), model_config=ModelConfig(),
                       training_config=TrainingConfig(epochs=1, num_workers=0, device="cpu", notes="tiny"),
                       inference_config=InferenceConfig(middle_trim=20))
    loader = PtychoDataLoader(data_dir=tmp_path, config_manager=cm,
                              data_format=DataloaderFormats("lightning_only_module"), output_dir=tmp_path / "out")
    assert loader.scan.nphotons == pytest.approx(counts.reshape(16, -1).sum(1).mean())
    model = PtychoModel._new_model(model=PtychoPINN_Lightning, config_manager=cm)
    trainer = Trainer._from_lightning(model=model, dataloader=loader, orchestration="lightning", config_manager=cm)
    assert (model.model.loss_name, model.model.val_loss_name) == ("poisson_train_loss", "poisson_val_loss")
    trainer.train(orchestration="lightning", experiment_name="")
    assert model.model.loss_name in trainer._trainer.callback_metrics
    ckpt = find_best_checkpoint(loader.output_dir)
    assert ckpt is not None and ckpt.parent == loader.output_dir / "checkpoints"

    raw = torch.load(ckpt, map_location="cpu", weights_only=True)  # plain data only
    assert raw[v2_checkpoint.V2_KEY]["TrainingConfig"]["notes"] == "tiny"
    data, mc, tc, ic = PtychoModel._extract_configs_from_checkpoint(str(ckpt))
    assert (data, mc, tc, ic) == (cm.data_config, cm.model_config, cm.training_config, cm.inference_config)

    pm = PtychoModel(model_config=mc, data_config=data, training_config=tc, inference_config=ic)
    pm.model = PtychoPINN_Lightning.load_from_checkpoint(ckpt, model_config=mc, data_config=data,
                                                         training_config=tc, inference_config=ic)
    for key, value in trainer.model.model.state_dict().items():
        torch.testing.assert_close(pm.model.state_dict()[key], value)
    cm2 = ConfigManager.from_loaded_model(pm)
    cm2.validate_arch_compatibility(pm)
    with pytest.raises(ValueError, match=r"grid_size=\(2, 2\) vs \(1, 1\)"):
        PtychoPINN_Lightning.load_from_checkpoint(ckpt, data_config=DataConfig())
    with pytest.raises(ValueError, match="weights_only=False is refused"):
        PtychoPINN_Lightning.load_from_checkpoint(ckpt, weights_only=False)

    z = np.load(tmp_path / "train.npz")
    positions = np.column_stack((z["ycoords"], z["xcoords"]))
    infer_loader = PtychoDataLoader.from_np(diff_patterns=z["diff3d"], probe=z["probeGuess"], positions=positions,
                                            config_manager=cm2)
    obj = InferenceEngine(config_manager=cm2, ptycho_model=pm).predict_and_stitch(infer_loader)
    assert obj.dtype == np.complex64 and obj.shape == object_grid_shape(z["xcoords"], z["ycoords"])
    assert np.isfinite(obj).all() and np.abs(obj).max() > 0


def test_configs_derived_from_a_checkpoint_without_v2_data():
    module = PtychoPINN_Lightning(*_canonical())
    data, model, training, _ = v2_checkpoint.v2_from_canonical(dict(module.hparams))
    assert (data.N, data.grid_size, model.mode, training.epochs) == (64, (1, 1), "Unsupervised", 2)
    assert (data.nphotons, data.measurement_domain) == (1e5, "normalized_amplitude")
    # the canonical values that differ from the v2 defaults come back (through the generated routes)
    mc, tc = _canonical()
    tc = dataclasses.replace(tc, learning_rate=3e-4, optimizer="sgd", nll_weight=0.0, torch_loss_mode="mae",
                             gradient_clip_val=0.5, scheduler="Exponential", model=dataclasses.replace(
                                 mc, gridsize=2, model_type="supervised", n_filters_scale=1))
    data, model, training, _ = v2_checkpoint.v2_from_canonical(dict(PtychoPINN_Lightning(tc.model, tc).hparams))
    assert (data.grid_size, model.mode, model.n_filters_scale, model.loss_function) == ((2, 2), "Supervised", 1, "MAE")
    assert (training.learning_rate, training.optimizer, training.nll, training.torch_loss_mode,
            training.gradient_clip_val, training.scheduler) == (3e-4, "sgd", False, "mae", 0.5, "Exponential")


def _canonical():
    from ptycho.config.config import ModelConfig as CModel
    from ptycho.config.config import TrainingConfig as CTraining

    mc = CModel(N=64, gridsize=1)
    return mc, dataclasses.replace(CTraining(model=mc, nphotons=1e5), nepochs=2)


def test_cuda_device_falls_back_to_the_cpu_with_a_warning():
    with pytest.warns(UserWarning, match="no CUDA device is available"):
        nat = to_native(DataConfig(), training=TrainingConfig(device="cuda"), cuda_available=False)
    assert nat.execution.accelerator == "cpu"
    assert to_native(DataConfig(), training=TrainingConfig(device="cuda"), cuda_available=True).execution.accelerator \
        == "cuda"
    assert to_native(DataConfig(), training=TrainingConfig(device="cuda")).execution.accelerator == "auto"
