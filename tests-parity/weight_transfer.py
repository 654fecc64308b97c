"""Weight transfer between the PyTorch and the TensorFlow/Keras PtychoPINN models (specs/parity.md §2).

A helper of the parity suite (specs/architecture.md §2): the parity tests, ``scripts/make_golden.py`` and
``benchmarks/fidelity.py`` import it with ``tests-parity/`` on ``sys.path``; no package imports it.

Imports neither torch nor keras at module level; each function imports the framework it touches.

Naming (specs/network.md): the torch parameter path of a convolution, e.g.
``decoder_amp.blocks.0.conv1``, is the Keras layer name with every '.' replaced by '_'
(``decoder_amp_blocks_0_conv1``). The reverse map is NOT a plain '_' -> '.' replacement (the top-level
module names ``decoder_amp`` / ``decoder_phase`` contain '_'): :func:`torch_module_path` splits off
the top-level name first.

Tensors:
  * conv kernel: torch ``(out, in, kh, kw)`` <-> Keras ``(kh, kw, in, out)``; bias ``(out,)`` both sides;
  * intensity scale: torch ``forward_model.log_scale`` (0-d) <-> the Keras layer owning a ``log_scale``
    variable (0-d);
  * probe: torch ``forward_model.probe`` (N, N) complex <-> the Keras layer owning a ``probe`` variable
    (N, N, 2) float = [real, imag] (the ``torch.view_as_real`` layout); K incoherent modes: (K, N, N) <->
    (K, N, N, 2).

The interchange format is a plain dict of numpy arrays keyed by torch state-dict names
(:func:`keras_to_torch_state`), so a transfer can also go through an ``.npz`` file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

__all__ = [
    "to_numpy",
    "TOP_LEVEL_MODULES",
    "LOG_SCALE_KEY",
    "PROBE_KEY",
    "keras_layer_name",
    "torch_module_path",
    "keras_to_torch_state",
    "torch_state_to_numpy",
    "load_state_into_keras",
    "load_state_into_torch",
    "tf_to_torch",
    "torch_to_tf",
]

#: Top-level generator modules of the torch networks (specs/network.md).
TOP_LEVEL_MODULES = ("encoder", "decoder_amp", "decoder_phase")
LOG_SCALE_KEY = "forward_model.log_scale"
PROBE_KEY = "forward_model.probe"
_TOP = re.compile(r"^(encoder|decoder_amp|decoder_phase)_(.+)$")


def keras_layer_name(torch_path: str) -> str:
    """Keras layer name of a torch conv module path: '.' -> '_' (``encoder.blocks.0.conv1`` -> ``encoder_blocks_0_conv1``)."""
    return str(torch_path).replace(".", "_")


def torch_module_path(layer_name: str) -> str:
    """Torch module path of a Keras conv layer name (inverse of :func:`keras_layer_name`).

    Raises ValueError when the name does not start with one of :data:`TOP_LEVEL_MODULES` + '_'.
    """
    m = _TOP.match(str(layer_name))
    if m is None:
        raise ValueError(f"torch_module_path: expected a Keras layer name starting with one of "
                         f"{[t + '_' for t in TOP_LEVEL_MODULES]}, found {layer_name!r}")
    return f"{m.group(1)}.{m.group(2).replace('_', '.')}"


def _keras_layers(model: Any) -> Iterator[Any]:
    """Every layer of a Keras model, depth first (nested models included), each once."""
    seen: set[int] = set()
    stack = list(reversed(getattr(model, "layers", [])))
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        yield layer
        stack.extend(reversed(getattr(layer, "layers", []) or []))


def _keras_parts(model: Any) -> tuple[dict[str, Any], Any, Any]:
    """(conv layers by torch path, variable log_scale or None, variable probe or None)."""
    import keras

    if not isinstance(model, keras.Model):
        raise ValueError(f"expected a keras.Model, found {type(model).__name__}")
    convs: dict[str, Any] = {}
    log_scale = probe = None
    for layer in _keras_layers(model):
        if isinstance(layer, keras.layers.Conv2D):
            convs[torch_module_path(layer.name)] = layer
        var = getattr(layer, "log_scale", None)
        if var is not None and hasattr(var, "assign"):
            log_scale = var
        var = getattr(layer, "probe", None)
        if var is not None and hasattr(var, "assign"):
            probe = var
    return convs, log_scale, probe


def keras_to_torch_state(model: Any) -> dict[str, np.ndarray]:
    """A Keras PtychoPINN model's weights as a torch-named state dict of numpy arrays.

    Returns conv ``<path>.weight`` (out, in, 3, 3) float32 and ``<path>.bias`` (out,) float32, plus
    ``forward_model.log_scale`` (0-d float32) and ``forward_model.probe`` (N, N) complex64 ((K, N, N) for K
    incoherent modes) when the model has them (the autoencoder / diffraction_to_obj models do).
    """
    convs, log_scale, probe = _keras_parts(model)
    out: dict[str, np.ndarray] = {}
    for path, layer in convs.items():
        out[path + ".weight"] = np.ascontiguousarray(np.transpose(np.asarray(layer.kernel.numpy()), (3, 2, 0, 1)))
        out[path + ".bias"] = np.asarray(layer.bias.numpy()).copy()
    if log_scale is not None:
        out[LOG_SCALE_KEY] = np.asarray(log_scale.numpy(), dtype=np.float32).reshape(())
    if probe is not None:
        p = np.asarray(probe.numpy())
        out[PROBE_KEY] = (p[..., 0] + 1j * p[..., 1]).astype(np.complex64)
    return out


def torch_state_to_numpy(module: Any) -> dict[str, np.ndarray]:
    """``module.state_dict()`` as numpy arrays (complex kept complex), detached and on the CPU."""
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def _physics_keys(state: Mapping[str, Any]) -> set[str]:
    return {k for k in (LOG_SCALE_KEY, PROBE_KEY) if k in state}


def load_state_into_keras(model: Any, state: Mapping[str, Any], include_physics: bool = True) -> list[str]:
    """Assign a torch-named state dict (numpy arrays or tensors) to a Keras PtychoPINN model, in place.

    Every conv layer of the model must find its ``.weight``/``.bias`` with the right shape, and every
    conv key of ``state`` must find a layer (no silent partial transfer). With ``include_physics`` the
    ``forward_model.log_scale`` / ``forward_model.probe`` entries are assigned when both ``state`` and the
    model have them. Returns the keys assigned. Raises ValueError naming the first offending key.
    """
    convs, log_scale, probe = _keras_parts(model)
    arrays = {k: to_numpy(v) for k, v in state.items()}
    conv_keys = {k for k in arrays if k.endswith((".weight", ".bias")) and k.split(".")[0] in TOP_LEVEL_MODULES}
    wanted = {p + s for p in convs for s in (".weight", ".bias")}
    missing = sorted(wanted - conv_keys)
    if missing:
        raise ValueError(f"load_state_into_keras: state: missing key {missing[0]!r} "
                         f"({len(missing)} missing of {len(wanted)})")
    extra = sorted(conv_keys - wanted)
    if extra:
        raise ValueError(f"load_state_into_keras: state: key {extra[0]!r} has no Keras layer "
                         f"{keras_layer_name(extra[0].rsplit('.', 1)[0])!r} ({len(extra)} unmatched)")
    done: list[str] = []
    for path, layer in convs.items():
        w = np.transpose(arrays[path + ".weight"], (2, 3, 1, 0))
        b = arrays[path + ".bias"]
        for key, var, val in ((path + ".weight", layer.kernel, w), (path + ".bias", layer.bias, b)):
            if tuple(val.shape) != tuple(var.shape):
                raise ValueError(f"load_state_into_keras: {key}: expected shape {tuple(var.shape)} (Keras layout), "
                                 f"found {tuple(val.shape)}")
            var.assign(val.astype(np.float32))
            done.append(key)
    if include_physics:
        if log_scale is not None and LOG_SCALE_KEY in arrays:
            log_scale.assign(np.float32(np.asarray(arrays[LOG_SCALE_KEY]).reshape(())))
            done.append(LOG_SCALE_KEY)
        if probe is not None and PROBE_KEY in arrays:
            p = np.asarray(arrays[PROBE_KEY])
            p = np.stack([p.real, p.imag], -1) if np.iscomplexobj(p) or p.ndim == 2 else p
            if tuple(p.shape) != tuple(probe.shape):
                raise ValueError(f"load_state_into_keras: {PROBE_KEY}: expected shape {tuple(probe.shape)[:-1]} "
                                 f"complex, found {tuple(np.asarray(arrays[PROBE_KEY]).shape)}")
            probe.assign(p.astype(np.float32))
            done.append(PROBE_KEY)
    return done


def load_state_into_torch(module: Any, state: Mapping[str, Any], include_physics: bool = True) -> list[str]:
    """Copy a torch-named state dict of numpy arrays into a torch module, in place (no grad).

    The module's conv parameters (under :data:`TOP_LEVEL_MODULES`) and the conv keys of ``state`` must
    match one to one with equal shapes; values are cast to the module's dtype and device. Physics keys are
    copied when ``include_physics`` and both sides have them. Returns the keys copied. Raises ValueError
    naming the first offending key.
    """
    import torch

    target = module.state_dict()
    arrays = {k: to_numpy(v) for k, v in state.items()}

    def conv_keys(keys) -> set[str]:
        return {k for k in keys if k.split(".")[0] in TOP_LEVEL_MODULES and k.endswith((".weight", ".bias"))}

    have, given = conv_keys(target), conv_keys(arrays)
    missing = sorted(have - given)
    if missing:
        raise ValueError(f"load_state_into_torch: state: missing key {missing[0]!r} ({len(missing)} missing of {len(have)})")
    extra = sorted(given - have)
    if extra:
        raise ValueError(f"load_state_into_torch: state: key {extra[0]!r} is not a parameter of the "
                         f"{type(module).__name__} ({len(extra)} unmatched)")
    keys = [k for k in target if k in have]  # module order: the first mismatch reported is the earliest layer
    if include_physics:
        keys += sorted(_physics_keys(arrays) & set(target))
    with torch.no_grad():
        for key in keys:
            dst = target[key]
            src = np.asarray(arrays[key])
            if key == PROBE_KEY and not np.iscomplexobj(src) and src.ndim == 3:
                src = src[..., 0] + 1j * src[..., 1]
            if tuple(src.shape) != tuple(dst.shape):
                raise ValueError(f"load_state_into_torch: {key}: expected shape {tuple(dst.shape)}, found {tuple(src.shape)}")
            dst.copy_(torch.as_tensor(np.array(src, order="C")).to(device=dst.device, dtype=dst.dtype))
    return keys


def tf_to_torch(keras_model: Any, torch_module: Any, include_physics: bool = True) -> list[str]:
    """Copy every weight of a Keras PtychoPINN model into the equivalent torch module (in place)."""
    return load_state_into_torch(torch_module, keras_to_torch_state(keras_model), include_physics)


def torch_to_tf(torch_module: Any, keras_model: Any, include_physics: bool = True) -> list[str]:
    """Copy every weight of a torch PtychoPINN module into the equivalent Keras model (in place)."""
    return load_state_into_keras(keras_model, torch_state_to_numpy(torch_module), include_physics)


def to_numpy(value: Any) -> np.ndarray:
    """A TF/Torch tensor or array-like as a numpy array (CPU)."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        return np.asarray(value.numpy())
    return np.asarray(value)
