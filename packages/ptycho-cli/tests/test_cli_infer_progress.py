"""``ptycho infer`` shows its long steps (specs/cli.md §4): each prediction batch of the network and each
refinement pass, as plain lines when its output is a pipe, a redrawn line on a terminal, nothing with --quiet.

The command runs in a child process with stdout and stderr captured (pipes), as a user's log would see it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ptycho_torch")

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
LINE = re.compile(r"^(?P<desc>.+?) (?P<done>\d+)/(?P<total>\d+)(?P<values>(  \w+ \S+)*)  elapsed \d+:\d\d  "
                  r"eta (\d+:\d\d|\?)$")


def ptycho(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ptycho_cli", *args], capture_output=True, text=True, env=ENV,
                          timeout=600)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("progress") / "model"
    r = ptycho("train", "--backend", "pytorch", "--train-data-file", str(FIXTURE), "--output-dir", str(out),
               "--n-groups", "16", "--max-epochs", "1", "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def _progress(stderr: str, desc: str) -> list[tuple[int, int, str]]:
    """(done, total, values) of the progress lines of ``desc`` on stderr; every such line must parse."""
    rows = []
    for line in stderr.splitlines():
        if line.startswith(desc + " "):
            m = LINE.match(line)
            assert m and m["desc"] == desc, f"malformed progress line: {line!r}"
            rows.append((int(m["done"]), int(m["total"]), m["values"]))
    return rows


def test_infer_in_a_pipe_prints_a_line_per_batch_and_per_refinement_pass(bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "recon"
    r = ptycho("infer", "--backend", "pytorch", "--model-path", str(bundle), "--test-data", str(FIXTURE),
               "--output-dir", str(out), "--inference-batch-size", "16", "--refine-iterations", "3",
               "--refine-tolerance", "0", "--refine-device", "cpu")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "\r" not in r.stdout + r.stderr  # a pipe gets lines, never a carriage-return bar
    batches = _progress(r.stderr, "predicting: batch")
    # 64 positions in batches of 16: 4 batches; the first and the last line always print (at most one a second)
    assert batches[0][:2] == (1, 4) and batches[-1][:2] == (4, 4), r.stderr
    assert [b[0] for b in batches] == sorted({b[0] for b in batches})
    passes = _progress(r.stderr, "refining: pass")
    assert [p[:2] for p in passes] == [(1, 3), (2, 3), (3, 3)], r.stderr
    assert all(p[2].startswith("  nll ") for p in passes)
    # the lines come before the summary: prediction, then refinement, then the final files
    assert r.stderr.index("predicting: batch 4/4") < r.stderr.index("refining: pass 1/3")
    assert r.stdout.strip().splitlines()[-1].startswith(f"refined={out.resolve()} iterations=3")
    assert (out / "reconstructed_object.npz").is_file() and (out / "network_object.npz").is_file()


def test_infer_quiet_shows_no_progress(bundle: Path, tmp_path: Path) -> None:
    r = ptycho("infer", "--backend", "pytorch", "--model-path", str(bundle), "--test-data", str(FIXTURE),
               "--output-dir", str(tmp_path / "q"), "--inference-batch-size", "16", "--refine-iterations", "1",
               "--refine-device", "cpu", "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "predicting:" not in r.stderr and "refining:" not in r.stderr, r.stderr
