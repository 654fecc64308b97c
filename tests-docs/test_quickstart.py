"""docs/quickstart.md runs as written: its shell and Python blocks, extracted from the page, in order.

Every ```bash block after the install section is run with ``bash -e`` in one scratch folder (the install block
is a ``console`` block: it builds wheels and is covered by ``nox -s torch-only``), then every ```python block
with this interpreter. The files the page says the commands write must exist afterwards, so a renamed output
(e.g. ``reconstructed_object.npz``) breaks this test rather than the reader.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "quickstart.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks(language: str) -> list[str]:
    """The fenced code blocks of the quickstart in ``language``, in page order."""
    return [body for lang, body in FENCE.findall(PAGE.read_text(encoding="utf-8")) if lang == language]


def written_files() -> list[str]:
    """Paths the page's 'writes' table names (first column command, second column files in backticks)."""
    text = PAGE.read_text(encoding="utf-8")
    paths = re.findall(r"`(runs/[^`]+\.(?:npz|png|json|zip))`", text)
    return sorted(set(paths))


def test_page_has_the_commands():
    bash = "\n".join(blocks("bash"))
    for command in ("ptycho simulate", "ptycho validate", "ptycho train", "ptycho infer", "ptycho evaluate"):
        assert command in bash, f"docs/quickstart.md: expected a bash block running '{command}', found none"
    assert written_files(), "docs/quickstart.md: expected a table of the files the commands write"


def test_quickstart_runs_as_written(tmp_path):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "MPLBACKEND": "Agg", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    for i, script in enumerate(blocks("bash")):
        done = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=600)
        if done.returncode != 0:
            pytest.fail(f"docs/quickstart.md bash block {i + 1} failed (exit {done.returncode}):\n{script}\n"
                        f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}")
    missing = [p for p in written_files() if not (tmp_path / p).is_file()]
    assert not missing, f"docs/quickstart.md names files the commands did not write: {missing}"
    # the page's claim: a recognisably right reconstruction (it states amplitude / phase SSIM 0.95 / 0.88)
    import json

    scores = json.loads((tmp_path / "runs/first/eval/metrics.json").read_text())
    assert scores["placement"]["scanned_region"]
    assert scores["amplitude"]["ssim"] > 0.8 and scores["phase"]["ssim"] > 0.6, scores["amplitude"]
    for i, code in enumerate(blocks("python")):
        done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=600)
        if done.returncode != 0:
            pytest.fail(f"docs/quickstart.md python block {i + 1} failed:\n{done.stderr[-3000:]}")
        assert done.stdout.strip(), f"docs/quickstart.md python block {i + 1} printed nothing"
