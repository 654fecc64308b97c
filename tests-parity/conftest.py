"""Cross-backend parity suite setup (specs/parity.md §4).

Options / environment (command line wins over the environment):

  --device {cpu,cuda}   PTYCHO_PARITY_DEVICE   device of the Torch side (default cpu). ``cuda`` FAILS the
                                               session at start when no CUDA device is visible.
  --tf {auto,require,off}  PTYCHO_PARITY_TF    live TensorFlow side: ``auto`` runs it when
                                               ``importlib.util.find_spec('tensorflow')`` finds it,
                                               ``require`` fails the session when it does not, ``off``
                                               never imports it (golden vectors only).
  --parity-report DIR   PTYCHO_PARITY_REPORT   where parity-report.json/.md are written at the end
                                               (default tests-parity/report; ``none`` disables).

TF32 is disabled for the Torch side whenever the device is CUDA (``torch.backends.cuda.matmul.allow_tf32
= False``, ``torch.backends.cudnn.allow_tf32 = False``), so float32 tolerances mean float32.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import parity_support as ps  # noqa: E402


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("parity")
    group.addoption("--device", default=None, choices=("cpu", "cuda"),
                    help="device of the Torch side (env PTYCHO_PARITY_DEVICE; default cpu)")
    group.addoption("--tf", dest="parity_tf", default=None, choices=("auto", "require", "off"),
                    help="live TensorFlow side (env PTYCHO_PARITY_TF; default auto)")
    group.addoption("--parity-report", default=None,
                    help="report folder (env PTYCHO_PARITY_REPORT; default tests-parity/report; 'none' = off)")


def _opt(config: pytest.Config, name: str, env: str, default: str) -> str:
    value = config.getoption(name)
    return value if value is not None else os.environ.get(env, default)


def pytest_configure(config: pytest.Config) -> None:
    device = _opt(config, "device", "PTYCHO_PARITY_DEVICE", "cpu")
    if device not in ("cpu", "cuda"):
        raise pytest.UsageError(f"PTYCHO_PARITY_DEVICE: expected 'cpu' or 'cuda', found {device!r}")
    tf_mode = _opt(config, "parity_tf", "PTYCHO_PARITY_TF", "auto")
    if tf_mode not in ("auto", "require", "off"):
        raise pytest.UsageError(f"PTYCHO_PARITY_TF: expected 'auto', 'require' or 'off', found {tf_mode!r}")
    report = _opt(config, "parity_report", "PTYCHO_PARITY_REPORT", str(HERE / "report"))
    ps.STATE.configure(device=device, tf_mode=tf_mode, report_dir=None if report == "none" else Path(report))
    config.addinivalue_line("markers", "slow: takes more than ~20 s")
    config.addinivalue_line("markers", "needs_tf: compares against live TensorFlow")


def pytest_sessionstart(session: pytest.Session) -> None:
    problem = ps.STATE.check_environment()
    if problem:
        raise pytest.UsageError(problem)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ps.STATE.tf_live:
        return
    skip = pytest.mark.skip(reason=f"live TensorFlow not used ({ps.STATE.tf_reason}); golden vectors cover the Torch side")
    for item in items:
        if "needs_tf" in item.keywords:
            item.add_marker(skip)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    ps.STATE.write_report(exitstatus)


@pytest.fixture(scope="session")
def device() -> str:
    """The Torch device of this run ('cpu' or 'cuda')."""
    return ps.STATE.device
