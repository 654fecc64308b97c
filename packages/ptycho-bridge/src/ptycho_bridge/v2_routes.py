"""Where each v2 field goes (specs/ptychodus-torch.md §2): the map :mod:`ptycho_bridge.v2_convert` converts with,
generated from the v2 fields' fates (:mod:`ptycho_bridge.v2_config`) and the mapping table
(:data:`ptycho_bridge.field_map.FIELD_MAP`), and its check :func:`v2_problems` (pinned by a test).

A v2 field whose fate is ``honoured: canonical X`` lands in the native field that ``FIELD_MAP``'s row for canonical
``X`` maps from; ``honoured: execution X`` lands in ``PyTorchExecutionConfig.X``. When the v2 field has that
native field's name (in its own class, or the execution config) the value is copied: nothing is written down for
it. Only a field with another name or a transform has an entry in :data:`_TRANSFORMS` (and the few that need two
configs at once are marked ``None`` there and converted in :mod:`ptycho_bridge.v2_convert`). The way back
(:data:`INVERSES`, native -> v2, for configs derived from a checkpoint's canonical configs) is generated the same
way: a copy reads its native field; only a transform has an entry in ``_INVERSE``. Adding a v2 field that a
canonical field already maps: its fate text, and nothing else. Imports no framework.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from ptycho_bridge import v2_config as v2
from ptycho_bridge.execution import PyTorchExecutionConfig
from ptycho_bridge.field_map import DROPPED_FIELDS, FIELD_MAP, NATIVE_CLASSES

__all__ = ["Route", "Inverse", "ROUTES", "INVERSES", "REFUSED", "SCHEDULERS", "V2_ONLY", "fate_target", "copied",
           "v2_problems"]

#: the v2 classes converted to native configs (DatagenConfig is all inert)
CONVERTED = ("DataConfig", "ModelConfig", "TrainingConfig", "InferenceConfig")
#: v2 scheduler name -> execution scheduler ('ReduceLROnPlateau' and 'Cosine' are ptychodus's names)
SCHEDULERS = {"Default": "Default", "Exponential": "Exponential", "MultiStage": "MultiStage",
              "Adaptive": "Adaptive", "ReduceLROnPlateau": "Adaptive", "WarmupCosine": "WarmupCosine",
              "Cosine": "WarmupCosine"}
_V2_MIN_RATIO_DEFAULT = 0.1
#: field -> the only value implemented (a non-default value is refused at conversion); ``n_devices`` is refused by
#: a rule of its own (1 or 'auto')
REFUSED: dict[str, dict[str, Any]] = {
    "ModelConfig": {"cnn_output_mode": "amp_phase", "physics_forward_mode": "amplitude",
                    "amplitude_physics_gain": 1.0, "amp_loss": None, "phase_loss": None,
                    "probe_reference_coeff": 0.0, "amplitude_variance_loss": False},
    "TrainingConfig": {"epochs_fine_tune": 0, "accum_steps": 1, "torch_mae_pred_l2_match_target": False,
                       "enable_staged_finetuning": False},
}
_REFUSED_BY_RULE = {("TrainingConfig", "n_devices")}
#: honoured fields that no canonical or execution field takes: the v2 facade itself acts on them
V2_ONLY = {("DataConfig", "scale_contract_version"), ("DataConfig", "measurement_domain"), ("DataConfig", "C"),
           ("InferenceConfig", "middle_trim")}


def _probe_mask(model: Any) -> bool:
    if model.probe_mask_tensor is not None or hasattr(model.probe_mask, "shape"):
        return True
    return bool(model.probe_mask)  # None -> False


def _lr_min_ratio(training: Any) -> float:
    return training.lr_min_ratio if training.lr_min_ratio != _V2_MIN_RATIO_DEFAULT else training.min_lr_ratio


#: (v2 class, field) -> native "Class.field" and the value from the v2 config, for the fields that are not a
#: copy under the same name; ``None``: converted by :mod:`ptycho_bridge.v2_convert` from two configs
_TRANSFORMS: dict[tuple[str, str], tuple[str, Callable[[Any], Any] | None]] = {
    ("DataConfig", "grid_size"): ("DataConfig.grid_size", lambda d: tuple(d.grid_size)),
    ("ModelConfig", "probe_mask"): ("ModelConfig.probe_mask", _probe_mask),
    ("ModelConfig", "probe_mask_tensor"): ("ModelConfig.probe_mask", _probe_mask),
    ("ModelConfig", "intensity_scale_trainable"): ("TrainingConfig.intensity_scale_trainable", None),
    ("ModelConfig", "loss_function"): ("TrainingConfig.torch_loss_mode", None),
    ("TrainingConfig", "torch_loss_mode"): ("TrainingConfig.torch_loss_mode", None),
    ("TrainingConfig", "nll"): ("TrainingConfig.nll_weight", lambda t: 1.0 if t.nll else 0.0),
    ("TrainingConfig", "gradient_clip_val"): ("TrainingConfig.gradient_clip_val",
                                              lambda t: t.gradient_clip_val or None),  # v2: 0 or None = no clipping
    ("TrainingConfig", "gradient_clip_algorithm"): (
        "TrainingConfig.gradient_clip_algorithm",
        lambda t: "norm" if t.gradient_clip_algorithm == "agc" else t.gradient_clip_algorithm),
    ("TrainingConfig", "device"): ("PyTorchExecutionConfig.accelerator", None),
    ("TrainingConfig", "scheduler"): ("PyTorchExecutionConfig.scheduler", lambda t: SCHEDULERS[t.scheduler]),
    ("TrainingConfig", "lr_warmup_epochs"): ("PyTorchExecutionConfig.lr_warmup_epochs",
                                             lambda t: max(t.lr_warmup_epochs, t.warmup_epochs)),
    ("TrainingConfig", "warmup_epochs"): ("PyTorchExecutionConfig.lr_warmup_epochs",
                                          lambda t: max(t.lr_warmup_epochs, t.warmup_epochs)),
    ("TrainingConfig", "lr_min_ratio"): ("PyTorchExecutionConfig.lr_min_ratio", _lr_min_ratio),
    ("TrainingConfig", "min_lr_ratio"): ("PyTorchExecutionConfig.lr_min_ratio", _lr_min_ratio),
    ("InferenceConfig", "batch_size"): ("PyTorchExecutionConfig.inference_batch_size", lambda i: i.batch_size),
}

def _or_v2_default(value: Any, cls_name: str, name: str) -> Any:
    """``value``, or the v2 default where the native value is None (= not set)."""
    return next(f.default for f in fields(v2.V2_CLASSES[cls_name]) if f.name == name) if value is None else value


#: the way back, native -> v2, for each entry of :data:`_TRANSFORMS`: the v2 value from the native configs
#: ``{class name: config}``; ``None``: not restored, another v2 field of the same native field carries it back
#: (the native value is restored once, under the primary spelling). Copies need no entry.
_INVERSE: dict[tuple[str, str], Callable[[dict[str, Any]], Any] | None] = {
    ("DataConfig", "grid_size"): lambda n: tuple(n["DataConfig"].grid_size),
    ("ModelConfig", "probe_mask"): lambda n: bool(n["ModelConfig"].probe_mask),
    ("ModelConfig", "probe_mask_tensor"): None,
    ("ModelConfig", "intensity_scale_trainable"): lambda n: n["TrainingConfig"].intensity_scale_trainable,
    ("ModelConfig", "loss_function"): lambda n: "MAE" if n["TrainingConfig"].torch_loss_mode == "mae" else "Poisson",
    ("TrainingConfig", "torch_loss_mode"): lambda n: n["TrainingConfig"].torch_loss_mode,
    ("TrainingConfig", "nll"): lambda n: n["TrainingConfig"].nll_weight > 0,
    ("TrainingConfig", "gradient_clip_val"): lambda n: n["TrainingConfig"].gradient_clip_val,
    ("TrainingConfig", "gradient_clip_algorithm"): lambda n: n["TrainingConfig"].gradient_clip_algorithm,
    ("TrainingConfig", "device"): lambda n: n["PyTorchExecutionConfig"].accelerator,
    ("TrainingConfig", "scheduler"): lambda n: n["PyTorchExecutionConfig"].scheduler,
    ("TrainingConfig", "lr_warmup_epochs"): lambda n: n["PyTorchExecutionConfig"].lr_warmup_epochs,
    ("TrainingConfig", "warmup_epochs"): None,
    ("TrainingConfig", "lr_min_ratio"): lambda n: n["PyTorchExecutionConfig"].lr_min_ratio,
    ("TrainingConfig", "min_lr_ratio"): None,
    ("InferenceConfig", "batch_size"): lambda n: _or_v2_default(n["PyTorchExecutionConfig"].inference_batch_size,
                                                               "InferenceConfig", "batch_size"),
}

_FATE = re.compile(r"^honoured: (canonical|execution) (?:(ModelConfig|TrainingConfig|InferenceConfig)\.)?(\w+)")


def fate_target(cls_name: str, name: str) -> tuple[str, str, str | None] | None:
    """``(home, field, class or None)`` the fate of v2 ``cls_name.name`` names ('canonical' / 'execution'), or
    None when it names neither."""
    m = _FATE.match(v2.field_fates(v2.V2_CLASSES[cls_name])[name])
    return None if m is None else (m.group(1), m.group(3), m.group(2))


def _native_source(canonical_field: str, canonical_class: str | None) -> str | None:
    """The native "Class.field" the mapping table fills canonical ``canonical_field`` from (the training classes
    first: the v2 Data/Model/Training configs feed training)."""
    for target in ((canonical_class,) if canonical_class else ("ModelConfig", "TrainingConfig", "InferenceConfig")):
        for row in FIELD_MAP:
            if row.target == target and row.field == canonical_field:
                return row.source
    return None


def _wanted(cls_name: str, name: str) -> str | None:
    """The native "Class.field" the fate of v2 ``cls_name.name`` asks for, or None."""
    target = fate_target(cls_name, name)
    if target is None:
        return None
    home, field, canonical_class = target
    if home == "execution":
        return f"PyTorchExecutionConfig.{field}" if field in {f.name for f in fields(PyTorchExecutionConfig)} else None
    return _native_source(field, canonical_class)


Route = tuple[str, Callable[[Any], Any] | None]
#: how a v2 field is read back from the native configs ``{class name: config}``
Inverse = Callable[[dict[str, Any]], Any]


def _routes() -> dict[tuple[str, str], Route]:
    out: dict[tuple[str, str], Route] = {}
    for cls_name in CONVERTED:
        for name in v2.field_fates(v2.V2_CLASSES[cls_name]):
            if (cls_name, name) in _TRANSFORMS:
                out[(cls_name, name)] = _TRANSFORMS[(cls_name, name)]
                continue
            wanted = _wanted(cls_name, name)
            if wanted is not None and wanted in (f"{cls_name}.{name}", f"PyTorchExecutionConfig.{name}"):
                out[(cls_name, name)] = (wanted, lambda cfg, name=name: getattr(cfg, name))
    return out


#: (v2 class, field) -> (native "Class.field", value of the v2 config or None = converted from two configs)
ROUTES: dict[tuple[str, str], Route] = _routes()


def _inverse(key: tuple[str, str]) -> Inverse | None:
    if key in _TRANSFORMS:
        return _INVERSE.get(key)
    native_class, native_field = ROUTES[key][0].split(".")
    return lambda natives: getattr(natives[native_class], native_field)


#: (v2 class, field) -> how its value is read back from the native configs, for every route but the alternative
#: spellings (``None`` in ``_INVERSE``); generated like :data:`ROUTES`
INVERSES: dict[tuple[str, str], Inverse] = {
    key: inverse for key in ROUTES if (inverse := _inverse(key)) is not None}


def copied(cfg: Any, native_class: str) -> dict[str, Any]:
    """{native field: value} of every :data:`ROUTES` entry from ``cfg``'s v2 class into ``native_class`` (one of
    :data:`ptycho_bridge.field_map.NATIVE_CLASSES`) that one config converts."""
    owner = type(cfg).__name__
    out: dict[str, Any] = {}
    for (cls_name, _), (target, value) in ROUTES.items():
        target_class, target_field = target.split(".")
        if cls_name == owner and target_class == native_class and value is not None:
            out[target_field] = value(cfg)
    return out


def _dropped(cls_name: str) -> set[str]:
    names: set[str] = set()
    for owner, listed, _ in DROPPED_FIELDS:
        if owner == cls_name:
            names.update(re.sub(r"\s*\(.*?\)", "", part).strip() for part in listed.split(","))
    return names


def _listed(name: str, dropped: set[str]) -> bool:
    return name in dropped or any(d.endswith("*") and name.startswith(d[:-1]) for d in dropped)


def v2_problems() -> list[str]:
    """Every v2 field the map misses or names wrongly (empty when consistent; pinned by a test): an honoured field
    whose fate names no canonical field with a ``FIELD_MAP`` row nor an execution field (unless the facade
    itself acts on it, :data:`V2_ONLY`), or which no route carries, or whose route fills another native field
    than the mapping table's; a transform or refusal for a field whose fate says otherwise; a refused or inert
    field that the spec's list of fields not carried (``DROPPED_FIELDS``) leaves out."""
    problems: list[str] = []
    for cls_name in CONVERTED:
        dropped = _dropped(cls_name)
        for name, fate in v2.field_fates(v2.V2_CLASSES[cls_name]).items():
            kind = fate.split(":", 1)[0]
            where = f"v2 {cls_name}.{name}"
            if kind not in ("honoured", "refused", "inert"):
                problems.append(f"{where}: fate {fate!r} is not honoured/refused/inert")
            elif kind == "honoured" and (cls_name, name) not in V2_ONLY:
                wanted = _wanted(cls_name, name)
                route = ROUTES.get((cls_name, name))
                if wanted is None:
                    problems.append(f"{where}: its fate names no canonical field with a FIELD_MAP row and no "
                                    f"execution field ({fate!r})")
                elif route is None:
                    problems.append(f"{where}: no route carries it to {wanted}")
                elif route[0] != wanted:
                    problems.append(f"{where}: carried to {route[0]}, but FIELD_MAP maps its field from {wanted}")
            elif kind != "honoured" and not _listed(name, dropped):
                problems.append(f"{where}: {kind}, but not listed in DROPPED_FIELDS (specs/config-bridge.md)")
            if kind == "refused" and name not in REFUSED.get(cls_name, {}) and (cls_name, name) not in _REFUSED_BY_RULE:
                problems.append(f"{where}: refused, but the conversion does not refuse it")
    for cls_name, name in [*_TRANSFORMS, *((c, n) for c, table in REFUSED.items() for n in table)]:
        fate = v2.field_fates(v2.V2_CLASSES[cls_name]).get(name, "")
        expected = "refused" if name in REFUSED.get(cls_name, {}) else "honoured"
        if not fate.startswith(expected):
            problems.append(f"v2 {cls_name}.{name}: treated as {expected}, but its fate is {fate or 'missing'!r}")
    problems += [f"v2 {c}.{n}: a transform without a way back (an _INVERSE entry, or None for an alternative "
                 f"spelling)" for c, n in _TRANSFORMS if (c, n) not in _INVERSE]
    for (cls_name, name), inverse in _INVERSE.items():
        target = _TRANSFORMS.get((cls_name, name), ("", None))[0]
        if inverse is None and not any(route[0] == target for k, route in ROUTES.items() if k in INVERSES):
            problems.append(f"v2 {cls_name}.{name}: not read back, and no other field reads {target or '?'} back")
    for (_, _), (target, _) in ROUTES.items():
        target_class, target_field = target.split(".")
        if target_field not in {f.name for f in fields(NATIVE_CLASSES[target_class])}:
            problems.append(f"{target}: route target does not exist")
    return problems
