"""``python -m ptycho_cli`` runs the ``ptycho`` command."""

import sys

from ptycho_cli.main import main

if __name__ == "__main__":
    sys.exit(main())
