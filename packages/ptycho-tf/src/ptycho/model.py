"""Compatibility name (specs/architecture.md §7): ``ptycho.model`` is the module :mod:`ptycho_tf.compat.model`.

Importing this name binds that module object itself (one module, two names: its state, and a test's patch of
``ptycho.model.<attr>``, are shared).
"""

import sys

from ptycho_tf.compat import model as _module

sys.modules[__name__] = _module
