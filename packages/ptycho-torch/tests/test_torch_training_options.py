"""Optimiser, schedule, clipping and Fourier generators of the PyTorch backend.

Pins specs/torch-training.md §4 (optimiser, schedules, clipping), specs/network.md §7 (the 'fno'/'ffno'
generators) and specs/torch-cli.md §2 (their flags). Each check fails if the option were ignored.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho_torch.generators import build_generator
from ptycho_torch.generators.fno import SpectralConv1d, SpectralConv2d
from ptycho_torch.lightning_module import PtychoPINN_Lightning
from ptycho_torch.optim import build_optimizer, build_scheduler, clip_gradients, warmup_cosine_factor


def _param(value: float = 2.0) -> torch.nn.Parameter:
    p = torch.nn.Parameter(torch.full((3,), value))
    p.grad = torch.zeros(3)
    return p


@pytest.mark.parametrize(("name", "cls"), [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW),
                                           ("sgd", torch.optim.SGD)])
def test_optimizer_class_and_hyperparameters(name, cls):
    """specs/torch-training.md §4: the optimiser named is the one built, with the config's settings."""
    cfg = TrainingConfig(optimizer=name, momentum=0.5, weight_decay=0.01, adam_beta1=0.8, adam_beta2=0.95)
    opt = build_optimizer([_param()], cfg, lr=0.1)
    assert type(opt) is cls
    group = opt.param_groups[0]
    assert (group["lr"], group["weight_decay"]) == (0.1, 0.01)
    if name == "sgd":
        assert (group["momentum"], group["nesterov"]) == (0.5, True)
    else:
        assert group["betas"] == (0.8, 0.95)


@pytest.mark.parametrize("name", ["sgd", "adamw"])
def test_weight_decay_shrinks_weights_by_the_closed_form(name):
    """With a zero gradient one step multiplies the weights by (1 - lr wd) (SGD's L2 term, AdamW's decoupled
    decay; Adam's update of a zero gradient is zero)."""
    p = _param(2.0)
    opt = build_optimizer([p], TrainingConfig(optimizer=name, momentum=0.0, weight_decay=0.1), lr=0.5)
    opt.step()
    assert torch.allclose(p.detach(), torch.full((3,), 2.0 * (1 - 0.5 * 0.1)))
    q = _param(2.0)
    build_optimizer([q], TrainingConfig(optimizer=name, momentum=0.0), lr=0.5).step()
    assert torch.equal(q.detach(), torch.full((3,), 2.0))


@pytest.mark.parametrize(("warmup", "total", "ratio"), [(0, 5, 0.1), (2, 6, 0.0), (3, 10, 0.25)])
def test_warmup_cosine_lr_after_k_steps_is_the_closed_form(warmup, total, ratio):
    """specs/torch-training.md §4: lr_k = lr (0.1 + 0.9 k / w) during warm-up, then
    lr (r + (1 - r)(1 + cos(pi (k - w) / (T - w))) / 2)."""
    p = _param()
    opt = torch.optim.SGD([p], lr=0.01)
    sched = build_scheduler(opt, "WarmupCosine", {"warmup_epochs": warmup, "min_ratio": ratio, "total_epochs": total})
    for k in range(total):
        if k < warmup:
            expected = 0.01 * (0.1 + 0.9 * k / warmup)
        else:
            expected = 0.01 * (ratio + (1 - ratio) * 0.5 * (1 + math.cos(math.pi * (k - warmup) / (total - warmup))))
        assert opt.param_groups[0]["lr"] == pytest.approx(expected, rel=1e-9), k
        assert warmup_cosine_factor(k, warmup, total, ratio) * 0.01 == pytest.approx(expected, rel=1e-9)
        opt.step()
        sched.step()


def test_exponential_lr_after_k_steps():
    p = _param()
    opt = torch.optim.SGD([p], lr=0.01)
    sched = build_scheduler(opt, "Exponential", {"gamma": 0.9})
    for _ in range(4):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01 * 0.9**4)


@pytest.mark.parametrize("algorithm", ["norm", "value"])
def test_clipping_bounds_the_gradient(algorithm):
    torch.manual_seed(0)
    ps = [torch.nn.Parameter(torch.zeros(50)) for _ in range(3)]
    for p in ps:
        p.grad = 10.0 * torch.randn(50)
    clip_gradients(ps, 0.5, algorithm)
    grads = torch.cat([p.grad for p in ps])
    if algorithm == "norm":
        assert float(grads.norm()) == pytest.approx(0.5, rel=1e-5)
    else:
        assert float(grads.abs().max()) == pytest.approx(0.5)


