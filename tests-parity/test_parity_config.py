"""Property 1: the config-bridge round trips, over the parity configuration space (specs/parity.md §3 P1,
specs/config-bridge.md §1 "Round trip", specs/config.md §5).

* canonical -> PyTorch-native -> canonical gives an equal config (ModelConfig and TrainingConfig);
* canonical -> legacy ``params.cfg`` -> the TF backend's reader gives an equal ModelConfig;
* the Torch network built from the bridged config and the TF network built from the canonical one have
  the same weight table (names and shapes), so weights can be exchanged (TF live only).
"""

from __future__ import annotations

import dataclasses

import parity_support as ps
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=ps.examples(25))
@given(mc=ps.model_configs(model_types=("pinn", "supervised"), p128=0.5), probe_mask=st.booleans(),
       nphotons=st.sampled_from([1e5, 1e6, 1e9]), batch=st.integers(1, 64), seed=st.none() | st.integers(0, 99))
def test_bridge_round_trip(mc, probe_mask, nphotons, batch, seed):
    from ptycho.config.config import TrainingConfig
    from ptycho_bridge import bridge

    mc = dataclasses.replace(mc, probe_mask=probe_mask)
    data, model = bridge.from_model_config(mc)
    back = bridge.to_model_config(data, model)
    ps.check("P1-config-roundtrip", 0.0 if back == mc else 1.0, f"ModelConfig {ps.describe(mc)}",
             "test_bridge_round_trip")
    tc = TrainingConfig(model=mc, nphotons=nphotons, batch_size=batch, subsample_seed=seed,
                        neighbor_count=max(4, mc.gridsize**2))
    native = bridge.from_training_config(tc)
    tc2 = bridge.to_training_config(native.model, native.data, native.training, execution=native.execution)
    diff = [f.name for f in dataclasses.fields(tc) if getattr(tc, f.name) != getattr(tc2, f.name)]
    ps.check("P1-config-roundtrip", 0.0 if not diff else 1.0, f"TrainingConfig fields {diff} {ps.describe(mc)}",
             "test_bridge_round_trip")


@pytest.mark.needs_tf
@settings(max_examples=ps.examples(10))
@given(mc=ps.model_configs(p128=0.5))
def test_legacy_dict_round_trip_and_weight_tables(mc):
    import weight_transfer as weights

    from ptycho import model as tf_model
    from ptycho import params
    from ptycho.config.config import update_legacy_dict
    from ptycho_bridge import bridge
    from ptycho_tf import network
    from ptycho_torch.network import PtychoNet, network_kwargs

    saved = dict(params.cfg)
    try:
        update_legacy_dict(params.cfg, mc)
        back = tf_model.model_config_from_params()
    finally:
        params.cfg.clear()
        params.cfg.update(saved)
    diff = [f.name for f in dataclasses.fields(mc) if getattr(mc, f.name) != getattr(back, f.name)]
    ps.check("P1-config-roundtrip", 0.0 if not diff else 1.0, f"legacy params.cfg fields {diff} {ps.describe(mc)}",
             "test_legacy_dict_round_trip_and_weight_tables")
    data, native_model = bridge.from_model_config(mc)
    net = PtychoNet(**network_kwargs(bridge.to_model_config(data, native_model)))
    tf_models = network.build_models(mc, probe=ps.default_probe(mc.N))
    tf_shapes = {k: v.shape for k, v in weights.keras_to_torch_state(tf_models.autoencoder).items()
                 if k.split(".")[0] in weights.TOP_LEVEL_MODULES}
    same = tf_shapes == ps.torch_conv_shapes(net)
    ps.check("P1-config-roundtrip", 0.0 if same else 1.0, f"weight tables {ps.describe(mc)}",
             "test_legacy_dict_round_trip_and_weight_tables")
