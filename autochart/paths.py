"""Every path autochart uses, derived from the project root in one place."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = PROJECT_ROOT / "notebooks" / "stock_dashboard.ipynb"
DEFAULT_PARAMS = PROJECT_ROOT / "params.yaml"
RUNNER_SCRIPT = PROJECT_ROOT / "run_notebook.py"
DEFAULT_OUTPUT_DIR = PROJECT_ROOT / "outputs"
PROJECT_VENV = PROJECT_ROOT / ".venv"
ENV_FILE = PROJECT_ROOT / ".env"


def runs_dir(output_dir: Path) -> Path:
    """Where each run gets its own folder."""
    return Path(output_dir) / "runs"


def site_dir(output_dir: Path) -> Path:
    """The default local publish target."""
    return Path(output_dir) / "site"


def logs_dir(output_dir: Path) -> Path:
    """Where scheduled runs append their stdout and stderr."""
    return Path(output_dir) / "logs"


def schedule_log(output_dir: Path) -> Path:
    """The file a cron entry or systemd service appends a scheduled run's output to."""
    return logs_dir(output_dir) / "autochart.log"


def lock_file(output_dir: Path) -> Path:
    """The file a run holds a lock on, so two runs never share one output folder at once."""
    return Path(output_dir) / "run.lock"
