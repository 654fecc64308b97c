"""scripts/gallery_cache.py: the gallery's cache key follows the code an example ran, not its prose, and the
runner records the repository files an example loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gallery_cache as G  # noqa: E402


def _tree(root: Path, module: str) -> tuple[Path, list[str]]:
    (root / "examples").mkdir(parents=True, exist_ok=True)
    src = root / "packages" / "p" / "src" / "mod"
    src.mkdir(parents=True, exist_ok=True)
    (src / "__init__.py").write_text(module)
    example = root / "examples" / "01_demo.py"
    example.write_text('"""Title\n\nIntro."""\nimport mod\nFIGURES = {"a.png": "A"}\nprint(mod.value())\n')
    return example, ["packages/p/src/mod/__init__.py"]


def test_docstrings_and_comments_keep_the_key_code_changes_it(tmp_path):
    example, files = _tree(tmp_path, '"""Doc."""\ndef value():\n    """One."""\n    return 1\n')
    key = G.code_key(example, files, tmp_path)
    module = tmp_path / "packages/p/src/mod/__init__.py"
    module.write_text('"""Another doc."""\n# a comment\ndef value():\n    """Still one."""\n\n    return 1  # same\n')
    example.write_text(example.read_text().replace("Intro.", "A longer introduction."))
    assert G.code_key(example, files, tmp_path) == key  # prose only: the figures stand
    module.write_text('"""Doc."""\ndef value():\n    return 2\n')
    assert G.code_key(example, files, tmp_path) != key  # code the example runs changed
    module.unlink()
    assert G.code_key(example, files, tmp_path) is None  # a file it loaded is gone: run again


def test_the_runner_records_what_the_example_loaded(tmp_path):
    example, _ = _tree(tmp_path, "def value():\n    return 7\n")
    # the example imports mod from the package's src tree: put it on the path as an editable install would
    record = tmp_path / "loaded.json"
    env = {"PYTHONPATH": str(tmp_path / "packages" / "p" / "src"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", G.RUNNER, str(example), str(tmp_path / "out"), str(record),
                           str(tmp_path.resolve())], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "7\n"
    assert json.loads(record.read_text()) == ["packages/p/src/mod/__init__.py"]


def test_a_stamp_that_is_not_ours_is_no_cache(tmp_path):
    assert G.recorded_files(tmp_path / "missing") is None
    (tmp_path / "old").write_text("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
    assert G.recorded_files(tmp_path / "old") is None  # the former stamp (one SHA-256): rerun once
    (tmp_path / "new").write_text(json.dumps({"key": "k", "files": ["a.py"]}))
    assert G.recorded_files(tmp_path / "new") == ("k", ["a.py"])
