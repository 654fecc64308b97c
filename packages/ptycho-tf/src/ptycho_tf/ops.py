"""Differentiable physics operators in TensorFlow (specs/tf-backend.md §2, specs/physics.md).

All operators are plain functions of tensors (no Keras state) and work in float32/complex64 as
well as float64/complex128, so they can be checked against the numpy reference ``ptycho.physics``
to 1e-6 in double precision.

Conventions (shared with every backend):
  * images are (K, H, W); offsets are (K, 2) rows ``[dx, dy]`` in pixels;
  * ``translate(img, [dx, dy])`` moves content +dx columns and +dy rows, bilinear, zero fill;
  * a "centred" pad/crop places an (n, n) array in an (m, m) one starting at ``(m - n) // 2``;
  * grouped tensors are channel-last: patches (B, N, N, C), ``coords_relative`` (B, 1, 2, C).

Implementation note: a pure translation with bilinear interpolation is separable, so each image
is resampled as ``R_y @ img @ R_x^T`` with small per-image interpolation matrices. Pads and crops
are folded into the same matrices (no intermediate canvas for extract/crop), which keeps the
operator exact, differentiable (in the images and the offsets) and fast on CPU.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

__all__ = [
    "shift_resample",
    "translate",
    "pad_center",
    "crop_center",
    "reassemble_groups",
    "extract_from_canvas",
    "far_field_amplitude",
    "incoherent_amplitude",
    "illuminate",
    "gaussian_smooth_3x3",
    "forward_from_patches",
    "reassemble_position",
    "channel_to_flat",
    "flat_to_channel",
    "channel_to_grid",
    "grid_to_channel",
    "flat_offsets",
    "combine_complex",
    "scalar_like",
]


def _real_dtype(dtype: tf.DType) -> tf.DType:
    if dtype in (tf.complex64, tf.float32):
        return tf.float32
    if dtype in (tf.complex128, tf.float64):
        return tf.float64
    raise ValueError(f"expected a float32/float64/complex64/complex128 tensor, found dtype {dtype.name}")


def scalar_like(value, dtype) -> tf.Tensor:
    """A scalar (Python number, numpy scalar or tensor) as a 0-d tensor of ``dtype`` without rounding.

    ``tf.cast(python_float, tf.float64)`` first converts the number to a float32 tensor and so rounds
    it to 24 bits; this helper builds the constant in ``dtype`` directly (tensors are cast as usual).
    Use it wherever a Python scale enters a float64/complex128 graph.
    """
    dtype = tf.as_dtype(dtype)
    if tf.is_tensor(value) or isinstance(value, tf.Variable):
        return tf.cast(value, dtype)
    arr = np.asarray(value)
    if arr.ndim != 0:
        raise ValueError(f"scalar_like: expected a scalar, found an array of shape {arr.shape}")
    return tf.constant(arr.astype(np.complex128 if dtype.is_complex else np.float64), dtype=dtype)


def _axis_matrix(t: tf.Tensor, n_out: int, n_in: int, anchor: int) -> tf.Tensor:
    """Bilinear resampling matrices along one axis.

    ``out[i] = in(i + anchor - t)`` with linear interpolation and zero fill outside ``[0, n_in-1]``.

    Args:
      t: (K,) real shift per image (pixels, positive moves content towards higher indices).
      n_out, n_in: output and input lengths. anchor: integer index offset (``-pad`` for a
        centred pad, ``+start`` for a centred crop).
    Returns: (K, n_out, n_in) matrix, same dtype as ``t``.
    """
    neg = -t
    f = tf.floor(neg)
    w = neg - f  # (K,) fractional part in [0, 1)
    i = tf.range(n_out, dtype=t.dtype)[:, None]
    j = tf.range(n_in, dtype=t.dtype)[None, :]
    d = j - i - float(anchor)  # (n_out, n_in): input index minus output index minus anchor
    f = f[:, None, None]
    w = w[:, None, None]
    lo = tf.cast(tf.equal(d[None], f), t.dtype)
    hi = tf.cast(tf.equal(d[None], f + 1.0), t.dtype)
    return (1.0 - w) * lo + w * hi


def shift_resample(images, offsets, out_hw: tuple[int, int] | None = None, anchor: tuple[int, int] = (0, 0)):
    """Translate (K, H, W) images by per-image ``[dx, dy]`` and resample onto an output grid.

    ``out[k, r, c] = images[k](r + anchor_y - dy_k, c + anchor_x - dx_k)`` (bilinear, zero fill).
    With ``out_hw=None`` and zero anchor this is :func:`translate`.

    Args:
      images: (K, H, W) float or complex tensor.
      offsets: (K, 2) real tensor, rows [dx, dy] in pixels.
      out_hw: output (H_out, W_out); defaults to the input size.
      anchor: (anchor_y, anchor_x) integer index offsets (see :func:`_axis_matrix`).
    Returns: (K, H_out, W_out) tensor with the dtype of ``images``.
    """
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 3:
        raise ValueError(f"shift_resample: expected images of shape (K, H, W), found shape {images.shape}")
    rdt = _real_dtype(images.dtype)
    offsets = tf.cast(tf.convert_to_tensor(offsets), rdt)
    if offsets.shape.rank != 2 or offsets.shape[-1] != 2:
        raise ValueError(f"shift_resample: expected offsets of shape (K, 2) [dx, dy], found shape {offsets.shape}")
    h, w = int(images.shape[1]), int(images.shape[2])
    ho, wo = (h, w) if out_hw is None else (int(out_hw[0]), int(out_hw[1]))
    ry = _axis_matrix(offsets[:, 1], ho, h, anchor[0])
    rx = _axis_matrix(offsets[:, 0], wo, w, anchor[1])
    if images.dtype.is_complex:
        ry = tf.cast(ry, images.dtype)
        rx = tf.cast(rx, images.dtype)
    return tf.matmul(tf.matmul(ry, images), rx, transpose_b=True)


def translate(images, offsets):
    """Move content of (K, H, W) images by (K, 2) ``[dx, dy]``: +dx columns, +dy rows.

    Bilinear interpolation, zero fill, same output size. Real and complex inputs.
    """
    return shift_resample(images, offsets)


def pad_center(x, m: int):
    """Zero-pad the last two axes of ``x`` (..., n, n) centred to (..., m, m) (start ``(m-n)//2``)."""
    n = int(x.shape[-1])
    if m < n:
        raise ValueError(f"pad_center: target size m={m} is smaller than the patch size {n}")
    before = (m - n) // 2
    after = m - n - before
    pads = [[0, 0]] * (x.shape.rank - 2) + [[before, after], [before, after]]
    return tf.pad(x, pads)


def crop_center(x, n: int):
    """Central (n, n) crop of the last two axes of ``x`` (start ``(m-n)//2``)."""
    m = int(x.shape[-1])
    if n > m:
        raise ValueError(f"crop_center: crop size n={n} exceeds the array size {m}")
    s = (m - n) // 2
    return x[..., s : s + n, s : s + n]


def _group_offsets(coords_relative, b: int, c: int, rdt) -> tf.Tensor:
    """(B, 1, 2, C) channel-format offsets -> (B*C, 2) rows [x, y] (flat index b*C + c)."""
    coords = tf.cast(tf.convert_to_tensor(coords_relative), rdt)
    if coords.shape.rank != 4 or coords.shape[1] != 1 or coords.shape[2] != 2:
        raise ValueError(f"expected coords_relative of shape (B, 1, 2, C), found shape {coords.shape}")
    if coords.shape[3] != c:
        raise ValueError(f"coords_relative has {coords.shape[3]} channels, patches have C={c}")
    return tf.reshape(tf.transpose(coords[:, 0], [0, 2, 1]), [-1, 2])


def reassemble_groups(patches, coords_relative, m: int):
    """Merge the C patches of each group onto its own (M, M) canvas (per group, never per batch).

    For every group b: pad each channel centred to M, translate by ``-coords_relative[b, 0, :, c]``,
    sum over channels, and divide by ``max(count, 1)`` where ``count`` is the same operation
    applied to all-ones patches: groups never mix, and uncovered border pixels stay 0.

    Args:
      patches: (B, N, N, C) complex (or real) tensor.
      coords_relative: (B, 1, 2, C) relative offsets [x; y] (sign convention: centre - position).
      m: canvas side M >= N.
    Returns: (B, M, M) tensor, dtype of ``patches``.
    """
    patches = tf.convert_to_tensor(patches)
    if patches.shape.rank != 4:
        raise ValueError(f"reassemble_groups: expected patches (B, N, N, C), found shape {patches.shape}")
    n, c = int(patches.shape[1]), int(patches.shape[3])
    if m < n:
        raise ValueError(f"reassemble_groups: canvas M={m} is smaller than N={n}")
    rdt = _real_dtype(patches.dtype)
    off = -_group_offsets(coords_relative, tf.shape(patches)[0], c, rdt)  # (B*C, 2)
    pad = (m - n) // 2
    ry = _axis_matrix(off[:, 1], m, n, -pad)  # (B*C, M, N)
    rx = _axis_matrix(off[:, 0], m, n, -pad)
    flat = tf.reshape(tf.transpose(patches, [0, 3, 1, 2]), [-1, n, n])
    ryc, rxc = (tf.cast(ry, patches.dtype), tf.cast(rx, patches.dtype)) if patches.dtype.is_complex else (ry, rx)
    shifted = tf.matmul(tf.matmul(ryc, flat), rxc, transpose_b=True)  # (B*C, M, M)
    num = tf.reduce_sum(tf.reshape(shifted, [-1, c, m, m]), axis=1)
    # count of all-ones patches = outer(row sums of R_y, row sums of R_x), per channel
    cnt = tf.reduce_sum(tf.reshape(
        tf.reduce_sum(ry, axis=2)[:, :, None] * tf.reduce_sum(rx, axis=2)[:, None, :], [-1, c, m, m]), axis=1)
    denom = tf.maximum(cnt, tf.ones_like(cnt))
    if patches.dtype.is_complex:
        denom = tf.cast(denom, patches.dtype)
    return num / denom


def extract_from_canvas(canvas, coords_relative, n: int):
    """Cut the C patches of each group back out of its (M, M) canvas.

    Channel c of group b is the canvas translated by ``+coords_relative[b, 0, :, c]`` and
    centre-cropped to N (i.e. the region centred at the member's true relative position).

    Args:
      canvas: (B, M, M) tensor. coords_relative: (B, 1, 2, C). n: patch size N <= M.
    Returns: (B, N, N, C) tensor, dtype of ``canvas``.
    """
    canvas = tf.convert_to_tensor(canvas)
    if canvas.shape.rank != 3:
        raise ValueError(f"extract_from_canvas: expected canvas (B, M, M), found shape {canvas.shape}")
    m = int(canvas.shape[-1])
    if n > m:
        raise ValueError(f"extract_from_canvas: N={n} exceeds the canvas size M={m}")
    c = int(coords_relative.shape[-1])
    rdt = _real_dtype(canvas.dtype)
    off = _group_offsets(coords_relative, tf.shape(canvas)[0], c, rdt)
    start = (m - n) // 2
    ry = _axis_matrix(off[:, 1], n, m, start)  # (B*C, N, M)
    rx = _axis_matrix(off[:, 0], n, m, start)
    if canvas.dtype.is_complex:
        ry, rx = tf.cast(ry, canvas.dtype), tf.cast(rx, canvas.dtype)
    rep = tf.reshape(tf.repeat(canvas[:, None], c, axis=1), [-1, m, m])
    out = tf.matmul(tf.matmul(ry, rep), rx, transpose_b=True)  # (B*C, N, N)
    return tf.transpose(tf.reshape(out, [-1, c, n, n]), [0, 2, 3, 1])


def far_field_amplitude(field):
    """|fftshift(fft2(field, norm='ortho'))| over the last two axes (so sum A^2 = sum |field|^2).

    Args: field (..., N, N) complex64/complex128. Returns: (..., N, N) real amplitude, DC at (N/2, N/2).
    """
    field = tf.convert_to_tensor(field)
    if not field.dtype.is_complex:
        raise ValueError(f"far_field_amplitude: expected a complex field, found dtype {field.dtype.name}")
    h, w = int(field.shape[-2]), int(field.shape[-1])
    f = tf.signal.fft2d(field) / scalar_like(math.sqrt(h * w), field.dtype)
    return tf.abs(tf.signal.fftshift(f, axes=(-2, -1)))


def incoherent_amplitude(field, mode_axis: int = -3):
    """``sqrt(sum_k |F[psi_k]|^2)`` of (..., K, N, N) exit waves of K incoherent probe modes (specs/physics.md
    §12.1), the mode axis removed. A zero pattern has amplitude 0 and gradient 0 (the root is guarded: a plain
    ``tf.sqrt`` has an infinite gradient there)."""
    field = tf.convert_to_tensor(field)
    if not field.dtype.is_complex:
        raise ValueError(f"incoherent_amplitude: expected a complex field, found dtype {field.dtype.name}")
    rank = field.shape.rank
    axis = mode_axis % rank if rank >= 3 else -1
    if rank < 3 or axis >= rank - 2:
        raise ValueError(f"incoherent_amplitude: expected shape (..., K, N, N), found shape {field.shape}")
    h, w = int(field.shape[-2]), int(field.shape[-1])
    f = tf.signal.fft2d(field) / scalar_like(math.sqrt(h * w), field.dtype)
    intensity = tf.reduce_sum(tf.math.real(f) ** 2 + tf.math.imag(f) ** 2, axis=axis)
    lit = intensity > 0
    amp = tf.where(lit, tf.sqrt(tf.where(lit, intensity, tf.ones_like(intensity))), tf.zeros_like(intensity))
    return tf.signal.fftshift(amp, axes=(-2, -1))


def gaussian_smooth_3x3(field, sigma: float):
    """3x3 Gaussian blur (kernel exp(-r^2/2 sigma^2), normalised to sum 1, reflect padding) of the
    last two axes of a real or complex (..., H, W) tensor; real and imaginary parts separately."""
    if sigma <= 0:
        return field
    g = np.exp(-(np.arange(-1, 2)[:, None] ** 2 + np.arange(-1, 2)[None, :] ** 2) / (2.0 * sigma**2))
    g = g / g.sum()
    shape = tf.shape(field)
    h, w = int(field.shape[-2]), int(field.shape[-1])

    def blur(x):
        x = tf.reshape(x, [-1, h, w])
        xp = tf.pad(x, [[0, 0], [1, 1], [1, 1]], mode="REFLECT")
        out = tf.zeros_like(x)
        for dy in range(3):
            for dx in range(3):
                out = out + float(g[dy, dx]) * xp[:, dy : dy + h, dx : dx + w]
        return tf.reshape(out, shape)

    if field.dtype.is_complex:
        return tf.complex(blur(tf.math.real(field)), blur(tf.math.imag(field)))
    return blur(field)


def illuminate(patches, probe, mask=None, smoothing_sigma: float = 0.0):
    """Exit wave of channel-last patches: ``patches * probe`` (same probe for every channel),
    optionally blurred (``smoothing_sigma``) and multiplied by a real (N, N) ``mask``.

    Args: patches (B, N, N, C) complex; probe (N, N) complex; mask (N, N) real or None.
    Returns: (B, N, N, C) complex.
    """
    patches = tf.convert_to_tensor(patches)
    probe = tf.cast(tf.convert_to_tensor(probe), patches.dtype)
    if probe.shape.rank != 2 or probe.shape[0] != patches.shape[1] or probe.shape[1] != patches.shape[2]:
        raise ValueError(f"illuminate: expected a probe of shape ({patches.shape[1]}, {patches.shape[2]}), "
                         f"found shape {probe.shape}")
    psi = patches * probe[None, :, :, None]
    if smoothing_sigma:
        psi = tf.transpose(gaussian_smooth_3x3(tf.transpose(psi, [0, 3, 1, 2]), smoothing_sigma), [0, 2, 3, 1])
    if mask is not None:
        psi = psi * tf.cast(tf.convert_to_tensor(mask), psi.dtype)[None, :, :, None]
    return psi


def forward_from_patches(object_patches, probe, coords_relative, s, object_big: bool = True,
                         probe_mask=None, m: int | None = None, smoothing_sigma: float = 0.0):
    """The physics chain after the generator (specs/tf-backend.md §2).

    object_big=True: per-group reassembly onto an (M, M) canvas, re-extraction of the C patches at
    their relative positions; object_big=False: the single (B, N, N, 1) patch is padded to M and the
    C patches are extracted from it. Then illumination and the far field, scaled by ``s``.

    Args:
      object_patches: (B, N, N, C) complex (object_big) or (B, N, N, 1) complex (not object_big).
      probe: (N, N) complex, or (K, N, N) incoherent modes (amplitude ``s sqrt(sum_k |F[P_k O_c]|^2)``).
      coords_relative: (B, 1, 2, C). s: intensity scale (scalar).
      probe_mask: (N, N) real mask or None. m: canvas size (default N).
    Returns: (trimmed_obj (B, N, N, 1) complex, pred_amp_scaled (B, N, N, C) real = s * |F(P * O_c)|,
      canvas (B, M, M) complex).
    """
    object_patches = tf.convert_to_tensor(object_patches)
    n = int(object_patches.shape[1])
    m = n if m is None else int(m)
    if object_big:
        canvas = reassemble_groups(object_patches, coords_relative, m)
    else:
        if int(object_patches.shape[-1]) != 1:
            raise ValueError(f"object_big=False expects one object channel, found {object_patches.shape[-1]}")
        canvas = pad_center(object_patches[..., 0], m)
    trimmed = crop_center(canvas, n)[..., None]
    patches = extract_from_canvas(canvas, coords_relative, n)
    probe = tf.convert_to_tensor(probe)
    if probe.shape.rank == 3 and int(probe.shape[-1]) != 1:  # (K, N, N) incoherent modes
        waves = [tf.transpose(illuminate(patches, probe[k], probe_mask, smoothing_sigma), [0, 3, 1, 2])
                 for k in range(int(probe.shape[0]))]
        amp = tf.transpose(incoherent_amplitude(tf.stack(waves, axis=2), mode_axis=2), [0, 2, 3, 1])
        return trimmed, amp * scalar_like(s, amp.dtype), canvas
    psi = illuminate(patches, probe, probe_mask, smoothing_sigma)
    amp = far_field_amplitude(tf.transpose(psi, [0, 3, 1, 2]))
    amp = tf.transpose(amp, [0, 2, 3, 1]) * scalar_like(s, amp.dtype)
    return trimmed, amp, canvas


def reassemble_position(patches, global_offsets, m: int = 20, chunk: int = 256, interpolation: str = "bilinear",
                        frame: tuple[int, int] | None = None):
    """Stitch per-scan-position patches into one object (inference stitcher).

    Crop the central (M, M) of each patch, centre the offsets on their mean, pad the canvas by
    ``pad = ceil(max |centred offset|)`` rounded up to even on each side (side M + 2 pad), translate
    each crop by +offset, sum, divide by the overlap count where count > 1e-6 (else 0).

    Args:
      patches: (P, N, N) complex or real. global_offsets: (P, 2) rows [x, y] in pixels.
      m: crop size, 0 < M <= N. chunk: patches per accumulation step (memory bound).
      interpolation: 'bilinear' (default) or 'fourier' (offsets centred on the rounded mean; each
        whole patch shifted by the fractional part of its offset with a Fourier phase ramp; central
        M x M crop added at the integer part; specs/physics.md §6.2).
      frame: (H, W) of the object the offsets are pixel coordinates of (bilinear only): the canvas is then
        that object's frame, canvas index (row, col) = object pixel (row, col), with no centring or padding
        (specs/physics.md §6.3); positions outside it contribute only their part inside.
    Returns: (H, H) tensor with H = M + 2 pad (or the (H, W) frame), dtype of ``patches``.
    """
    if interpolation not in ("bilinear", "fourier"):
        raise ValueError(f"reassemble_position: interpolation: expected 'bilinear' or 'fourier', found {interpolation!r}")
    patches = tf.convert_to_tensor(patches)
    if patches.shape.rank != 3:
        raise ValueError(f"reassemble_position: expected patches (P, N, N), found shape {patches.shape}")
    n = int(patches.shape[-1])
    if not 0 < m <= n:
        raise ValueError(f"reassemble_position: expected 0 < M <= N={n}, found M={m}")
    off = np.asarray(global_offsets, dtype=np.float64).reshape(-1, 2)
    if off.shape[0] != int(patches.shape[0]):
        raise ValueError(f"reassemble_position: {patches.shape[0]} patches but {off.shape[0]} offsets")
    lo = n // 2 - m // 2  # same crop origin as ptycho.physics.reassemble_position
    if frame is not None:
        if interpolation != "bilinear" or len(frame) != 2 or min(int(v) for v in frame) < 1:
            raise ValueError(f"reassemble_position: frame: expected (H, W) > 0 with interpolation='bilinear', "
                             f"found {frame!r} with {interpolation!r}")
        return _stitch_bilinear(patches[:, lo : lo + m, lo : lo + m], off, (int(frame[0]), int(frame[1])), m // 2, chunk)
    if interpolation == "fourier":
        off = off - np.floor(off.mean(axis=0, keepdims=True) + 0.5)
    else:
        off = off - off.mean(axis=0, keepdims=True)
    pad = int(math.ceil(float(np.abs(off).max()))) if off.size else 0
    pad += pad % 2
    side = m + 2 * pad
    if interpolation == "fourier":
        return _reassemble_position_fourier(patches, off, m, pad, side, lo, chunk)
    return _stitch_bilinear(patches[:, lo : lo + m, lo : lo + m], off, (side, side), -pad, chunk)


def _stitch_bilinear(crops, off: np.ndarray, shape: tuple[int, int], anchor: int, chunk: int):
    """Sum (P, M, M) crops translated by ``off`` (P, 2) [x, y] onto an (H, W) canvas where canvas index i holds
    crop index ``i + anchor - offset``; divide by the overlap count where it is > 1e-6 (else 0)."""
    rdt = tf.float64 if crops.dtype in (tf.complex128, tf.float64) else tf.float32
    m = int(crops.shape[-1])
    num = tf.zeros(list(shape), dtype=crops.dtype)
    cnt = tf.zeros(list(shape), dtype=rdt)
    for i in range(0, off.shape[0], chunk):
        o = tf.constant(off[i : i + chunk], dtype=rdt)
        ry = _axis_matrix(o[:, 1], shape[0], m, anchor)
        rx = _axis_matrix(o[:, 0], shape[1], m, anchor)
        c = crops[i : i + chunk]
        if crops.dtype.is_complex:
            num += tf.einsum("pim,pmn,pjn->ij", tf.cast(ry, c.dtype), c, tf.cast(rx, c.dtype))
        else:
            num += tf.einsum("pim,pmn,pjn->ij", ry, c, rx)
        cnt += tf.einsum("pi,pj->ij", tf.reduce_sum(ry, 2), tf.reduce_sum(rx, 2))
    ok = cnt > 1e-6
    safe = tf.where(ok, cnt, tf.ones_like(cnt))
    out = num / tf.cast(safe, num.dtype)
    return tf.where(ok, out, tf.zeros_like(out))


def _reassemble_position_fourier(patches, off, m: int, pad: int, side: int, lo: int, chunk: int):
    """'fourier' branch of :func:`reassemble_position`; ``off`` (P, 2) numpy float64, already centred."""
    n = int(patches.shape[-1])
    cdt = tf.complex128 if patches.dtype in (tf.complex128, tf.float64) else tf.complex64
    whole = np.floor(off + 0.5)
    frac = off - whole
    k = whole.astype(np.int64) + pad
    freq = np.fft.fftfreq(n)
    ar = np.arange(m)
    num = tf.zeros([side * side], dtype=cdt)
    cnt = np.zeros(side * side)
    for i in range(0, off.shape[0], chunk):
        f = frac[i : i + chunk]
        phase = -2 * np.pi * (f[:, 1, None, None] * freq[None, :, None] + f[:, 0, None, None] * freq[None, None, :])
        ramp = tf.constant(np.exp(1j * phase), dtype=cdt)
        shifted = tf.signal.ifft2d(tf.signal.fft2d(tf.cast(patches[i : i + chunk], cdt)) * ramp)
        crops = tf.reshape(shifted[:, lo : lo + m, lo : lo + m], [-1])
        idx = ((k[i : i + chunk, 1, None] + ar)[:, :, None] * side + (k[i : i + chunk, 0, None] + ar)[:, None, :]).ravel()
        num += tf.math.unsorted_segment_sum(crops, tf.constant(idx), side * side)
        cnt += np.bincount(idx, minlength=side * side)
    ok = cnt > 1e-6
    out = num / tf.constant(np.where(ok, cnt, 1.0), dtype=cdt)
    out = tf.where(tf.constant(ok), out, tf.zeros_like(out))
    out = tf.reshape(out, [side, side])
    if not patches.dtype.is_complex:
        out = tf.math.real(out)
    return tf.cast(out, patches.dtype)


# ----------------------------------------------------------------------------- format conversions

def channel_to_flat(x):
    """(B, N, N, C) -> (B*C, N, N, 1); flat index = b*C + c."""
    x = tf.convert_to_tensor(x)
    n1, n2 = int(x.shape[1]), int(x.shape[2])
    return tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [-1, n1, n2, 1])


def flat_to_channel(x, gridsize: int):
    """(B*C, N, N, 1) -> (B, N, N, C) with C = gridsize**2 (inverse of :func:`channel_to_flat`)."""
    x = tf.convert_to_tensor(x)
    c = int(gridsize) ** 2
    n1, n2 = int(x.shape[1]), int(x.shape[2])
    return tf.transpose(tf.reshape(x, [-1, c, n1, n2]), [0, 2, 3, 1])


def channel_to_grid(x, gridsize: int):
    """(B, N, N, C) -> (B, gs, gs, N, N, 1); channel c at grid (row=c//gs, col=c%gs)."""
    x = tf.convert_to_tensor(x)
    gs = int(gridsize)
    if int(x.shape[-1]) != gs * gs:
        raise ValueError(f"channel_to_grid: expected C=gridsize**2={gs * gs} channels, found {x.shape[-1]}")
    n1, n2 = int(x.shape[1]), int(x.shape[2])
    return tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [-1, gs, gs, n1, n2, 1])


def grid_to_channel(x):
    """(B, gs, gs, N, N, 1) -> (B, N, N, gs*gs) (inverse of :func:`channel_to_grid`)."""
    x = tf.convert_to_tensor(x)
    gs, n1, n2 = int(x.shape[1]), int(x.shape[3]), int(x.shape[4])
    return tf.transpose(tf.reshape(x, [-1, gs * gs, n1, n2]), [0, 2, 3, 1])


def flat_offsets(coords):
    """(B, 1, 2, C) channel-format offsets -> (B*C, 2) rows [x, y] (flat index b*C + c)."""
    coords = tf.convert_to_tensor(coords)
    return tf.reshape(tf.transpose(coords[:, 0], [0, 2, 1]), [-1, 2])


def combine_complex(amp, phi):
    """amp * exp(i phi) as complex64 (complex128 for float64 inputs)."""
    amp = tf.convert_to_tensor(amp)
    phi = tf.cast(tf.convert_to_tensor(phi), amp.dtype)
    return tf.complex(amp * tf.cos(phi), amp * tf.sin(phi))
