"""The flags of ``ptycho train`` / ``ptycho infer`` (specs/cli.md §4): the options of the option table
(:data:`ptycho_bridge.options.OPTIONS`) that name these commands.

Usage shows the kebab-case spellings (``--train-data-file``); the snake_case ones of the seed guide's command lines
(``python -m ptycho_torch.train`` / ``ptycho_torch.inference``, Lightning's ``--max_epochs``) are accepted too
(:mod:`ptycho_bridge.flag_style`). Every default is ``None`` so an unset flag keeps the canonical config default
(specs/config.md) or the recipe's (:mod:`ptycho_cli.recipe`).
"""

from __future__ import annotations

import argparse

from ptycho_bridge.options import add_options

__all__ = ["add_train_flags", "add_infer_flags"]


def add_train_flags(p: argparse.ArgumentParser) -> None:
    """Training flags (the generator and optimiser ones in their own help section)."""
    add_options(p, "train", ("data", "teacher", "execution"))
    opts = p.add_argument_group("generator and optimiser (specs/config.md §2-§3; PyTorch only unless the default)")
    add_options(opts, "train", ("generator",))


def add_infer_flags(p: argparse.ArgumentParser) -> None:
    """Inference flags."""
    add_options(p, "infer")
