"""The whole job: the real notebook through papermill on a real kernel, run folder, local publish."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from autochart import config, runner
from autochart.paths import NOTEBOOK, PROJECT_ROOT

from .conftest import BANKS, CASES, FAKE_IEX_TOKEN, PRICES, only_run_dir, run_cli, run_record
from .iex_server import Scripted

pytestmark = pytest.mark.notebook


def all_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def executed_errors(run_dir: Path) -> list[dict]:
    nb = nbformat.read(str(run_dir / "stock_dashboard.ipynb"), as_version=4)
    return [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"
    ]


def test_csv_banks_end_to_end(tmp_path):
    code = run_cli(
        tmp_path,
        "source",
        "csv",
        "csv_dir",
        str(PRICES),
        "tickers",
        "[JPM, BAC, C, WFC, GS]",
        "price",
        "close",
    )
    assert code == 0
    run_dir = only_run_dir(tmp_path)

    closes = pd.read_csv(run_dir / "closes.csv", index_col="date", parse_dates=["date"])
    assert list(closes.columns) == BANKS
    for ticker in BANKS:
        theirs = pd.read_csv(PRICES / f"{ticker}.csv", index_col="Date", parse_dates=True)
        window = theirs.loc["2019-03-08":"2024-03-08", "Close"]
        assert (closes.index == window.index).all()
        np.testing.assert_array_equal(closes[ticker].to_numpy(), window.to_numpy())

    assert imread(run_dir / "dashboard.png").shape[:2] == (800, 1200)
    for chart in ("boxplot.png", "histogram.png", "scatter_JPM.png", "scatter_BAC.png"):
        assert imread(run_dir / chart).ndim == 3

    record = run_record(run_dir)
    assert record["status"] == "success" and record["exit_code"] == 0
    assert record["data"]["rows_fetched"] == {t: 6084 for t in BANKS}
    assert record["data"]["first_date"] == "2019-03-08"
    assert record["data"]["price_used"] == "close"
    assert record["versions"]["papermill"] and record["duration_s"] > 0
    assert record["parameters"]["tickers"] == BANKS

    assert not executed_errors(run_dir)
    nb = nbformat.read(str(run_dir / "stock_dashboard.ipynb"), as_version=4)
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 5  # boxplot, two scatters, histogram, dashboard: shown inline
    assert (run_dir / "stock_dashboard.html").stat().st_size > 10_000

    site = tmp_path / "site"
    assert (site / "dashboard.png").read_bytes() == (run_dir / "dashboard.png").read_bytes()
    page = (site / "index.html").read_text()
    assert (
        '<img src="dashboard.png" alt="Dashboard of daily close prices for JPM, BAC, C, '
        "WFC, GS from 2019-03-08 to 2024-03-08" in page
    )
    assert record["published"]["latest"] == str(site / "dashboard.png")


def test_iex_end_to_end_then_failures_leave_the_published_chart(
    tmp_path, iex_server, iex_token, caplog, capsys
):
    caplog.set_level(logging.INFO)
    base = ["source", "iex", "base_url", iex_server.url, "price", "close", "http_retries", "1"]
    assert run_cli(tmp_path, *base, "tickers", "[JPM, BAC]") == 0
    published = (tmp_path / "site" / "dashboard.png").read_bytes()
    page = (tmp_path / "site" / "index.html").read_text()
    assert iex_server.requests[0]["query"]["token"] == FAKE_IEX_TOKEN  # the token was used...

    # BR-01: a symbol absent from the 200 answer
    assert run_cli(tmp_path, *base, "tickers", "[JPM, BAC, ZZZZ]") == 3
    # BR-03: quota used up, then the provider gone
    case = json.loads((CASES / "BR-03" / "response_402.json").read_text())
    iex_server.script(Scripted(case["status"], case["body"], case["content_type"]))
    assert run_cli(tmp_path, *base, "tickers", "[JPM]") == 3
    assert (
        run_cli(tmp_path, *base[:2], "base_url", "http://127.0.0.1:9/stable", *base[4:], "tickers", "[JPM]")
        == 3
    )
    # a server that echoes the token back in its error page
    echo = f"<html>Invalid request /stable/stock/market/batch?token={FAKE_IEX_TOKEN}</html>"
    iex_server.script(Scripted(400, echo, "text/html"))
    assert run_cli(tmp_path, *base, "tickers", "[JPM]") == 3

    runs = sorted((tmp_path / "runs").iterdir())
    records = [run_record(r) for r in runs]
    assert [r["status"] for r in records] == ["success"] + ["failed"] * 4
    assert [r["exit_code"] for r in records] == [0, 3, 3, 3, 3]
    assert "Invalid request" in records[4]["error"]["message"]
    assert "ZZZZ" in records[1]["error"]["message"]
    assert records[1]["error"]["message"].startswith("iex: unknown ticker(s) ZZZZ")
    assert "402" in records[2]["error"]["message"]
    assert "connection" in records[3]["error"]["message"]
    for record in records[1:]:
        assert "Expected object or value" not in record["error"]["message"]
        assert record["published"] is None
    for run_dir in runs[1:]:
        assert executed_errors(run_dir), "the failed run's notebook shows the error"
        assert (run_dir / "stock_dashboard.html").is_file()
        assert not (run_dir / "dashboard.png").exists()
    assert (tmp_path / "site" / "dashboard.png").read_bytes() == published
    assert (tmp_path / "site" / "index.html").read_text() == page
    assert "unknown ticker(s) ZZZZ" in caplog.text

    # BR-15: ...but it appears nowhere in what the runs left behind, nor in the logs.
    logs = caplog.text + "".join(capsys.readouterr())
    assert FAKE_IEX_TOKEN not in logs
    for path in all_files(tmp_path):
        assert FAKE_IEX_TOKEN.encode() not in path.read_bytes(), path


def test_a_broken_cell_is_a_notebook_error_with_the_notebook_kept(tmp_path):
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    nb.cells.insert(6, nbformat.v4.new_code_cell("raise RuntimeError('cell broke on purpose')"))
    broken = tmp_path / "broken.ipynb"
    nbformat.write(nb, str(broken))
    params = config.validate({"output_dir": str(tmp_path / "out")})
    result = runner.run(params, notebook=broken)
    assert result.exit_code == 4 and result.status == "failed"
    assert "RuntimeError: cell broke on purpose" in result.message
    record = run_record(result.run_dir)
    assert record["error"]["ename"] == "RuntimeError" and record["error"]["kind"] == "notebook"
    assert executed_errors(result.run_dir)[0]["evalue"] == "cell broke on purpose"
    nb_out = nbformat.read(str(result.run_dir / "stock_dashboard.ipynb"), as_version=4)
    assert "papermill-error-cell-tag" in json.dumps(nb_out.dict())  # papermill's banner
    assert not (tmp_path / "out" / "site").exists()


def test_run_timeout_stops_the_run(tmp_path):
    assert run_cli(tmp_path, "run_timeout", "2") == 5
    record = run_record(only_run_dir(tmp_path))
    assert record["status"] == "timeout" and record["exit_code"] == 5
    assert record["error"]["scope"] == "run"
    assert "run_timeout" in record["error"]["message"]
    assert not (tmp_path / "site").exists()


def test_cell_timeout_is_recorded_as_a_timeout(tmp_path, iex_server, iex_token):
    iex_server.script(Scripted(200, "{}", "application/json", delay=6))
    code = run_cli(
        tmp_path, "source", "iex", "base_url", iex_server.url, "tickers", "[JPM]", "cell_timeout", "3"
    )
    assert code == 5
    record = run_record(only_run_dir(tmp_path))
    assert record["status"] == "timeout" and record["error"]["scope"] == "cell"


def test_readme_first_command_runs_offline(tmp_path):
    """`make run` (the README's first command) on the embedded defaults, outputs redirected."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["make", "--no-print-directory", "run", f"ARGS=-p output_dir {tmp_path}"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = only_run_dir(tmp_path)
    assert f"run folder:  {run_dir}" in done.stdout
    assert run_record(run_dir)["data"]["tickers"] == ["AAPL", "GOOG", "IBM", "MSFT"]
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "dashboard.png").read_bytes() == (run_dir / "dashboard.png").read_bytes()


