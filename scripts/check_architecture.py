"""Check the rules of specs/architecture.md that a tool can check (run by ``nox -s lint``).

Usage:
    python scripts/check_architecture.py [ROOT]

Rules (specs/architecture.md §4, §6, §7):

1. **Module size**: no Python module under ``packages/*/src``, ``benchmarks/`` or ``scripts/`` exceeds
   ``MAX_LINES`` lines.
2. **Legacy state**: ``ptycho.params.cfg`` and the TensorFlow "current model" are read or written only by the
   compatibility-surface modules (``LEGACY_SURFACE``).
3. **Comments**: comments and docstrings of ``packages/*/src`` never describe the code by "the original"
   (comparisons belong in the specs); data strings (e.g. the bridge's mapping reasons) may.
4. **No import cycles** among this repository's modules, counting imports inside functions too.
5. **Deferred imports defer a framework**: an import inside a function names torch, TensorFlow/Keras,
   Lightning, matplotlib, an optional dependency (``OPTIONAL``), or one of this repository's modules that imports
   one of those at module level (directly or through other modules); anything else is imported at the top.
6. **Thin shims**: a module a backend package ships under the ``ptycho`` name (``SHIM_ROOTS``; the legacy names
   ptychodus and the seed guide import) binds one module of its own package under that name and holds nothing else:
   a docstring, ``import sys``, one ``from X import Y as _module`` and ``sys.modules[__name__] = _module`` (a
   package ``__init__`` holds a docstring only).

Rule 5 is a ratchet while the command lines are being restructured (issue 26): ``scripts/deferred_imports.json``
records, per module, how many such imports it still has; a module may have fewer (then lower its number with
``--write-baseline``), never more, and a module not listed has none.

Prints one line per violation (``path:line: rule: what``) and exits 1 if there is any, else prints a summary and
exits 0. ``--write-baseline`` rewrites the ratchet file from the current tree (only ever to lower it).
"""

from __future__ import annotations

import ast
import io
import json
import re
import sys
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MAX_LINES = 500
#: the third-party roots a function may import lazily: frameworks and optional dependencies
FRAMEWORKS = frozenset({"torch", "tensorflow", "keras", "lightning", "matplotlib", "tf_keras"})
OPTIONAL = frozenset({"h5py", "scipy", "skimage", "safetensors", "yaml", "mlflow", "tensorboard", "hypothesis",
                      "ptychi", "ptychodus", "PIL", "psutil", "tqdm", "mkdocs", "playwright"})
#: specs/architecture.md §4: the modules that may touch the legacy global state
LEGACY_SURFACE = (
    "ptycho/params.py", "ptycho/config/config.py", "ptycho_tf/compat/", "ptycho_bridge/backend_selector.py",
)
#: specs/architecture.md §7: the source trees whose ``ptycho`` modules are compatibility shims (rule 6)
SHIM_ROOTS = ("packages/ptycho-tf/src/ptycho",)
LEGACY_STATE = re.compile(r"params\.(cfg|get\(|set\()|current_config\(\)|fromptychoimportparams")
ORIGINAL = re.compile(r"\bthe original\b", re.IGNORECASE)


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    top: set[str] = field(default_factory=set)  # our modules imported at module level
    deferred: list[tuple[int, str]] = field(default_factory=list)  # (line, imported name) inside functions


def source_roots(root: Path) -> list[Path]:
    return sorted(p for p in (root / "packages").glob("*/src") if p.is_dir())


