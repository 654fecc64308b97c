"""Reconstruction quality metrics (normative text: specs/metrics.md).

* :func:`evaluate` - one call: registration, amplitude scaling, phase alignment, then MAE, MSE,
  PSNR, SSIM, MS-SSIM and FRC cut-offs for amplitude and phase (§1, §5);
* :func:`frc`, :func:`frc_cutoff`, :func:`half_bit_threshold`, :func:`half_bit_crossing` (§4);
* :func:`mae`, :func:`mse`, :func:`psnr`, :func:`ssim`, :func:`ms_ssim` (§3);
* :func:`find_shift`, :func:`fourier_shift`, :func:`align_phase`, :func:`scale_amplitude` (§2);
* :func:`scanned_mask`: the scanned region of a canvas, the only place scores are computed (§5);
* :func:`evaluate_arrays`, :func:`place_on_ground_truth`, :func:`covered_box`: a stitched canvas placed on its
  ground truth's grid and scored (``ptycho.metrics.placement``, specs/cli.md §5).
"""

from .alignment import align_phase, crop_border, find_shift, fourier_shift, scale_amplitude
from .evaluate import evaluate
from .frc import frc, frc_cutoff, half_bit_crossing, half_bit_threshold, ring_pixel_counts
from .placement import REGISTRATION_BORDER, covered_box, evaluate_arrays, place_on_ground_truth
from .quality import MS_SSIM_WEIGHTS, PSNR_CAP_DB, mae, ms_ssim, mse, psnr, ssim
from .scanned import SCANNED_HALF_WIDTH, scanned_mask

__all__ = [
    "evaluate",
    "frc",
    "frc_cutoff",
    "half_bit_threshold",
    "half_bit_crossing",
    "ring_pixel_counts",
    "mae",
    "mse",
    "psnr",
    "ssim",
    "ms_ssim",
    "PSNR_CAP_DB",
    "MS_SSIM_WEIGHTS",
    "find_shift",
    "fourier_shift",
    "align_phase",
    "scale_amplitude",
    "crop_border",
    "scanned_mask",
    "SCANNED_HALF_WIDTH",
    "covered_box",
    "place_on_ground_truth",
    "evaluate_arrays",
    "REGISTRATION_BORDER",
]
