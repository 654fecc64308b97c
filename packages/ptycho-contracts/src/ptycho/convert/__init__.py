"""ptychodus and CXI files <-> the NPZ data contract, without a deep-learning framework (specs/convert.md).

* :func:`convert_scan` / :func:`convert_to_npz` - a ptychodus product (NPZ or HDF5) with its diffraction
  file (NPY, ptychodus HDF5, CXI), or a CXI file, as contract arrays / a contract NPZ;
* :func:`reconstruction_to_product` - a reconstruction plus its scan as a ptychodus product file;
* :mod:`.geometry` - wavelength, the far-field pixel size and the metres <-> object-pixel mapping.
"""

from .assemble import FORMATS, POSITION_INDEX_KEY, Conversion, convert_scan, convert_to_npz, detect_format
from .export import read_reconstruction, reconstruction_to_product
from .geometry import far_field_pixel_size, pixels_to_positions, positions_to_pixels, wavelength_m

__all__ = [
    "FORMATS",
    "POSITION_INDEX_KEY",
    "Conversion",
    "convert_scan",
    "convert_to_npz",
    "detect_format",
    "read_reconstruction",
    "reconstruction_to_product",
    "far_field_pixel_size",
    "pixels_to_positions",
    "positions_to_pixels",
    "wavelength_m",
]
