"""Compatibility name (specs/architecture.md §7): ``ptycho.tf_helper`` is the module :mod:`ptycho_tf.compat.tf_helper`.

Importing this name binds that module object itself (one module, two names: its state, and a test's patch of
``ptycho.tf_helper.<attr>``, are shared).
"""

import sys

from ptycho_tf.compat import tf_helper as _module

sys.modules[__name__] = _module
