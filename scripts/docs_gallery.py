"""The examples gallery: run ``examples/*.py`` at build time and turn each into a page with its figures.

Each example is a plain script. Its module docstring's first line is the page title, the rest is the page's
introduction (Markdown); a module-level ``FIGURES = {"file.png": "caption", ...}`` literal names the figures it
writes, in page order, into the folder given as its first argument. The page shows the introduction, the
figures, what the script printed and the script itself, so the pictures on the site are always the ones the
current code makes (they cannot drift from it).

A run is reused while neither the script nor any source file of the packages changed (a stamp of their SHA-256),
so ``mkdocs serve`` does not retrain on every edit; a clean checkout (CI, ``nox -s docs``) always runs them.
A failing example fails the build with its stderr.
"""

from __future__ import annotations

import ast
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PAGES = ROOT / "docs" / "examples"
FIGURES = ROOT / "docs" / "generated" / "gallery"

__all__ = ["Example", "examples", "build_gallery"]


class Example:
    """One gallery script: ``title``, ``intro`` (Markdown), ``figures`` ({file: caption}), ``code`` (body)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.stem
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        doc = ast.get_docstring(tree) or ""
        if not doc.strip():
            raise ValueError(f"{path}: expected a module docstring (title line, then the introduction), found none")
        self.title, _, intro = doc.strip().partition("\n")
        self.intro = intro.strip()
        self.figures: dict[str, str] = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "FIGURES" for t in node.targets):
                self.figures = dict(ast.literal_eval(node.value))
        if not self.figures:
            raise ValueError(f"{path}: expected a FIGURES = {{'file.png': 'caption'}} literal, found none")
        first = tree.body[0]
        body_lines = source.splitlines()[first.end_lineno:] if isinstance(first, ast.Expr) else source.splitlines()
        self.code = "\n".join(body_lines).strip() + "\n"
        self.source = source


def examples() -> list[Example]:
    """Every gallery script, in name order (names start with a number to set the order)."""
    return [Example(p) for p in sorted(EXAMPLES.glob("[0-9]*.py"))]


def _stamp(example: Example) -> str:
    digest = hashlib.sha256(example.source.encode("utf-8"))
    for src in sorted(ROOT.glob("packages/*/src/**/*.py")):
        digest.update(str(src.relative_to(ROOT)).encode())
        digest.update(src.read_bytes())
    return digest.hexdigest()


def run_example(example: Example) -> str:
    """Run the script (unless its stamp is current) and return what it printed; figures land in FIGURES/name."""
    out = FIGURES / example.name
    stamp, printed = out / ".stamp", out / "stdout.txt"
    key = _stamp(example)
    current = stamp.is_file() and stamp.read_text() == key and printed.is_file()
    if current and all((out / f).is_file() for f in example.figures):
        return printed.read_text(encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
    with tempfile.TemporaryDirectory(prefix=f"gallery-{example.name}-") as work:
        done = subprocess.run([sys.executable, str(example.path), str(out)], cwd=work, env=env,
                              capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"gallery example {example.path} failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    missing = [f for f in example.figures if not (out / f).is_file()]
    if missing:
        raise RuntimeError(f"gallery example {example.path}: expected figures {missing} in {out}, found none")
    printed.write_text(done.stdout, encoding="utf-8")
    stamp.write_text(key)
    return done.stdout


def page(example: Example, printed: str) -> str:
    """The Markdown page of one example."""
    lines = [f"# {example.title}", "", example.intro, ""]
    for name, caption in example.figures.items():
        lines += [f"![{caption}](../generated/gallery/{example.name}/{name})", "", f"*{caption}*", ""]
    if printed.strip():
        lines += ["## What it printed", "", "```text", printed.rstrip(), "```", ""]
    lines += ["## The script", "", f"`examples/{example.path.name}`; run it yourself with "
              f"`python examples/{example.path.name} OUTPUT_DIR`.", "", "```python", example.code.rstrip(), "```", ""]
    return "\n".join(lines)


def index(items: list[Example]) -> str:
    lines = ["# Examples", "",
             "Each example below is a script under `examples/` that the documentation build runs; its figures are",
             "made by that run, from the code of this version. The settings are small so the whole gallery builds",
             "in a few minutes on a laptop CPU; the pictures show what such small runs reach.", "",
             "| example | what it shows |", "|---|---|"]
    for ex in items:
        first = ex.intro.split("\n\n")[0].replace("\n", " ")
        lines.append(f"| [{ex.title}]({ex.name}.md) | {first} |")
    return "\n".join(lines) + "\n"


def build_gallery(write) -> list[Example]:
    """Run every example and write its page with ``write(path, text)``; returns the examples."""
    items = examples()
    PAGES.mkdir(parents=True, exist_ok=True)
    wanted = {"index.md"} | {f"{ex.name}.md" for ex in items}
    for ex in items:
        write(PAGES / f"{ex.name}.md", page(ex, run_example(ex)))
    write(PAGES / "index.md", index(items))
    for stale in PAGES.glob("*.md"):
        if stale.name not in wanted:
            stale.unlink()
    return items
