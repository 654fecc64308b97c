"""The Torch side against the stored TF golden vectors (specs/parity.md §5): runs on any device, with or
without TensorFlow. This is what ``nox -s parity-gpu`` checks on a GPU machine without TensorFlow.

Each case rebuilds the golden weights from their seed (``parity_support.numpy_weights``), loads them into
``PtychoPINN_Lightning`` and must reproduce the TF outputs, loss and gradient, and (train case) the
10-epoch loss curve, within the manifest's tolerances (which must equal specs/parity.md §3).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import parity_support as ps
import pytest

MANIFEST = json.loads((ps.GOLDEN / "manifest.json").read_text())
CASES = sorted(k for k in MANIFEST["cases"] if not k.startswith("train"))


def _load(name: str):
    entry = MANIFEST["cases"][name]
    path = ps.GOLDEN / entry["file"]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == MANIFEST["files"][entry["file"]]["sha256"], (
        f"{path}: expected sha256 {MANIFEST['files'][entry['file']]['sha256']} (manifest.json), found {digest}")
    from ptycho.config.config import config_from_dict

    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return entry, config_from_dict(entry["model_config"], "ModelConfig"), arrays


def _torch_model(entry, mc, arrays, device):
    import weight_transfer as weights

    s = float(arrays["intensity_scale"])
    lm = ps.build_torch(mc, ps.default_probe(mc.N), s, nphotons=MANIFEST["nphotons"], device=device,
                        mae_weight=float(entry["mae_weight"]))
    shapes = ps.torch_conv_shapes(lm)
    weights.load_state_into_torch(lm, ps.numpy_weights(shapes, entry["weight_seed"]), include_physics=False)
    return lm, shapes


def test_manifest_is_consistent():
    """Tolerances equal the suite's (never looser), files exist with their recorded size, < 5 MiB in all."""
    for key, tol in MANIFEST["tolerances"].items():
        assert tol == ps.TOLERANCES[f"golden-{key}"][0], f"manifest.json tolerances.{key}: expected " \
            f"{ps.TOLERANCES[f'golden-{key}'][0]}, found {tol}"
    total = 0
    for name, entry in MANIFEST["files"].items():
        size = (ps.GOLDEN / name).stat().st_size
        assert size == entry["bytes"], f"golden/{name}: expected {entry['bytes']} bytes, found {size}"
        total += size
    assert total < 5 * 2**20
    assert {"tensorflow", "keras", "numpy", "ptycho"} <= set(MANIFEST["versions"])


@pytest.mark.parametrize("name", CASES)
def test_golden_forward_loss_gradients(device, name):
    import torch

    entry, mc, g = _load(name)
    lm, shapes = _torch_model(entry, mc, g, device)
    stored = {k[5:] for k in g if k.startswith("grad:")}
    assert set(shapes) <= stored, f"{name}: Torch conv weights missing from the golden gradient: " \
        f"{sorted(set(shapes) - stored)[:3]}"
    s = float(g["intensity_scale"])
    x, rel = g["X"], g["coords_relative"]
    lm.eval()
    with torch.no_grad():
        out = lm(torch.from_numpy(x * s).to(device), torch.from_numpy(rel).to(device))
    case = f"{name} on {device}"
    ps.check("golden-outputs", ps.rel_err(ps.to_numpy(out["object"]), g["object"]), "object " + case, name)
    ps.check("golden-outputs", ps.rel_err(ps.to_numpy(out["pred_amplitude"]), g["pred_amplitude"]),
             "pred_amplitude " + case, name)
    loss, grads = ps.torch_loss_and_gradients(lm, x, rel, device)
    ps.check("golden-loss", ps.rel_err(loss, float(g["loss"])), case, name)
    worst, worst_key = 0.0, ""
    for key in sorted(stored):
        mine = grads[key]
        if "grad_index:" + key in g:
            mine = np.ravel(mine)[g["grad_index:" + key]]
        err = float(np.max(np.abs(mine - g["grad:" + key]))) / float(g["grad_max_abs"])
        if err >= worst:
            worst, worst_key = err, key
    ps.check("golden-gradients", worst, f"{worst_key} {case}", name)


def test_golden_training_curve(device):
    entry, mc, g = _load("train_n64_gs1")
    lm, _ = _torch_model(entry, mc, g, device)
    assert int(entry["epochs"]) == ps.TRAIN_EPOCHS and int(entry["batch"]) == ps.TRAIN_BATCH
    curve = ps.train_torch_curve(lm, g["X"], g["coords_relative"], list(g["order"]), device)
    errs = [ps.rel_err(a, b) for a, b in zip(curve, g["curve"], strict=True)]
    e = int(np.argmax(errs))
    ps.check("golden-curve", errs[e], f"epoch {e + 1}: TF {g['curve'][e]:.6g} Torch {curve[e]:.6g} on {device}",
             "test_golden_training_curve")
