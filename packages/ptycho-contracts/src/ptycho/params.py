"""Legacy global parameter dictionary ``ptycho.params.cfg`` — a compatibility mirror only.

External clients written against the legacy API (ptychodus above all) call
``update_legacy_dict(ptycho.params.cfg, config)`` and later read values such as ``intensity_scale`` with
``ptycho.params.get``. This module keeps that surface working. Nothing in this project reads its settings
from here: code takes config objects (``ptycho.config.config``). See specs/config.md §5.

The initial contents are derived from the canonical dataclass defaults, so there is exactly one set of
defaults; the handful of legacy-only keys (grid-simulation knobs and the bundle base name) are listed in
``LEGACY_ONLY_DEFAULTS``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from ptycho.config.config import ModelConfig, TrainingConfig, dataclass_to_legacy_dict

__all__ = [
    "cfg",
    "get",
    "set",
    "params",
    "reset",
    "get_bigN",
    "get_padded_size",
    "get_padding_size",
    "seal",
    "unseal",
    "validate",
    "print_params",
    "LEGACY_ONLY_DEFAULTS",
]

_log = logging.getLogger(__name__)

#: Legacy keys that have no canonical dataclass field (specs/config.md §5.2).
LEGACY_ONLY_DEFAULTS: dict[str, Any] = {
    "offset": 4,
    "max_position_jitter": 10,
    "default_probe_scale": 0.7,
    "tv_weight": 0.0,
    "data_source": "generic",
    "h5_path": "wts.h5",
    "label": "",
    "set_phi": False,
    "sim_jitter_scale": 0.0,
    "outer_offset_train": None,
    "outer_offset_test": None,
    "nimgs_train": 9,
    "nimgs_test": 3,
    "size": 392,
}

#: Keys written at run time by training/loading code (may be set even when sealed).
RUNTIME_KEYS = frozenset({"intensity_scale", "probe", "timestamp", "bigN"})

_MISSING = object()
_sealed = False


def _defaults() -> dict[str, Any]:
    out = dict(LEGACY_ONLY_DEFAULTS)
    out.update(dataclass_to_legacy_dict(TrainingConfig(model=ModelConfig())))
    return out


#: The mirror itself. Mutated in place by ``update_legacy_dict``.
cfg: dict[str, Any] = _defaults()


def reset() -> None:
    """Restore the defaults (in place, so references to ``cfg`` stay valid); mainly for tests."""
    global _sealed
    cfg.clear()
    cfg.update(_defaults())
    _sealed = False


def get(key: str, default: Any = _MISSING) -> Any:
    """Return ``cfg[key]``; ``'bigN'`` is computed. A missing key without default raises KeyError."""
    if key == "bigN":
        return get_bigN()
    if key in cfg:
        return cfg[key]
    if default is _MISSING:
        raise KeyError(f"ptycho.params: no value for key {key!r} (call update_legacy_dict first?)")
    return default


def set(key: str, value: Any) -> None:  # noqa: A001 - legacy name
    """Set one legacy key. After ``seal()`` writes to non-runtime keys log a warning (legacy behaviour)."""
    if _sealed and key not in RUNTIME_KEYS:
        _log.warning("ptycho.params: write to %r after seal()", key)
    cfg[key] = value


def params() -> dict[str, Any]:
    """A shallow copy of the mirror, with ``bigN`` filled in."""
    out = dict(cfg)
    out["bigN"] = get_bigN()
    return out


def get_bigN() -> int:
    """Solution-region side for a group: N + (gridsize − 1)·offset (legacy helper)."""
    return int(cfg["N"]) + (int(cfg["gridsize"]) - 1) * int(cfg["offset"])


def get_padding_size() -> int:
    """(gridsize − 1)·offset + max_position_jitter (legacy helper)."""
    return (int(cfg["gridsize"]) - 1) * int(cfg["offset"]) + int(cfg["max_position_jitter"])


def get_padded_size() -> int:
    """bigN + max_position_jitter (legacy helper)."""
    return get_bigN() + int(cfg["max_position_jitter"])


def seal() -> None:
    global _sealed
    _sealed = True


def unseal() -> None:
    global _sealed
    _sealed = False


def validate() -> None:
    """Check the mirror's core values; raise ValueError naming the key (specs/config.md §5)."""
    if cfg.get("N") not in (64, 128, 256):
        raise ValueError(f"ptycho.params: key 'N': expected one of 64, 128, 256, got {cfg.get('N')!r}")
    gs = cfg.get("gridsize")
    if not isinstance(gs, int) or gs < 1:
        raise ValueError(f"ptycho.params: key 'gridsize': expected an integer >= 1, got {gs!r}")
    nph = cfg.get("nphotons")
    if not isinstance(nph, (int, float)) or not math.isfinite(nph) or nph <= 0:
        raise ValueError(f"ptycho.params: key 'nphotons': expected a finite number > 0, got {nph!r}")
    if cfg.get("realspace_mae_weight", 0) > 0 and cfg.get("realspace_weight", 0) <= 0:
        raise ValueError("ptycho.params: key 'realspace_weight': expected > 0 when realspace_mae_weight > 0")


def print_params() -> None:
    """Print every key (arrays summarised by shape)."""
    for key in sorted(cfg):
        value = cfg[key]
        shape = getattr(value, "shape", None)
        print(f"{key}: {'array' + str(tuple(shape)) if shape is not None else repr(value)}")
