"""Flag definitions shared by ``ptycho train``/``infer`` and the TensorFlow entry (specs/cli.md §4).

Usage shows the kebab-case spellings (``--train-data-file``); the backend command lines' snake_case names
(``python -m ptycho_torch.train`` / ``ptycho_torch.inference``, Lightning's ``--max_epochs``: the seed guide's
spellings) are accepted too (:mod:`ptycho_bridge.flag_style`).
Every default is ``None`` so an unset flag keeps the canonical config default (specs/config.md).
"""

from __future__ import annotations

import argparse

from ptycho_bridge.argtypes import max_time_value, nonnegative_int, positive_float, positive_int
from ptycho_bridge.option_flags import add_option_flags, add_schedule_flags

__all__ = ["add_train_flags", "add_infer_flags"]


def _both(name: str) -> list[str]:
    dashed = name.replace("_", "-")
    return [f"--{name}"] + ([f"--{dashed}"] if dashed != name else [])


def add_train_flags(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    """Training flags understood by both backends."""
    p.add_argument(*_both("train_data_file"), dest="train_data_file", required=required, metavar="NPZ",
                   help="training scan (.npz, specs/data-contract.md)")
    p.add_argument(*_both("test_data_file"), dest="test_data_file", metavar="NPZ",
                   help="validation scan; also reconstructed after training by the TensorFlow entry")
    p.add_argument(*_both("output_dir"), dest="output_dir", required=required, metavar="DIR",
                   help="run folder: wts.h5.zip, history, figures")
    p.add_argument("--max-epochs", "--max_epochs", "--epochs", "--nepochs", dest="max_epochs", type=positive_int,
                   metavar="N", help="training epochs (Lightning's name; TrainingConfig.nepochs)")
    p.add_argument("--max_time", "--max-time", dest="max_time", type=max_time_value, metavar="DD:HH:MM:SS",
                   help="wall-clock training budget, e.g. 00:00:14:00; training stops at the budget or the last "
                        "epoch, whichever comes first (TrainingConfig.max_time)")
    p.add_argument("--n-groups", "--n_groups", "--n-images", "--n_images", dest="n_groups", type=positive_int,
                   metavar="N", help="groups to train on (TrainingConfig.n_groups; default: the whole scan, one group "
                        "per position)")
    p.add_argument("--gridsize", type=positive_int, metavar="G", help="group side; C = G*G patterns per group")
    p.add_argument(*_both("batch_size"), dest="batch_size", type=positive_int, metavar="B")
    p.add_argument("--nphotons", type=positive_float, metavar="PHOTONS", help="mean photons per pattern")
    p.add_argument(*_both("neighbor_count"), dest="neighbor_count", type=positive_int, metavar="K")
    p.add_argument("--learning-rate", "--learning_rate", dest="learning_rate", type=positive_float, metavar="LR")
    p.add_argument("--n_filters_scale", "--n-filters-scale", dest="n_filters_scale", type=positive_int, metavar="S")
    p.add_argument("--seed", "--subsample_seed", "--subsample-seed", dest="seed", type=nonnegative_int, metavar="SEED",
                   help="seed for sampling and weight initialisation (TrainingConfig.subsample_seed)")
    p.add_argument("--strategy", choices=("auto", "ddp", "ddp_spawn"),
                   help="PyTorch only: auto (one process), ddp (one process per device; under torchrun/SLURM too) or "
                        "ddp_spawn (workers spawned from this process); "
                        "--batch-size stays the global batch (specs/scaling.md §1)")
    p.add_argument("--devices", type=positive_int, metavar="K", help="PyTorch only: devices (processes) per machine")
    p.add_argument("--num-nodes", "--num_nodes", dest="num_nodes", type=positive_int, metavar="M",
                   help="PyTorch only: machines taking part in a ddp run")
    p.add_argument("--teacher", choices=("none", "refine"), default=None,
                   help="PyTorch only: 'refine' (the default with the cnn generator) = refine the training scan's object "
                        "(its time counts in --max-time), train the generator on its patches, then on the Poisson "
                        "likelihood; 'none' = the Poisson likelihood alone (specs/cli.md §4.1-4.2)")
    p.add_argument("--teacher-iterations", "--teacher_iterations", dest="teacher_iterations", type=positive_int,
                   metavar="K", help="PyTorch only: refinement passes of the teacher (default 20)")
    p.add_argument("--teacher-supervised-share", "--teacher_supervised_share", dest="teacher_supervised_share",
                   type=float, metavar="F", help="PyTorch only: share of the training budget in the supervised stage")
    p.add_argument("--teacher-keep-weight", "--teacher_keep_weight", dest="teacher_keep_weight", type=float,
                   metavar="W", help="PyTorch only: weight of the supervised loss kept in the Poisson stage")
    opts = p.add_argument_group("generator and optimiser (specs/config.md §2-§3; PyTorch only unless the default)")
    add_option_flags(opts, scheduler=True)
    add_schedule_flags(opts)
    p.add_argument("--resume", action="store_true", default=None,
                   help="continue an interrupted run from <output_dir>/checkpoints/last.ckpt (specs/reliability.md §1)")


def add_infer_flags(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    """Inference flags understood by both backends."""
    p.add_argument(*_both("model_path"), dest="model_path", required=required, metavar="DIR",
                   help="training run folder holding wts.h5.zip")
    p.add_argument(*_both("test_data"), "--test_data_file", "--test-data-file", dest="test_data", required=required,
                   metavar="NPZ", help="scan to reconstruct (.npz)")
    p.add_argument(*_both("output_dir"), dest="output_dir", required=required, metavar="DIR",
                   help="folder for reconstructed_object.npz and PNGs")
    p.add_argument("--n-groups", "--n_groups", "--n-images", "--n_images", dest="n_groups", type=positive_int,
                   metavar="N", help="number of groups to reconstruct (default: every position)")
    p.add_argument("--inference-batch-size", "--inference_batch_size", dest="inference_batch_size",
                   type=positive_int, metavar="B")
