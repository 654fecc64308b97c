"""Wide tables and code blocks scroll inside the content column; none is clipped (built site, headless Chromium).

Every page of ``site/`` is opened at a 1280-px viewport with every ``<details>`` opened (the API pages hide
their source code in them). For each rendered ``table``, ``pre`` and display equation (``.katex-display``) the content must fit: walking from the
element (a ``pre``'s ``code``) up to ``.md-content``, the first element whose content is wider than its box
(``scrollWidth > clientWidth``) must scroll (``overflow-x`` auto or scroll) and lie inside the column; an
element with overflow visible, hidden or clip that is too narrow for its content, or a scroller reaching past
the column, is a clipped block. Code blocks must moreover fit the text column outright (no sideways scrolling
to read a command, an output line or a diagram), except the API pages' collapsed source listings.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urljoin

import pytest

SITE = Path(os.environ.get("PTYCHO_SITE_DIR", Path(__file__).resolve().parents[1] / "site"))
VIEWPORT = {"width": 1280, "height": 900}

CLIPPED = """() => {
  const column = document.querySelector('.md-content');
  const limit = column.getBoundingClientRect().right + 1;
  for (const d of document.querySelectorAll('article details')) d.open = true;
  const scrolls = (n) => ['auto', 'scroll'].includes(getComputedStyle(n).overflowX);
  const found = [];
  for (const el of document.querySelectorAll('article table, article pre, article .katex-display')) {
    if (!el.getClientRects().length) continue;                 // not rendered
    const start = el.tagName === 'PRE' && el.querySelector('code') ? el.querySelector('code') : el;
    const box = start.getBoundingClientRect();
    // right edge of the block's content: its scroll width, or its box when it scrolls itself
    const extent = scrolls(start) ? box.right : box.left + start.scrollWidth;
    let ok = false;
    for (let n = start; n && n !== column; n = n.parentElement) {
      const r = n.getBoundingClientRect();
      if (scrolls(n) && r.right <= limit) { ok = true; break; }  // scrolls inside the column
      const inner = r.left + n.clientLeft + n.clientWidth;
      if (!scrolls(n) && n.clientWidth && extent > inner + 1) {
        found.push(`${el.tagName.toLowerCase()} "${el.innerText.slice(0, 40).replace(/\\s+/g, ' ')}": ` +
                   `content reaches ${Math.round(extent)} px past <${n.tagName.toLowerCase()} ` +
                   `class="${n.className}"> (overflow-x ${getComputedStyle(n).overflowX}, ends at ` +
                   `${Math.round(inner)} px)`);
        ok = true; break;
      }
    }
    if (!ok && extent > limit) found.push(`${el.tagName.toLowerCase()}: content reaches past the column`);
  }
  return found;
}"""



def _pages() -> list[str]:
    return sorted(p.parent.relative_to(SITE).as_posix() for p in SITE.rglob("index.html"))


def test_every_page_is_checked():
    if not (SITE / "index.html").exists():
        pytest.fail(f"{SITE}/index.html missing: build the site first (nox -s docs)")
    assert len(_pages()) > 40, _pages()


def test_the_detector_finds_clipped_tables_and_equations(server, browser):
    """Without the theme's scrolling wrappers the benchmark record's wide tables are clipped: the check sees it."""
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(urljoin(server, "reference/benchmark-record/"))
    assert page.evaluate(CLIPPED) == []
    page.add_style_tag(content=".md-typeset__scrollwrap, .md-typeset table:not([class]) "
                               "{ overflow: hidden !important; }")
    problems = page.evaluate(CLIPPED)
    page.close()
    assert any(p.startswith("table") for p in problems), problems
    # display maths on one line without a scroller (KaTeX's own style) spills out at a narrow column
    page = browser.new_page(viewport={"width": 500, "height": 900})
    page.goto(urljoin(server, "specs/physics/"))
    page.wait_for_selector(".katex-display", timeout=10_000)
    assert page.evaluate(CLIPPED) == []
    page.add_style_tag(content=".md-typeset .katex-display { overflow: visible !important; }")
    problems = page.evaluate(CLIPPED)
    page.close()
    assert any(p.startswith("span") for p in problems), problems


def test_no_table_or_code_block_is_clipped(server, browser):
    page = browser.new_page(viewport=VIEWPORT)
    problems = []
    for path in _pages():
        page.goto(urljoin(server, "" if path == "." else path + "/"))
        if page.locator(".arithmatex").count():
            page.wait_for_selector(".katex", timeout=10_000)  # KaTeX renders after load
        problems += [f"{path}: {p}" for p in page.evaluate(CLIPPED)]
    page.close()
    assert not problems, f"{len(problems)} clipped blocks at 1280 px:\n" + "\n".join(problems[:20])


#: code blocks (not the API pages' collapsed source listings) whose lines are wider than the text column: the
#: reader must scroll sideways to see the end of a command or a diagram
WIDE = """() => {
  const found = [];
  for (const pre of document.querySelectorAll('article pre')) {
    if (pre.closest('details')) continue;                        // source code of an API object, opened on demand
    const code = pre.querySelector('code') || pre;
    if (!code.getClientRects().length) continue;
    if (code.scrollWidth > code.clientWidth + 1) {
      const longest = code.innerText.split('\\n').reduce((a, b) => a.length >= b.length ? a : b, '');
      found.push(`${code.scrollWidth} px in a ${code.clientWidth} px column: ${longest.slice(0, 70)}`);
    }
  }
  return found;
}"""


def test_the_width_detector_finds_a_wide_code_block(server, browser):
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(urljoin(server, "specs/physics/"))
    assert page.evaluate(WIDE) == []
    page.evaluate("() => { const pre = document.createElement('pre'); const code = document.createElement('code');"
                  " code.textContent = 'x'.repeat(400); pre.appendChild(code);"
                  " document.querySelector('article').appendChild(pre); }")
    problems = page.evaluate(WIDE)
    page.close()
    assert len(problems) == 1 and problems[0].endswith("x" * 70), problems


def test_no_code_block_is_wider_than_the_text_column(server, browser):
    """At 1280 px every command, printed output and diagram fits the text column (no sideways scrolling)."""
    page = browser.new_page(viewport=VIEWPORT)
    problems = []
    for path in _pages():
        page.goto(urljoin(server, "" if path == "." else path + "/"))
        problems += [f"{path or '.'}: {p}" for p in page.evaluate(WIDE)]
    page.close()
    assert not problems, f"{len(problems)} code blocks wider than the text column at 1280 px:\n" + "\n".join(problems)
