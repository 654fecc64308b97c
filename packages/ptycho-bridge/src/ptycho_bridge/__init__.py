"""ptycho_bridge: PyTorch-native configs, the canonical <-> PyTorch config bridge, backend selection.

Imports neither torch nor tensorflow (the backends are imported lazily inside the selector's functions).
Specs: specs/config-bridge.md (generated from ``ptycho_bridge.bridge.FIELD_MAP``), specs/backend-selection.md.
"""

from ptycho_bridge import bridge
from ptycho_bridge.backend_api import Backend, Reconstruction
from ptycho_bridge.backend_selector import (
    available_backends,
    load_backend,
    load_inference_bundle_with_backend,
    resolve_backend,
    run_cdi_example_with_backend,
)
from ptycho_bridge.bridge import *  # noqa: F403  (the conversions named in bridge.__all__)
from ptycho_bridge.config_params import (
    DataConfig,
    InferenceConfig,
    ModelConfig,
    TrainingConfig,
    update_config,
)
from ptycho_bridge.execution import PyTorchExecutionConfig, execution_config_for

__version__ = "0.1.0"

__all__ = [
    "DataConfig",
    "ModelConfig",
    "TrainingConfig",
    "InferenceConfig",
    "PyTorchExecutionConfig",
    "update_config",
    "execution_config_for",
    *bridge.__all__,
    "run_cdi_example_with_backend",
    "load_inference_bundle_with_backend",
    "available_backends",
    "resolve_backend",
    "load_backend",
    "Backend",
    "Reconstruction",
]
