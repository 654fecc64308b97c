"""Fixtures of the built-site tests: ``server`` serves ``site/`` on a loopback port, ``browser`` is headless
Chromium (playwright driving the system's ``/usr/bin/chromium``, or ``$PTYCHO_CHROMIUM``)."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest

SITE = Path(os.environ.get("PTYCHO_SITE_DIR", Path(__file__).resolve().parents[1] / "site"))
CHROMIUM = os.environ.get("PTYCHO_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no access log in the test output
        pass


@pytest.fixture(scope="module")
def server():
    if not (SITE / "index.html").exists():
        pytest.fail(f"{SITE}/index.html missing: build the site first (nox -s docs)")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()
