"""Compatibility name (specs/architecture.md §7): ``ptycho.workflows.components`` is the module :mod:`ptycho_tf.compat.components`.

Importing this name binds that module object itself (one module, two names: its state, and a test's patch of
``ptycho.workflows.components.<attr>``, are shared).
"""

import sys

from ptycho_tf.compat import components as _module

sys.modules[__name__] = _module
