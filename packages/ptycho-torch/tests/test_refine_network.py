"""Fine-tuning the network itself on the scan (specs/refinement.md §9).

Scan: ``ptycho.simulation.simulate`` Siemens star, N = 64, 24 positions, zone-plate probe, 1e6 photons;
network: an untrained ``PtychoPINN_Lightning`` (N = 64, n_filters_scale 1, gridsize 1) with the scan's
intensity scale. Checks: the weights move (the probe and intensity scale do not), the scan's NLL goes down,
the NLL equals the model's own training loss (``ptycho_torch.physics.poisson_nll``, an independent
implementation), and a seed fixes the result.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho.raw_data import RawData
from ptycho.simulation import write_simulation
from ptycho_torch.data import PtychoDataContainerTorch, build_dataloader
from ptycho_torch.model import PtychoPINN_Lightning
from ptycho_torch.refine import NetworkOptions, finetune_network, network_nll


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    path = tmp_path_factory.mktemp("net") / "scan.npz"
    write_simulation(path, object_kind="siemens", N=64, n_positions=24, object_size=160, probe_kind="zoneplate",
                     jitter=1.0, interpolation="fourier", nphotons=1e6, seed=3)
    tc = TrainingConfig(model=ModelConfig(N=64, gridsize=1, n_filters_scale=1), n_groups=24, batch_size=8,
                        nphotons=1e6, learning_rate=1e-3)
    container = PtychoDataContainerTorch.from_raw_data(RawData.from_file(str(path)), tc)
    return tc, container


def _module(tc, container, seed=0):
    torch.manual_seed(seed)
    return PtychoPINN_Lightning(tc.model, tc, container.probe, container.intensity_scale).eval()


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_nll_is_the_models_training_loss(case):
    """§9: the fine-tuning NLL (poisson) is the model's own loss (poisson_nll of (sX)^2 against (sA)^2)."""
    tc, container = case
    m = _module(tc, container)
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in build_dataloader(container, 8, shuffle=False):
            loss, _ = m.compute_loss(batch)
            total += float(loss) * batch["X"].numel()
            count += batch["X"].numel()
    assert network_nll(m, container, batch_size=5) == pytest.approx(total / count, rel=1e-5)


def test_finetune_changes_the_weights_and_lowers_the_nll(case):
    """§9: three passes move the generator's weights only and lower the scan's NLL."""
    tc, container = case
    m = _module(tc, container)
    before = _state(m)
    nll0 = network_nll(m, container)
    history = finetune_network(m, container, NetworkOptions(iterations=3, batch_size=8, seed=1))
    after = _state(m)
    nll1 = network_nll(m, container)
    assert [row["iteration"] for row in history] == [1, 2, 3]
    assert all(np.isfinite(row["nll"]) and row["time_s"] >= 0 for row in history)
    moved = [k for k in before if not torch.equal(before[k], after[k])]
    assert moved and all(k.split(".")[0] in ("encoder", "decoder_amp", "decoder_phase") for k in moved)
    assert torch.equal(before["forward_model.probe"], after["forward_model.probe"])
    assert nll1 < nll0 - 1e-3 * abs(nll0)


def test_finetune_is_deterministic_for_a_seed(case):
    """§9: the same seed and start give bitwise the same weights; another seed gives others."""
    tc, container = case
    runs = []
    for seed in (4, 4, 5):
        m = _module(tc, container)
        finetune_network(m, container, NetworkOptions(iterations=1, batch_size=8, seed=seed))
        runs.append(_state(m))
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert not all(torch.equal(runs[0][k], runs[2][k]) for k in runs[0])


@pytest.mark.parametrize("field,value", [("iterations", -1), ("batch_size", 0), ("learning_rate", float("nan")),
                                         ("likelihood", "l2"), ("seed", True)])
def test_network_options_name_the_bad_field(field, value):
    with pytest.raises(ValueError, match=f"NetworkOptions.{field}: expected"):
        NetworkOptions(**{field: value}).validate()
