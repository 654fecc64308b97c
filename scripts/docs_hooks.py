"""mkdocs hook: generate the pages that must never drift from the code, before every build.

- ``docs/specs/<name>.md`` for every ``specs/<name>.md``: a generated (git-ignored) copy of the single source, so
  the page goes through :func:`on_page_markdown` like every other page. A spec missing from the explicit nav
  fails the strict build (nav.omitted_files).
- ``docs/examples/*.md`` and their figures: the examples gallery, run at build time (``scripts/docs_gallery.py``).
- ``docs/generated/benchmarks/*.png``: the plots of docs/reference/benchmarks.md, drawn from the tables of
  ``benchmarks/RESULTS.md`` (``scripts/docs_benchmarks.py``); a table that no longer parses fails the build
  with one line naming its section.

Every page: plain-text spec references (``specs/physics.md §6``) become links to the spec page and section
(:func:`link_spec_references`); Sphinx roles left in docstrings (``:func:`x```) lose their role prefix.
- ``docs/reference/cli.md`` from the argparse parsers of ``ptycho``, ``ptycho_torch.train`` and
  ``ptycho_torch.inference``.
- ``docs/generated/coordinates.png`` drawn by ``ptycho_cli.concept_figures`` from the project's physics code.
"""

from __future__ import annotations

import argparse
import importlib
import posixpath
import re
import sys
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
        _write_if_changed(out_dir / spec.name, spec.read_text(encoding="utf-8"))
    for stale in out_dir.glob("*.md"):
        if stale.name not in wanted:
            stale.unlink()


_SPEC = r"specs/([a-z0-9-]+)\.md(?:\s+(§\s?[0-9]+(?:\.[0-9]+)*))?"
#: a spec reference in Markdown prose: not part of a path, a link text '[...' or a link target '](...'
SPEC_REF = re.compile(r"(?<![\w/.\[-])(?<!\]\()" + _SPEC)
#: the same in rendered HTML text (tags are skipped by the caller)
SPEC_REF_HTML = re.compile(r"(?<![\w/.-])" + _SPEC)
ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|exc|obj|const):(?=<code>)")


def _heading_slugs(spec: Path) -> dict[str, str]:
    """'§6' / '§4.1' -> the anchor of the spec heading that starts with that number (toc's slugify)."""
    from markdown.extensions.toc import slugify

    slugs: dict[str, str] = {}
    for line in spec.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^#{2,6}\s+(?:§\s?)?([0-9]+(?:\.[0-9]+)*)\.?\s", line)
        if m:
            text = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", lambda g: g.group(1) or "", line.lstrip("#").strip())
            slugs.setdefault("§" + m.group(1), slugify(text, "-"))
    return slugs


def link_spec_references(markdown: str, page_uri: str) -> str:
    """Turn plain-text ``specs/<name>.md [§N]`` outside code into links to the spec page (and section).

    ``page_uri`` is the page's path under docs/ (e.g. ``specs/cli.md``); links are relative to it. Text inside
    fenced blocks and code spans, and references that are already link targets, stay as they are.
    """
    out, fenced = [], False
    page_dir = posixpath.dirname(page_uri)
    for line in markdown.split("\n"):
        if re.match(r"^\s*(```|~~~)", line):
            fenced = not fenced
        if fenced or "specs/" not in line:
            out.append(line)
            continue
        parts = line.split("`")
        for i in range(0, len(parts), 2):  # even parts are outside code spans
            def link(m: re.Match) -> str:
                name, section = m.group(1), m.group(2)
                spec = ROOT / "specs" / f"{name}.md"
                if not spec.is_file():
                    return m.group(0)  # left for the docs test to report
                target = posixpath.relpath(f"specs/{name}.md", page_dir or ".")
                if section:
                    anchor = _heading_slugs(spec).get(section.replace(" ", ""))
                    if anchor:
                        return f"[specs/{name}.md {section}]({target}#{anchor})"
                    return f"[specs/{name}.md]({target}) {section}"
                return f"[specs/{name}.md]({target})"

            parts[i] = SPEC_REF.sub(link, parts[i])
        out.append("`".join(parts))
    return "\n".join(out)


def on_page_markdown(markdown: str, page, config, files) -> str:  # mkdocs hook signature
    return link_spec_references(markdown, page.file.src_uri)


def link_spec_references_html(html: str, page_url: str) -> str:
    """The HTML counterpart of :func:`link_spec_references` for text mkdocstrings renders from docstrings:
    ``specs/<name>.md [§N]`` in text outside ``a``, ``code`` and ``pre`` elements becomes a link; ``page_url`` is
    the page's site URL (e.g. ``reference/api/config/``)."""
    depth = 0
    out = []
    up = "../" * page_url.count("/") if page_url else ""
    for piece in re.split(r"(<[^>]+>)", html):
        if piece.startswith("<"):
            tag = re.match(r"</?\s*([a-zA-Z0-9]+)", piece)
            if tag and tag.group(1).lower() in ("a", "code", "pre"):
                depth += -1 if piece.startswith("</") else 1
            out.append(piece)
            continue
        if depth > 0 or "specs/" not in piece:
            out.append(piece)
            continue

        def link(m: re.Match) -> str:
            name, section = m.group(1), m.group(2)
            spec = ROOT / "specs" / f"{name}.md"
            if not spec.is_file():
                return m.group(0)
            anchor = _heading_slugs(spec).get(section.replace(" ", "")) if section else None
            href = f"{up}specs/{name}/" + (f"#{anchor}" if anchor else "")
            return f'<a href="{href}">{m.group(0)}</a>'

        out.append(SPEC_REF_HTML.sub(link, piece))
    return "".join(out)


def on_page_content(html: str, page, config, files) -> str:  # mkdocs hook signature
    return link_spec_references_html(ROLE.sub("", html), page.url)


def on_pre_build(config, **kwargs) -> None:  # mkdocs hook signature
    generate_spec_wrappers()
    sys.path.insert(0, str(ROOT / "scripts"))
    from docs_gallery import build_gallery

    build_gallery(_write_if_changed)
    from docs_benchmarks import BenchmarkParseError, build_benchmark_figures
    from mkdocs.exceptions import PluginError

    try:
        build_benchmark_figures()
    except BenchmarkParseError as exc:
        raise PluginError(str(exc)) from None
    _write_if_changed(DOCS / "reference" / "cli.md", generate_cli_reference())
    figure = DOCS / "generated" / "coordinates.png"
    if not figure.exists():
        from ptycho_cli.concept_figures import coordinate_convention_figure

        coordinate_convention_figure(figure)
