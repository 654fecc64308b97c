"""``ptycho infer --refine-target network|both`` (specs/refinement.md §9, specs/cli.md): the flag's choices, the
check that the model is a PyTorch bundle, and the call of the library function that fine-tunes the network
and stitches its object (``ptycho_torch.refine.bundle_start.finetuned_start``) for :mod:`ptycho_cli.refine_cmd`
to refine or write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ptycho_cli.delegate import bundle_backend
from ptycho_cli.errors import UserError

__all__ = ["TARGETS", "finetuned_start", "require_torch_bundle"]

#: what ``--refine-iterations`` updates: the stitched object (default), the network's weights, or both in turn
TARGETS = ("object", "network", "both")


def require_torch_bundle(args: Any) -> None:
    """UserError unless the model of ``ptycho infer`` is a PyTorch bundle (the network is fine-tuned in PyTorch)."""
    backend = args.backend or bundle_backend(args.model_path)
    if backend == "tensorflow":
        raise UserError(f"--refine-target {args.refine_target}: expected a PyTorch model bundle "
                        f"(the network is fine-tuned in PyTorch), found backend tensorflow for {args.model_path}")


def finetuned_start(model_path: str | Path, test_data: str | Path, options: Any, out_dir: Path,
                    say: Any = None) -> Any:
    """``ptycho_torch.refine.bundle_start.finetuned_start`` (PyTorch imported only when the flag asks for it):
    ``(canvas (H, W) complex64, origin_xy (2,), history rows, NLL before, NLL after)``, NLLs in counts."""
    from ptycho_torch.refine.bundle_start import finetuned_start as finetune_and_stitch

    return finetune_and_stitch(model_path, test_data, options, out_dir, on_iteration=say)
