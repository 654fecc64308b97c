"""pytest setup of the ptycho-torch tests: puts this folder on ``sys.path`` so the tests share helper modules
(``refine_scans``: the simulated scans and the SSIM measure of the refinement tests)."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
