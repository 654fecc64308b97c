"""Rendering problems a reader sees on the built site (``site/``), found in the HTML (issue 27):

* a docstring rendered as one run-on paragraph, or with a stray blockquote (a wrapped line starting with ``>``,
  ``>= 1``, becomes a quote: ``PyTorchExecutionConfig``'s did);
* a list rendered as prose: literal ``*`` / ``-`` markers inside a paragraph (specs/physics.md §1.1's list);
* temporary-folder paths printed on an example page (the gallery runs its examples in a temporary folder);
* an API page that opens with a module's ``__all__`` list.

Each detector is also run on a small page with the problem, so a detector that finds nothing cannot pass
silently. Code blocks wider than the text column are checked in a browser (``test_docs_layout.py``).
"""

from __future__ import annotations

import ast
import html.parser
import os
import re
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("PTYCHO_SITE_DIR", ROOT / "site"))

#: longest paragraph (characters of text) an API docstring may render as; PyTorchExecutionConfig's run-on
#: paragraph was 2,000 characters, the longest written paragraph is about 600
RUN_ON_CHARS = 900
#: a bullet marker at the start of a paragraph's line, or a number marker at the start of a later line (a
#: paragraph may open with a bold "**1. Stages**" lead, which is not a list)
LIST_MARKER = re.compile(r"(?:^|\n)[ \t]*[*+-] +\S|\n[ \t]*\d+[.)] +\S")


