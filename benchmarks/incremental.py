#!/usr/bin/env python3
"""How much the price store saves: 5 tickers x 5 years through the local IEX-format server.

Run 1 starts with an empty store on Thursday 2024-03-07 (the server has no later days). Run 2 is
the next trading day, Friday 2024-03-08, and asks only for the days since the last stored one
(plus the overlap). A third line shows the same second day without a store, for comparison.
Each run is the fetch step exactly as the notebook runs it (``fetching.fetch``): HTTP requests,
parsing, the SQLite store, the checks. Prints rows fetched, requests and wall time per run.

    .venv/bin/python benchmarks/incremental.py
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autochart import fetching  # noqa: E402
from autochart.config import Params  # noqa: E402
from tests.iex_server import IexServer  # noqa: E402

TICKERS = ["JPM", "BAC", "C", "WFC", "GS"]
FIRST_DAY, NEXT_DAY = dt.date(2024, 3, 7), dt.date(2024, 3, 8)
TOKEN = "pk_BENCHMARK_local_only"  # the local server's token, not a real one


def timed_run(params: Params, server: IexServer, today: dt.date) -> dict:
    server.today = today.isoformat()
    rows_before, requests_before = server.rows_served(), len(server.requests)
    started = time.perf_counter()
    result = fetching.fetch(params, today=today)
    seconds = time.perf_counter() - started
    return {
        "rows": server.rows_served() - rows_before,
        "requests": len(server.requests) - requests_before,
        "seconds": seconds,
        "charted_rows": len(result.prices),
        "statuses": sorted({s.status for s in result.statuses}),
    }


def main() -> int:
    logging.basicConfig(level=logging.ERROR)
    os.environ["IEX_TOKEN"] = TOKEN
    server = IexServer(token=TOKEN).start()
    try:
        with tempfile.TemporaryDirectory(prefix="autochart-bench-") as folder:
            params = Params(
                tickers=TICKERS,
                source="iex",
                base_url=server.url,
                output_dir=folder,
                lookback_years=5,
                split_threshold=None,
            )
            first = timed_run(params, server, FIRST_DAY)
            second = timed_run(params, server, NEXT_DAY)
            no_store = timed_run(dataclasses.replace(params, store=None), server, NEXT_DAY)
    finally:
        server.stop()
    print(f"{len(TICKERS)} tickers x 5 years, local IEX-format server, fetch step only")
    for label, run in (
        ("run 1 (empty store)", first),
        ("run 2 (next trading day)", second),
        ("run 2 without a store", no_store),
    ):
        print(
            f"  {label:26s} rows fetched {run['rows']:6d}  requests {run['requests']}  "
            f"wall {run['seconds']:.3f}s  rows charted {run['charted_rows']}  "
            f"status {', '.join(run['statuses'])}"
        )
    rows_ratio = second["rows"] / first["rows"]
    time_ratio = second["seconds"] / first["seconds"]
    print(f"  run 2 / run 1: rows {rows_ratio:.2%}  wall time {time_ratio:.2%}")
    target = rows_ratio <= 0.01 and second["seconds"] < first["seconds"]
    print(f"  target (rows <= 1% and faster): {'met' if target else 'NOT met'}")
    return 0 if target else 1


if __name__ == "__main__":
    sys.exit(main())
