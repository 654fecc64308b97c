"""Native torch stitching vs the numpy reference (specs/torch-workflow.md §6, specs/physics.md §6)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptycho.physics import reassemble_position as np_reassemble_position
from ptycho_torch.stitching import as_group_patches, stitch_patches


def _patches_and_offsets(P: int = 12, N: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    patches = (rng.normal(size=(P, N, N)) + 1j * rng.normal(size=(P, N, N))).astype(np.complex64)
    offsets = rng.uniform(5.0, 40.0, size=(P, 1, 2, 1))  # fractional positions exercise bilinear weights
    return patches, offsets


@pytest.mark.parametrize("M", [4, 10, 16])
def test_matches_numpy_reference(M):
    """Known patches at known offsets: torch canvas equals ptycho.physics.reassemble_position within 1e-6."""
    patches, offsets = _patches_and_offsets()
    canvas, used = stitch_patches(torch.from_numpy(patches), torch.from_numpy(offsets), M)
    ref = np_reassemble_position(patches.astype(np.complex128), offsets, M=M)
    assert canvas.shape == ref.shape and canvas.dtype == torch.complex64
    np.testing.assert_allclose(canvas.numpy(), ref, atol=1e-6 * max(1.0, np.abs(ref).max()), rtol=0)
    np.testing.assert_array_equal(used.numpy(), offsets.reshape(-1, 2))


@pytest.mark.parametrize("flip_x,flip_y,transpose", [(True, False, False), (False, True, False), (False, False, True), (True, True, True)])
def test_alignment_transforms_match_reference(flip_x, flip_y, transpose):
    """flip_x/flip_y negate the x/y offsets, transpose swaps patch rows and columns (TF workflow semantics)."""
    patches, offsets = _patches_and_offsets(seed=1)
    canvas, used = stitch_patches(patches_t := torch.from_numpy(patches), torch.from_numpy(offsets), 10,
                                  flip_x=flip_x, flip_y=flip_y, transpose=transpose)
    ref_p = patches.transpose(0, 2, 1) if transpose else patches
    ref_o = offsets.reshape(-1, 2).copy()
    ref_o[:, 0] *= -1 if flip_x else 1
    ref_o[:, 1] *= -1 if flip_y else 1
    ref = np_reassemble_position(ref_p.astype(np.complex128), ref_o, M=10)
    np.testing.assert_allclose(canvas.numpy(), ref, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(used.numpy(), ref_o)
    assert torch.equal(patches_t, torch.from_numpy(patches))  # inputs untouched


def test_constant_object_is_reproduced():
    """Closed form: patches of a constant object stitch to that constant wherever the canvas is covered."""
    N, value = 16, 0.7 * np.exp(0.3j)
    offsets = np.array([[x, y] for x in (0.0, 4.0, 8.0) for y in (0.0, 4.0, 8.0)], dtype=np.float64)
    patches = np.full((len(offsets), N, N), value, dtype=np.complex64)
    canvas, _ = stitch_patches(patches, offsets, 8)
    covered = canvas.abs() > 0
    assert covered.float().mean() > 0.5
    np.testing.assert_allclose(canvas[covered].numpy(), value, atol=1e-6)


def test_layouts_and_errors():
    p = torch.zeros(3, 8, 8, dtype=torch.complex64)
    assert as_group_patches(p[..., None]).shape == (3, 8, 8)
    assert as_group_patches(p[:, None]).shape == (3, 8, 8)
    with pytest.raises(ValueError, match="complex"):
        as_group_patches(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match=r"global_offsets: expected \(3, 1, 2, 1\)"):
        stitch_patches(p, torch.zeros(4, 2), 4)
    with pytest.raises(ValueError, match="M: expected"):
        stitch_patches(p, torch.zeros(3, 2), 9)


def test_chunked_and_streamed_stitch_of_a_wide_scan_match_the_reference(monkeypatch):
    """A raster much wider than one chunk's reach (specs/scaling.md §3): the windowed accumulation, whether
    chunked inside reassemble_position or streamed batch by batch, equals the numpy scatter-add reference."""
    import ptycho_torch.physics.patches as tp
    from ptycho_torch.stitching import StreamingStitcher

    rng = np.random.default_rng(3)
    P, N, M = 240, 16, 10
    gx, gy = np.meshgrid(np.arange(20) * 6.0, np.arange(12) * 6.0)
    offsets = np.stack([gx.ravel(), gy.ravel()], -1) + rng.uniform(0, 1, (P, 2))
    patches = (rng.normal(size=(P, N, N)) + 1j * rng.normal(size=(P, N, N))).astype(np.complex64)
    ref = np_reassemble_position(patches.astype(np.complex128), offsets, M=M)
    monkeypatch.setattr(tp, "_POSITION_CHUNK", 7)
    canvas, _ = stitch_patches(torch.from_numpy(patches), torch.from_numpy(offsets), M)
    np.testing.assert_allclose(canvas.numpy(), ref, atol=1e-5, rtol=0)
    st = StreamingStitcher(offsets, N, M)
    for lo in range(0, P, 16):
        st.add(torch.from_numpy(patches[lo:lo + 16]), np.arange(lo, min(P, lo + 16)))
    np.testing.assert_allclose(st.result().numpy(), ref, atol=1e-5, rtol=0)


def test_one_chunk_costs_the_same_on_any_canvas():
    """The cost of a batch does not grow with the canvas (specs/scaling.md §3): 4 crops of M=10 give 4·4·M²
    scatter entries on a 2010-pixel canvas, all of them within the window the crops reach, with the bilinear
    weights of each crop summing to M²."""
    from ptycho_torch.physics.patches import accumulate_crops

    crops = torch.ones(4, 10, 10, dtype=torch.complex64)
    offs = torch.tensor([[100.2, -50.0], [103.0, -48.5], [101.0, -49.0], [102.7, -47.1]], dtype=torch.float64)
    side, pad = 2010, 1000
    index, values, weights = accumulate_crops(crops, offs, side, pad)
    assert index.shape == values.shape == weights.shape == (4 * 4 * 100,)
    rows, cols = index // side, index % side
    assert int(rows.min()) == pad - 50 and int(rows.max()) <= pad - 47 + 10
    assert int(cols.min()) == pad + 100 and int(cols.max()) <= pad + 103 + 10
    assert float(weights.sum()) == pytest.approx(4 * 100, rel=1e-6)


def test_stitch_is_differentiable_with_respect_to_the_patches():
    """reassemble_position stays a differentiable operator: d(sum canvas)/d(patch) equals a finite difference."""
    from ptycho_torch.physics import reassemble_position

    patches, offsets = _patches_and_offsets(P=5, N=12)
    p = torch.from_numpy(patches.real.astype(np.float64)).requires_grad_()
    off = torch.from_numpy(offsets.reshape(-1, 2))
    reassemble_position(p, off, M=8).sum().backward()
    eps, i = 1e-6, (2, 6, 5)
    q = p.detach().clone()
    q[i] += eps
    fd = (reassemble_position(q, off, M=8).sum() - reassemble_position(p.detach(), off, M=8).sum()) / eps
    assert p.grad[i].item() == pytest.approx(float(fd), rel=1e-4, abs=1e-6)
