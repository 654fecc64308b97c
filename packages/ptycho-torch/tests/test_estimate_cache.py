"""The projected generator's estimate cache (specs/network.md §8.1): cached training equals uncached training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho.physics import default_probe, far_field_amplitude
from ptycho_torch.generators.estimate_cache import EstimateCache
from ptycho_torch.generators.projected import projected_input
from ptycho_torch.lightning_module import PtychoPINN_Lightning

K = 4


def _module(gridsize: int = 2, **training) -> PtychoPINN_Lightning:
    mc = ModelConfig(N=64, gridsize=gridsize, n_filters_scale=1, input_projections=K)
    torch.manual_seed(0)
    return PtychoPINN_Lightning(mc, TrainingConfig(model=mc, nphotons=1e6, **training), default_probe(64), 1.0)


def _batch(module: PtychoPINN_Lightning, rows: list[int], seed: int = 3) -> dict[str, torch.Tensor]:
    """Rows ``rows`` of a fixed 8-sample container: weak-object amplitudes (normalised), members 3 px apart."""
    C = module.model_config.gridsize ** 2
    rng = np.random.default_rng(seed)
    objects = np.exp(0.3j * rng.standard_normal((8, C, 64, 64)))
    amp = far_field_amplitude(module.forward_model.probe.detach().numpy() * objects) / module.intensity_scale
    X = torch.from_numpy(amp).float().permute(0, 2, 3, 1).contiguous()
    rel = torch.zeros(8, 1, 2, C)
    if C > 1:
        rel[:, 0, 0, 1::2], rel[:, 0, 1, 2:] = -3.0, -3.0
    idx = torch.as_tensor(rows, dtype=torch.int64)
    return {"X": X[idx], "coords_relative": rel[idx], "index": idx}


def _loss_and_grads(module: PtychoPINN_Lightning, batch: dict) -> tuple[torch.Tensor, dict, list[torch.Tensor]]:
    module.zero_grad(set_to_none=True)
    loss, _ = module.compute_loss(batch)
    loss.backward()
    X, coords = batch["X"], batch["coords_relative"]
    with torch.no_grad():
        out = module(X * module.intensity_scale, coords, batch["index"])
    return loss.detach(), out, [p.grad.clone() for p in module.parameters() if p.grad is not None]


@pytest.mark.parametrize("gridsize", [1, 2])
def test_cached_and_uncached_training_give_the_same_loss_output_and_gradients(gridsize):
    module = _module(gridsize).train()
    cache = module.estimate_cache
    assert isinstance(cache, EstimateCache)
    batch = _batch(module, [5, 1, 6, 2])
    module.estimate_cache = None
    loss0, out0, grads0 = _loss_and_grads(module, batch)
    module.estimate_cache = cache
    _loss_and_grads(module, batch)  # fills the cache (and reads it in its forward)
    misses = cache.misses
    loss1, out1, grads1 = _loss_and_grads(module, batch)
    assert cache.misses == misses and cache.hits >= 4 and len(cache) == 4  # second pass: all from the cache
    assert float(loss0) != 0.0 and torch.equal(loss0, loss1)
    for key in ("amp", "phase", "pred_amplitude"):
        assert torch.equal(out0[key], out1[key]), key
    assert len(grads0) == len(grads1) > 0
    for g0, g1 in zip(grads0, grads1, strict=True):
        assert torch.equal(g0, g1)


def test_estimates_filled_by_other_batches_equal_fresh_ones():
    """The cache is filled in batches of another composition than the one read back."""
    module = _module(2).train()
    cache, fm = module.estimate_cache, module.forward_model
    for rows in ([0, 1, 2], [3, 4, 5], [6, 7]):
        b = _batch(module, rows)
        cache.estimates(fm.scale_input(b["X"]), fm.probe, K, b["coords_relative"], b["index"])
    b = _batch(module, [7, 0, 4, 2, 5])
    x = fm.scale_input(b["X"])
    got = cache.estimates(x, fm.probe, K, b["coords_relative"], b["index"])
    assert cache.hits == 5 and cache.misses == 8
    ref = projected_input(x, fm.probe, K, b["coords_relative"])
    np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=0, atol=1e-5 * float(ref.abs().max()))
    assert float((ref - ref[:1]).abs().max()) > 0.1  # the samples' estimates differ: the rows are not mixed up


def test_a_changed_input_or_probe_is_recomputed():
    module = _module(2).train()
    cache, fm = module.estimate_cache, module.forward_model
    b = _batch(module, [0, 1])
    cache.estimates(fm.scale_input(b["X"]), fm.probe, K, b["coords_relative"], b["index"])
    other = _batch(module, [0, 1], seed=9)  # same row numbers, other patterns (another container)
    x = fm.scale_input(other["X"])
    got = cache.estimates(x, fm.probe, K, other["coords_relative"], other["index"])
    assert cache.misses == 4 and cache.hits == 0
    torch.testing.assert_close(got, projected_input(x, fm.probe, K, other["coords_relative"]))
    probe = fm.probe * torch.exp(1j * torch.linspace(0, 1, 64))[None, :].to(fm.probe.dtype)
    got = cache.estimates(x, probe, K, other["coords_relative"], other["index"])
    assert cache.misses == 6 and len(cache) == 2
    torch.testing.assert_close(got, projected_input(x, probe, K, other["coords_relative"]))


def test_the_memory_bound_holds_and_the_rest_is_computed():
    module = _module(2).train()
    fm = module.forward_model
    per_sample = 4 * 64 * 64 * 8  # C * N * N complex64
    cache = EstimateCache(limit_bytes=2 * per_sample)
    b = _batch(module, [0, 1, 2, 3])
    x = fm.scale_input(b["X"])
    for _ in range(2):
        got = cache.estimates(x, fm.probe, K, b["coords_relative"], b["index"])
    assert len(cache) == 2 and cache.nbytes == 2 * per_sample and cache.hits == 2 and cache.misses == 6
    torch.testing.assert_close(got, projected_input(x, fm.probe, K, b["coords_relative"]))


@pytest.mark.parametrize("trainable", ["probe_trainable", "intensity_scale_trainable"])
def test_the_cache_is_bypassed_when_the_estimate_can_change(trainable):
    module = _module(2, **{trainable: True}).train()
    assert module.estimate_cache is None
    b = _batch(module, [0, 1])
    loss, _ = module.compute_loss(b)
    loss.backward()
    if trainable == "probe_trainable":  # the probe's gradient reaches it through the physics, every step
        assert module.forward_model.probe.grad is not None


def test_no_cache_outside_training_mode_or_without_projected_input():
    module = _module(2).eval()
    b = _batch(module, [0, 1])
    module.compute_loss(b)
    assert module.estimate_cache.hits == module.estimate_cache.misses == 0  # validation and inference compute
    mc = ModelConfig(N=64, gridsize=1, n_filters_scale=1)
    assert PtychoPINN_Lightning(mc, TrainingConfig(model=mc), default_probe(64), 1.0).estimate_cache is None


def test_a_stored_estimate_does_not_depend_on_the_batch_that_first_held_it():
    """Bitwise, with offsets that differ between samples (the joint computation sizes one canvas for the whole
    batch, so its numbers depend on the other samples): two caches filled in different batch orders hand back
    the same estimates, each equal to the sample computed alone. This is what lets a resumed run, which
    refills the cache in another order, train bitwise like an uninterrupted one (test_reliability_cli_train_signals)."""
    module = _module(2).train()
    fm = module.forward_model
    full = _batch(module, list(range(8)))
    rel = full["coords_relative"] * torch.linspace(0.5, 8.0, 8)[:, None, None, None]  # canvas sizes differ per row
    x = fm.scale_input(full["X"])
    caches = [EstimateCache(), EstimateCache()]
    for cache, order in zip(caches, ([[0, 1, 2, 3, 4, 5, 6, 7]], [[7], [2, 5], [0, 1, 3, 4, 6]]), strict=True):
        for rows in order:
            i = torch.as_tensor(rows)
            cache.estimates(x[i], fm.probe, K, rel[i], i)
    i = torch.arange(8)
    a, b = (c.estimates(x, fm.probe, K, rel, i) for c in caches)
    assert caches[0].hits == caches[1].hits == 8 and torch.equal(a, b)
    for j in range(8):
        assert torch.equal(a[j], projected_input(x[j:j + 1], fm.probe, K, rel[j:j + 1])[0])
    joint = projected_input(x, fm.probe, K, rel)
    assert not torch.equal(joint, a)  # the joint computation would have given other numbers
