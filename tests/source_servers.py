"""Local HTTP servers that answer like Tiingo, Alpha Vantage, Yahoo (v8 chart) and Stooq.

Each serves the real recorded bodies in ``../shared/data/responses/<source>/`` byte for byte when
a request asks for exactly what was recorded, and builds answers in the same format from the real
Yahoo price files in ``../shared/data/prices/`` where a longer history is needed. Every server
logs the requests it received (path, query, headers), can be told what "today" is (days after it
are not served yet), can have its days edited (a correction, a re-adjusted history), and can queue
scripted answers (429 with Retry-After, 500, a slow answer). Error bodies the recordings lack
(Tiingo's 404, Yahoo's 404, Stooq's key page) are modelled on the providers' documented answers.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd

from .iex_server import PRICES, SHARED, Scripted, send

RESPONSES = SHARED / "data" / "responses"
TIINGO_JSON = RESPONSES / "tiingo" / "daily_GOOGL_2018-01-05_2018-01-19.json"
TIINGO_CSV = RESPONSES / "tiingo" / "daily_GOOGL_2018-01-05_2018-01-19.csv"
AV_IBM = RESPONSES / "alphavantage" / "TIME_SERIES_DAILY_IBM_compact_recorded-2023-11-11.json"
YAHOO_SPLIT = RESPONSES / "yahoo" / "chart_AAPL_1d_2020-08-31_2020-11-07_with_split.json"
YAHOO_6MO = RESPONSES / "yahoo" / "chart_AAPL_1d_6mo_recorded-2025-10-29.json"
STOOQ = {"JPM": RESPONSES / "stooq" / "jpm_us_d.csv", "NVDA": RESPONSES / "stooq" / "nvda_us_d.csv"}
DAY_COLUMNS = ["date", "open", "high", "low", "close", "adj_close", "volume"]


def price_days(path: Path) -> pd.DataFrame:
    """A Yahoo price file as days: date (YYYY-MM-DD text) and numbers, null rows dropped."""
    frame = pd.read_csv(path, na_values=["null"]).dropna(subset=["Close"])
    frame.columns = DAY_COLUMNS
    return frame.reset_index(drop=True)


def load_days() -> dict[str, pd.DataFrame]:
    return {path.stem.upper(): price_days(path) for path in sorted(PRICES.glob("*.csv"))}


class LocalServer:
    """Base: a threaded HTTP server on 127.0.0.1 with a request log and scripted answers."""

    prefix = ""

    def __init__(self, key: str | None = None, days: dict[str, pd.DataFrame] | None = None):
        self.key = key
        self.days = days if days is not None else load_days()
        self.today: str | None = None  # YYYY-MM-DD: later days are not served yet
        self.scripted: list[Scripted] = []
        self.requests: list[dict] = []
        self.on_request = threading.Event()  # set whenever a request arrives
        self.held: dict[str, threading.Event] = {}  # path part -> answer once the event is set
        self.pace = 0.0  # seconds added to every answer (to stretch a run for crash tests)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, daemon=True, kwargs={"poll_interval": 0.05}
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{self.prefix}"

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        for event in self.held.values():
            event.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def script(self, *answers: Scripted) -> None:
        self.scripted.extend(answers)

    def hold(self, path_part: str) -> threading.Event:
        """Requests whose path contains ``path_part`` get no answer until the event is set."""
        return self.held.setdefault(path_part, threading.Event())

    def window(self, ticker: str, first: str | None = None, last: str | None = None):
        """The ticker's days from ``first`` to ``last`` (both optional), none after today."""
        days = self.days[ticker]
        last = min(filter(None, [last, self.today]), default=None)
        keep = pd.Series(True, index=days.index)
        if first:
            keep &= days["date"] >= first
        if last:
            keep &= days["date"] <= last
        return days[keep]

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Scripted:
        raise NotImplementedError

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                headers = dict(self.headers.items())
                reply = (
                    server.scripted.pop(0) if server.scripted else server.answer(parts.path, query, headers)
                )
                server.requests.append(
                    {
                        "path": parts.path,
                        "query": query,
                        "headers": headers,
                        "status": reply.status,
                        "time": time.monotonic(),
                    }
                )
                server.on_request.set()
                for part, event in list(server.held.items()):
                    if part in parts.path:
                        event.wait(timeout=60)
                time.sleep(reply.delay + server.pace)
                send(self, reply)

            def log_message(self, *args):
                pass

        return Handler


