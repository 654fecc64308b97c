"""PyTorch-native configs; re-exported from ``ptycho_bridge`` (specs/config-bridge.md). Needs no torch."""

from ptycho_bridge.config_params import *  # noqa: F401,F403
from ptycho_bridge.config_params import __all__ as _native_all
from ptycho_bridge.execution import PyTorchExecutionConfig, execution_config_for  # noqa: F401

__all__ = [*_native_all, "PyTorchExecutionConfig", "execution_config_for"]
