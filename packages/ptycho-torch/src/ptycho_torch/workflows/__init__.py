"""Workflow entry points of the PyTorch backend (see :mod:`ptycho_torch.workflows.components`)."""
