"""specs/config-bridge.md is generated from the mapping table; the committed page must be current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ptycho_bridge.field_map import FIELD_MAP

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from config_bridge_spec import render_bridge_spec  # noqa: E402

SPEC = ROOT / "specs" / "config-bridge.md"


def test_committed_spec_matches_the_table():
    """Regenerate with: python scripts/gen_config_bridge_spec.py"""
    assert SPEC.read_text(encoding="utf-8") == render_bridge_spec(), (
        "specs/config-bridge.md is stale; run python scripts/gen_config_bridge_spec.py"
    )


def test_every_row_appears_in_the_page():
    text = render_bridge_spec()
    for row in FIELD_MAP:
        assert f"| `{row.field}` | `{row.source}` |" in text


def test_generator_check_mode_reports_staleness(tmp_path, monkeypatch):
    script = ROOT / "scripts" / "gen_config_bridge_spec.py"
    ok = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # the same check against a stale copy fails
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_config_bridge_spec", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stale = tmp_path / "config-bridge.md"
    stale.write_text(render_bridge_spec().replace("DataConfig.K", "DataConfig.Q"), encoding="utf-8")
    monkeypatch.setattr(module, "SPEC", stale)
    assert module.main(["--check"]) == 1
    assert module.main([]) == 0 and stale.read_text(encoding="utf-8") == render_bridge_spec()
