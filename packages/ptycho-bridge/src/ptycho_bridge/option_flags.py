"""Command-line flags of the optimiser, schedule, clipping and generator options (specs/torch-cli.md §2,
specs/cli.md §4), shared by ``python -m ptycho_torch.train`` and ``ptycho train`` so both spell them alike.

Every flag's destination is the canonical field name (``model.`` fields listed in :data:`MODEL_OPTION_FIELDS`)
or, for the schedule parameters, the ``PyTorchExecutionConfig`` field name (:data:`SCHEDULE_FLAGS`). Values are
checked by argparse (exit 2, one line) and again by the configs. Imports no framework.
"""

from __future__ import annotations

import argparse

from ptycho.config.config import SCHEDULERS
from ptycho.config.training_options import ARCHITECTURES, CLIP_ALGORITHMS, OPTIMIZERS
from ptycho_bridge.argtypes import nonnegative_float, nonnegative_int, positive_float, positive_int

__all__ = ["add_option_flags", "add_schedule_flags", "MODEL_OPTION_FIELDS", "TRAINING_OPTION_FIELDS",
           "SCHEDULE_FLAGS", "unit_interval"]

MODEL_OPTION_FIELDS = ("architecture", "fno_modes", "fno_width", "fno_blocks", "learned_input_channels",
                       "input_projections")
TRAINING_OPTION_FIELDS = ("optimizer", "momentum", "weight_decay", "adam_beta1", "adam_beta2", "gradient_clip_val",
                          "gradient_clip_algorithm")
#: execution-config fields set by :func:`add_schedule_flags` and their defaults
SCHEDULE_FLAGS = {"lr_warmup_epochs": 0, "lr_min_ratio": 0.1}


def unit_interval(text: str) -> float:
    """argparse type: a number >= 0 and < 1."""
    value = nonnegative_float(text)
    if value >= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0 and < 1, found {text!r}")
    return value


def _closed_unit(text: str) -> float:
    value = nonnegative_float(text)
    if value > 1.0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0 and <= 1, found {text!r}")
    return value


def _flag(name: str) -> list[str]:
    dashed = name.replace("_", "-")
    return [f"--{dashed}"] + ([f"--{name}"] if dashed != name else [])


def add_option_flags(p: argparse.ArgumentParser | argparse._ArgumentGroup, *, scheduler: bool = False) -> None:
    """Add the generator and optimiser flags (canonical ModelConfig / TrainingConfig fields) to ``p``;
    ``scheduler=True`` adds ``--scheduler`` too (the torch CLI defines its own)."""
    p.add_argument(*_flag("architecture"), dest="architecture", choices=ARCHITECTURES,
                   help="generator: cnn (U-Net, default), fno (Fourier neural operator), ffno (factorised FNO); "
                        "the Fourier ones train with the PyTorch backend only")
    p.add_argument(*_flag("fno_modes"), dest="fno_modes", type=positive_int, metavar="M",
                   help="Fourier modes kept per axis (<= N/2; default 12)")
    p.add_argument(*_flag("fno_width"), dest="fno_width", type=positive_int, metavar="W",
                   help="channels of the Fourier generator (default 32)")
    p.add_argument(*_flag("fno_blocks"), dest="fno_blocks", type=positive_int, metavar="B",
                   help="spectral blocks of the Fourier generator (default 4)")
    p.add_argument(*_flag("learned_input_channels"), dest="learned_input_channels", type=positive_int, metavar="K",
                   help="input channels per pattern; only 1 (the diffraction amplitude) is implemented")
    p.add_argument(*_flag("input_projections"), dest="input_projections", type=nonnegative_int, metavar="K",
                   help="the CNN corrects each pattern's estimate after K single-pattern modulus projections with "
                        "the probe (0 = it reads the amplitude; PyTorch only)")
    p.add_argument(*_flag("optimizer"), dest="optimizer", choices=OPTIMIZERS, help="adam (default), adamw, sgd")
    p.add_argument(*_flag("momentum"), dest="momentum", type=unit_interval, metavar="MU",
                   help="SGD momentum in [0, 1) (Nesterov when > 0; default 0.9)")
    p.add_argument(*_flag("weight_decay"), dest="weight_decay", type=nonnegative_float, metavar="WD",
                   help="weight decay >= 0 (L2 for adam/sgd, decoupled for adamw; default 0)")
    p.add_argument(*_flag("adam_beta1"), dest="adam_beta1", type=unit_interval, metavar="B1", help="default 0.9")
    p.add_argument(*_flag("adam_beta2"), dest="adam_beta2", type=unit_interval, metavar="B2", help="default 0.999")
    p.add_argument(*_flag("gradient_clip_val"), dest="gradient_clip_val", type=positive_float, metavar="V",
                   help="clip gradients at V (> 0; default: no clipping)")
    p.add_argument(*_flag("gradient_clip_algorithm"), dest="gradient_clip_algorithm", choices=CLIP_ALGORITHMS,
                   help="norm (global L2 norm <= V, default) or value (each element in [-V, V])")
    if scheduler:
        p.add_argument("--scheduler", choices=SCHEDULERS, help="learning-rate schedule (default Default = constant)")


def add_schedule_flags(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add the 'WarmupCosine' parameters (PyTorchExecutionConfig fields) to ``p``."""
    p.add_argument(*_flag("lr_warmup_epochs"), dest="lr_warmup_epochs", type=nonnegative_int, metavar="E",
                   help="WarmupCosine: epochs of linear warm-up from 0.1 x lr (default 0)")
    p.add_argument(*_flag("lr_min_ratio"), dest="lr_min_ratio", type=_closed_unit, metavar="R",
                   help="WarmupCosine: final learning rate as a fraction of lr, in [0, 1] (default 0.1)")
