"""docs/reference/benchmarks.md: one screen of plots and a summary, consistent with benchmarks/RESULTS.md.

The built page must show every figure of ``scripts/docs_benchmarks.FIGURES``, each a real PNG made by this build
from the record's tables (git-ignored, so no committed image can drift from the record); a record whose table no
longer parses must fail with one line naming its section; every number of the summary must appear in the record;
and the page must stay about one screen tall (the record itself is the page reference/benchmark-record).
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
    speed = docs_benchmarks.neutral_speed(text)
    assert [r[0] for r in speed] == ["Siemens / zone plate / spiral", "natural / Fresnel / raster",
                                     "texture / phase screen / spiral"]
    assert speed[0][1:] == ((0.843, 0.970), 26.7, 4.6, (0.847, 0.981))  # the idle-machine table
    network = docs_benchmarks.network_rows(text)
    assert network[0][1:] == ((0.390, -0.049), (0.784, 0.895), (0.835, 0.943))
    assert docs_benchmarks.multimode_rows(text)["ours K=3 true"] == (0.828, 0.977, 20.2)


PAGE = ROOT / "docs" / "reference" / "benchmarks.md"
NUMBER = re.compile(r"(?<![\w.])[-−]?\d+(?:\.\d+)?(?![\w.])")
#: the page's height at a 1280 x 900 viewport: one screen of plots and tables (the record is a page of its own)
MAX_HEIGHT_PX = 1400


def page_numbers(markdown: str) -> list[str]:
    """The numbers a reader sees on the page: its text without link targets, image sources and attributes."""
    text = re.sub(r"\]\([^)]*\)", "]", markdown)  # link and image targets
    text = re.sub(r"\{[^}]*\}", "", text)  # attribute lists ({ width="49%" })
    return NUMBER.findall(text)


def test_every_number_on_the_summary_is_in_the_record():
    record = docs_benchmarks.RESULTS.read_text(encoding="utf-8")
    record_numbers = set(NUMBER.findall(record))
    numbers = page_numbers(PAGE.read_text(encoding="utf-8"))
    assert len(numbers) > 40, numbers  # the tables are there
    missing = sorted({n for n in numbers if n not in record_numbers})
    assert not missing, f"docs/reference/benchmarks.md: numbers not in benchmarks/RESULTS.md: {missing}"
    # the detector sees a number that is not in the record (one the record lacks, whatever it holds today)
    absent = next(f"0.{i:03d}" for i in range(1000) if f"0.{i:03d}" not in record_numbers)
    assert absent in page_numbers(f"| demo | {absent} / 0.12 |")


def test_the_summary_fits_one_screen(server, browser):
    from urllib.parse import urljoin

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(urljoin(server, "reference/benchmarks/"))
    page.wait_for_load_state("networkidle")
    height = page.evaluate("() => document.querySelector('article').getBoundingClientRect().height")
    record = page.evaluate("() => [...document.querySelectorAll('article a')].filter("
                           "a => a.href.includes('benchmark-record')).length")
    page.close()
    assert height <= MAX_HEIGHT_PX, f"reference/benchmarks: {height:.0f} px tall, expected at most {MAX_HEIGHT_PX}"
    assert record >= 3, "the summary must link its details in the benchmark record"


@pytest.mark.parametrize("heading", [docs_benchmarks.NEUTRAL, docs_benchmarks.NETWORK, docs_benchmarks.MULTIMODE])
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