class _Blocks(html.parser.HTMLParser):
    """Paragraphs (text outside code), blockquotes and ids inside ``<article>``, in page order."""

    def __init__(self) -> None:
        super().__init__()
        self.paragraphs: list[str] = []
        self.blockquotes: list[str] = []
        self.ids: list[str] = []
        self.text: list[str] = []  # the article's text outside code, scripts and styles
        self._article = self._code = 0
        self._p: list[str] | None = None
        self._quote: list[list[str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "article":
            self._article += 1
        if not self._article:
            return
        if a.get("id"):
            self.ids.append(a["id"])
        if tag in ("code", "pre", "script", "style"):
            self._code += 1
        elif tag == "p":
            self._p = []
        elif tag == "blockquote":
            self._quote.append([])

    def handle_endtag(self, tag):
        if tag == "article":
            self._article -= 1
        if not self._article:
            return
        if tag in ("code", "pre", "script", "style"):
            self._code = max(0, self._code - 1)
        elif tag == "p" and self._p is not None:
            self.paragraphs.append("".join(self._p))
            self._p = None
        elif tag == "blockquote" and self._quote:
            self.blockquotes.append(" ".join("".join(self._quote.pop()).split()))

    def handle_data(self, data):
        if not self._article:
            return
        for quote in self._quote:
            quote.append(data)
        if self._p is not None:
            self._p.append(data)  # code spans included: a line that starts with one starts with its text
        if not self._code:
            self.text.append(data)


def blocks(html: str) -> _Blocks:
    parsed = _Blocks()
    parsed.feed(html)
    return parsed


def run_on_paragraphs(html: str, limit: int = RUN_ON_CHARS) -> list[str]:
    """Paragraphs longer than ``limit`` characters (their start)."""
    return [" ".join(p.split())[:80] for p in blocks(html).paragraphs if len(" ".join(p.split())) > limit]


def prose_lists(html: str) -> list[str]:
    """Paragraphs holding a literal list marker at the start of a line (a list Markdown did not see)."""
    return [" ".join(p.split())[:80] for p in blocks(html).paragraphs if LIST_MARKER.search(p.strip("\n"))]


def temporary_paths(html: str) -> list[str]:
    """Temporary-folder paths in a page's text (code included): the system's temporary folder, ``/tmp/``,
    ``/var/folders/`` and the gallery's working folders ``gallery-<example>-<random>``."""
    roots = {re.escape(tempfile.gettempdir().rstrip("/") + "/"), r"/tmp/", r"/private/var/folders/",
             r"/var/folders/"}
    pattern = re.compile("(?:" + "|".join(sorted(roots)) + r")\S*|gallery-\d\d_\w+-\w{6,}")
    return sorted(set(pattern.findall(html)))


def opens_with_all(html: str) -> bool:
    """Whether the page documents a module's ``__all__`` (an id ``<module>.__all__``) or shows ``__all__`` in
    its text before the first documented symbol."""
    parsed = blocks(html)
    if any(i.endswith(".__all__") for i in parsed.ids):
        return True
    head = " ".join(parsed.text)[:1500]
    return "__all__" in head


def _site_pages() -> list[Path]:
    if not (SITE / "index.html").exists():
        pytest.fail(f"{SITE}/index.html missing: build the site first (nox -s docs)")
    return sorted(p for p in SITE.rglob("index.html"))


def _api_pages() -> list[Path]:
    return [p for p in _site_pages() if "reference/api/" in p.relative_to(SITE).as_posix()]


def _article(body: str) -> str:
    return f"<html><body><article>{body}</article></body></html>"


def test_the_detectors_find_each_problem_and_pass_clean_pages():
    run_on = _article("<p>" + "Trainer: accelerator, devices ... " * 40 + "</p>")
    assert run_on_paragraphs(run_on) and not run_on_paragraphs(_article("<p>Short.</p><p>Also short.</p>"))
    as_prose = _article("<p>Coordinates\n* Lengths are <strong>object pixels</strong>.\n* A scan point</p>")
    assert prose_lists(as_prose) and not prose_lists(_article("<ul><li>Lengths</li></ul><p>x - y = 1</p>"))
    quoted = _article("<p>(strictly increasing epochs</p><blockquote><p>= 1, or None)</p></blockquote>")
    assert blocks(quoted).blockquotes == ["= 1, or None)"]
    printed = _article("<pre><code>reconstruction=/tmp/gallery-01_pipeline-k2j4x9q1/run/recon</code></pre>")
    assert temporary_paths(printed) and not temporary_paths(_article("<code>reconstruction=./run/recon</code>"))
    dumped = _article('<h2 id="ptycho.physics">physics</h2><div id="ptycho.physics.__all__"><code>__all__ = '
                      "['translate']</code></div>")
    assert opens_with_all(dumped) and not opens_with_all(_article('<h2 id="ptycho.physics">physics</h2>'))


def test_api_docstrings_render_as_paragraphs_without_stray_quotes():
    problems = []
    for page in _api_pages():
        html = page.read_text(encoding="utf-8")
        rel = page.parent.relative_to(SITE).as_posix()
        problems += [f"{rel}: run-on paragraph ({RUN_ON_CHARS}+ characters): {p!r}" for p in run_on_paragraphs(html)]
        problems += [f"{rel}: blockquote in a docstring: {q[:80]!r}" for q in blocks(html).blockquotes]
    assert not problems, "\n".join(problems[:30])


def test_no_list_renders_as_prose_with_literal_markers():
    problems = []
    for page in _site_pages():
        rel = page.parent.relative_to(SITE).as_posix()
        problems += [f"{rel}: {p!r}" for p in prose_lists(page.read_text(encoding="utf-8"))]
    assert not problems, "lists rendered as prose:\n" + "\n".join(problems[:30])


def test_no_example_page_prints_a_temporary_folder():
    """The pages a newcomer reads for what to type and what comes out: the gallery, the home page, the
    quickstart. (The benchmark record and the specs name the folders their measurements used, on purpose.)"""
    pages = [p for p in _site_pages() if p.parent.relative_to(SITE).as_posix().startswith(("examples", "quickstart"))]
    pages.append(SITE / "index.html")
    assert len(pages) >= 5, pages
    problems = []
    for page in pages:
        found = temporary_paths(page.read_text(encoding="utf-8"))
        problems += [f"{page.parent.relative_to(SITE).as_posix()}: {p}" for p in found[:3]]
    assert not problems, "temporary-folder paths on pages:\n" + "\n".join(problems[:30])


def test_no_api_page_opens_with_an_all_list():
    bad = [page.parent.relative_to(SITE).as_posix() for page in _api_pages()
           if opens_with_all(page.read_text(encoding="utf-8"))]
    assert not bad, f"API pages documenting __all__: {bad}"


#: an item of a Google-style section whose description starts with '>': rendered as a blockquote too
ITEM_QUOTED = re.compile(r"^[\w*][\w*, ]*(?: \([^)]*\))?: +>(?!>>)")


def quoted_docstring_lines(source: str) -> list[int]:
    """Line numbers of docstring lines that start with ``>`` (not a ``>>>`` example), or an item
    ``name: >= 1`` of an Args/Attributes section: Markdown renders such text as a blockquote."""
    tree = ast.parse(source)
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if not doc or not node.body:
                continue
            first = node.body[0].lineno
            for k, line in enumerate(doc.splitlines()):
                text = line.lstrip()
                if k and text.startswith(">") and not text.startswith(">>>"):
                    bad.append(first + k)
                elif ITEM_QUOTED.match(text):  # 'name: >= 1' in an Args/Attributes section
                    bad.append(first + k)
    return bad


def test_no_docstring_line_starts_a_blockquote():
    assert quoted_docstring_lines('def f():\n    """Epochs\n    >= 1."""\n') == [3]
    assert quoted_docstring_lines('def f():\n    """Example:\n\n    >>> f()\n    """\n') == []
    assert quoted_docstring_lines('def f(n):\n    """F.\n\n    Args:\n        n: >= 1.\n    """\n') == [5]
    bad = []
    for path in sorted(ROOT.glob("packages/*/src/**/*.py")):
        bad += [f"{path.relative_to(ROOT)}:{n}" for n in quoted_docstring_lines(path.read_text(encoding="utf-8"))]
    assert not bad, "docstring lines starting with '>' (rendered as a blockquote; rewrap the line):\n" + "\n".join(bad)
