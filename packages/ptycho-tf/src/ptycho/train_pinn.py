"""Compatibility name (specs/architecture.md §7): ``ptycho.train_pinn`` is the module :mod:`ptycho_tf.compat.train_pinn`.

Importing this name binds that module object itself (one module, two names: its state, and a test's patch of
``ptycho.train_pinn.<attr>``, are shared).
"""

import sys

from ptycho_tf.compat import train_pinn as _module

sys.modules[__name__] = _module
