"""The legacy TensorFlow API: the modules behind the compatibility names ``ptycho.model``, ``ptycho.loader``,
``ptycho.tf_helper``, ``ptycho.probe``, ``ptycho.train_pinn``, ``ptycho.model_manager`` and
``ptycho.workflows.components`` (specs/architecture.md §7, specs/tf-backend.md §6).

They read the legacy ``ptycho.params.cfg`` mirror for values a caller leaves out, call the explicit functions of
:mod:`ptycho_tf`, and update the mirror and the "current model" (:mod:`ptycho_tf.compat.model`) for the callers
that read them. No other module of ``ptycho_tf`` touches that state (``scripts/check_architecture.py``).
"""
