"""The canonical <-> PyTorch config bridge; re-exported from ``ptycho_bridge.bridge`` (specs/config-bridge.md)."""

from ptycho_bridge.bridge import *  # noqa: F401,F403
from ptycho_bridge.bridge import __all__  # noqa: F401
