"""Compatibility name (specs/architecture.md §7): ``ptycho.probe`` is the module :mod:`ptycho_tf.compat.probe`.

Importing this name binds that module object itself (one module, two names: its state, and a test's patch of
``ptycho.probe.<attr>``, are shared).
"""

import sys

from ptycho_tf.compat import probe as _module

sys.modules[__name__] = _module
