"""Public model API of the PyTorch backend (re-exports).

* ``PtychoPINN_Lightning`` - the Lightning module (training, validation, prediction);
* ``PtychoNet`` / ``build_pinn_parts`` / ``build_baseline_parts`` - the generator networks (network.py);
* ``ForwardModel`` / ``object_patches`` - intensity scale, probe and physics chain (forward_model.py).

Specs: specs/network.md (architecture, weight names and shapes), specs/torch-training.md (losses,
metrics, schedulers, determinism).
"""

from .forward_model import ForwardModel, object_patches
from .lightning_module import SCHEDULERS, PtychoPINN_Lightning
from .network import (
    PtychoNet,
    build_baseline_parts,
    build_pinn_parts,
    count_parameters,
    keras_like_init_,
    network_kwargs,
    run_generator,
)

__all__ = [
    "PtychoPINN_Lightning",
    "SCHEDULERS",
    "ForwardModel",
    "object_patches",
    "PtychoNet",
    "build_pinn_parts",
    "build_baseline_parts",
    "count_parameters",
    "keras_like_init_",
    "network_kwargs",
    "run_generator",
]