def processes_in(folder: Path) -> list[int]:
    """Pids of the processes working in ``folder`` (the executor and its kernel run there)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and Path(os.readlink(proc / "cwd")) == folder:
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 130), (signal.SIGKILL, -9)])
def test_a_stopped_runner_leaves_no_orphan_notebook(tmp_path, iex_server, iex_token, sig, code):
    iex_server.script(Scripted(200, "{}", "application/json", delay=90))  # the fetch cell hangs
    argv = [
        "-q",
        "-p",
        "output_dir",
        str(tmp_path),
        "-p",
        "source",
        "iex",
        "-p",
        "base_url",
        iex_server.url,
        "-p",
        "http_timeout",
        "120",
        "-p",
        "tickers",
        "[JPM]",
    ]
    runner_process = subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "run_notebook.py"), *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (
        (tmp_path / "runs").is_dir() and any(len(processes_in(d)) >= 2 for d in (tmp_path / "runs").iterdir())
    ):
        time.sleep(0.2)
    run_dir = only_run_dir(tmp_path)
    time.sleep(5)  # the kernel is up and waiting for the slow answer
    runner_process.send_signal(sig)
    assert runner_process.wait(timeout=60) == code
    deadline = time.monotonic() + 30  # far less than the 90 s the orphan would otherwise wait
    while processes_in(run_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_in(run_dir) == []
    if sig == signal.SIGTERM:
        record = run_record(run_dir)
        assert record["status"] == "interrupted" and record["exit_code"] == 130
    assert not (tmp_path / "site").exists()
