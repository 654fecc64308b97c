"""``ptycho.workflows.backend_selector``: the legacy module path of the backend selector
(specs/backend-selection.md §6, specs/architecture.md §7: compatibility shim).

This name is the selector itself, ``ptycho_bridge.backend_selector``, not a copy: importing it binds the same
module object, so ``run_cdi_example_with_backend``, ``load_inference_bundle_with_backend``,
``available_backends`` and ``resolve_backend`` behave identically under both names, and a test that patches
``ptycho.workflows.backend_selector.update_legacy_dict`` patches what the selector calls. It lives in
ptycho-tf because ``ptycho.workflows`` is that package's; a PyTorch-only install uses the bridge name.
"""

from __future__ import annotations

import sys

from ptycho_bridge import backend_selector as _selector

sys.modules[__name__] = _selector
