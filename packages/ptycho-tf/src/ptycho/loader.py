"""Compatibility name (specs/architecture.md §7): ``ptycho.loader`` is the module :mod:`ptycho_tf.legacy.loader`.

Importing this name binds that module object itself (one module, two names: its state, and a test's patch of
``ptycho.loader.<attr>``, are shared).
"""

import sys

from ptycho_tf.legacy import loader as _module

sys.modules[__name__] = _module
