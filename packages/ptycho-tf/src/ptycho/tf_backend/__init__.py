"""Internals of the TensorFlow / Keras 3 backend (specs/tf-backend.md).

Modules:
  ops       differentiable physics operators (translate, per-group reassembly, far field, ...)
  layers    Keras layers holding the trainable physics variables (log_scale, probe) and the
            physics chain
  network   the U-Net generator and the model factory (built from config objects, never at import)
  training  compile / fit with the Poisson NLL + amplitude MAE losses
  bundle    the ``wts.h5.zip`` persistence format (no pickle, no unsafe deserialisation)

Nothing here reads the legacy ``ptycho.params.cfg`` dict; the legacy-API modules
(``ptycho.model``, ``ptycho.train_pinn``, ...) translate it into explicit arguments.
"""
