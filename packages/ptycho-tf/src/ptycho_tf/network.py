"""Generator network and model factory (specs/tf-backend.md §1, specs/network.md).

Models are built from explicit arguments (a ``ModelConfig`` plus probe / intensity scale), never
at import time and never from the legacy params dict, so models of different gridsize coexist in
one process.

Layer names (the weight layout shared with PyTorch, see :func:`to_torch_state`):
  encoder_blocks_{i}_conv1/_conv2, decoder_{amp,phase}_blocks_{j}_conv1/_conv2,
  decoder_{amp,phase}_head, decoder_{amp,phase}_border_conv1/_conv2/_out (probe_big, pad_object),
  decoder_{amp,phase}_upsample_conv1/_conv2 (pad_object=False),
  intensity_scaler/log_scale (scalar), physics/probe ((N, N, 2) real/imag, or (K, N, N, 2) for K incoherent
  probe modes).
The supervised baseline (``model_type='supervised'``, specs/network.md §3) uses the same scheme:
  encoder_blocks_{0,1,2}_conv1/_conv2, decoder_{amp,phase}_blocks_{0,1,2}_conv1/_conv2, decoder_{amp,phase}_head.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np

from ptycho.config.config import MODEL_TYPES
from ptycho.config.model_size import require_n

from .layers import IntensityScale, PhysicsForward, probe_stack

ENCODER_FILTERS = {64: (32, 64, 128), 128: (16, 32, 64, 128), 256: (8, 16, 32, 64, 128)}
DECODER_FILTERS = {64: (64, 32), 128: (128, 64, 32), 256: (256, 128, 64, 32)}
#: Supervised baseline ladders (facts §2.6), independent of N; times n_filters_scale.
BASELINE_ENCODER_FILTERS = (32, 64, 128)
BASELINE_DECODER_FILTERS = (128, 64, 32)
#: Conv2D parameter totals of the reference architecture (specs/network.md), pinned by tests.
ORIGINAL_CONV_PARAMS = {(64, 2, 2): 2_340_208, (64, 1, 2): 2_331_772, (128, 1, 2): 4_661_212,
                        (128, 2, 2): 4_667_056, (256, 1, 2): 12_912_268}
#: Extra layout offsets of the default canvas (legacy ``offset`` and ``max_position_jitter``).
CANVAS_OFFSET = 4
CANVAS_JITTER = 10


def canvas_size(n: int, gridsize: int) -> int:
    """Side M of the per-group canvas: N + (gridsize - 1) * 4 + 10 (specs/tf-backend.md §1)."""
    return int(n) + (int(gridsize) - 1) * CANVAS_OFFSET + CANVAS_JITTER


@dataclass(frozen=True)
class Models:
    """The models sharing one set of weights.

    autoencoder: inputs [input (B,N,N,C) = s*X float32, input_positions (B,1,2,C) float32] ->
      [trimmed_obj (B,N,N,1) complex64, pred_amp_scaled (B,N,N,C), pred_intensity (B,N,N,C)].
    diffraction_to_obj: same inputs -> trimmed_obj.
    generator: input (B,N,N,C) = s*X float32 -> [amp, phase] (B,N,N,F) float32, the network's object
      amplitude and phase (F = C for the supervised baseline and object_big, else 1); None when built
      without it.
    supervised: True for ``model_type='supervised'``: trained on amplitude/phase labels through
      ``generator`` (see :attr:`training_model`).
    """

    autoencoder: keras.Model
    diffraction_to_obj: keras.Model
    n: int
    gridsize: int
    generator: keras.Model | None = None
    supervised: bool = False

    @property
    def training_model(self) -> keras.Model:
        """The Keras model that is compiled and fitted: ``generator`` (supervised) or ``autoencoder`` (PINN)."""
        if self.supervised:
            if self.generator is None:
                raise ValueError("Models: a supervised model needs its generator model, found None")
            return self.generator
        return self.autoencoder

    @property
    def scaler(self) -> IntensityScale:
        return self.autoencoder.get_layer("intensity_scaler")

    @property
    def physics(self) -> PhysicsForward:
        return self.autoencoder.get_layer("physics")

    def intensity_scale(self) -> float:
        """Current exp(log_scale)."""
        return float(np.exp(self.scaler.log_scale.numpy()))

    def probe(self) -> np.ndarray:
        """Current probe, (N, N) complex64, or (K, N, N) incoherent modes."""
        return self.physics.complex_probe().numpy().astype(np.complex64)


def _conv(filters: int, name: str, activation=None):
    return keras.layers.Conv2D(filters, 3, padding="same", activation=activation, name=name,
                               kernel_initializer="glorot_uniform", bias_initializer="zeros")


def _amp_activation(name: str):
    table = {"sigmoid": keras.activations.sigmoid, "swish": keras.activations.silu,
             "softplus": keras.activations.softplus, "relu": keras.activations.relu}
    if name not in table:
        raise ValueError(f"amp_activation: expected one of {sorted(table)}, found {name!r}")
    return table[name]


def _decoder(x, prefix: str, n: int, nfs: int, f_out: int, pad_object: bool, probe_big: bool, head_act):
    for j, f in enumerate(DECODER_FILTERS[n]):
        x = _conv(f * nfs, f"{prefix}_blocks_{j}_conv1", "relu")(x)
        x = _conv(f * nfs, f"{prefix}_blocks_{j}_conv2", "relu")(x)
        x = keras.layers.UpSampling2D(2, name=f"{prefix}_blocks_{j}_up")(x)
    big = nfs * (2048 // n)
    if not pad_object:
        y = _conv(big, f"{prefix}_upsample_conv1", "relu")(x)
        y = _conv(big, f"{prefix}_upsample_conv2", "relu")(y)
        y = keras.layers.UpSampling2D(2, name=f"{prefix}_upsample_up")(y)
        return head_act(_conv(f_out, f"{prefix}_head")(y))
    main = head_act(_conv(f_out, f"{prefix}_head")(x[..., :-4]))
    main = keras.layers.ZeroPadding2D(n // 4, name=f"{prefix}_pad")(main)
    if not probe_big:
        return main
    b = _conv(big, f"{prefix}_border_conv1", "relu")(x[..., -4:])
    b = _conv(big, f"{prefix}_border_conv2", "relu")(b)
    b = keras.layers.UpSampling2D(2, name=f"{prefix}_border_up")(b)
    b = keras.activations.silu(_conv(f_out, f"{prefix}_border_out")(b))
    mask = np.ones((n, n, 1), np.float32)
    mask[n // 4 : n // 4 + n // 2, n // 4 : n // 4 + n // 2] = 0.0
    return main + b * mask


def _baseline_generator(x, n: int, c: int, nfs: int):
    """Supervised baseline (specs/network.md §3, facts §2.6) on normalised amplitudes x (B,N,N,C).

    The C channels are folded into the batch ((B*C,N,N,1), flat index b*C + c), run through the one-channel
    encoder (ConvPool 32, 64, 128 x nfs) and the two decoders (ConvUp 128, 64, 32 x nfs -> linear conv to 1),
    and unfolded again. Returns (amp, phase), each (B,N,N,C) float32.
    """
    z = keras.ops.reshape(keras.ops.transpose(x, (0, 3, 1, 2)), (-1, n, n, 1))
    for i, f in enumerate(BASELINE_ENCODER_FILTERS):
        z = _conv(f * nfs, f"encoder_blocks_{i}_conv1", "relu")(z)
        z = _conv(f * nfs, f"encoder_blocks_{i}_conv2", "relu")(z)
        z = keras.layers.MaxPooling2D(2, padding="same", name=f"encoder_blocks_{i}_pool")(z)
    outs = []
    for prefix in ("decoder_amp", "decoder_phase"):
        y = z
        for j, f in enumerate(BASELINE_DECODER_FILTERS):
            y = _conv(f * nfs, f"{prefix}_blocks_{j}_conv1", "relu")(y)
            y = _conv(f * nfs, f"{prefix}_blocks_{j}_conv2", "relu")(y)
            y = keras.layers.UpSampling2D(2, name=f"{prefix}_blocks_{j}_up")(y)
        y = _conv(1, f"{prefix}_head")(y)
        outs.append(keras.ops.transpose(keras.ops.reshape(y, (-1, c, n, n)), (0, 2, 3, 1)))
    return outs[0], outs[1]


def build_models(model_config, probe=None, intensity_scale: float = 1.0, probe_trainable: bool = False,
                 intensity_scale_trainable: bool = False, probe_mask=None, seed: int | None = None) -> Models:
    """Build the autoencoder, diffraction_to_obj and generator models.

    ``model_type='pinn'``: the PINN generator (specs/network.md §2). ``model_type='supervised'``: the
    one-channel baseline (§3, channels processed independently, linear heads; amp_activation, pad_object,
    probe_big and object_big do not apply) followed by the same physics with all C patches merged
    (object_big), as in the PyTorch backend; parameter names and shapes equal Torch's.

    Args:
      model_config: a ``ptycho.config.config.ModelConfig`` (N, gridsize, n_filters_scale, model_type,
        amp_activation, object_big, probe_big, probe_mask, pad_object, gaussian_smoothing_sigma).
      probe: (N, N) complex initial probe, already normalised (``ptycho.physics.normalize_probe``), or (K, N, N)
        incoherent modes normalised together: the predicted intensity is then sum_k |F(P_k O)|^2
        (specs/tf-backend.md §2.1; trainable together with ``probe_trainable``).
      intensity_scale: initial s (>0); ``log_scale`` starts at log(s).
      probe_trainable / intensity_scale_trainable: whether those weights train.
      probe_mask: (N, N) real mask applied to the exit wave when ``model_config.probe_mask``;
        defaults to ``ptycho.physics.probe_mask(N)``.
      seed: optional seed for the Glorot initialisers (keras.utils.set_random_seed).
    Returns: :class:`Models`.
    """
    n, gs = require_n(model_config, "building the network"), int(model_config.gridsize)
    if n not in ENCODER_FILTERS:
        raise ValueError(f"ModelConfig.N: expected one of {sorted(ENCODER_FILTERS)}, found {n}")
    if gs < 1:
        raise ValueError(f"ModelConfig.gridsize: expected a positive integer, found {gs}")
    nfs = int(model_config.n_filters_scale)
    if nfs < 1:
        raise ValueError(f"ModelConfig.n_filters_scale: expected a positive integer, found {nfs}")
    if getattr(model_config, "architecture", "cnn") != "cnn":
        raise ValueError(f"ModelConfig.architecture: the TensorFlow backend supports 'cnn', found "
                         f"{model_config.architecture!r}")
    model_type = str(getattr(model_config, "model_type", "pinn"))
    if model_type not in MODEL_TYPES:
        raise ValueError(f"ModelConfig.model_type: expected one of {list(MODEL_TYPES)}, found {model_type!r}")
    supervised = model_type == "supervised"
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    c = gs * gs
    object_big = bool(model_config.object_big) or supervised
    f_out = c if object_big else 1
    mask = None
    if model_config.probe_mask:
        if probe_mask is None:
            from ptycho import physics

            probe_mask = physics.probe_mask(n)
        mask = np.asarray(probe_mask, np.float32)

    inp = keras.Input((n, n, c), name="input", dtype="float32")
    pos = keras.Input((1, 2, c), name="input_positions", dtype="float32")
    scaler = IntensityScale(intensity_scale, intensity_scale_trainable, name="intensity_scaler")
    x = scaler(inp)
    if supervised:
        amp, phi = _baseline_generator(x, n, c, nfs)
    else:
        for i, f in enumerate(ENCODER_FILTERS[n]):
            x = _conv(f * nfs, f"encoder_blocks_{i}_conv1", "relu")(x)
            x = _conv(f * nfs, f"encoder_blocks_{i}_conv2", "relu")(x)
            x = keras.layers.MaxPooling2D(2, padding="same", name=f"encoder_blocks_{i}_pool")(x)
        amp = _decoder(x, "decoder_amp", n, nfs, f_out, model_config.pad_object, model_config.probe_big,
                       _amp_activation(model_config.amp_activation))
        phi = _decoder(x, "decoder_phase", n, nfs, f_out, model_config.pad_object, model_config.probe_big,
                       lambda t: math.pi * keras.activations.tanh(t))
    physics = PhysicsForward(n, gs, canvas_size(n, gs), probe=probe, object_big=object_big,
                             probe_mask=mask, smoothing_sigma=model_config.gaussian_smoothing_sigma,
                             trainable_probe=probe_trainable, name="physics")
    trimmed, pred_amp = physics([amp, phi, pos])
    pred_amp_scaled = scaler(pred_amp, inverse=True)
    pred_intensity = keras.ops.square(pred_amp_scaled)
    auto = keras.Model([inp, pos], [trimmed, pred_amp_scaled, pred_intensity], name="autoencoder")
    d2o = keras.Model([inp, pos], trimmed, name="diffraction_to_obj")
    gen = keras.Model(inp, [amp, phi], name="generator")
    return Models(auto, d2o, n, gs, generator=gen, supervised=supervised)


def conv_parameter_count(model: keras.Model) -> int:
    """Number of scalars in the Conv2D layers (the trainable network size)."""
    return int(sum(np.prod(w.shape) for layer in model.layers if isinstance(layer, keras.layers.Conv2D)
                   for w in layer.weights))


# ------------------------------------------------------------------ weight transfer with PyTorch

def torch_name(layer_name: str) -> str:
    """Keras layer name -> torch module path (specs/network.md §4): ``encoder_blocks_0_conv1`` ->
    ``encoder.blocks.0.conv1``; ``decoder_amp_border_conv1`` -> ``decoder_amp.border.conv1``."""
    for prefix in ("decoder_amp_", "decoder_phase_"):
        if layer_name.startswith(prefix):
            return prefix[:-1] + "." + layer_name[len(prefix):].replace("_", ".")
    return layer_name.replace("_", ".")


def to_torch_state(model: keras.Model) -> dict[str, np.ndarray]:
    """Weights as a PyTorch-style state dict of numpy arrays (specs/network.md).

    Names: :func:`torch_name` of the Keras layer plus '.weight'/'.bias' (``encoder.blocks.0.conv1.weight``,
    ``decoder_amp.head.bias``);
    kernels are permuted from Keras (kh, kw, in, out) to torch (out, in, kh, kw). ``log_scale`` is a
    scalar; ``probe`` is (N, N, 2) [real, imag] (``torch.view_as_real`` layout), (K, N, N, 2) with K modes.
    """
    out: dict[str, np.ndarray] = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            base = torch_name(layer.name)
            out[base + ".weight"] = np.transpose(layer.kernel.numpy(), (3, 2, 0, 1)).copy()
            out[base + ".bias"] = layer.bias.numpy().copy()
        elif isinstance(layer, IntensityScale):
            out["log_scale"] = np.asarray(layer.log_scale.numpy())
        elif isinstance(layer, PhysicsForward):
            out["probe"] = layer.probe.numpy().copy()
    return out


def from_torch_state(model: keras.Model, state: dict[str, np.ndarray]) -> None:
    """Load a state dict in the :func:`to_torch_state` layout into ``model`` (inverse permutation).

    Raises ValueError naming the first missing key or mismatching shape.
    """
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            base = torch_name(layer.name)
            for key, var, perm in ((base + ".weight", layer.kernel, (2, 3, 1, 0)), (base + ".bias", layer.bias, None)):
                if key not in state:
                    raise ValueError(f"from_torch_state: missing key {key!r}")
                arr = np.asarray(state[key])
                arr = np.transpose(arr, perm) if perm else arr
                if tuple(arr.shape) != tuple(var.shape):
                    raise ValueError(f"from_torch_state: {key}: expected shape {tuple(var.shape)} after "
                                     f"permutation, found {tuple(arr.shape)}")
                var.assign(arr.astype(np.float32))
        elif isinstance(layer, IntensityScale) and "log_scale" in state:
            layer.log_scale.assign(np.float32(np.asarray(state["log_scale"]).reshape(())))
        elif isinstance(layer, PhysicsForward) and "probe" in state:
            p = np.asarray(state["probe"])
            if np.iscomplexobj(p):
                p = np.stack([p.real, p.imag], -1)
            if p.shape != tuple(layer.probe.shape):
                raise ValueError(f"from_torch_state: probe: expected shape {tuple(layer.probe.shape)}, found {p.shape}")
            layer.probe.assign(p.astype(np.float32))


def set_probe(models: Models, probe) -> None:
    """Assign an (N, N) complex probe, or (K, N, N) modes, to the physics layer (the model's K must match)."""
    p = probe_stack(probe, models.n, "set_probe")
    want = tuple(models.physics.probe.shape)[:-1]
    if p.shape != want:
        raise ValueError(f"set_probe: expected a probe of shape {want} (the model's probe modes), found {p.shape}")
    models.physics.probe.assign(np.stack([p.real, p.imag], -1).astype(np.float32))


def set_intensity_scale(models: Models, s: float) -> None:
    """Assign log_scale = log(s)."""
    if not (np.isfinite(s) and s > 0):
        raise ValueError(f"intensity_scale: expected a positive finite number, found {s!r}")
    models.scaler.log_scale.assign(np.float32(math.log(float(s))))


def predict_object(models: Models, x_scaled, positions, batch_size: int = 16) -> np.ndarray:
    """Run diffraction_to_obj in batches: (B,N,N,C) s*X and (B,1,2,C) -> (B,N,N,1) complex64."""
    out = models.diffraction_to_obj.predict([np.asarray(x_scaled, np.float32), np.asarray(positions, np.float32)],
                                            batch_size=batch_size, verbose=0)
    return np.asarray(out)


