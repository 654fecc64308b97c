"""Fail unless every package declares the workspace version in VERSION (one shared version)."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    expected = (ROOT / "VERSION").read_text().strip()
    bad = []
    for pyproject in sorted(ROOT.glob("packages/*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        if project["version"] != expected:
            bad.append(f"{pyproject.parent.name}: {project['version']} (expected {expected})")
        for dep in project.get("dependencies", []):
            if dep.startswith("ptycho-") and not dep.endswith(f"=={expected}"):
                bad.append(f"{pyproject.parent.name}: dependency {dep!r} must pin =={expected}")
    if bad:
        print("version mismatch:\n  " + "\n  ".join(bad))
        return 1
    print(f"all packages at {expected}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
