"""mkdocs hook: generate the pages that must never drift from the code, before every build.

- ``docs/specs/<name>.md`` for every ``specs/<name>.md``: a one-line snippet include, so the site shows the
  single source (no copy). A spec missing from the explicit nav fails the strict build (nav.omitted_files).
- ``docs/reference/cli.md`` from the argparse parsers of ``ptycho``, ``ptycho_torch.train`` and
  ``ptycho_torch.inference``.
- ``docs/generated/coordinates.png`` drawn by ``ptycho_cli.concept_figures`` from the project's physics code.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

PARSERS = [
    ("ptycho", "ptycho_cli.main", "The `ptycho` command (package ptycho-cli)."),
    ("python -m ptycho_torch.train", "ptycho_torch.train", "PyTorch training command line."),
    ("python -m ptycho_torch.inference", "ptycho_torch.inference", "PyTorch inference command line."),
]


def _write_if_changed(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _parser_table(parser: argparse.ArgumentParser) -> list[str]:
    rows = ["| flag | default | description |", "|---|---|---|"]
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        if action.help == argparse.SUPPRESS:
            continue
        flags = ", ".join(f"`{s}`" for s in action.option_strings) or f"`{action.dest}` (positional)"
        if action.choices:
            flags += " {" + ", ".join(str(c) for c in action.choices) + "}"
        default = action.default
        default_text = "" if default in (None, argparse.SUPPRESS) else f"`{default}`"
        rows.append(f"| {flags} | {_cell(default_text)} | {_cell(action.help or '')} |")
    return rows


def _parser_markdown(title: str, parser: argparse.ArgumentParser, level: int = 2) -> list[str]:
    out = [f"{'#' * level} {title}", ""]
    if parser.description:
        out += [parser.description.strip(), ""]
    out += ["```text", parser.format_usage().strip(), "```", ""]
    rows = _parser_table(parser)
    if len(rows) > 2:
        out += rows + [""]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += _parser_markdown(f"{title} {name}", sub, level + 1)
    return out


def generate_cli_reference() -> str:
    lines = [
        "# CLI reference",
        "",
        "Generated from the argparse parsers at build time (`scripts/docs_hooks.py`); every flag listed here is",
        "wired to behaviour (specs/torch-cli.md, specs/cli.md).",
        "",
    ]
    for title, module, blurb in PARSERS:
        parser = importlib.import_module(module).build_parser()
        parser.prog = title
        lines += [blurb, ""] + _parser_markdown(title, parser)
    return "\n".join(lines) + "\n"


def generate_spec_wrappers() -> None:
    out_dir = DOCS / "specs"
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for spec in sorted((ROOT / "specs").glob("*.md")):
        wanted.add(spec.name)
        _write_if_changed(out_dir / spec.name, f'--8<-- "specs/{spec.name}"\n')
    for stale in out_dir.glob("*.md"):
        if stale.name not in wanted:
            stale.unlink()


def on_pre_build(config, **kwargs) -> None:  # mkdocs hook signature
    generate_spec_wrappers()
    _write_if_changed(DOCS / "reference" / "cli.md", generate_cli_reference())
    figure = DOCS / "generated" / "coordinates.png"
    if not figure.exists():
        from ptycho_cli.concept_figures import coordinate_convention_figure

        coordinate_convention_figure(figure)
