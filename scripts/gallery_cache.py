"""The gallery's cache key: a hash of the code an example ran, so an unchanged gallery is never recomputed.

An example runs through :data:`RUNNER`, which records every source file it loaded from this repository (the
packages' ``src/`` trees and ``examples/``). The key of a run (:func:`code_key`) hashes, for each recorded file,
its code with docstrings removed and comments ignored (the AST), plus the example's FIGURES and code, the Python
version and the installed versions of the numerical libraries. Editing a docstring, a comment, a spec or a
module the example never imports leaves the key and the figures as they are; changing code it runs, or
upgrading torch, runs it again.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["RUNNER", "LIBRARIES", "code_digest", "code_key", "recorded_files"]

#: installed distributions whose version is part of the key (their numerics make the figures)
LIBRARIES = ("numpy", "scipy", "torch", "lightning", "tensorflow", "tensorflow-cpu", "keras", "matplotlib",
             "scikit-image")

#: ``python -c RUNNER EXAMPLE OUT RECORD``: run EXAMPLE as ``__main__`` with argv [EXAMPLE, OUT], then write to
#: RECORD the repository source files it loaded (JSON list of paths relative to the repository). The example's
#: folder comes first on sys.path, as when run as a script.
RUNNER = """
import json, runpy, sys
from pathlib import Path
example, out, record, root = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])
sys.argv = [example, out]
sys.path.insert(0, str(Path(example).parent))
runpy.run_path(example, run_name="__main__")
files = set()
for module in list(sys.modules.values()):
    f = getattr(module, "__file__", None)
    if not f or not f.endswith(".py"):
        continue
    p = Path(f).resolve()
    if root in p.parents and ("src" in p.relative_to(root).parts or p.parent.name == "examples"):
        files.add(p.relative_to(root).as_posix())
Path(record).write_text(json.dumps(sorted(files)))
"""


def code_digest(path: Path) -> str:
    """SHA-256 of a Python file's code: its AST without docstrings (comments and layout never reach the AST).
    A file that does not parse hashes as its bytes."""
    source = path.read_bytes()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return hashlib.sha256(source).hexdigest()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant) \
                    and isinstance(first.value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()


def _versions() -> list[str]:
    out = [f"python {sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"]
    for name in LIBRARIES:
        try:
            out.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{name} -")
    return out


def code_key(example: Path, files: list[str], root: Path = ROOT) -> str | None:
    """The cache key of ``example`` given the repository files its last run loaded (relative paths); None when
    one of them is gone (the run must be redone)."""
    digest = hashlib.sha256()
    digest.update(code_digest(example).encode())
    for line in _versions():
        digest.update(line.encode() + b"\n")
    for rel in sorted(set(files)):
        path = root / rel
        if not path.is_file():
            return None
        digest.update(rel.encode() + b"\0" + code_digest(path).encode() + b"\n")
    return digest.hexdigest()


def recorded_files(stamp: Path) -> tuple[str, list[str]] | None:
    """(key, files) stored in a run's stamp, or None when it is missing or not one of ours."""
    try:
        data = json.loads(stamp.read_text(encoding="utf-8"))
        return str(data["key"]), [str(f) for f in data["files"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
