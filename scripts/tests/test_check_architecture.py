"""scripts/check_architecture.py finds each rule's violation in a small tree and passes this repository."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import check_architecture as C  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (tmp_path / "benchmarks").mkdir(exist_ok=True)
    (tmp_path / "scripts").mkdir(exist_ok=True)
    return tmp_path


SHIM = '"""Legacy name."""\n\nimport sys\n\nfrom pkg import light as _module\n\nsys.modules[__name__] = _module\n'
CLEAN = {
    "packages/a/src/pkg/__init__.py": '"""Package."""\n',
    "packages/a/src/pkg/light.py": '"""Light."""\n\nimport json\n\nX = json.dumps(1)\n',
    "packages/a/src/pkg/heavy.py": '"""Heavy."""\n\nimport torch\n',
    "packages/a/src/pkg/user.py": '"""Defers a framework."""\n\n\ndef f():\n    from pkg.heavy import torch\n\n'
                                  '    import matplotlib\n    return torch, matplotlib\n',
}


@pytest.mark.parametrize("rule, files", [
    ("module size", {"packages/a/src/pkg/big.py": "x = 1\n" * (C.MAX_LINES + 1)}),
    ("module size", {"benchmarks/big.py": "x = 1\n" * (C.MAX_LINES + 1)}),
    ("legacy state", {"packages/a/src/pkg/state.py": "from ptycho import params\nv = params.cfg['N']\n"}),
    ("comments", {"packages/a/src/pkg/talk.py": "x = 1  # as in the original\n"}),
    ("comments", {"packages/a/src/pkg/doc.py": '"""Does what the original did."""\n'}),
    ("import cycle", {"packages/a/src/pkg/one.py": "from pkg import two\n",
                      "packages/a/src/pkg/two.py": "def f():\n    from pkg import one\n    return one\n"}),
    ("deferred import", {"packages/a/src/pkg/lazy.py": "def f():\n    import json\n    return json\n"}),
    ("deferred import", {"packages/a/src/pkg/lazy2.py": "def f():\n    from pkg.light import X\n    return X\n"}),
    ("thin shim", {"packages/ptycho-tf/src/ptycho/old.py": SHIM + "\n\ndef extra():\n    return 1\n"}),
    ("thin shim", {"packages/ptycho-tf/src/ptycho/two.py": SHIM + "from pkg import heavy as _other\n"}),
    ("thin shim", {"packages/ptycho-tf/src/ptycho/sub/__init__.py": "from pkg import light\n"}),
])
def test_each_rule_finds_its_violation(tmp_path, rule, files):
    root = _tree(tmp_path, {**CLEAN, **files})
    problems = C.run(root)
    assert any(f": {rule}:" in p for p in problems), problems
    assert C.main([str(root)]) == 1


def test_a_clean_tree_passes_and_data_strings_and_the_compatibility_surface_are_allowed(tmp_path):
    files = {**CLEAN,
             "packages/a/src/pkg/data.py": 'REASON = "the original kept params.cfg"\n',
             "packages/a/src/ptycho/params.py": "cfg = {}\nv = cfg.get('N')\nfrom ptycho import params\n",
             "packages/ptycho-tf/src/ptycho/old.py": SHIM,
             "packages/ptycho-tf/src/ptycho/sub/__init__.py": '"""A compatibility package."""\n'}
    root = _tree(tmp_path, files)
    assert C.run(root) == []
    assert C.main([str(root)]) == 0


def test_the_deferred_import_ratchet_allows_the_recorded_count_and_no_more(tmp_path):
    lazy = "def f():\n    import json\n    return json\n"
    root = _tree(tmp_path, {**CLEAN, "packages/a/src/pkg/lazy.py": lazy})
    assert C.main([str(root), "--write-baseline"]) == 0
    assert json.loads((root / C.BASELINE).read_text()) == {"packages/a/src/pkg/lazy.py": 1}
    assert C.run(root) == []
    (root / "packages/a/src/pkg/lazy.py").write_text(lazy + "\n\ndef g():\n    import os\n    return os\n")
    assert any("deferred import" in p for p in C.run(root))


def test_this_repository_follows_the_rules():
    assert C.run(ROOT) == []
