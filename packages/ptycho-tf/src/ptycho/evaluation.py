"""Compatibility name (specs/architecture.md §7): ``ptycho.evaluation`` is the module :mod:`ptycho_tf.evaluation`.

Importing this name binds that module object itself (one module, two names: its state, and a test's patch of
``ptycho.evaluation.<attr>``, are shared).
"""

import sys

from ptycho_tf import evaluation as _module

sys.modules[__name__] = _module
