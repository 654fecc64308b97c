"""pytest setup of the ptycho-contracts tests: puts this folder on ``sys.path`` so the tests share helper modules
(``scan_arrays``: a small random scan in the data contract's keys)."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
