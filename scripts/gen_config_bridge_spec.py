"""Write specs/config-bridge.md from the mapping table in code (``config_bridge_spec.render_bridge_spec``, beside
this script).

    python scripts/gen_config_bridge_spec.py          # regenerate the page
    python scripts/gen_config_bridge_spec.py --check  # exit 1 when the committed page is stale

The page is never edited by hand; scripts/tests/test_config_bridge_spec.py fails when it differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ptycho.atomic_io import save_text_atomic

sys.path.insert(0, str(Path(__file__).resolve().parent))  # config_bridge_spec, also when loaded by path
from config_bridge_spec import render_bridge_spec  # noqa: E402

SPEC = Path(__file__).resolve().parents[1] / "specs" / "config-bridge.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the page is stale")
    args = parser.parse_args(argv)
    text = render_bridge_spec()
    if args.check:
        current = SPEC.read_text(encoding="utf-8") if SPEC.exists() else ""
        if current != text:
            print(f"{SPEC}: stale; run python scripts/gen_config_bridge_spec.py")
            return 1
        print(f"{SPEC}: up to date")
        return 0
    save_text_atomic(SPEC, text)
    print(f"wrote {SPEC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
