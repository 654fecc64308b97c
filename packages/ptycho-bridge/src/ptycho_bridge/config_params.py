"""PyTorch-native configuration dataclasses: ``DataConfig``, ``ModelConfig``, ``TrainingConfig``,
``InferenceConfig`` (specs/config-bridge.md).

These are the PyTorch-side spelling of the canonical configs in ``ptycho.config.config``: the names the
original PyTorch backend used (``grid_size``, ``K``, ``mode``, ``epochs``) grouped the way it grouped them.
Only fields that mean something in this implementation are kept; every one of them has a canonical
counterpart, recorded in the single mapping table of ``ptycho_bridge.field_map``. The v2 fields
that were dropped are listed there too (and in the generated spec).

These are **frozen and validated at construction**: a bad value raises
``ValueError("<Class>.<field>: expected <allowed>, got <value>")``. Derive variants with
``dataclasses.replace`` or :func:`update_config` (which rejects unknown keys with a ValueError).

Defaults equal the canonical defaults wherever the field means the same thing, with two deliberate
exceptions (specs/config-bridge.md §3): ``DataConfig.nphotons`` defaults to ``None`` ("not set"; the bridge
refuses to guess it) and ``backend`` defaults to ``'pytorch'`` (these configs describe a PyTorch run).

Importing this module imports neither torch nor tensorflow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ptycho.config.config import AMP_ACTIVATION_ALIASES, AMP_ACTIVATIONS, BACKENDS, LOSS_MODES
from ptycho.config.generator_fields import GeneratorFields, validate_generator_fields
from ptycho.config.teacher_options import validate_teacher
from ptycho.config.training_options import validate_optimisation
from ptycho.config.validation import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_max_time,
    fail,
    is_int,
    set_paths,
)

__all__ = [
    "DataConfig",
    "ModelConfig",
    "TrainingConfig",
    "InferenceConfig",
    "MODES",
    "AMP_ACTIVATION_SPELLINGS",
    "update_config",
]

#: Native ``ModelConfig.mode`` values (canonical ``model_type`` 'pinn' / 'supervised').
MODES = ("Unsupervised", "Supervised")
#: Every ``amp_activation`` spelling the native configs accept (canonical names plus aliases).
AMP_ACTIVATION_SPELLINGS = tuple(dict.fromkeys([*AMP_ACTIVATIONS, *AMP_ACTIVATION_ALIASES]))



def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


# ----------------------------------------------------------------------------------------------------
# DataConfig
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataConfig:
    """What the data loader needs: patch size, grouping, sampling, photon count (specs/config-bridge.md §2).

    Attributes:
        N: patch / diffraction side in pixels (int >= 1; the bridge requires 64, 128 or 256).
        grid_size: (h, w) patterns per group side; C = h*w. Non-square grids are representable here but
            rejected by the bridge (canonical ``gridsize`` is one int).
        K: nearest neighbours searched when grouping (canonical ``neighbor_count``).
        nphotons: mean photons per diffraction pattern (float > 0), or None = "not set": the bridge then
            raises unless ``overrides['nphotons']`` is given. There is no silent default.
        probe_scale: probe normalisation constant (> 0; specs/physics.md).
        n_subsample: scan positions kept (randomly) before grouping, or None for all. This is the canonical
            meaning (a count of positions, not a subsampling factor).
        subsample_seed: seed of that subsampling (int >= 0) or None.
        enable_oversampling: allow more groups than positions (gridsize > 1).
        neighbor_pool_size: neighbour pool for oversampling (int >= 1) or None.
        sequential_sampling: use the first n positions as group seeds instead of random ones.
        positions_provided: legacy flag, only mirrored into ``params.cfg``.
    """

    N: int = 64
    grid_size: tuple[int, int] = (1, 1)
    K: int = 4
    nphotons: float | None = None
    probe_scale: float = 4.0
    n_subsample: int | None = None
    subsample_seed: int | None = None
    enable_oversampling: bool = False
    neighbor_pool_size: int | None = None
    sequential_sampling: bool = False
    positions_provided: bool = True

    def __post_init__(self) -> None:
        o = "DataConfig"
        gs = self.grid_size
        if isinstance(gs, list):
            gs = tuple(gs)
        if not (isinstance(gs, tuple) and len(gs) == 2 and all(is_int(v) and v >= 1 for v in gs)):
            fail(o, "grid_size", self.grid_size, "a pair (h, w) of integers >= 1")
        _set(self, "grid_size", gs)
        check_int(o, "N", self.N, 1)
        check_int(o, "K", self.K, 1)
        check_float(o, "nphotons", self.nphotons, low=0.0, low_open=True, optional=True)
        check_float(o, "probe_scale", self.probe_scale, low=0.0, low_open=True)
        check_int(o, "n_subsample", self.n_subsample, 1, optional=True)
        check_int(o, "subsample_seed", self.subsample_seed, 0, optional=True)
        check_int(o, "neighbor_pool_size", self.neighbor_pool_size, 1, optional=True)
        for name in ("enable_oversampling", "sequential_sampling", "positions_provided"):
            check_bool(o, name, getattr(self, name))

    @property
    def C(self) -> int:
        """Channels per group, h*w of ``grid_size`` (derived, not stored, so it cannot go stale)."""
        return self.grid_size[0] * self.grid_size[1]


# ----------------------------------------------------------------------------------------------------
# ModelConfig
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelConfig(GeneratorFields):
    """Network and forward-model architecture, PyTorch spelling (specs/config-bridge.md §2).

    The generator fields, declared once for both config families, are
    :class:`ptycho.config.generator_fields.GeneratorFields`.

    Attributes:
        mode: 'Unsupervised' (physics loss; canonical model_type 'pinn') or 'Supervised'.
        amp_activation: any spelling in ``AMP_ACTIVATION_SPELLINGS`` ('silu'/'SiLU' are the PyTorch names of
            canonical 'swish'), stored as given.
    """

    mode: str = "Unsupervised"

    def __post_init__(self) -> None:
        o = "ModelConfig"
        check_choice(o, "mode", self.mode, MODES)
        validate_generator_fields(o, self)
        check_choice(o, "amp_activation", self.amp_activation, AMP_ACTIVATION_SPELLINGS)


# ----------------------------------------------------------------------------------------------------
# TrainingConfig
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingConfig:
    """What a PyTorch training run needs besides data and model (specs/config-bridge.md §2).

    The learning rate and scheduler are not here: they live in ``PyTorchExecutionConfig`` (one home per
    setting).

    Attributes:
        train_data_file, test_data_file: NPZ paths (str is converted to Path) or None.
        batch_size: at least 1.
        epochs: at least 1, or None with a max_time budget (canonical ``nepochs``).
        max_time: None or a wall-clock budget ``DD:HH:MM:SS`` (canonical ``max_time``).
        mae_weight, nll_weight: in [0, 1] (nll_weight is a float, so canonical weights such as
            0.5 are representable). realspace_mae_weight, realspace_weight: >= 0.
        n_groups: groups to train on (>= 1) or None (default) = the whole scan, one group per position.
        optimizer ('adam' | 'adamw' | 'sgd'), momentum (sgd, [0, 1)), weight_decay (>= 0), adam_beta1,
            adam_beta2 ([0, 1)): the optimiser (canonical fields of the same names, specs/config.md §3).
        gradient_clip_val (> 0 or None = no clipping), gradient_clip_algorithm ('norm' | 'value').
        probe_trainable, intensity_scale_trainable: optimise the probe / the intensity scale.
        torch_loss_mode: 'poisson' or 'mae'.
        output_dir: run folder (Path). debug: verbose logging.
        backend: 'pytorch' (default) or 'tensorflow'; carried so the canonical round trip is exact.
        teacher, teacher_iterations, teacher_supervised_share, teacher_keep_weight: the refinement-teacher
            recipe (canonical fields of the same names; specs/torch-training.md §8).
    """

    train_data_file: Path | None = None
    test_data_file: Path | None = None
    batch_size: int = 16
    epochs: int | None = 50
    max_time: str | None = None
    mae_weight: float = 0.0
    nll_weight: float = 1.0
    realspace_mae_weight: float = 0.0
    realspace_weight: float = 0.0
    n_groups: int | None = None
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    gradient_clip_val: float | None = None
    gradient_clip_algorithm: str = "norm"
    probe_trainable: bool = False
    intensity_scale_trainable: bool = False
    torch_loss_mode: str = "poisson"
    output_dir: Path = Path("training_outputs")
    debug: bool = False
    backend: str = "pytorch"
    teacher: str = "none"
    teacher_iterations: int = 20
    teacher_supervised_share: float = 1.0
    teacher_keep_weight: float = 0.0

    def __post_init__(self) -> None:
        o = "TrainingConfig"
        set_paths(self, o, (("train_data_file", True), ("test_data_file", True), ("output_dir", False)))
        check_int(o, "batch_size", self.batch_size, 1)
        check_int(o, "epochs", self.epochs, 1, optional=True)
        if check_max_time(o, "max_time", self.max_time) is None and self.epochs is None:
            fail(o, "epochs", None, "an integer >= 1, or None together with a max_time budget (train until it)")
        check_float(o, "mae_weight", self.mae_weight, low=0.0, high=1.0)
        check_float(o, "nll_weight", self.nll_weight, low=0.0, high=1.0)
        check_float(o, "realspace_mae_weight", self.realspace_mae_weight, low=0.0)
        check_float(o, "realspace_weight", self.realspace_weight, low=0.0)
        check_int(o, "n_groups", self.n_groups, 1, optional=True)
        validate_optimisation(o, self)
        for name in ("probe_trainable", "intensity_scale_trainable", "debug"):
            check_bool(o, name, getattr(self, name))
        check_choice(o, "torch_loss_mode", self.torch_loss_mode, LOSS_MODES)
        check_choice(o, "backend", self.backend, BACKENDS)
        validate_teacher(o, self)


# ----------------------------------------------------------------------------------------------------
# InferenceConfig
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InferenceConfig:
    """What reconstructing a scan with a trained PyTorch model needs (specs/config-bridge.md §2).

    The inference batch size is ``PyTorchExecutionConfig.inference_batch_size``.

    Attributes:
        model_path: folder holding ``wts.h5.zip``, or None = not set yet (the bridge then requires
            ``overrides['model_path']``).
        test_data_file: NPZ to reconstruct, or None = not set yet (same rule).
        n_groups: groups to reconstruct (>= 1) or None = every position.
        output_dir: where reconstructions go. debug: verbose logging.
        backend: 'pytorch' (default) or 'tensorflow'.
    """

    model_path: Path | None = None
    test_data_file: Path | None = None
    n_groups: int | None = None
    output_dir: Path = Path("inference_outputs")
    debug: bool = False
    backend: str = "pytorch"

    def __post_init__(self) -> None:
        o = "InferenceConfig"
        set_paths(self, o, (("model_path", True), ("test_data_file", True), ("output_dir", False)))
        check_int(o, "n_groups", self.n_groups, 1, optional=True)
        check_bool(o, "debug", self.debug)
        check_choice(o, "backend", self.backend, BACKENDS)


def update_config(cfg: Any, changes: Mapping[str, Any]) -> Any:
    """Return a copy of the frozen native config ``cfg`` with ``changes`` applied and validated.

    An unknown key raises ``ValueError`` naming it and listing the fields of the class.
    """
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        raise ValueError(f"update_config: expected a config instance, got {type(cfg).__name__}")
    if not isinstance(changes, Mapping):
        raise ValueError(f"update_config: expected a mapping of changes, got {type(changes).__name__}")
    known = [f.name for f in dataclasses.fields(cfg)]
    unknown = sorted(set(changes) - set(known))
    if unknown:
        raise ValueError(
            f"{type(cfg).__name__}: unknown field(s) {', '.join(map(str, unknown))}; known: {', '.join(known)}"
        )
    return dataclasses.replace(cfg, **dict(changes))
