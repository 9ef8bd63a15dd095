#!/usr/bin/env python3
"""Run the stock dashboard notebook once: ``python run_notebook.py --help``.

A thin entry point; everything happens in ``autochart.cli``.
"""

import sys
from pathlib import Path

# Importable from a plain clone too (the Makefile installs the package, cron may not know that).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from autochart.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
