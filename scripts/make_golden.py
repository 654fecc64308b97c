"""Write the TF golden vectors of the parity suite: tests-parity/golden/*.npz + manifest.json.

Run on CPU with TensorFlow installed (specs/parity.md §5):

    python scripts/make_golden.py            # (re)write tests-parity/golden/
    python scripts/make_golden.py --check    # regenerate in memory, compare with the stored files

Each case builds the TF model of a canonical ModelConfig, loads deterministic numpy weights
(``parity_support.numpy_weights``: PCG64, platform independent) plus the normalised default probe and
log s, feeds a simulated batch (``parity_support.model_inputs``), and stores inputs, outputs (trimmed
object, predicted amplitude), the loss and the gradient (torch names / layouts: biases and physics
weights in full, 64 fixed elements of every conv kernel, and the largest |gradient|). The ``train`` case
also stores the 10-epoch TF loss curve. The Torch side (tests-parity/test_parity_golden.py) rebuilds the
same weights from the seed and must reproduce everything on any device, without TensorFlow.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # golden vectors are made on the CPU
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests-parity"))

import parity_support as ps  # noqa: E402
import weight_transfer as weights  # noqa: E402

GOLDEN = ROOT / "tests-parity" / "golden"
FORMAT = 1

#: name -> (ModelConfig kwargs, batch, weight seed, input seed, mae_weight)
CASES = {
    "n64_gs1_sigmoid": (dict(N=64, gridsize=1, n_filters_scale=1, amp_activation="sigmoid", object_big=True,
                             probe_big=True), 2, 11, 0, 0.0),
    "n64_gs2_relu": (dict(N=64, gridsize=2, n_filters_scale=1, amp_activation="relu", object_big=True,
                          probe_big=False), 2, 12, 1, 0.5),
    "n64_gs3_softplus": (dict(N=64, gridsize=3, n_filters_scale=1, amp_activation="softplus", object_big=False,
                              probe_big=True), 1, 13, 2, 0.0),
    "n128_gs1_swish": (dict(N=128, gridsize=1, n_filters_scale=1, amp_activation="swish", object_big=True,
                            probe_big=True), 1, 14, 3, 0.0),
}
TRAIN_CASE = (dict(N=64, gridsize=1, n_filters_scale=1, amp_activation="sigmoid", object_big=True,
                   probe_big=True), 16, 21, 0)
NPHOTONS = 1e6

TOLERANCES = {k: ps.TOLERANCES[f"golden-{k}"][0] for k in ("outputs", "loss", "gradients", "curve")}


def _models(mc, s, seed):
    models = ps.build_tf(mc, ps.default_probe(mc.N), s, seed=0)
    shapes = {k: v.shape for k, v in weights.keras_to_torch_state(models.autoencoder).items()
              if k.split(".")[0] in weights.TOP_LEVEL_MODULES}
    weights.load_state_into_keras(models.autoencoder, ps.numpy_weights(shapes, seed), include_physics=False)
    return models


def make_case(kw, batch, wseed, iseed, mae_w) -> dict[str, np.ndarray]:
    from ptycho.config.config import ModelConfig

    mc = ModelConfig(**kw)
    x, rel, s = ps.model_inputs(iseed, mc.N, mc.gridsize, batch, NPHOTONS)
    models = _models(mc, s, wseed)
    trimmed, pred_amp, _ = models.autoencoder([x * s, rel])
    loss, grads = ps.tf_loss_and_gradients(models, x, rel, s, 1.0, mae_w)
    out = {"X": x, "coords_relative": rel, "intensity_scale": np.float64(s), "object": ps.to_numpy(trimmed)[..., 0],
           "pred_amplitude": ps.to_numpy(pred_amp), "loss": np.float64(loss), "mae_weight": np.float64(mae_w)}
    out["grad_max_abs"] = np.float64(max(float(np.max(np.abs(g))) for g in grads.values()))
    for key, g in grads.items():
        if key.endswith(".weight"):
            idx = ps.gradient_sample(key, g.size)
            out["grad_index:" + key] = idx
            out["grad:" + key] = np.ravel(g)[idx]
        else:
            out["grad:" + key] = g
    return out


def make_train() -> dict[str, np.ndarray]:
    from ptycho.config.config import ModelConfig, TrainingConfig

    kw, groups, wseed, iseed = TRAIN_CASE
    mc = ModelConfig(**kw)
    x, rel, s = ps.model_inputs(iseed, mc.N, mc.gridsize, groups, NPHOTONS)
    tc = TrainingConfig(model=mc, nphotons=NPHOTONS, batch_size=ps.TRAIN_BATCH, nepochs=ps.TRAIN_EPOCHS)
    models = _models(mc, s, wseed)
    rng = np.random.default_rng(iseed)
    order = np.stack([rng.permutation(groups) for _ in range(ps.TRAIN_EPOCHS)])
    curve = ps.train_tf_curve(models, tc, x, rel, s, list(order))
    return {"X": x, "coords_relative": rel, "intensity_scale": np.float64(s), "order": order,
            "curve": np.asarray(curve, np.float64)}


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def build() -> tuple[dict, dict[str, dict[str, np.ndarray]]]:
    import keras
    import tensorflow as tf

    from ptycho.config.config import ModelConfig, config_to_dict

    files: dict[str, dict[str, np.ndarray]] = {}
    cases = {}
    for name, (kw, batch, wseed, iseed, mae_w) in CASES.items():
        files[f"{name}.npz"] = make_case(kw, batch, wseed, iseed, mae_w)
        cases[name] = {"file": f"{name}.npz", "model_config": config_to_dict(ModelConfig(**kw)), "batch": batch,
                       "weight_seed": wseed, "input_seed": iseed, "mae_weight": mae_w, "nll_weight": 1.0}
    kw, groups, wseed, iseed = TRAIN_CASE
    files["train_n64_gs1.npz"] = make_train()
    cases["train_n64_gs1"] = {"file": "train_n64_gs1.npz", "model_config": config_to_dict(ModelConfig(**kw)),
                              "groups": groups, "batch": ps.TRAIN_BATCH, "epochs": ps.TRAIN_EPOCHS,
                              "weight_seed": wseed, "input_seed": iseed, "mae_weight": 0.0, "nll_weight": 1.0}
    manifest = {
        "format": FORMAT,
        "description": "TF golden vectors for the Torch side of the parity suite (specs/parity.md §5)",
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "generator": "scripts/make_golden.py",
        "versions": {"ptycho": (ROOT / "VERSION").read_text().strip(), "python": platform.python_version(),
                     "numpy": np.__version__, "tensorflow": tf.__version__, "keras": keras.__version__},
        "device": "cpu",
        "nphotons": NPHOTONS,
        "weights": "parity_support.numpy_weights(torch-named conv shapes, weight_seed); probe = "
                   "normalize_probe(default_probe(N), 4.0); log_scale = log(intensity_scale)",
        "tolerances": TOLERANCES,
        "cases": cases,
    }
    return manifest, files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=GOLDEN, help="output folder (default tests-parity/golden)")
    ap.add_argument("--check", action="store_true", help="compare a fresh build with the stored files")
    args = ap.parse_args(argv)
    manifest, files = build()
    if args.check:
        stored = json.loads((args.out / "manifest.json").read_text())
        worst = 0.0
        for name, arrays in files.items():
            with np.load(args.out / name) as old:
                for key, val in arrays.items():
                    worst = max(worst, ps.rel_err(val, old[key]))
        print(f"largest relative difference to the stored golden vectors: {worst:.3e}")
        ok = worst <= TOLERANCES["outputs"] and stored["format"] == FORMAT
        return 0 if ok else 1
    from ptycho.atomic_io import atomic_write, save_json_atomic

    blobs = {name: _npz_bytes(arrays) for name, arrays in files.items()}
    total = sum(len(b) for b in blobs.values())
    if total > 5 * 2**20:
        raise SystemExit(f"make_golden: golden vectors total {total} bytes, expected under 5 MiB")
    args.out.mkdir(parents=True, exist_ok=True)
    entries = {}
    for name, data in blobs.items():
        with atomic_write(args.out / name, "wb") as fh:
            fh.write(data)
        entries[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    manifest["files"] = entries
    save_json_atomic(args.out / "manifest.json", manifest)
    print(f"wrote {len(entries)} files ({total / 2**20:.2f} MiB) and manifest.json to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
