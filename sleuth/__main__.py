from __future__ import annotations

import sys

from sleuth.cli import main

sys.exit(main())
