"""Helpers and fixtures for the schedule, lock and retention tests (imported by those files).

Every test that edits a crontab edits the real one of the user running the tests: the
``saved_crontab`` fixture keeps that crontab before the test and puts it back afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autochart import schedule

PROJECT = Path(__file__).resolve().parent.parent
CASES = PROJECT.parent / "shared" / "cases"
IN_CI = os.environ.get("CI", "").lower() == "true"


def need(program: str) -> None:
    """Skip when ``program`` is missing on a developer's machine; in CI it must be there."""
    if shutil.which(program) is None:
        if IN_CI:
            pytest.fail(f"{program} is not installed: .ci/run must install it")
        pytest.skip(f"{program} is not installed here (CI installs it)")


@pytest.fixture(name="saved_crontab")
def saved_crontab_fixture():
    """The user's real crontab, restored byte for byte after the test."""
    need("crontab")
    before = schedule.read_crontab()
    yield before
    if before:
        schedule.write_crontab(before)
    else:
        subprocess.run(["crontab", "-r"], capture_output=True, check=False)
    assert schedule.read_crontab() == before


def write_params(folder: Path, **values) -> Path:
    """A params file for a quick offline run into ``folder``/out (sample source)."""
    values = {
        "output_dir": str(folder / "out"),
        "source": "sample",
        "tickers": ["AAPL", "GOOG"],
        "dpi": 40,
        "figsize": [6, 4],
        **values,
    }
    path = folder / "params.yaml"
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in values.items()), encoding="utf-8")
    return path


def run_records(output_dir: Path) -> list[dict]:
    """The run.json of every run folder under ``output_dir``, oldest first."""
    runs = Path(output_dir) / "runs"
    if not runs.is_dir():
        return []
    return [
        json.loads((p / "run.json").read_text()) for p in sorted(runs.iterdir()) if (p / "run.json").is_file()
    ]


def runner_argv(params_file: Path) -> list[str]:
    return [sys.executable, str(PROJECT / "run_notebook.py"), "run", "--params", str(params_file)]
