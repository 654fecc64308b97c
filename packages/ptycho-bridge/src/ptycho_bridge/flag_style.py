"""One flag style in every usage line: kebab-case (``--train-data-file``), the seed guide's snake_case spellings
(``--train_data_file``) still accepted but not shown (specs/cli.md §1). Used by both command lines (``ptycho`` and
``python -m ptycho_torch.train`` / ``.inference``); framework-free.

:func:`kebab_case_usage` rewrites a finished parser: each option shows only its spellings without an underscore
(a kebab-case one is registered when the flag had none), while every original spelling stays registered for
parsing. Error messages name the shown spelling.
"""

from __future__ import annotations

import argparse

__all__ = ["kebab_case_usage", "hidden_spellings", "hide_spellings"]


def _snake(option: str) -> bool:
    return option.startswith("--") and "_" in option


def kebab_case_usage(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Show only kebab-case spellings in ``parser``'s usage and help, subcommands included; returns ``parser``.

    For each option: the spellings with an underscore are dropped from what argparse prints but stay in the
    parser's table of accepted strings; an option spelled only with underscores gets its kebab-case spelling
    added (accepted and shown first)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in {id(p): p for p in action.choices.values()}.values():
                kebab_case_usage(sub)
            continue
        strings = list(action.option_strings)
        if not any(_snake(s) for s in strings):
            continue
        shown: list[str] = []
        for s in strings:  # each spelling in place, an underscore one replaced by its kebab-case twin
            kebab = s.replace("_", "-") if _snake(s) else s
            owner = parser._option_string_actions.setdefault(kebab, action)
            if owner is action and kebab not in shown:
                shown.append(kebab)
        action.option_strings = shown or strings
    return parser


def hidden_spellings(parser: argparse.ArgumentParser) -> dict[str, str]:
    """{accepted but hidden spelling: the shown spelling of the same option} of ``parser`` (not subcommands)."""
    out = {}
    for string, action in parser._option_string_actions.items():
        if string not in action.option_strings and action.option_strings:
            out[string] = action.option_strings[0]
    return out


def hide_spellings(parser: argparse.ArgumentParser, *spellings: str) -> None:
    """Keep ``spellings`` accepted by ``parser`` but out of its usage and help (older names of an option that
    has a shown spelling left)."""
    for spelling in spellings:
        action = parser._option_string_actions[spelling]
        kept = [s for s in action.option_strings if s != spelling]
        if not kept:
            raise ValueError(f"hide_spellings: {spelling} is the only spelling of its option")
        action.option_strings = kept
