"""pytest setup of the ptycho-cli tests: puts this folder on ``sys.path`` so the tests share helper modules
(``cli_scans``: the simulated scan files the refine and teacher command tests read)."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