def _json(body, status: int = 200, **headers) -> Scripted:
    return Scripted(status, body if isinstance(body, str) else json.dumps(body), "application/json", headers)


# --- Tiingo ----------------------------------------------------------------------------------


class TiingoServer(LocalServer):
    """``/tiingo/daily/<TICKER>/prices``; GOOGL is the recorded answer, others from price files."""

    def __init__(self, key: str | None = None, days=None):
        super().__init__(key, days)
        recorded = pd.DataFrame(json.loads(TIINGO_JSON.read_text()))
        self.days["GOOGL"] = pd.DataFrame(
            {
                "date": recorded["date"].str[:10],
                "open": recorded["open"],
                "high": recorded["high"],
                "low": recorded["low"],
                "close": recorded["close"],
                "adj_close": recorded["adjClose"],
                "volume": recorded["volume"],
            }
        )
        self.recorded = {"GOOGL": (TIINGO_JSON.read_text(), TIINGO_CSV.read_text())}
        self.actions: dict[str, dict[str, dict]] = {}  # ticker -> day -> divCash/splitFactor

    def answer(self, path, query, headers):
        if self.key is not None and headers.get("Authorization") != f"Token {self.key}":
            return _json({"detail": "Invalid token."}, 401)
        parts = path.strip("/").split("/")
        if len(parts) != 4 or parts[:2] != ["tiingo", "daily"] or parts[3] != "prices":
            return _json({"detail": f"Not found: {path}"}, 404)
        ticker = parts[2].upper()
        if ticker not in self.days:
            return _json({"detail": f"Error: Ticker '{parts[2]}' not found"}, 404)
        days = self.window(ticker, query.get("startDate"), query.get("endDate"))
        if ticker in self.recorded and days.equals(self.days[ticker]) and self.today is None:
            body_json, body_csv = self.recorded[ticker]
            return Scripted(200, body_csv, "text/csv") if query.get("format") == "csv" else _json(body_json)
        return _json([self.tiingo_day(ticker, row) for row in days.itertuples(index=False)])

    def tiingo_day(self, ticker: str, row) -> dict:
        action = self.actions.get(ticker, {}).get(row.date, {})
        return {
            "date": f"{row.date}T00:00:00.000Z",
            "close": row.close,
            "high": row.high,
            "low": row.low,
            "open": row.open,
            "volume": int(row.volume),
            "adjClose": row.adj_close,
            "adjHigh": row.high,
            "adjLow": row.low,
            "adjOpen": row.open,
            "adjVolume": int(row.volume),
            "divCash": action.get("divCash", 0.0),
            "splitFactor": action.get("splitFactor", 1.0),
        }


# --- Alpha Vantage ---------------------------------------------------------------------------


class AlphaVantageServer(LocalServer):
    """``/query?function=TIME_SERIES_DAILY``; IBM is the recorded compact answer (for any
    outputsize: only that one was recorded), others from the price files."""

    UNKNOWN = (
        "Invalid API call. Please retry or visit the documentation "
        "(https://www.alphavantage.co/documentation/) for TIME_SERIES_DAILY."
    )

    def answer(self, path, query, headers):
        if self.key is not None and query.get("apikey") != self.key:
            return _json(
                {
                    "Error Message": "the parameter apikey is invalid or missing. Please "
                    "claim your free API key on (https://www.alphavantage"
                    ".co/support/#api-key)."
                }
            )
        if path.rstrip("/") != "/query" or query.get("function") != "TIME_SERIES_DAILY":
            return _json({"Error Message": self.UNKNOWN})
        symbol = query.get("symbol", "").upper()
        if symbol == "IBM":
            return _json(AV_IBM.read_text())
        if symbol not in self.days:
            return _json({"Error Message": self.UNKNOWN})
        days = self.window(symbol)
        size = query.get("outputsize", "compact")
        if size == "compact":
            days = days.tail(100)
        series = {
            row.date: {
                "1. open": f"{row.open:.4f}",
                "2. high": f"{row.high:.4f}",
                "3. low": f"{row.low:.4f}",
                "4. close": f"{row.close:.4f}",
                "5. volume": str(int(row.volume)),
            }
            for row in days.iloc[::-1].itertuples(index=False)
        }
        meta = {
            "1. Information": "Daily Prices (open, high, low, close) and Volumes",
            "2. Symbol": symbol,
            "3. Last Refreshed": days["date"].iloc[-1],
            "4. Output Size": size.title(),
            "5. Time Zone": "US/Eastern",
        }
        return _json(json.dumps({"Meta Data": meta, "Time Series (Daily)": series}, indent=4))