def _batch(gs: int = 1, b: int = 4) -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    return {"X": torch.rand(b, 64, 64, gs * gs) + 0.1, "coords_relative": torch.zeros(b, 1, 2, gs * gs)}


def _one_sgd_step(clip: float | None, architecture: str = "cnn") -> float:
    """Norm of the parameter change of one SGD step (lr 1, no momentum) through the module's training_step."""
    import lightning.pytorch as L

    torch.manual_seed(0)
    mc = ModelConfig(N=64, n_filters_scale=1, architecture=architecture, fno_modes=4, fno_width=8, fno_blocks=1)
    tc = TrainingConfig(model=mc, optimizer="sgd", momentum=0.0, learning_rate=1.0, gradient_clip_val=clip,
                        nphotons=1e4)
    module = PtychoPINN_Lightning(mc, tc)
    before = torch.cat([p.detach().flatten().clone() for p in module.parameters()])
    data = [_batch()]
    trainer = L.Trainer(max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, torch.utils.data.DataLoader(data, batch_size=None))
    after = torch.cat([p.detach().flatten() for p in module.parameters()])
    return float((after - before).norm())


def test_module_clips_before_the_optimizer_step():
    """specs/torch-training.md §4: with SGD at lr 1 the step is the clipped gradient, so its norm is the clip value."""
    unclipped = _one_sgd_step(None)
    assert unclipped > 1e-2
    assert _one_sgd_step(1e-3) == pytest.approx(1e-3, rel=1e-3)