def module_name(src: Path, path: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def load_modules(root: Path) -> dict[str, Module]:
    mods: dict[str, Module] = {}
    for src in source_roots(root):
        for path in sorted(src.rglob("*.py")):
            name = module_name(src, path)
            mods[name] = Module(name, path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return mods


def _absolute(mod: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = mod.name.split(".") if mod.path.name == "__init__.py" else mod.name.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imported_names(mod: Module, node: ast.Import | ast.ImportFrom) -> list[str]:
    """Fully qualified names an import statement may load (``from a import b`` -> a.b and a)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = _absolute(mod, node)
    return [f"{base}.{a.name}" for a in node.names] + [base]


def resolve(name: str, mods: dict[str, Module]) -> str | None:
    """The longest prefix of ``name`` that is one of our modules (None for a third-party name)."""
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        candidate = ".".join(parts[:k])
        if candidate in mods:
            return candidate
    return None


def _in_type_checking(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def index_imports(mods: dict[str, Module]) -> None:
    for mod in mods.values():
        parents = {child: node for node in ast.walk(mod.tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(mod.tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or _in_type_checking(node, parents):
                continue
            inside, up = False, node
            while up in parents:
                up = parents[up]
                if isinstance(up, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                    inside = True
                    break
            for name in imported_names(mod, node):
                if inside:
                    mod.deferred.append((node.lineno, name))
                else:
                    target = resolve(name, mods)
                    if target is not None and target != mod.name:
                        mod.top.add(target)
        for target in list(mod.top):  # importing a.b.c runs a's and a.b's __init__ first
            parts = target.split(".")
            mod.top.update(p for p in (".".join(parts[:k]) for k in range(1, len(parts))) if p in mods and p != mod.name)


def heavy_modules(mods: dict[str, Module]) -> set[str]:
    """Our modules that import a framework or an optional/heavy dependency (scipy, scikit-image, h5py, ...) at module
    level, directly or through our other modules: importing them inside a function keeps start-up light."""
    heavy = {m.name for m in mods.values() for node in _module_level_imports(m)
             if any(n.split(".")[0] in FRAMEWORKS | OPTIONAL for n in imported_names(m, node))}
    changed = True
    while changed:
        changed = False
        for m in mods.values():
            if m.name not in heavy and m.top & heavy:
                heavy.add(m.name)
                changed = True
    return heavy


def _module_level_imports(mod: Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements run when the module is imported (nested in try/if blocks too; not in defs or classes)."""
    for top in mod.tree.body:
        if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for node in ast.walk(top):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield node


def check_sizes(root: Path) -> Iterator[str]:
    files = [p for src in source_roots(root) for p in src.rglob("*.py")]
    files += sorted((root / "benchmarks").rglob("*.py")) + sorted((root / "scripts").glob("*.py"))
    for path in sorted(files):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            yield f"{path.relative_to(root)}:1: module size: {lines} lines, expected at most {MAX_LINES}"


def check_legacy_state(root: Path, mods: dict[str, Module]) -> Iterator[str]:
    for mod in mods.values():
        rel = mod.path.as_posix()
        if any(f"/src/{allowed}" in rel for allowed in LEGACY_SURFACE) or "compat" in mod.path.name:
            continue
        for lineno, code in code_lines(mod.path.read_text(encoding="utf-8")).items():
            if LEGACY_STATE.search(code):
                yield (f"{mod.path.relative_to(root)}:{lineno}: legacy state: {code[:80]!r} outside the "
                       "compatibility surface")


def _is_shim_statement(node: ast.stmt) -> bool:
    """A docstring, ``from __future__``, ``import sys``, ``from X import Y as _module`` or
    ``sys.modules[__name__] = _module``."""
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
        return True
    if isinstance(node, ast.Import):
        return [a.name for a in node.names] == ["sys"]
    if isinstance(node, ast.ImportFrom):
        return node.module == "__future__" or len(node.names) == 1
    return isinstance(node, ast.Assign) and ast.unparse(node).startswith("sys.modules[__name__] = ")


def check_shims(root: Path) -> Iterator[str]:
    for shim_root in SHIM_ROOTS:
        for path in sorted((root / shim_root).rglob("*.py")):
            body = ast.parse(path.read_text(encoding="utf-8")).body
            binds = [n for n in body if isinstance(n, ast.Assign)]
            froms = [n for n in body if isinstance(n, ast.ImportFrom) and n.module != "__future__"]
            package = path.name == "__init__.py"
            bad = next((n for n in body if not _is_shim_statement(n)), None)
            if bad is not None or (package and (binds or froms)) or (not package and (len(binds), len(froms)) != (1, 1)):
                line = bad.lineno if bad is not None else 1
                yield (f"{path.relative_to(root)}:{line}: thin shim: a compatibility module binds one module "
                       "(docstring, import sys, one from-import, sys.modules[__name__] = ...) and holds nothing else")


def code_lines(text: str) -> dict[int, str]:
    """Line number -> the line's code tokens joined without spaces (strings and comments left out)."""
    skip = {tokenize.STRING, tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENCODING, tokenize.ENDMARKER}
    skip |= {getattr(tokenize, n) for n in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END") if hasattr(tokenize, n)}
    lines: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type not in skip:
            lines[tok.start[0]] = lines.get(tok.start[0], "") + tok.string
    return lines


def docstring_nodes(tree: ast.Module) -> Iterator[ast.Constant]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                yield first.value


def check_comments(root: Path, mods: dict[str, Module]) -> Iterator[str]:
    for mod in mods.values():
        text = mod.path.read_text(encoding="utf-8")
        hits = [(tok.start[0], tok.string) for tok in tokenize.generate_tokens(io.StringIO(text).readline)
                if tok.type == tokenize.COMMENT and ORIGINAL.search(tok.string)]
        for doc in docstring_nodes(mod.tree):
            for offset, line in enumerate(str(doc.value).splitlines()):
                if ORIGINAL.search(line):
                    hits.append((doc.lineno + offset, line))
        for lineno, what in sorted(hits):
            yield (f"{mod.path.relative_to(root)}:{lineno}: comments: {what.strip()[:80]!r} describes code by "
                   "'the original' (say what it does; comparisons go in specs/)")


def find_cycles(mods: dict[str, Module]) -> list[list[str]]:
    """Strongly connected components (size > 1) of the import graph, imports inside functions included."""
    graph: dict[str, set[str]] = {m.name: set(m.top) for m in mods.values()}
    for m in mods.values():
        for _, name in m.deferred:
            target = resolve(name, mods)
            if target is not None and target != m.name:
                graph[m.name].add(target)
    # a package imports its own submodules at its leisure; count edges from a package into itself as not cyclic
    for name in graph:
        graph[name] = {t for t in graph[name] if not t.startswith(name + ".") and not name.startswith(t + ".")}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan, iterative enough for this graph's depth
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def check_cycles(root: Path, mods: dict[str, Module]) -> Iterator[str]:
    for comp in find_cycles(mods):
        path = mods[comp[0]].path.relative_to(root)
        yield f"{path}:1: import cycle: {' <-> '.join(comp)}"


def check_deferred(root: Path, mods: dict[str, Module]) -> Iterator[str]:
    heavy = heavy_modules(mods)
    for mod in mods.values():
        for lineno, name in mod.deferred:
            root_name = name.split(".")[0]
            if root_name in FRAMEWORKS or root_name in OPTIONAL:
                continue
            target = resolve(name, mods)
            if target is not None and (target in heavy or target == mod.name):
                continue
            if target is None and not _is_stdlib_or_core(root_name):
                continue  # a third-party name not listed: judged by its own rule (import-linter)
            yield (f"{mod.path.relative_to(root)}:{lineno}: deferred import: {name!r} inside a function imports no "
                   "framework; import it at the top of the module")


def _is_stdlib_or_core(root_name: str) -> bool:
    return root_name in sys.stdlib_module_names or root_name in {"numpy"}


BASELINE = Path("scripts") / "deferred_imports.json"


def deferred_counts(lines: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in lines:
        path = line.split(":", 1)[0]
        counts[path] = counts.get(path, 0) + 1
    return counts


def ratchet(root: Path, deferred: list[str]) -> list[str]:
    """The deferred-import lines of modules that have more of them than ``BASELINE`` allows."""
    file = root / BASELINE
    allowed = json.loads(file.read_text(encoding="utf-8")) if file.is_file() else {}
    counts = deferred_counts(deferred)
    over = {path for path, n in counts.items() if n > int(allowed.get(path, 0))}
    return [f"{line} ({counts[line.split(':', 1)[0]]} in this module, {BASELINE} allows "
            f"{int(allowed.get(line.split(':', 1)[0], 0))})" for line in deferred if line.split(":", 1)[0] in over]


def run(root: Path) -> list[str]:
    mods = load_modules(root)
    index_imports(mods)
    problems: list[str] = []
    for check in (check_sizes(root), check_legacy_state(root, mods), check_comments(root, mods),
                  check_cycles(root, mods), check_shims(root)):
        problems.extend(check)
    return problems + ratchet(root, list(check_deferred(root, mods)))


def write_baseline(root: Path) -> int:
    mods = load_modules(root)
    index_imports(mods)
    counts = deferred_counts(list(check_deferred(root, mods)))
    (root / BASELINE).write_text(json.dumps(dict(sorted(counts.items())), indent=1) + "\n", encoding="utf-8")
    print(f"check_architecture: wrote {BASELINE}: {sum(counts.values())} deferred imports in {len(counts)} modules")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    write = "--write-baseline" in args
    args = [a for a in args if a != "--write-baseline"]
    root = Path(args[0] if args else Path(__file__).resolve().parents[1])
    if write:
        return write_baseline(root)
    problems = run(root)
    for line in problems:
        print(line)
    if problems:
        print(f"check_architecture: {len(problems)} violation(s) of specs/architecture.md", file=sys.stderr)
        return 1
    print("check_architecture: module size, legacy state, comments, import cycles, deferred imports and shims: ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
