"""``ptycho_tf``: the TensorFlow / Keras 3 backend of PtychoPINN (specs/tf-backend.md, specs/architecture.md §7).

Modules (config and data in, models and results out; nothing here reads the legacy ``ptycho.params.cfg``):
  ops        differentiable physics operators (translate, per-group reassembly, far field, ...)
  layers     Keras layers holding the trainable physics variables (log_scale, probe) and the physics chain
  network    the U-Net generator and the model factory (built from config objects, never at import)
  training   compile / fit with the Poisson NLL + amplitude MAE losses
  bundle     the ``wts.h5.zip`` persistence format (no pickle, no unsafe deserialisation)
  data       the grouped-data container (``PtychoDataContainer``)
  stitching  one patch per scan position into an object (``reassemble_position``)
  evaluation reconstruction metrics of the TensorFlow workflows
  workflow   group, fit, predict, reassemble, run
  backend    ``BACKEND``, the ``ptycho.backends`` entry point ``tensorflow``
  legacy     the API ptychodus and the seed guide call under the legacy ``ptycho.*`` names; the only modules
             here that read or write the ``ptycho.params.cfg`` mirror and the "current model"

Nothing is imported here, so ``import ptycho_tf.data`` does not load TensorFlow.
"""
