"""Every path autochart uses, derived from the project root in one place."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = PROJECT_ROOT / "notebooks" / "stock_dashboard.ipynb"
DEFAULT_PARAMS = PROJECT_ROOT / "params.yaml"
RUNNER_SCRIPT = PROJECT_ROOT / "run_notebook.py"
DEFAULT_OUTPUT_DIR = PROJECT_ROOT / "outputs"


def runs_dir(output_dir: Path) -> Path:
    """Where each run gets its own folder."""
    return Path(output_dir) / "runs"


def site_dir(output_dir: Path) -> Path:
    """The default local publish target."""
    return Path(output_dir) / "site"