def _numpy_spectral2d(x: np.ndarray, wp: np.ndarray, wn: np.ndarray, m: int) -> np.ndarray:
    B, _, H, W = x.shape
    xf = np.fft.rfft2(x, norm="ortho")
    out = np.zeros((B, wp.shape[1], H, W // 2 + 1), complex)
    for b in range(B):
        for o in range(wp.shape[1]):
            out[b, o, :m, :m] = np.sum(xf[b, :, :m, :m] * wp[:, o], axis=0)
            out[b, o, -m:, :m] = np.sum(xf[b, :, -m:, :m] * wn[:, o], axis=0)
    return np.fft.irfft2(out, s=(H, W), norm="ortho")


def test_spectral_convolutions_match_numpy():
    """specs/network.md §7: the kept modes are multiplied by the complex weights, the rest dropped."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 16, 16)
    conv = SpectralConv2d(3, 2, 4)
    wp = torch.view_as_complex(conv.weight_pos.detach()).numpy()
    wn = torch.view_as_complex(conv.weight_neg.detach()).numpy()
    ref = _numpy_spectral2d(x.numpy().astype(np.float64), wp, wn, 4)
    np.testing.assert_allclose(conv(x).detach().numpy(), ref, atol=1e-5)
    rows = SpectralConv1d(3, 2, 4, dim=-2)
    w = torch.view_as_complex(rows.weight.detach()).numpy()
    xf = np.fft.rfft(x.numpy().astype(np.float64), axis=-2, norm="ortho")
    kept = np.zeros((2, 2, 9, 16), complex)
    kept[:, :, :4, :] = np.einsum("bikw,iok->bokw", xf[:, :, :4, :], w)
    np.testing.assert_allclose(rows(x).detach().numpy(), np.fft.irfft(kept, n=16, axis=-2, norm="ortho"), atol=1e-5)


@pytest.mark.parametrize("architecture", ["fno", "ffno"])
@pytest.mark.parametrize("gridsize", [1, 2])
def test_fourier_generator_has_the_cnn_outputs(architecture, gridsize):
    """specs/network.md §7: same output shapes as the CNN; amplitude in the head's range, phase in (-pi, pi),
    with pad_object the centre N/2 only plus the probe_big border; gradients reach every parameter."""
    mc = ModelConfig(N=64, gridsize=gridsize, architecture=architecture, fno_modes=6, fno_width=8, fno_blocks=2,
                     object_big=gridsize > 1)
    module = PtychoPINN_Lightning(mc, TrainingConfig(model=mc, nphotons=1e4))
    cnn = PtychoPINN_Lightning(ModelConfig(N=64, gridsize=gridsize, object_big=gridsize > 1),
                               TrainingConfig(model=mc, nphotons=1e4))
    batch = _batch(gridsize)
    out = module(batch["X"] * module.intensity_scale, batch["coords_relative"])
    ref = cnn(batch["X"] * cnn.intensity_scale, batch["coords_relative"])
    assert {k: v.shape for k, v in out.items()} == {k: v.shape for k, v in ref.items()}
    assert float(out["phase"].abs().max()) < math.pi
    centre = out["amp"][:, 16:48, 16:48]
    assert float(centre.min()) > 0 and float(centre.max()) < 1  # sigmoid head
    loss, _ = module.compute_loss(batch)
    loss.backward()
    names = [n for n, p in module.named_parameters() if p.requires_grad and p.grad is None]
    assert not names, names


def test_registry_refuses_unknown_and_supervised_fourier():
    with pytest.raises(ValueError, match=r"^ModelConfig\.architecture: expected 'cnn' for model_type 'supervised'"):
        build_generator(ModelConfig(N=64, architecture="fno", model_type="supervised"))

    class Odd:
        architecture = "unet"

    with pytest.raises(ValueError, match=r"^ModelConfig\.architecture: expected one of 'cnn', 'fno', 'ffno', found 'unet'$"):
        build_generator(Odd())


def test_cli_flags_reach_the_canonical_config():
    """specs/torch-cli.md §2: the option flags set the canonical fields; the schedule ones the execution config."""
    from ptycho_torch.cli.shared import training_configs, training_flag_values
    from ptycho_torch.train import parse_explicit

    cfg, ex = training_configs(training_flag_values(parse_explicit([
        "--optimizer", "sgd", "--momentum", "0.3", "--weight-decay", "1e-4", "--adam-beta1", "0.7",
        "--adam-beta2", "0.9", "--gradient-clip-val", "2.5", "--gradient-clip-algorithm", "value",
        "--architecture", "ffno", "--fno-modes", "5", "--fno-width", "7", "--fno-blocks", "3",
        "--scheduler", "WarmupCosine", "--lr-warmup-epochs", "2", "--lr-min-ratio", "0.2", "--N", "64"])))
    assert (cfg.optimizer, cfg.momentum, cfg.weight_decay, cfg.adam_beta1, cfg.adam_beta2) == ("sgd", 0.3, 1e-4, 0.7, 0.9)
    assert (cfg.gradient_clip_val, cfg.gradient_clip_algorithm, cfg.scheduler) == (2.5, "value", "WarmupCosine")
    assert (cfg.model.architecture, cfg.model.fno_modes, cfg.model.fno_width, cfg.model.fno_blocks) == ("ffno", 5, 7, 3)
    assert (ex.lr_warmup_epochs, ex.lr_min_ratio) == (2, 0.2)


def test_config_file_sets_the_options(tmp_path):
    """specs/torch-cli.md §3: the options are canonical fields, so a --config file sets them; flags win."""
    from ptycho_torch.cli.shared import training_configs, training_flag_values
    from ptycho_torch.train import parse_explicit

    cfg_file = tmp_path / "opts.yaml"
    cfg_file.write_text("optimizer: adamw\nweight_decay: 0.05\ngradient_clip_val: 0.5\n"
                        "model:\n  architecture: ffno\n  fno_width: 12\n")
    cfg, _ = training_configs(training_flag_values(parse_explicit(["--config", str(cfg_file), "--N", "64",
                                                                   "--weight-decay", "0.01"])))
    assert (cfg.optimizer, cfg.weight_decay, cfg.gradient_clip_val) == ("adamw", 0.01, 0.5)
    assert (cfg.model.architecture, cfg.model.fno_width) == ("ffno", 12)


@pytest.mark.parametrize("argv", [["--optimizer", "rmsprop"], ["--momentum", "1.0"], ["--gradient-clip-val", "0"],
                                  ["--gradient-clip-algorithm", "agc"], ["--architecture", "unet"],
                                  ["--weight-decay", "-1"], ["--lr-min-ratio", "2"]])
def test_cli_bad_option_values_exit_2_with_one_line(argv, capsys):
    from ptycho_torch.train import main

    assert main(["--train_data_file", "x.npz", "--output_dir", "o", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and argv[0] in err[0]
