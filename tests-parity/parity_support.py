"""Shared helpers of the cross-backend parity suite (specs/parity.md).

* :data:`TOLERANCES` — the acceptance tolerance of every property (specs/parity.md §3);
* :func:`rel_err` — the error measure: ``max|a - ref| / max|ref|`` (scale-free, defined at zeros);
* :data:`STATE` — run settings (device, live TF or not) and the error recorder that writes
  ``report/parity-report.{json,md}`` at the end of the session;
* hypothesis strategies over model configurations and inputs;
* :func:`numpy_weights` — platform-independent weights from a seed (golden vectors, transfers).

Imports neither torch nor tensorflow at module level.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import weight_transfer as weights
from hypothesis import strategies as st
from weight_transfer import TOP_LEVEL_MODULES, to_numpy

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"

#: property id -> (tolerance, meaning). Never loosen one to make a test pass (specs/parity.md §3).
TOLERANCES: dict[str, tuple[float, str]] = {
    "P1-config-roundtrip": (0.0, "canonical -> native -> canonical equality (exact)"),
    "P2-physics-f64": (1e-6, "max rel. error of each physics op, numpy vs TF vs Torch, float64"),
    "P2-physics-f32": (1e-5, "max rel. error of each physics op, numpy vs TF vs Torch, float32"),
    "P3-network-forward": (1e-5, "TF vs Torch model outputs with transferred weights (float32)"),
    "P4-loss": (1e-4, "TF vs Torch training loss of one batch"),
    "P4-gradients": (1e-4, "TF vs Torch gradient vector over all trainable weights (max rel. error)"),
    "P5-grouping-indices": (0.0, "TF vs Torch grouped indices (exact equality)"),
    "P5-grouped-arrays": (1e-6, "TF vs Torch grouped X / offsets (max rel. error)"),
    "P5-stitching": (1e-6, "numpy vs TF vs Torch stitched object (max rel. error)"),
    "P6-training-curve": (1e-2, "TF vs Torch per-epoch mean training loss, 10 epochs (rel. error)"),
    "P7-fidelity-ssim": (2e-2, "TF vs Torch workflows on one scan: |SSIM difference| of the stitched reconstruction"),
    "weight-transfer": (0.0, "TF -> Torch -> TF weights round trip (exact)"),
    "golden-outputs": (1e-5, "Torch vs stored TF golden model outputs (max rel. error)"),
    "golden-loss": (1e-4, "Torch vs stored TF golden loss of one batch"),
    "golden-gradients": (1e-4, "Torch vs stored TF golden gradient (max abs. difference / max |gradient|)"),
    "golden-curve": (1e-2, "Torch vs stored TF golden 10-epoch loss curve (per-epoch rel. error)"),
}


def rel_err(a: Any, ref: Any) -> float:
    """``max|a - ref| / max|ref|`` over all elements (complex: modulus of the difference).

    Returns 0.0 when both are all zero and ``inf`` when only ``ref`` is; shapes must agree.
    """
    a = np.asarray(a)
    ref = np.asarray(ref)
    if a.shape != ref.shape:
        raise ValueError(f"rel_err: expected equal shapes, found {a.shape} and {ref.shape}")
    if a.size == 0:
        return 0.0
    diff = float(np.max(np.abs(a.astype(np.complex128) - ref.astype(np.complex128))))
    scale = float(np.max(np.abs(ref)))
    if scale == 0.0:
        return 0.0 if diff == 0.0 else math.inf
    return diff / scale


# ------------------------------------------------------------------------------------ run state

@dataclass
class _Record:
    tolerance: float
    meaning: str
    worst: float = 0.0
    worst_case: str = ""
    examples: int = 0
    failures: int = 0
    tests: set[str] = field(default_factory=set)
    by_test: dict[str, float] = field(default_factory=dict)


class _State:
    def __init__(self) -> None:
        self.device = "cpu"
        self.tf_mode = "auto"
        self.tf_live = False
        self.tf_reason = "not configured"
        self.report_dir: Path | None = None
        self.records: dict[str, _Record] = {}
        self.started = time.time()

    def configure(self, device: str, tf_mode: str, report_dir: Path | None) -> None:
        self.device, self.tf_mode, self.report_dir = device, tf_mode, report_dir
        if tf_mode == "off":
            self.tf_live, self.tf_reason = False, "PTYCHO_PARITY_TF=off"
        elif importlib.util.find_spec("tensorflow") is None:
            self.tf_live, self.tf_reason = False, "tensorflow is not importable"
        else:
            self.tf_live, self.tf_reason = True, "tensorflow importable"

    def check_environment(self) -> str | None:
        """A one-line error when the requested environment is not available, else None."""
        if self.tf_mode == "require" and not self.tf_live:
            return ("PTYCHO_PARITY_TF=require: expected an importable tensorflow, found none "
                    "(importlib.util.find_spec('tensorflow') is None)")
        if self.device == "cuda":
            import torch

            if not torch.cuda.is_available() or torch.cuda.device_count() < 1:
                return ("PTYCHO_PARITY_DEVICE=cuda: expected a visible CUDA device, found none "
                        f"(torch.cuda.is_available()={torch.cuda.is_available()}, "
                        f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')!r})")
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            torch.set_float32_matmul_precision("highest")
            if self.tf_live:  # a GPU build of TF would otherwise use TF32 too
                import tensorflow as tf

                tf.config.experimental.enable_tensor_float_32_execution(False)
        return None

    def record(self, prop: str, err: float, case: str = "", test: str = "") -> bool:
        """Record one example's error for ``prop``; returns whether it is within tolerance."""
        tol, meaning = TOLERANCES[prop]
        rec = self.records.setdefault(prop, _Record(tol, meaning))
        rec.examples += 1
        if test:
            rec.tests.add(test)
            rec.by_test[test] = max(rec.by_test.get(test, 0.0), float(err))
        ok = err <= tol
        if not ok:
            rec.failures += 1
        if rec.examples == 1 or err > rec.worst:
            rec.worst, rec.worst_case = float(err), case
        return ok

    def write_report(self, exitstatus: int) -> None:
        if self.report_dir is None or not self.records:
            return
        from ptycho.atomic_io import save_text_atomic  # contracts helper: atomic writes

        profile = os.environ.get("HYPOTHESIS_PROFILE", "dev")
        meta = {
            "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "duration_s": round(time.time() - self.started, 1),
            "exit_status": int(exitstatus),
            "torch_device": self.device,
            "tensorflow": "live" if self.tf_live else f"golden only ({self.tf_reason})",
            "hypothesis_profile": profile,
            "python": platform.python_version(),
            "versions": _versions(),
        }
        props = {}
        for name in sorted(self.records):
            r = self.records[name]
            props[name] = {"tolerance": r.tolerance, "meaning": r.meaning,
                           "worst_error": r.worst if math.isfinite(r.worst) else "inf",
                           "worst_case": r.worst_case, "examples": r.examples, "failures": r.failures,
                           "passed": r.failures == 0, "tests": sorted(r.tests),
                           "worst_by_test": {k: (v if math.isfinite(v) else "inf") for k, v in sorted(r.by_test.items())}}
        self.report_dir.mkdir(parents=True, exist_ok=True)
        save_text_atomic(self.report_dir / "parity-report.json",
                          json.dumps({"run": meta, "properties": props}, indent=2, sort_keys=True) + "\n")
        lines = [
            "# Cross-backend parity report",
            "",
            "Generated by the parity suite (`tests-parity/`, specs/parity.md) at the end of its last run;",
            "do not edit by hand.",
            "",
            f"- generated: {meta['generated']} ({meta['duration_s']} s, pytest exit status {exitstatus})",
            f"- Torch device: `{self.device}`; TensorFlow: {meta['tensorflow']}",
            f"- hypothesis profile: `{profile}`; Python {meta['python']}; "
            + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
            "",
            "`comparisons` counts every compared array pair (a hypothesis example compares several: e.g. "
            "numpy-TF, numpy-Torch and TF-Torch; failing examples are replayed while hypothesis shrinks them).",
            "",
            "| property | tolerance | worst error | comparisons | failures | worst case |",
            "|---|---|---|---|---|---|",
        ]
        for name, p in props.items():
            cells = [f"{name}: {p['meaning']}", f"{p['tolerance']:.0e}", f"{r_fmt(p['worst_error'])}",
                     str(p["examples"]), str(p["failures"]), p["worst_case"]]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        save_text_atomic(self.report_dir / "parity-report.md", "\n".join(lines) + "\n")


