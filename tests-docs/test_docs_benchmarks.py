"""The benchmark plots of docs/reference/benchmarks.md: drawn by the build from benchmarks/RESULTS.md.

The built page must show every figure of ``scripts/docs_benchmarks.FIGURES``, each a real PNG made by this build
(git-ignored, so no committed image can drift from the record), and a record whose table no longer parses must
fail with one line naming its section.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("PTYCHO_SITE_DIR", ROOT / "site"))
sys.path.insert(0, str(ROOT / "scripts"))

import docs_benchmarks  # noqa: E402


def test_benchmarks_page_carries_its_build_made_figures():
    page = SITE / "reference" / "benchmarks" / "index.html"
    if not page.exists():
        pytest.fail(f"{page} missing: build the site first (nox -s docs)")
    sources = re.findall(r'<img[^>]*\bsrc="([^"]+)"', page.read_text(encoding="utf-8"))
    for name in docs_benchmarks.FIGURES:
        wanted = f"../../generated/benchmarks/{name}"
        assert wanted in sources, f"benchmarks page: no <img> for {name} (found {sources})"
        built = SITE / "generated" / "benchmarks" / name
        data = built.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, f"{built}: not a drawn PNG"
        source = ROOT / "docs" / "generated" / "benchmarks" / name
        tracked = subprocess.run(["git", "ls-files", "--error-unmatch", str(source)], cwd=ROOT,
                                 capture_output=True).returncode == 0
        assert not tracked, f"{source} is committed: the figure must come from the build"


def test_the_plotted_numbers_are_the_record_s():
    text = docs_benchmarks.RESULTS.read_text(encoding="utf-8")
    points = {m: (w, a, p) for m, w, a, p in docs_benchmarks.quality_points(text)}
    assert points["pty-chi LSQML, 20 it"] == (240.4, 0.754, 0.902)
    assert "flat object (floor)" not in points  # untimed rows have no place on a time axis
    flat = docs_benchmarks.refinement_curves(text)["flat start"]
    assert flat[4] == (32.0, 0.768, 0.920) and len(flat) == 9
    assert docs_benchmarks.throughput_shares(text) == [("1", 0.87, 0.88), ("2", 0.85, 0.90)]
    assert docs_benchmarks.scale_rows(text)[-1] == (128000.0, 1.953, 0.631, 0.848)


@pytest.mark.parametrize("heading", [docs_benchmarks.QUALITY, docs_benchmarks.REFINEMENT,
                                     docs_benchmarks.THROUGHPUT, docs_benchmarks.SCALE])
def test_a_table_that_does_not_parse_fails_with_one_line_naming_its_section(tmp_path, heading):
    text = docs_benchmarks.RESULTS.read_text(encoding="utf-8")
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("## " + heading))
    # break the section's tables: the header cells lose their names
    broken = [re.sub(r"[A-Za-z/]+", "x", ln) if i > start and ln.startswith("|") and "---" not in ln
              and not lines[i - 1].startswith("|") else ln for i, ln in enumerate(lines)]
    # only inside this section
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    record = tmp_path / "RESULTS.md"
    record.write_text("\n".join(lines[:start] + broken[start:end] + lines[end:]), encoding="utf-8")
    with pytest.raises(docs_benchmarks.BenchmarkParseError) as err:
        docs_benchmarks.build_benchmark_figures(tmp_path / "out", record)
    message = str(err.value)
    assert heading in message and "\n" not in message, message
    assert not (tmp_path / "out").exists(), "a parse error must leave no partial set of figures"
