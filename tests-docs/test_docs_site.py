"""The built documentation site, opened in headless Chromium (issue: docs site).

Serves ``site/`` (built by ``mkdocs build --strict`` in ``nox -s docs``) on a loopback port and checks, for
each main page, that the title renders, TeX became KaTeX markup (no raw ``\\(`` left), tables are present
where the page has them, and every internal link resolves to a page of the site.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

SITE = Path(os.environ.get("PTYCHO_SITE_DIR", Path(__file__).resolve().parents[1] / "site"))

# page path -> (expected title fragment, expects math, expects a table)
PAGES = {
    "": ("PtychoPINN", False, True),
    "quickstart/": ("Quickstart", False, False),
    "concepts/": ("Concepts", True, True),
    "specs/physics/": ("physics", True, False),
    "specs/data-contract/": ("contract", False, True),
    "specs/config/": ("Configuration", False, True),
    "specs/config-bridge/": ("bridge", False, True),
    "reference/cli/": ("CLI", False, True),
    "reference/api/": ("API", False, True),
    "reference/api/config/": ("Configuration", False, False),
    "examples/": ("Examples", False, True),
    "examples/01_pipeline/": ("Simulate", False, False),
    "howto/reading-metrics/": ("metrics", False, True),
    "howto/troubleshooting/": ("Troubleshooting", False, True),
    "reference/parity/": ("arity", False, True),
    "reference/benchmarks/": ("enchmark", False, True),
    "changelog/": ("Changelog", False, False),
}


@pytest.mark.parametrize("path", list(PAGES))
def test_page_renders(server, browser, path):
    title_part, has_math, has_table = PAGES[path]
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    outside: list[str] = []  # the site must not fetch anything from the internet (fonts, scripts)
    page.on("request", lambda r: outside.append(r.url) if urlparse(r.url).hostname not in ("127.0.0.1", None) else None)
    response = page.goto(urljoin(server, path))
    assert response is not None and response.status == 200, path
    page.wait_for_load_state("networkidle")
    assert title_part.lower() in page.title().lower(), page.title()
    h1 = page.locator("article h1").first.inner_text()
    assert h1.strip(), f"{path}: empty h1"
    if has_math:
        page.wait_for_selector(".katex", timeout=10_000)
        assert page.locator(".katex").count() > 0
        text = page.locator("article").inner_text()
        assert "\\frac" not in text and "\\(" not in text, f"{path}: raw TeX left on the page"
    if has_table:
        assert page.locator("article table").count() > 0, f"{path}: no table"
    assert not errors, f"{path}: JavaScript errors {errors}"
    assert not outside, f"{path}: requests outside the site: {outside[:5]}"
    # Internal links resolve to existing pages of the site.
    hrefs = page.eval_on_selector_all("article a[href]", "els => els.map(e => e.href)")
    for href in hrefs:
        parsed = urlparse(href)
        if parsed.netloc != urlparse(server).netloc:
            continue
        target = SITE / parsed.path.lstrip("/")
        if parsed.path.endswith("/") or not target.suffix:
            target = target / "index.html"
        assert target.exists(), f"{path}: broken internal link {href}"
        if parsed.fragment and target.suffix == ".html":
            html = target.read_text(encoding="utf-8")
            assert re.search(rf'id="{re.escape(parsed.fragment)}"', html), f"{path}: missing anchor {href}"
    page.close()