def r_fmt(value: Any) -> str:
    """A worst error for the report table ('inf' stays a word)."""
    return value if isinstance(value, str) else f"{value:.3e}"


def _versions() -> dict[str, str]:
    out = {"numpy": np.__version__}
    for mod in ("torch", "tensorflow", "keras"):
        m = sys.modules.get(mod)
        if m is not None:
            out[mod] = str(getattr(m, "__version__", "?"))
    return out


STATE = _State()


def check(prop: str, err: float, case: str, test: str = "") -> None:
    """Record and assert ``err <= tolerance(prop)`` with a message naming the case and the numbers."""
    ok = STATE.record(prop, err, case, test)
    tol = TOLERANCES[prop][0]
    assert ok, f"{prop}: {case}: error {err:.3e} exceeds the tolerance {tol:.0e}"


# ------------------------------------------------------------------------------- hypothesis

def examples(ci: int) -> int:
    """max_examples for a parity property: ``ci`` under the ci/dev profiles, 10x under 'thorough'."""
    return ci * 10 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else ci


AMP_ACTIVATIONS = ("sigmoid", "swish", "softplus", "relu")


@st.composite
def model_configs(draw, n_values=(64, 128), model_types=("pinn",), p128: float = 0.15):
    """Canonical ModelConfig over the parity space (N, gridsize 1-3, n_filters_scale 1/2, activation,
    object_big, probe_big, model type). N=128 is drawn with probability ``p128`` (cost)."""
    from ptycho.config.config import ModelConfig

    n = 128 if (128 in n_values and (len(n_values) == 1 or draw(st.floats(0, 1)) < p128)) else 64
    return ModelConfig(
        N=n,
        gridsize=draw(st.integers(1, 3)),
        n_filters_scale=draw(st.sampled_from([1, 2])) if n == 64 else 1,
        model_type=draw(st.sampled_from(list(model_types))),
        amp_activation=draw(st.sampled_from(AMP_ACTIVATIONS)),
        object_big=draw(st.booleans()),
        probe_big=draw(st.booleans()),
    )


