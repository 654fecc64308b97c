"""The PtychoPINN v2 PyTorch config classes, the names ptychodus and other v2 callers import
(specs/ptychodus-torch.md): ``DataConfig``, ``ModelConfig``, ``TrainingConfig``, ``InferenceConfig``,
``DatagenConfig`` of :mod:`ptycho_bridge.v2_config` (an input dialect converted once at the boundary by
:mod:`ptycho_bridge.v2_convert`; ``ptycho_torch.config_bridge`` accepts them directly).

The frozen PyTorch-native configs of this repository are ``ptycho_bridge.config_params`` (also reachable here
as ``native``); ``PyTorchExecutionConfig`` carries the runtime knobs. Importing this module needs no torch.
"""

from ptycho_bridge import config_params as native  # noqa: F401
from ptycho_bridge.config_params import update_config  # noqa: F401
from ptycho_bridge.execution import PyTorchExecutionConfig, execution_config_for  # noqa: F401
from ptycho_bridge.v2_config import (  # noqa: F401
    DataConfig,
    DatagenConfig,
    InferenceConfig,
    ModelConfig,
    TrainingConfig,
    field_fates,
)

__all__ = ["DataConfig", "ModelConfig", "TrainingConfig", "InferenceConfig", "DatagenConfig", "PyTorchExecutionConfig",
           "execution_config_for", "update_config", "field_fates", "native"]
