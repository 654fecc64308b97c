"""ptycho.runtime is the failure path every backend and command line shares, so it imports only the standard
library and other standard-library-only modules of ``ptycho`` (specs/architecture.md §6)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import ptycho.runtime

ALLOWED_OURS = {"ptycho.runtime", "ptycho.progress_text"}


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_runtime_modules_import_only_the_standard_library():
    root = Path(ptycho.runtime.__file__).parent
    modules = sorted(root.glob("*.py"))
    assert {p.stem for p in modules} >= {"console", "interrupts", "faults", "progress", "processes"}
    for path in [*modules, root.parent / "progress_text.py"]:
        for name in _imports(path):
            top = name.split(".")[0]
            ours = any(name == a or name.startswith(a + ".") for a in ALLOWED_OURS)
            assert ours or top in sys.stdlib_module_names or top == "__future__", f"{path.name}: imports {name}"
