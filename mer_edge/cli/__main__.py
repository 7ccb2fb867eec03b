"""``python -m mer_edge.cli``: the same as the ``mer-edge`` console script."""
from __future__ import annotations

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
