"""An unknown flag names the ``ptycho`` subcommand it was given to, never an internal module, exits 2 and leaves
nothing on disk (specs/cli.md §1, §1.1). Every subcommand, both backends where a backend reads the flags."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ptycho_cli.main import main

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"
HAS_TORCH = importlib.util.find_spec("ptycho_torch") is not None
HAS_TF = importlib.util.find_spec("ptycho_tf") is not None


def _cases(tmp: Path) -> list[tuple[str, list[str], bool]]:
    fix, bundle, out = str(FIXTURE), str(tmp / "model.zip"), str(tmp / "out" / "deep")
    cases = [
        ("simulate", ["-o", str(tmp / "out" / "x.npz")], True),
        ("validate", [fix], True),
        ("evaluate", ["-r", fix, "-g", fix, "--output-dir", out], True),
        ("demo", ["--output-dir", out, "--fast"], True),
        ("refine", ["--test-data", fix, "--output-dir", out], HAS_TORCH),
        ("convert", [fix, "-o", str(tmp / "out" / "x.npz")], True),
    ]
    for backend, present in (("pytorch", HAS_TORCH), ("tensorflow", HAS_TF)):
        cases.append(("train", ["--backend", backend, "--train_data_file", fix, "--output_dir", out], present))
        cases.append(("infer", ["--backend", backend, "--model_path", bundle, "--test_data", fix, "--output_dir", out],
                      present))
    return cases


@pytest.mark.parametrize("index", range(10))
@pytest.mark.parametrize("flag", [["--refine_iterations", "10"], ["--bogus"]])
def test_unknown_flag_names_the_subcommand(tmp_path, capsys, index, flag):
    (tmp_path / "model.zip").write_bytes(b"")  # never read: the flags are checked first
    command, args, present = _cases(tmp_path)[index]
    if not present:
        pytest.skip(f"{command}: backend not installed")
    capsys.readouterr()
    assert main([command, *args, *flag]) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"ptycho {command}: error: unrecognized arguments"), lines[0]
    assert flag[0] in lines[0] and "ptycho_torch" not in lines[0] and "ptycho_cli" not in lines[0]
    assert not (tmp_path / "out").exists()


def test_a_missing_required_flag_names_the_subcommand(capsys):
    assert main(["simulate"]) == 2
    assert capsys.readouterr().err.startswith("ptycho simulate: error: the following arguments are required: --output")
