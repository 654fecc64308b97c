"""Rendering problems of the documentation, found in the Markdown sources and the built site (``site/``).

* run-on lists: a list right after a paragraph line, without the blank line Python-Markdown needs, renders as
  one paragraph;
* a literal ``\\|`` on a page (a table cell escape inside a code span shows its backslash);
* public symbols (a module's ``__all__``) missing from the API pages;
* broken cross-links: internal links of every built page, and plain-text spec references (``specs/x.md``) left
  unlinked or naming no spec.

The site checks need ``mkdocs build`` first (``nox -s docs`` runs it, then these tests).
"""

from __future__ import annotations

import ast
import html.parser
import importlib
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("PTYCHO_SITE_DIR", ROOT / "site"))
GENERATED = {ROOT / "docs" / "specs", ROOT / "docs" / "examples", ROOT / "docs" / "generated"}
ITEM = re.compile(r"^ {0,3}([-*+]|\d+[.)]) +\S")
FENCE = re.compile(r"^\s*(```|~~~)")

#: API page (under site/reference/api/) -> modules whose ``__all__`` it must show
API_PAGES = {
    "config": ["ptycho.config.config", "ptycho.params", "ptycho_bridge"],
    "data": ["ptycho.data_contract", "ptycho.raw_data", "ptycho.grouping", "ptycho.sampling", "ptycho.atomic_io",
             "ptycho.bundle_zip"],
    "physics": ["ptycho.physics"],
    "simulation": ["ptycho.simulation"],
    "metrics": ["ptycho.metrics"],
    "torch": ["ptycho_torch.workflows.components", "ptycho_torch.refine", "ptycho_torch.bundle",
              "ptycho_torch.forward_model", "ptycho_torch.stitching", "ptycho_torch.export"],
    # the legacy names ptychodus imports are shims of these modules (specs/architecture.md §7)
    "tensorflow": ["ptycho_tf.compat.components", "ptycho_tf.compat.model_manager", "ptycho_tf.compat.loader",
                   "ptycho_tf.compat.model", "ptycho_tf.compat.train_pinn", "ptycho_tf.compat.tf_helper",
                   "ptycho_tf.compat.probe", "ptycho_tf.evaluation", "ptycho_tf.workflow", "ptycho_tf.data"],
}


def run_on_lists(text: str) -> list[int]:
    """0-based line numbers of list items that directly follow a paragraph line (no blank line before)."""
    bad: list[int] = []
    in_fence = in_list = False
    prev_blank, prev = True, ""
    for i, line in enumerate(text.splitlines()):
        if FENCE.match(line):
            in_fence = not in_fence
            prev_blank, prev = False, line
            continue
        if in_fence:
            continue
        if not line.strip():
            prev_blank = True
            continue
        item = ITEM.match(line)
        if item and not in_list and not prev_blank and not prev.lstrip().startswith(("#", "|", "<", "!!!")):
            bad.append(i)
        if item:
            in_list = True
        elif prev_blank and not line.startswith((" ", "\t")):
            in_list = False
        prev_blank, prev = False, line
    return bad


def markdown_sources() -> list[Path]:
    """Hand-written Markdown that reaches the site: docs/ (not generated), specs/, the benchmark record."""
    docs = [p for p in (ROOT / "docs").rglob("*.md") if not any(g in p.parents for g in GENERATED)]
    return sorted(docs) + sorted((ROOT / "specs").glob("*.md")) + [ROOT / "benchmarks" / "RESULTS.md"]


def test_run_on_list_detector_finds_the_problem_and_accepts_correct_lists():
    assert run_on_lists("Steps:\n- one\n- two\n") == [1]
    assert run_on_lists("Steps:\n\n- one\n- two\ncontinued\n- three\n") == []
    assert run_on_lists("```\ntext\n- not a list\n```\n") == []
    assert run_on_lists("| a |\n|---|\n") == []


