"""Self-supervised fine-tuning of a trained network on the scan it reconstructs (specs/refinement.md §9).

The network's weights (encoder and both decoders; not the probe nor the intensity scale) are updated by Adam
to lower the likelihood of the scan's own measured diffraction under the network's prediction: patches
``O_k = G(s X_k)`` -> the model's ``ForwardModel`` (probe x patch -> ``|F|``, in sqrt-count units ``s A``)
-> the NLL of :mod:`.likelihood` (``poisson`` or ``gaussian``, with scale 1 because both amplitudes are
already in sqrt counts). No labels: this is PINN training continued on the test scan. One iteration is one
pass over the scan's groups in seeded random mini-batches. Afterwards the network's stitched object (or the
start of object refinement, ``--refine-target both``) comes from the usual inference path.

Pure computation: a module and a data container in, the module's weights changed in place and a history
out; no files. Deterministic for a seed on a given device.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .likelihood import LIKELIHOODS, nll_terms

__all__ = ["NetworkOptions", "finetune_network", "network_nll", "network_parameters"]


@dataclass(frozen=True)
class NetworkOptions:
    """Knobs of :func:`finetune_network`.

    iterations: passes over the scan's groups (>= 0). batch_size: groups per Adam step.
    learning_rate: Adam step (None: the module's training learning rate). likelihood: 'poisson' or
    'gaussian'. seed: batch order and torch's global seed. device: 'cpu', 'cuda', ...
    """

    iterations: int = 10
    batch_size: int = 16
    learning_rate: float | None = None
    likelihood: str = "poisson"
    seed: int = 0
    device: str = "cpu"

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        for name, low in (("iterations", 0), ("batch_size", 1), ("seed", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"NetworkOptions.{name}: expected an integer >= {low}, found {v!r}")
        lr = self.learning_rate
        if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr)
                               or lr <= 0):
            raise ValueError(f"NetworkOptions.learning_rate: expected a finite number > 0 or None, found {lr!r}")
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"NetworkOptions.likelihood: expected one of {LIKELIHOODS}, found {self.likelihood!r}")


def network_parameters(module: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The generator's parameters (encoder, decoder_amp, decoder_phase): what fine-tuning updates."""
    params = [p for name in ("encoder", "decoder_amp", "decoder_phase")
              for p in getattr(module, name).parameters()]
    if not params:
        raise ValueError("finetune_network: module: expected encoder/decoder parameters, found none")
    return params


def _batch_loss(module: Any, batch: dict[str, torch.Tensor], likelihood: str) -> torch.Tensor:
    """Summed NLL of one batch: measured ``s X`` against the module's predicted ``s A`` (B, N, N, C)."""
    target = batch["X"] * module.intensity_scale
    pred = module(target, batch["coords_relative"], estimate=batch.get("estimate"))["pred_amplitude"]
    return nll_terms(pred, target, 1.0, likelihood).sum()


def network_nll(module: Any, container: Any, *, batch_size: int = 64, likelihood: str = "poisson",
                device: str = "cpu") -> float:
    """Mean per-element NLL (counts) of the whole scan under the module's current prediction (no gradients)."""
    from ptycho_torch.data import build_dataloader

    module = module.to(device)
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in build_dataloader(container, int(batch_size), shuffle=False):
            batch = {k: v.to(device) for k, v in batch.items()}
            total += float(_batch_loss(module, batch, likelihood))
            count += batch["X"].numel()
    return total / count


def finetune_network(module: Any, container: Any, options: NetworkOptions | None = None, *,
                     on_iteration: Callable[[dict[str, float]], None] | None = None) -> list[dict[str, float]]:
    """Fine-tune ``module``'s generator on ``container`` in place; returns one history row per pass.

    Args:
        module: a ``PtychoPINN_Lightning`` (``load_inference_bundle_torch(...)[0]['lightning_module']``).
        container: ``PtychoDataContainerTorch`` of the scan (``create_ptycho_data_container`` with the
            module's intensity scale): 'X' (B, N, N, C) normalised amplitudes, 'coords_relative'.
        options: :class:`NetworkOptions`. on_iteration: called with each history row.
    Returns:
        rows {'iteration', 'nll' (mean per element over the pass, counts, before each step), 'time_s'}.
    Raises:
        ValueError on bad options, or on a non-finite NLL (raised before the step that would use it).
    """
    from ptycho_torch.data import build_dataloader

    opts = options or NetworkOptions()
    opts.validate()
    torch.manual_seed(opts.seed)
    module = module.to(opts.device).train()
    params = network_parameters(module)
    lr = float(opts.learning_rate if opts.learning_rate is not None else module.learning_rate)
    optimiser = torch.optim.Adam(params, lr=lr)
    loader = build_dataloader(container, opts.batch_size, shuffle=True, seed=opts.seed)
    history: list[dict[str, float]] = []
    t0 = time.perf_counter()
    for it in range(opts.iterations):
        loader.sampler.set_epoch(it)  # the order of pass ``it`` depends only on (seed, it)
        total, count = 0.0, 0
        for batch in loader:
            batch = {k: v.to(opts.device) for k, v in batch.items()}
            loss = _batch_loss(module, batch, opts.likelihood)
            if not bool(torch.isfinite(loss)):
                raise ValueError(f"finetune_network: non-finite NLL at iteration {it + 1}; weights keep the last finite state")
            n = batch["X"].numel()
            optimiser.zero_grad()
            (loss / n).backward()
            optimiser.step()
            total += float(loss.detach())
            count += n
        if str(opts.device).startswith("cuda"):
            torch.cuda.synchronize()
        row = {"iteration": it + 1, "nll": total / count, "time_s": time.perf_counter() - t0}
        history.append(row)
        if on_iteration is not None:
            on_iteration(row)
    module.eval()
    return history
