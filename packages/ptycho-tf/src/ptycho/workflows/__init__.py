"""TensorFlow-backend workflows (``ptycho.workflows.components``)."""
