"""The PtychoPINN v2 PyTorch API (``ptycho_torch.api.base_api``), a facade over this package's workflows for
ptychodus's ``ptychopinn_torch`` reconstructors (specs/ptychodus-torch.md)."""
