"""Property 6: ten epochs of training on a simulated scan, from the same initial weights and the same
batches, give per-epoch mean training losses within 1 % (specs/parity.md §3 P6).

TF: ``training.compile_models`` (the backend's optimiser and loss weights) + ``train_on_batch``.
Torch: ``PtychoPINN_Lightning.compute_loss`` + the optimiser of ``configure_optimizers``.
The batch order is a fixed permutation per epoch, identical for both.
"""

from __future__ import annotations

import numpy as np
import parity_support as ps
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = [pytest.mark.needs_tf, pytest.mark.slow]

EPOCHS = ps.TRAIN_EPOCHS
BATCH = ps.TRAIN_BATCH


@settings(max_examples=ps.examples(2))
@given(gs=st.sampled_from([1, 2]), act=st.sampled_from(ps.AMP_ACTIVATIONS), object_big=st.booleans(),
       probe_big=st.booleans(), seed=st.integers(0, 3))
def test_training_curves(device, gs, act, object_big, probe_big, seed):
    import weight_transfer as weights

    from ptycho.config.config import ModelConfig, TrainingConfig
    from ptycho_tf import network

    mc = ModelConfig(N=64, gridsize=gs, n_filters_scale=1, amp_activation=act, object_big=object_big,
                     probe_big=probe_big)
    nphotons = 1e6
    groups = 32 if gs == 1 else 16
    x, rel, s = ps.model_inputs(seed, 64, gs, groups, nphotons)
    tc = TrainingConfig(model=mc, nphotons=nphotons, batch_size=BATCH, nepochs=EPOCHS,
                        neighbor_count=max(4, gs * gs))
    probe = ps.default_probe(64)
    models = network.build_models(mc, probe=probe, intensity_scale=s, seed=seed)
    lm = ps.build_torch(mc, probe, s, nphotons=nphotons, batch_size=BATCH, device=device)
    weights.tf_to_torch(models.autoencoder, lm)
    rng = np.random.default_rng(seed)
    order = [rng.permutation(groups) for _ in range(EPOCHS)]
    tf_curve = ps.train_tf_curve(models, tc, x, rel, s, order)
    t_curve = ps.train_torch_curve(lm, x, rel, order, device)
    case = ps.describe(mc)
    errs = [ps.rel_err(t, f) for t, f in zip(t_curve, tf_curve, strict=True)]
    worst = int(np.argmax(errs))
    assert tf_curve[-1] < tf_curve[0], f"TF did not train: {tf_curve}"
    ps.check("P6-training-curve", errs[worst],
             f"{case} epoch {worst + 1}: TF {tf_curve[worst]:.6g} Torch {t_curve[worst]:.6g}", "test_training_curves")