@pytest.mark.parametrize("path", markdown_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_run_on_lists(path):
    text = path.read_text(encoding="utf-8")
    bad = run_on_lists(text)
    lines = text.splitlines()
    assert not bad, "\n".join(f"{path.relative_to(ROOT)}:{i + 1}: list without a blank line before it: {lines[i][:60]!r}"
                              for i in bad)


@pytest.mark.parametrize("path", markdown_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_escaped_pipe_inside_code_spans(path):
    spans = [code for line in path.read_text(encoding="utf-8").splitlines()
             for code in line.split("`")[1::2] if "\\|" in code]  # odd parts lie inside code spans
    assert not spans, f"{path.relative_to(ROOT)}: `\\|` inside code spans renders its backslash: {spans[:3]}"


def test_spec_references_name_existing_specs():
    names = {p.stem for p in (ROOT / "specs").glob("*.md")}
    bad = []
    for path in markdown_sources():
        for name in re.findall(r"specs/([a-z0-9-]+)\.md", path.read_text(encoding="utf-8")):
            if name not in names:
                bad.append(f"{path.relative_to(ROOT)}: specs/{name}.md")
    assert not bad, f"references to specs that do not exist: {bad}"


# ---------------------------------------------------------------------------------------------- built site


class _Page(html.parser.HTMLParser):
    """Collects ids, internal hrefs, and the article text outside links and code."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.plain: list[str] = []
        self._skip = 0
        self._article = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a and a["id"]:
            self.ids.add(a["id"])
        if tag == "article":
            self._article += 1
        if self._article and tag == "a" and a.get("href"):
            self.hrefs.append(a["href"])
        if tag in ("a", "code", "pre", "script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("a", "code", "pre", "script", "style"):
            self._skip = max(0, self._skip - 1)
        if tag == "article":
            self._article -= 1

    def handle_data(self, data):
        if self._article and not self._skip:
            self.plain.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def site_pages() -> list[Path]:
    if not (SITE / "index.html").exists():
        pytest.fail(f"{SITE}/index.html missing: build the site first (nox -s docs)")
    return sorted(p for p in SITE.rglob("*.html") if p.name != "404.html")


def test_no_literal_escaped_pipe_on_any_page():
    bad = [str(p.relative_to(SITE)) for p in site_pages() if "\\|" in p.read_text(encoding="utf-8")]
    assert not bad, f"pages showing a literal \\|: {bad}"


def test_every_internal_link_and_anchor_resolves():
    broken = []
    cache: dict[Path, set[str]] = {}
    for page in site_pages():
        for href in _parse(page).hrefs:
            parsed = urlparse(href)
            if parsed.scheme or parsed.netloc or href == "#":
                continue
            target = (page.parent / unquote(parsed.path)).resolve() if parsed.path else page
            if target.is_dir() or not target.suffix:
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(SITE)}: {href}")
                continue
            if parsed.fragment and target.suffix == ".html":
                ids = cache.setdefault(target, _parse(target).ids)
                if unquote(parsed.fragment) not in ids:
                    broken.append(f"{page.relative_to(SITE)}: {href} (no such anchor)")
    assert not broken, "broken internal links:\n" + "\n".join(broken[:40])


def test_spec_references_on_pages_are_links():
    """specs/x.md in running text must be a link (the hook turns them into links; code spans are left)."""
    bad = []
    for page in site_pages():
        text = " ".join(_parse(page).plain)
        for ref in re.findall(r"specs/[a-z0-9-]+\.md", text):
            bad.append(f"{page.relative_to(SITE)}: {ref}")
    assert not bad, "plain-text spec references:\n" + "\n".join(bad[:40])


def _module_all(module: str) -> list[str]:
    """The ``__all__`` of ``module``, read from its source (no import: TensorFlow need not be installed); an
    ``__all__`` assembled from other lists (``[*bridge.__all__, ...]``) is read by importing the module, which
    the layering allows for these framework-free modules."""
    parts = module.split(".")
    for src in ROOT.glob("packages/*/src"):
        for candidate in (src.joinpath(*parts).with_suffix(".py"), src.joinpath(*parts, "__init__.py")):
            if candidate.is_file():
                for node in ast.parse(candidate.read_text(encoding="utf-8")).body:
                    if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
                        try:
                            return list(ast.literal_eval(node.value))
                        except ValueError:
                            return list(importlib.import_module(module).__all__)
                pytest.fail(f"{candidate}: expected __all__, found none")
    pytest.fail(f"module {module}: no source file under packages/*/src")


@pytest.mark.parametrize("page", list(API_PAGES))
def test_api_pages_show_every_public_symbol(page):
    path = SITE / "reference" / "api" / page / "index.html"
    if not path.exists():
        site_pages()
        pytest.fail(f"{path} missing")
    ids = _parse(path).ids
    missing = []
    for module in API_PAGES[page]:
        for name in _module_all(module):
            if name.startswith("_"):
                continue
            if f"{module}.{name}" not in ids and not any(i.endswith(f".{name}") and i.startswith(module) for i in ids):
                missing.append(f"{module}.{name}")
    assert not missing, f"reference/api/{page}: public symbols not documented: {missing}"


def test_api_pages_show_no_private_symbols_and_no_raw_roles():
    for path in (SITE / "reference" / "api").rglob("index.html"):
        page = _parse(path)
        private = sorted(i for i in page.ids if re.search(r"\.(_[a-z][a-z0-9_]*)$", i))
        assert not private, f"{path.relative_to(SITE)}: private symbols documented: {private[:5]}"
        text = " ".join(page.plain)  # prose of the page; the shown source code keeps its docstrings verbatim
        roles = re.findall(r":(?:func|class|mod|meth|attr|data|exc):\S*", text)
        assert not roles, f"{path.relative_to(SITE)}: raw Sphinx roles {roles[:5]}"


def test_dataclass_fields_are_documented():
    ids = _parse(SITE / "reference" / "api" / "config" / "index.html").ids
    for field in ("N", "gridsize", "n_filters_scale", "object_big"):
        assert f"ptycho.config.config.ModelConfig.{field}" in ids, f"ModelConfig.{field} missing from the API page"
    for field in ("nepochs", "nphotons", "batch_size", "max_time"):
        assert f"ptycho.config.config.TrainingConfig.{field}" in ids, f"TrainingConfig.{field} missing"


def _images(path: Path) -> list[Path]:
    srcs = re.findall(r'<img[^>]+src="([^"]+)"', path.read_text(encoding="utf-8"))
    return [(path.parent / unquote(s)).resolve() for s in srcs if not urlparse(s).scheme]


def test_home_page_shows_a_build_made_reconstruction():
    site_pages()
    images = [p for p in _images(SITE / "index.html") if "generated/gallery" in p.as_posix()]
    assert images and all(p.is_file() and p.stat().st_size > 10_000 for p in images), images


def test_gallery_pages_carry_build_made_figures():
    pages = sorted((SITE / "examples").glob("*/index.html"))
    assert len(pages) >= 3, f"expected the gallery pages under {SITE / 'examples'}, found {len(pages)}"
    for page in pages:
        images = [p for p in _images(page) if "generated/gallery" in p.as_posix()]
        assert images and all(p.is_file() for p in images), f"{page.relative_to(SITE)}: no gallery figure"
