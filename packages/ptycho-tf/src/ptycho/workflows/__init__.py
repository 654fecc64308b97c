"""Compatibility package ``ptycho.workflows`` (specs/architecture.md §7): ``components`` is
:mod:`ptycho_tf.compat.components`, ``backend_selector`` is :mod:`ptycho_bridge.backend_selector`."""
