"""``python -m sleuth.bench retrieval ...`` runs ``sleuth bench retrieval ...``."""

from __future__ import annotations

import sys

from sleuth.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
