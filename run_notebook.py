#!/usr/bin/env python3
"""Run the stock dashboard notebook once: ``python run_notebook.py --help``.

A thin entry point; everything happens in ``autochart.cli``.
"""

import sys
from pathlib import Path

# Importable from a plain clone too (the Makefile installs the package, cron may not know that).
sys.path.insert(0, str(Path(__file__).resolve().parent))

try:
    from autochart.cli import main
except ModuleNotFoundError as missing:  # run with a Python that lacks the project's packages
    print(
        f"{sys.executable} cannot import {missing.name!r}: run `make run` once (it creates .venv "
        f"with everything installed), then use .venv/bin/python run_notebook.py",
        file=sys.stderr,
    )
    sys.exit(8)  # the documented "setup problem" exit code

if __name__ == "__main__":
    sys.exit(main())
