"""The examples gallery: run ``examples/*.py`` at build time and turn each into a page with its figures.

Each example is a plain script. Its module docstring's first line is the page title, the rest is the page's
introduction (Markdown); a module-level ``FIGURES = {"file.png": "caption", ...}`` literal names the figures it
writes, in page order, into the folder given as its first argument. The page shows the introduction, the
figures, what the script printed and the script itself, so the pictures on the site are always the ones the
current code makes (they cannot drift from it).

A run is reused while the code it ran is unchanged (``scripts/gallery_cache.py``: a hash of the script and of
every repository module it loaded, docstrings and comments left out, plus the library versions; stored in
``docs/generated/gallery/<name>/.stamp``), so ``mkdocs serve`` and ``nox -s docs`` recompute an example only
when its code changed; a fresh clone runs them all once. Each example's start and end (or its reuse) is a line
on stderr. What a run printed shows its temporary working folder as ``.``. A failing example fails the build
with its stderr.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gallery_cache import RUNNER, code_key, recorded_files  # scripts/ is on sys.path (scripts/docs_hooks.py)

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


def _current(example: Example, out: Path) -> bool:
    """Whether ``out`` holds a run of ``example`` whose code key (:func:`gallery_cache.code_key`) still holds."""
    stored = recorded_files(out / ".stamp")
    if stored is None or not (out / "stdout.txt").is_file():
        return False
    key, files = stored
    return code_key(example.path, files) == key and all((out / f).is_file() for f in example.figures)


def _say(message: str) -> None:
    print(f"gallery: {message}", file=sys.stderr, flush=True)


def run_example(example: Example) -> str:
    """Run the script (unless its cached run is current) and return what it printed; figures land in
    FIGURES/name. The working folder of the run is shown as ``.`` in what it printed (no temporary paths)."""
    out = FIGURES / example.name
    if _current(example, out):
        _say(f"examples/{example.path.name}: unchanged code, reusing its figures")
        return (out / "stdout.txt").read_text(encoding="utf-8")
    _say(f"examples/{example.path.name}: running ...")
    t0 = time.monotonic()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
    with tempfile.TemporaryDirectory(prefix=f"gallery-{example.name}-") as work:
        record = Path(work) / ".loaded.json"
        done = subprocess.run([sys.executable, "-c", RUNNER, str(example.path), str(out), str(record), str(ROOT)],
                              cwd=work, env=env, capture_output=True, text=True)
        files = json.loads(record.read_text()) if done.returncode == 0 and record.is_file() else []
        printed = relative_paths(done.stdout, Path(work))
    if done.returncode != 0:
        raise RuntimeError(f"gallery example {example.path} failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    missing = [f for f in example.figures if not (out / f).is_file()]
    if missing:
        raise RuntimeError(f"gallery example {example.path}: expected figures {missing} in {out}, found none")
    (out / "stdout.txt").write_text(printed, encoding="utf-8")
    key = code_key(example.path, files)
    (out / ".stamp").write_text(json.dumps({"key": key, "files": files}, indent=1))
    _say(f"examples/{example.path.name}: done in {time.monotonic() - t0:.0f} s")
    return printed


def relative_paths(text: str, work: Path) -> str:
    """``text`` with the run's temporary working folder ``work`` (in any spelling: as given, resolved) written
    as ``.`` and the figures' folder as ``OUTPUT_DIR``: a page shows paths a reader can use."""
    spellings = {str(work), str(work.resolve())}
    for spelling in sorted(spellings, key=len, reverse=True):
        text = text.replace(spelling + os.sep, "./").replace(spelling, ".")
    return text.replace(str(FIGURES.resolve()), "OUTPUT_DIR").replace(str(FIGURES), "OUTPUT_DIR")


def page(example: Example, printed: str) -> str:
    """The Markdown page of one example."""
    lines = [f"# {example.title}", "", example.intro, ""]
    for name, caption in example.figures.items():
        lines += [f"![{caption}](../generated/gallery/{example.name}/{name})", "", f"*{caption}*", ""]
    if printed.strip():
        lines += ["## What it printed", "", "```text", wrap_long_lines(printed.rstrip()), "```", ""]
    lines += ["## The script", "", f"`examples/{example.path.name}`; run it yourself with "
              f"`python examples/{example.path.name} OUTPUT_DIR`.", "", "```python", example.code.rstrip(), "```", ""]
    return "\n".join(lines)


#: characters of a code line that fit the text column at a 1280-px window (tests-docs/test_docs_layout.py)
TEXT_COLUMNS = 108


def wrap_long_lines(text: str, width: int = TEXT_COLUMNS) -> str:
    """``text`` with lines longer than ``width`` wrapped at spaces, continuations indented by two spaces (what a
    run printed, shown in the text column without sideways scrolling)."""
    import textwrap

    out = []
    for line in text.splitlines():
        if len(line) <= width:
            out.append(line)
            continue
        out += textwrap.wrap(line, width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False)
    return "\n".join(out)


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
