"""Compatibility name (specs/architecture.md §7): ``ptycho.loader`` is the module :mod:`ptycho_tf.compat.loader`.

Importing this name binds that module object itself (one module, two names: its state, and a test's patch of
``ptycho.loader.<attr>``, are shared).
"""

import sys

from ptycho_tf.compat import loader as _module

sys.modules[__name__] = _module