def describe(mc: Any) -> str:
    return (f"N={mc.N} gs={mc.gridsize} nfs={mc.n_filters_scale} {mc.model_type} act={mc.amp_activation} "
            f"object_big={mc.object_big} probe_big={mc.probe_big}")


def tf_canvas_pad(gridsize: int) -> int:
    """Half the margin of the TF model's fixed canvas N + 4(gs-1) + 10: offsets within it are never clipped."""
    return (4 * (gridsize - 1) + 10) // 2


@functools.lru_cache(maxsize=32)
def model_inputs(seed: int, n: int, gridsize: int, batch: int,
                 nphotons: float = 1e6) -> tuple[np.ndarray, np.ndarray, float]:
    """Physically consistent model inputs from a simulated scan (``ptycho.simulation.simulate``).

    ``batch * C`` raster positions 2 px apart on a 'lines' object, Poisson noise at ``nphotons``;
    amplitudes normalised (specs/physics.md §9.1) and grouped C consecutive positions per group.
    Returns X (B, N, N, C) float32, coords_relative (B, 1, 2, C) float32 = -(position - group mean)
    (|offset| <= 2 (C - 1) / 2 px, inside the TF model's fixed canvas) and s = sqrt(nphotons)/(N/2).

    Random (non-diffraction) inputs are deliberately not used: where the model predicts ~0 counts but the
    data do not, the Poisson NLL gradient is ill-conditioned and float32 results of ANY implementation
    scatter by ~1e-3 (specs/parity.md §3 P4).
    """
    from ptycho import physics
    from ptycho.simulation import simulate

    c = gridsize * gridsize
    d = simulate(object_kind="lines", N=n, n_positions=batch * c, scan="grid", nphotons=nphotons,
                 seed=int(seed), step=2)
    x, _ = physics.normalize_diffraction(np.asarray(d["diffraction"], np.float64))
    x = x.reshape(batch, c, n, n).transpose(0, 2, 3, 1)
    pos = np.stack([d["xcoords"], d["ycoords"]], -1).reshape(batch, c, 2)
    rel = -(pos - pos.mean(axis=1, keepdims=True))
    rel = rel.transpose(0, 2, 1)[:, None]
    x.setflags(write=False)
    return (np.ascontiguousarray(x, np.float32), np.ascontiguousarray(rel, np.float32),
            physics.intensity_scale(nphotons, n))


