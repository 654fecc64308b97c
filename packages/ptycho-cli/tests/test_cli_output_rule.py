"""One rule for the output path of every ``ptycho`` command (specs/cli.md §1.1): missing folders are created with
their parents, a file in the way is one line and exit 2 before anything is created, a failed command leaves no
partial output."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from ptycho_cli.main import main
from ptycho_cli.output_paths import output_transaction

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"
HAS_TORCH = importlib.util.find_spec("ptycho_torch") is not None


def _err(capsys) -> list[str]:
    return [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]


def test_simulate_and_evaluate_create_missing_folders_with_their_parents(tmp_path, capsys):
    scan = tmp_path / "a" / "b" / "scan.npz"
    assert main(["simulate", "-o", str(scan), "--n-positions", "8", "--quiet"]) == 0
    assert scan.is_file()
    gt = np.load(FIXTURE)["objectGuess"]
    recon = tmp_path / "recon.npz"
    np.savez(recon, reconstruction=gt[40:120, 40:120].astype(np.complex64))
    out = tmp_path / "x" / "y" / "z"
    assert main(["evaluate", "-r", str(recon), "-g", str(FIXTURE), "--output-dir", str(out), "--quiet"]) == 0
    assert (out / "metrics.json").is_file()


def _commands(tmp: Path, blocked: str) -> list[tuple[str, list[str], str, bool]]:
    fix = str(FIXTURE)
    return [
        ("simulate", ["-o", f"{blocked}/x.npz", "--n-positions", "8"], "--output", True),
        ("convert", [fix, "-o", f"{blocked}/x.npz"], "--output", True),
        ("evaluate", ["-r", fix, "-g", fix, "--output-dir", blocked], "--output-dir", True),
        ("demo", ["--fast", "--output-dir", blocked], "--output-dir", True),
        ("refine", ["--test-data", fix, "--output-dir", blocked], "--output-dir", HAS_TORCH),
        ("infer", ["--model_path", fix, "--test_data", fix, "--output_dir", blocked], "--output_dir", True),
        ("train", ["--train_data_file", fix, "--output_dir", blocked], "--output_dir", True),
    ]


@pytest.mark.parametrize("index", range(7))
def test_a_file_in_the_way_is_one_line_before_anything_is_created(tmp_path, capsys, index):
    (tmp_path / "f").write_text("a file")
    blocked = str(tmp_path / "f" / "sub")
    command, args, flag, present = _commands(tmp_path, blocked)[index]
    if not present:
        pytest.skip("backend not installed")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main([command, *args]) == 2
    lines = _err(capsys)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"ptycho {command}: error: {flag} {tmp_path / 'f'}"), lines[0]
    assert f"expected a folder at {tmp_path / 'f'}, found a file" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_an_output_folder_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "out").write_text("a file")
    assert main(["evaluate", "-r", str(FIXTURE), "-g", str(FIXTURE), "--output-dir", str(tmp_path / "out")]) == 2
    assert _err(capsys) == [f"ptycho evaluate: error: --output-dir {tmp_path / 'out'}: expected a folder, found a file"]


def test_a_failed_command_removes_the_folders_it_created_and_its_new_entries(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    np.savez(bad, nothing=np.zeros(3))
    assert main(["evaluate", "-r", str(bad), "-g", str(FIXTURE), "--output-dir", str(tmp_path / "a" / "b")]) == 2
    assert not (tmp_path / "a").exists()
    # an existing folder: its own contents stay, the command's additions go
    folder = tmp_path / "existing"
    (folder / "old").mkdir(parents=True)
    (folder / "keep.txt").write_text("mine")
    with pytest.raises(KeyboardInterrupt), output_transaction(folder, "--output-dir", "dir"):
        (folder / "metrics.json").write_text("{}")
        (folder / "old" / "inner.txt").write_text("x")  # below the top level: not watched
        (folder / "fig").mkdir()
        raise KeyboardInterrupt
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt", "old"]
    assert (folder / "keep.txt").read_text() == "mine"
    with output_transaction(folder, "--output-dir", "dir") as outcome:
        (folder / "partial.npz").write_text("x")
        outcome.failed()  # a command that returned a non-zero status
    assert not (folder / "partial.npz").exists()
    with output_transaction(tmp_path / "n" / "m" / "x.npz", "--output", "file"):
        (tmp_path / "n" / "m" / "x.npz").write_text("done")
    assert (tmp_path / "n" / "m" / "x.npz").read_text() == "done"  # success keeps everything
