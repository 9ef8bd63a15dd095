"""Shared fixtures: paths to ../shared, a clean environment, the local IEX server, a CLI runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autochart import cli
from autochart.paths import PROJECT_ROOT

from .iex_server import IexServer

SHARED = PROJECT_ROOT.parent / "shared"
CASES = SHARED / "cases"
PRICES = SHARED / "data" / "prices"
RESPONSES = SHARED / "data" / "responses"
BANKS = ["JPM", "BAC", "C", "WFC", "GS"]
FAKE_IEX_TOKEN = "pk_TEST_fake_token_0000"


def pytest_sessionstart(session):
    if not (SHARED / "data").is_dir():
        raise pytest.UsageError(
            f"tests read real data from {SHARED}: put shared/ beside the project (see README)"
        )


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No real secrets or user config leak into a test; each test sets what it needs."""
    for name in ("IEX_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def iex_server():
    server = IexServer(token=FAKE_IEX_TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def iex_token(monkeypatch):
    monkeypatch.setenv("IEX_TOKEN", FAKE_IEX_TOKEN)
    return FAKE_IEX_TOKEN


def run_cli(output_dir: Path, *pairs: str, extra: list[str] | None = None) -> int:
    """``run_notebook.py`` in-process with ``-p`` pairs, output in ``output_dir``, no params file
    other than the project's defaults."""
    argv = ["-p", "output_dir", str(output_dir)]
    for key, value in zip(pairs[::2], pairs[1::2], strict=True):
        argv += ["-p", key, value]
    return cli.main(argv + (extra or []))


def only_run_dir(output_dir: Path) -> Path:
    runs = sorted((output_dir / "runs").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def run_record(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())