# --- Yahoo -----------------------------------------------------------------------------------


class YahooServer(LocalServer):
    """``/v8/finance/chart/<TICKER>``; AAPL is one of the two recordings (``range=6mo`` gets the
    6-month one, period1/period2 the one with the split), others built from the price files."""

    def answer(self, path, query, headers):
        parts = path.strip("/").split("/")
        if parts[:3] != ["v8", "finance", "chart"] or len(parts) != 4:
            return _json(
                {"chart": {"result": None, "error": {"code": "Not Found", "description": path}}}, 404
            )
        ticker = parts[3].upper()
        if ticker == "AAPL":
            return _json((YAHOO_6MO if query.get("range") == "6mo" else YAHOO_SPLIT).read_text())
        if ticker not in self.days:
            return _json(
                {
                    "chart": {
                        "result": None,
                        "error": {
                            "code": "Not Found",
                            "description": "No data found, symbol may be delisted",
                        },
                    }
                },
                404,
            )
        first = _day(query.get("period1"))
        last = _day(int(query["period2"]) - 1) if query.get("period2") else None
        return _json(self.chart(ticker, self.window(ticker, first, last)))

    def chart(self, ticker: str, days: pd.DataFrame) -> dict:
        stamps = [int(pd.Timestamp(f"{d} 14:30", tz="UTC").timestamp()) for d in days["date"]]
        quote = {name: days[name].tolist() for name in ("open", "high", "low", "close")}
        quote["volume"] = days["volume"].astype(int).tolist()
        meta = {
            "currency": "USD",
            "symbol": ticker,
            "exchangeTimezoneName": "America/New_York",
            "dataGranularity": "1d",
            "range": "",
        }
        return {
            "chart": {
                "result": [
                    {
                        "meta": meta,
                        "timestamp": stamps,
                        "indicators": {
                            "quote": [quote],
                            "adjclose": [{"adjclose": days["adj_close"].tolist()}],
                        },
                    }
                ],
                "error": None,
            }
        }


def _day(unix_seconds) -> str | None:
    if unix_seconds is None:
        return None
    return dt.datetime.fromtimestamp(int(unix_seconds), dt.timezone.utc).date().isoformat()


# --- Stooq -----------------------------------------------------------------------------------


class StooqServer(LocalServer):
    """``/q/d/l/?s=jpm.us&i=d``; JPM and NVDA are the recorded CSVs, others from price files."""

    KEY_PAGE = (
        "<html><body>Downloading data requires an API key. Get your key: "
        "https://stooq.com/q/d/?s=spy.us&amp;get_apikey</body></html>"
    )

    def __init__(self, key: str | None = None, days=None):
        super().__init__(key, days)
        for ticker, path in STOOQ.items():
            self.days[ticker] = (
                pd.read_csv(path)
                .rename(columns=str.lower)
                .assign(adj_close=lambda f: f["close"])[DAY_COLUMNS]
            )
        self.recorded = {ticker: path.read_bytes().decode() for ticker, path in STOOQ.items()}

    def answer(self, path, query, headers):
        if self.key is not None and query.get("apikey") != self.key:
            return Scripted(200, self.KEY_PAGE, "text/html")
        if path.rstrip("/") != "/q/d/l":
            return Scripted(404, "Not found", "text/plain")
        ticker = query.get("s", "").split(".")[0].upper()
        if ticker not in self.days:
            return Scripted(200, "No data", "text/plain")
        first, last = _iso(query.get("d1")), _iso(query.get("d2"))
        days = self.window(ticker, first, last)
        if ticker in self.recorded and days.equals(self.days[ticker]):
            return Scripted(200, self.recorded[ticker], "text/csv")
        if days.empty:
            return Scripted(200, "No data", "text/plain")
        lines = ["Date,Open,High,Low,Close,Volume"] + [
            f"{r.date},{r.open},{r.high},{r.low},{r.close},{r.volume}" for r in days.itertuples(index=False)
        ]
        return Scripted(200, "\r\n".join(lines) + "\r\n", "text/csv")


def _iso(yyyymmdd: str | None) -> str | None:
    return f"{yyyymmdd[:4]}-{yyyymmdd[4:6]}-{yyyymmdd[6:]}" if yyyymmdd else None