def numpy_weights(shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, np.ndarray]:
    """Deterministic float32 conv weights for a torch-named shape table (platform independent, PCG64).

    ``*.weight`` (out, in, kh, kw): Glorot-uniform limit sqrt(6 / ((in + out) kh kw)); ``*.bias``:
    uniform +-0.05 (non-zero, so the bias transfer is exercised). Keys are processed in sorted order.
    """
    out = {}
    for i, key in enumerate(sorted(shapes)):
        shape = tuple(int(v) for v in shapes[key])
        rng = np.random.default_rng([int(seed), i])
        if key.endswith(".weight"):
            o, ci, kh, kw = shape
            lim = math.sqrt(6.0 / ((ci + o) * kh * kw))
            out[key] = rng.uniform(-lim, lim, size=shape).astype(np.float32)
        else:
            out[key] = rng.uniform(-0.05, 0.05, size=shape).astype(np.float32)
    return out


def gradient_sample(key: str, size: int, count: int = 64) -> np.ndarray:
    """Fixed flat indices (int64, sorted) of the kernel-gradient elements kept in the golden vectors."""
    seed = int.from_bytes(key.encode(), "little") % (2**63)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(int(size), size=min(count, int(size)), replace=False)).astype(np.int64)


# ---------------------------------------------------------------------------- model builders

def default_probe(n: int, probe_scale: float = 4.0) -> np.ndarray:
    from ptycho import physics

    return np.asarray(physics.normalize_probe(physics.default_probe(n), probe_scale), np.complex64)


def build_tf(mc: Any, probe: np.ndarray, s: float, seed: int = 0):
    """TF ``Models`` (autoencoder + diffraction_to_obj) for a canonical ModelConfig."""
    from ptycho_tf import network

    return network.build_models(mc, probe=probe, intensity_scale=s, seed=seed)


def build_torch(mc: Any, probe: np.ndarray, s: float, nphotons: float = 1e6, batch_size: int = 4,
                device: str = "cpu", mae_weight: float = 0.0):
    """``PtychoPINN_Lightning`` for a canonical ModelConfig, on ``device``."""
    import torch

    from ptycho.config.config import TrainingConfig
    from ptycho_torch.lightning_module import PtychoPINN_Lightning

    c = mc.gridsize**2
    tc = TrainingConfig(model=mc, nphotons=nphotons, batch_size=batch_size, neighbor_count=max(4, c),
                        mae_weight=mae_weight)
    return PtychoPINN_Lightning(mc, tc, probe=torch.from_numpy(probe), intensity_scale=s).to(device)


def torch_conv_shapes(module: Any) -> dict[str, tuple[int, ...]]:
    """Torch-named shapes of the generator convolutions of a torch module."""
    return {k: tuple(v.shape) for k, v in module.state_dict().items()
            if k.split(".")[0] in TOP_LEVEL_MODULES and k.endswith((".weight", ".bias"))}


# ------------------------------------------------------------------------------ training loops (P6)

TRAIN_EPOCHS = 10
TRAIN_BATCH = 8


def train_tf_curve(models: Any, training_config: Any, x: np.ndarray, rel: np.ndarray, s: float,
                   order: list[np.ndarray]) -> list[float]:
    """Train the TF autoencoder with ``training.compile_models`` + ``train_on_batch`` over the batches
    ``order[e][i:i+TRAIN_BATCH]``; returns the mean batch loss (before each update) per epoch."""
    from ptycho_tf import training

    training.compile_models(models, training_config)
    curve = []
    for perm in order:
        losses = []
        for i in range(0, len(perm), TRAIN_BATCH):
            idx = perm[i:i + TRAIN_BATCH]
            xs = (x[idx] * s).astype(np.float32)
            zeros = np.zeros(xs.shape[:3] + (1,), np.float32)
            out = models.autoencoder.train_on_batch([xs, rel[idx]], [zeros, xs, xs**2], return_dict=True)
            losses.append(float(out["loss"]))
        curve.append(float(np.mean(losses)))
    return curve


