"""Keras layers holding the physics state (specs/tf-backend.md §3).

The intensity scale (``log_scale``) and the probe are *tracked Keras weights*
(``add_weight``), so ``*_trainable=True`` really trains them and they are saved in
``.weights.h5``.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from . import ops

#: Most incoherent probe modes a model holds (the data contract's bound, specs/data-contract.md §2.2).
MAX_PROBE_MODES = 32


def probe_weight_shape(n: int, modes: int) -> tuple[int, ...]:
    """Shape of the float32 [real, imag] probe weight: (N, N, 2) for one mode, (K, N, N, 2) for K >= 2."""
    return (n, n, 2) if modes == 1 else (modes, n, n, 2)


def probe_stack(probe, n: int, where: str) -> np.ndarray:
    """``probe`` as (N, N), or (K, N, N) for K >= 2 incoherent modes (an (N, N, 1) probe and a one-mode stack
    (1, N, N) are squeezed); ValueError naming ``where``, the expected and the found shape otherwise."""
    p = np.asarray(probe)
    if p.ndim == 3 and p.shape[-1] == 1 and p.shape[:2] == (n, n):
        p = p[..., 0]
    if p.ndim == 3 and p.shape[0] == 1:
        p = p[0]
    if p.shape != (n, n) and not (p.ndim == 3 and p.shape[1:] == (n, n) and 2 <= p.shape[0] <= MAX_PROBE_MODES):
        raise ValueError(f"{where}: expected a probe of shape ({n}, {n}) or (K, {n}, {n}) incoherent modes with "
                         f"2 <= K <= {MAX_PROBE_MODES}, found {p.shape}")
    return p


@keras.saving.register_keras_serializable(package="ptycho_tf")
class IntensityScale(keras.layers.Layer):
    """Owns the scalar weight ``log_scale`` (init ``log(s)``).

    ``call(x)`` divides by ``exp(log_scale)`` (model input s*X -> X); ``call(x, inverse=True)``
    multiplies (normalised amplitude -> count-scale amplitude). The same layer instance is used
    for both so one variable is shared.
    """

    def __init__(self, scale: float = 1.0, trainable_scale: bool = False, **kw):
        super().__init__(**kw)
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"IntensityScale: expected a positive finite intensity scale, found {scale!r}")
        self.scale = float(scale)
        self.trainable_scale = bool(trainable_scale)
        self.log_scale = self.add_weight(
            name="log_scale", shape=(), initializer=keras.initializers.Constant(math.log(self.scale)),
            trainable=self.trainable_scale, dtype="float32")

    def call(self, x, inverse: bool = False):
        f = tf.exp(tf.cast(self.log_scale, x.dtype))
        return x * f if inverse else x / f

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "trainable_scale": self.trainable_scale}


@keras.saving.register_keras_serializable(package="ptycho_tf")
class PhysicsForward(keras.layers.Layer):
    """The differentiable forward model after the generator; owns the ``probe`` weight.

    The probe is stored as a float32 weight of shape (N, N, 2) = [real, imag] (the layout of
    ``torch.view_as_real``), or (K, N, N, 2) for K >= 2 incoherent modes (a (K, N, N) ``probe``, specs/tf-backend.md
    §2.1). Inputs ``[amp (B,N,N,F), phi (B,N,N,F), coords_relative (B,1,2,C)]``; outputs
    ``[trimmed_obj (B,N,N,1) complex64, pred_amp (B,N,N,C) float32]`` where ``pred_amp`` is the normalised
    (unscaled) far-field amplitude |F(P * O_c)| (ortho FFT), or ``sqrt(sum_k |F(P_k * O_c)|^2)`` with K modes.
    ``probe_modes`` sets K when no probe is given (a placeholder the saved weights replace).
    """

    def __init__(self, n: int, gridsize: int, canvas: int, probe=None, object_big: bool = True,
                 probe_mask=None, smoothing_sigma: float = 0.0, trainable_probe: bool = False,
                 probe_modes: int = 1, **kw):
        kw.setdefault("autocast", False)
        super().__init__(**kw)
        self.n, self.gridsize, self.canvas = int(n), int(gridsize), int(canvas)
        self.object_big = bool(object_big)
        self.smoothing_sigma = float(smoothing_sigma)
        self.trainable_probe = bool(trainable_probe)
        self._mask = None if probe_mask is None else np.asarray(probe_mask, dtype=np.float32)
        if probe is None:
            self.probe_modes = int(probe_modes)
            if not 1 <= self.probe_modes <= MAX_PROBE_MODES:
                raise ValueError(f"PhysicsForward: probe_modes: expected 1 to {MAX_PROBE_MODES}, found {probe_modes}")
            init = np.zeros(probe_weight_shape(self.n, self.probe_modes), np.float32)
            init[..., 0] = 1.0
        else:
            p = probe_stack(probe, self.n, "PhysicsForward")
            self.probe_modes = 1 if p.ndim == 2 else int(p.shape[0])
            init = np.stack([p.real, p.imag], axis=-1).astype(np.float32)
        self.probe = self.add_weight(name="probe", shape=init.shape,
                                     initializer=keras.initializers.Constant(init),
                                     trainable=self.trainable_probe, dtype="float32")

    def complex_probe(self):
        """The probe as an (N, N) complex64 tensor, or (K, N, N) incoherent modes."""
        return tf.complex(self.probe[..., 0], self.probe[..., 1])

    def call(self, inputs):
        amp, phi, coords = inputs
        obj = ops.combine_complex(tf.cast(amp, tf.float32), tf.cast(phi, tf.float32))
        trimmed, pred_amp, _ = ops.forward_from_patches(
            obj, self.complex_probe(), tf.cast(coords, tf.float32), 1.0, object_big=self.object_big,
            probe_mask=self._mask, m=self.canvas, smoothing_sigma=self.smoothing_sigma)
        return [trimmed, pred_amp]

    def compute_output_spec(self, inputs):
        amp = inputs[0]
        b = amp.shape[0]
        c = self.gridsize**2
        return [keras.KerasTensor((b, self.n, self.n, 1), dtype="complex64"),
                keras.KerasTensor((b, self.n, self.n, c), dtype="float32")]

    def get_config(self):
        return {**super().get_config(), "n": self.n, "gridsize": self.gridsize, "canvas": self.canvas,
                "object_big": self.object_big, "smoothing_sigma": self.smoothing_sigma,
                "trainable_probe": self.trainable_probe, "probe_modes": self.probe_modes}
