"""SIGKILL during a fetch: the store stays consistent and the next run completes it.

The fetch runs in a real child process (the same code the notebook's fetch cell runs) against a
local Tiingo-format server; the test kills it with SIGKILL, checks the SQLite file, runs again and
compares the store with the one an uninterrupted run leaves.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from autochart import fetching
from autochart.config import Params
from autochart.paths import PROJECT_ROOT
from autochart.store import PriceStore

from .conftest import BANKS
from .source_servers import TiingoServer

KEY = "test_key_0123456789"
TODAY = dt.date(2024, 3, 7)
CHILD = """
import datetime as dt, sys
from autochart import fetching
from autochart.config import Params
print("ready", flush=True)  # imports done: the fetch starts now
params = Params(tickers=sys.argv[1].split(","), source="tiingo", base_url=sys.argv[2],
                output_dir=sys.argv[3], lookback_years=10)
fetching.fetch(params, today=dt.date.fromisoformat(sys.argv[4]))
print("finished")
"""


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("TIINGO_API_KEY", KEY)
    server = TiingoServer(key=KEY).start()
    server.today = TODAY.isoformat()
    yield server
    server.stop()


def start_child(server, output_dir) -> subprocess.Popen:
    """The fetch step in a child process; returns once its imports are done."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, ",".join(BANKS), server.url, str(output_dir), TODAY.isoformat()],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "ready", child.stderr.read()
    return child


def params(server, output_dir) -> Params:
    return Params(
        tickers=BANKS, source="tiingo", base_url=server.url, output_dir=str(output_dir), lookback_years=10
    )


def snapshot(output_dir) -> list[tuple]:
    with PriceStore(output_dir / "prices.sqlite") as store:
        return store.snapshot()


def integrity(output_dir) -> str:
    db = sqlite3.connect(output_dir / "prices.sqlite")
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def reference(server, tmp_path) -> list[tuple]:
    fetching.fetch(params(server, tmp_path / "reference"), today=TODAY)
    return snapshot(tmp_path / "reference")


def test_sigkill_mid_fetch_then_rerun_gives_the_uninterrupted_store(server, tmp_path):
    expected = reference(server, tmp_path)
    server.requests.clear()
    held = server.hold("/C/")  # the third ticker's answer never comes: the run is mid-fetch
    child = start_child(server, tmp_path / "killed")
    deadline = time.monotonic() + 60
    while not any("/C/" in r["path"] for r in server.requests):
        assert child.poll() is None and time.monotonic() < deadline, child.stderr.read()
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    held.set()
    assert child.returncode == -signal.SIGKILL

    assert integrity(tmp_path / "killed") == "ok"
    partial = snapshot(tmp_path / "killed")
    assert {row[1] for row in partial} == {"JPM", "BAC"}  # the committed tickers, whole
    assert partial == [row for row in expected if row[1] in ("JPM", "BAC")]

    server.requests.clear()
    result = fetching.fetch(params(server, tmp_path / "killed"), today=TODAY)
    assert [s.status for s in result.statuses] == [
        "from store",
        "from store",
        "fetched",
        "fetched",
        "fetched",
    ]
    assert [r["path"].split("/")[3] for r in server.requests] == ["C", "WFC", "GS"]
    assert snapshot(tmp_path / "killed") == expected


def test_sigkill_at_random_moments_never_corrupts_the_store(server, tmp_path):
    expected = reference(server, tmp_path)
    rng = random.Random(5)
    for attempt in range(4):
        folder = tmp_path / f"killed-{attempt}"
        server.pace = 0.3  # each answer takes 0.3 s, so 5 tickers take 1.5 s at least
        child = start_child(server, folder)
        time.sleep(rng.uniform(0.05, 1.2))
        assert child.poll() is None  # still fetching: this kill is mid-fetch
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        if not (folder / "prices.sqlite").exists():
            continue  # killed before the store was made: nothing to check
        assert integrity(folder) == "ok"
        rows = snapshot(folder)
        for ticker in {row[1] for row in rows}:  # a ticker is either absent or complete
            assert [r for r in rows if r[1] == ticker] == [r for r in expected if r[1] == ticker]
        server.pace = 0.0
        fetching.fetch(params(server, folder), today=TODAY)
        assert snapshot(folder) == expected