def train_torch_curve(lm: Any, x: np.ndarray, rel: np.ndarray, order: list[np.ndarray], device: str) -> list[float]:
    """Train a ``PtychoPINN_Lightning`` with ``compute_loss`` and its ``configure_optimizers`` optimiser over
    the same batches as :func:`train_tf_curve`; returns the mean batch loss per epoch."""
    import torch

    opts = lm.configure_optimizers()
    opt = opts["optimizer"] if isinstance(opts, dict) else opts
    lm.train()
    curve = []
    for perm in order:
        losses = []
        for i in range(0, len(perm), TRAIN_BATCH):
            idx = perm[i:i + TRAIN_BATCH]
            batch = {"X": torch.from_numpy(np.ascontiguousarray(x[idx])).to(device),
                     "coords_relative": torch.from_numpy(np.ascontiguousarray(rel[idx])).to(device)}
            loss, _ = lm.compute_loss(batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        curve.append(float(np.mean(losses)))
    return curve


# ------------------------------------------------------------------------------ loss and gradients (P4)

def tf_loss_and_gradients(models: Any, x: np.ndarray, rel: np.ndarray, s: float, nll_weight: float = 1.0,
                          mae_weight: float = 0.0) -> tuple[float, dict[str, np.ndarray]]:
    """TF training loss of one batch and the gradient of every trainable weight, keyed by torch names.

    Loss = nll_weight * training.poisson_nll((sX)^2, pred_intensity) + mae_weight * training.amplitude_mae.
    Conv kernels are permuted to the torch layout (out, in, kh, kw); the probe gradient [d/dRe, d/dIm] is
    returned as d/dRe + i d/dIm (torch's convention for a real loss of a complex parameter).
    """
    import keras
    import tensorflow as tf

    from ptycho_tf import training

    x_s = (x * s).astype(np.float32)
    variables = list(models.autoencoder.trainable_variables)
    with tf.GradientTape() as tape:
        _, pred_amp, pred_int = models.autoencoder([x_s, rel], training=True)
        loss = nll_weight * training.poisson_nll(x_s**2, pred_int) + mae_weight * training.amplitude_mae(x_s, pred_amp)
    grads = {v.path: g for v, g in zip(variables, tape.gradient(loss, variables), strict=True)}
    named: dict[str, np.ndarray] = {}
    for layer in weights._keras_layers(models.autoencoder):
        if isinstance(layer, keras.layers.Conv2D):
            path = weights.torch_module_path(layer.name)
            named[path + ".weight"] = np.transpose(to_numpy(grads[layer.kernel.path]), (3, 2, 0, 1))
            named[path + ".bias"] = to_numpy(grads[layer.bias.path])
        for attr, key in (("log_scale", weights.LOG_SCALE_KEY), ("probe", weights.PROBE_KEY)):
            var = getattr(layer, attr, None)
            if var is not None and hasattr(var, "path") and var.path in grads:
                g = to_numpy(grads[var.path])
                named[key] = g[..., 0] + 1j * g[..., 1] if key == weights.PROBE_KEY else g
    return float(loss), named


def torch_loss_and_gradients(lm: Any, x: np.ndarray, rel: np.ndarray, device: str) -> tuple[float, dict[str, np.ndarray]]:
    """Torch ``compute_loss`` of one batch and ``.grad`` of every trainable parameter (numpy, torch names)."""
    import torch

    batch = {"X": torch.from_numpy(np.ascontiguousarray(x)).to(device),
             "coords_relative": torch.from_numpy(np.ascontiguousarray(rel)).to(device)}
    lm.train()
    lm.zero_grad()
    loss, _ = lm.compute_loss(batch)
    loss.backward()
    return float(loss.detach()), {k: to_numpy(p.grad) for k, p in lm.named_parameters() if p.requires_grad}
