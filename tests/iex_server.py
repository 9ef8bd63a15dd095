"""A local HTTP server that answers like IEX Cloud's batch ``chart`` API, for tests and benchmarks.

IEX Cloud was retired in 2024 and no recorded batch answer exists, so this server builds batch
answers from real data: daily rows from the Yahoo price files in ``../shared/data/prices/`` put in
IEX's row format, and the real recorded IEX bodies from ``../shared/data/responses/iex/`` (MSFT's
recorded chart rows, ABCD's empty chart, the 404 and 403 error bodies). A symbol it does not know is
left out of a 200 answer, as IEX did. Tests can queue scripted answers (402, 429 with Retry-After,
500, a slow answer) and read back every request it received.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
PRICES = SHARED / "data" / "prices"
RECORDED = SHARED / "data" / "responses" / "iex"
RANGE_OFFSETS = {
    "5d": pd.DateOffset(days=7),
    "1m": pd.DateOffset(months=1),
    "3m": pd.DateOffset(months=3),
    "6m": pd.DateOffset(months=6),
    "1y": pd.DateOffset(years=1),
    "2y": pd.DateOffset(years=2),
    "5y": pd.DateOffset(years=5),
    "max": None,
}


@dataclass
class Scripted:
    """One canned answer, served instead of the normal one."""

    status: int
    body: str
    content_type: str = "text/plain"
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


def iex_rows(yahoo_csv: Path) -> list[dict]:
    """A Yahoo daily CSV as IEX Cloud chart rows (same keys as the recorded 2020 chart answer)."""
    frame = pd.read_csv(yahoo_csv, na_values=["null"]).dropna(subset=["Close"])
    rows, previous = [], None
    for r in frame.itertuples(index=False):
        change = 0.0 if previous is None else r.Close - previous
        rows.append(
            {
                "date": r.Date,
                "open": r.Open,
                "close": r.Close,
                "high": r.High,
                "low": r.Low,
                "volume": int(r.Volume),
                "uOpen": r.Open,
                "uClose": r.Close,
                "uHigh": r.High,
                "uLow": r.Low,
                "uVolume": int(r.Volume),
                "change": round(change, 6),
                "changePercent": round(100 * change / previous, 4) if previous else 0.0,
                "label": pd.Timestamp(r.Date).strftime("%b %-d, %y"),
                "changeOverTime": 0.0,
            }
        )
        previous = r.Close
    return rows


@functools.lru_cache(maxsize=1)
def _load_charts() -> dict[str, list[dict]]:
    charts = {path.stem.upper(): iex_rows(path) for path in sorted(PRICES.glob("*.csv"))}
    charts["MSFT"] = json.loads((RECORDED / "chart_MSFT_1m_recorded-2019-08-10.json").read_text())
    charts["ABCD"] = json.loads((RECORDED / "chart_ABCD_empty_recorded-2020-11-07.json").read_text())
    return charts


def load_charts() -> dict[str, list[dict]]:
    """Every symbol this server knows, with its chart rows (read once, copied per server)."""
    return dict(_load_charts())


class IexServer:
    """Start with ``IexServer().start()``; ``url`` is the base_url to configure."""

    def __init__(self, token: str | None = None, charts: dict[str, list[dict]] | None = None):
        self.token = token
        self.charts = charts if charts is not None else load_charts()
        self.scripted: list[Scripted] = []
        self.requests: list[dict] = []
        self.alias: str | None = None  # serve unknown symbols with this symbol's rows
        self.today: str | None = None  # YYYY-MM-DD: later rows are not served, ranges count from it
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/stable"

    def start(self) -> IexServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def script(self, *answers: Scripted) -> None:
        self.scripted.extend(answers)

    def rows_served(self) -> int:
        return sum(r["rows"] for r in self.requests)

    # --- answering -----------------------------------------------------------------------

    def answer(self, path: str, query: dict[str, str]) -> Scripted:
        if self.scripted:
            return self.scripted.pop(0)
        if self.token is not None and query.get("token") != self.token:
            return Scripted(403, (RECORDED / "error_403_invalid_api_key.txt").read_text(), "text/html")
        if path.rstrip("/") != "/stable/stock/market/batch" or query.get("types") != "chart":
            return Scripted(400, json.dumps({"error": f"unsupported request {path}"}), "application/json")
        return self.batch(query.get("symbols", "").split(","), query.get("range", "1m"))

    def batch(self, symbols: list[str], chart_range: str) -> Scripted:
        if chart_range not in RANGE_OFFSETS:
            return Scripted(
                400, json.dumps({"error": f'"range" {chart_range} is not allowed'}), "application/json"
            )
        body = {}
        for symbol in (s.upper() for s in symbols if s):
            rows = self.charts.get(symbol)
            if rows is None and self.alias:
                rows = self.charts[self.alias]
            if rows is not None:
                body[symbol] = {"chart": within(rows, chart_range, self.today)}
        if not body:
            return Scripted(404, (RECORDED / "error_404_unknown_symbol.txt").read_text(), "text/html")
        return Scripted(200, json.dumps(body), "application/json")

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                reply = server.answer(parts.path, query)
                time.sleep(reply.delay)
                server.requests.append(
                    {"path": parts.path, "query": query, "status": reply.status, "rows": _count_rows(reply)}
                )
                send(self, reply)

            def log_message(self, *args):  # keep test output quiet
                pass

        return Handler


def send(handler: BaseHTTPRequestHandler, reply: Scripted) -> None:
    """Write ``reply`` as the HTTP answer of ``handler`` (status, headers, body)."""
    payload = reply.body.encode()
    handler.send_response(reply.status)
    handler.send_header("Content-Type", reply.content_type)
    handler.send_header("Content-Length", str(len(payload)))
    for name, value in reply.headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(payload)


def within(rows: list[dict], chart_range: str, today: str | None = None) -> list[dict]:
    """The rows a range reaches, counted back from ``today`` (default: the symbol's last day);
    rows after ``today`` do not exist yet."""
    if today is not None:
        rows = [r for r in rows if r["date"] <= today]
    offset = RANGE_OFFSETS[chart_range]
    if offset is None or not rows:
        return rows
    first = (pd.Timestamp(today or rows[-1]["date"]) - offset).strftime("%Y-%m-%d")
    return [r for r in rows if r["date"] >= first]


def _count_rows(reply: Scripted) -> int:
    try:
        body = json.loads(reply.body) if reply.status == 200 else {}
    except ValueError:  # a scripted non-JSON answer
        return 0
    if not isinstance(body, dict):
        return 0
    return sum(len(v.get("chart", [])) for v in body.values() if isinstance(v, dict))
