"""``iex``: the tutorial's IEX Cloud batch ``chart`` API, or any endpoint that speaks it.

``GET {base_url}/stock/market/batch?symbols=A,B&types=chart&range=5y&token=...``, at most 100
symbols a request. The answer maps each known symbol to ``{"chart": [rows]}``; an unknown symbol is
simply absent (a 200), so absence is checked here rather than discovered as a KeyError later. IEX
Cloud itself was retired on 2024-08-31; ``base_url`` points at a compatible endpoint. The token
comes from the environment variable ``IEX_TOKEN`` and never leaves this module unredacted.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pandas as pd

from ..exceptions import (
    MalformedResponseError,
    NoPriceDataError,
    UnknownTickerError,
    UnreachableError,
)
from .base import HttpSource, redact, tidy

TOKEN_VARIABLE = "IEX_TOKEN"
MAX_SYMBOLS = 100
# IEX's ranges, smallest first, with how far back each reaches.
RANGES = [
    ("5d", pd.DateOffset(days=7)),
    ("1m", pd.DateOffset(months=1)),
    ("3m", pd.DateOffset(months=3)),
    ("6m", pd.DateOffset(months=6)),
    ("1y", pd.DateOffset(years=1)),
    ("2y", pd.DateOffset(years=2)),
    ("5y", pd.DateOffset(years=5)),
    ("max", None),
]


def range_for(start: str | None, today: dt.date | None = None) -> str:
    """The smallest IEX range that reaches back to ``start`` (``max`` when there is none)."""
    if start is None:
        return "max"
    today_ts = pd.Timestamp(today or dt.date.today())
    for name, reach in RANGES:
        if reach is not None and today_ts - reach <= pd.Timestamp(start):
            return name
    return "max"


class IexSource(HttpSource):
    name = "iex"
    key_variable = TOKEN_VARIABLE  # the environment variable holding the key
    default_base_url = "https://cloud.iexapis.com/stable"
    batch_size = MAX_SYMBOLS

    def fetch(self, tickers: list[str], start: str | None = None, end: str | None = None) -> pd.DataFrame:
        chart_range = range_for(start, self.today())
        chunks = [tickers[i : i + MAX_SYMBOLS] for i in range(0, len(tickers), MAX_SYMBOLS)]
        frames = [self._fetch_chunk(chunk, chart_range) for chunk in chunks]
        prices = tidy(pd.concat(frames, ignore_index=True))
        if end is not None:
            prices = prices[prices["date"] <= pd.Timestamp(end)]
        return prices

    def _fetch_chunk(self, tickers: list[str], chart_range: str) -> pd.DataFrame:
        query = {"symbols": ",".join(tickers), "types": "chart", "range": chart_range}
        if self.key:
            query["token"] = self.key
        try:
            response = self.get("stock/market/batch", query)
        except UnreachableError as exc:
            if self.base_url == self.default_base_url:
                raise UnreachableError(
                    f"{exc.detail}. IEX Cloud was retired on 2024-08-31: set base_url to a compatible "
                    f"endpoint, or choose another source",
                    provider=self.name,
                    url=exc.url,
                    status=exc.status,
                ) from None
            raise
        shown = redact(response.url)
        return parse_batch(self.json(response, shown), tickers, url=shown)

    def on_client_error(self, response, shown, body):
        if response.status_code == 404:
            symbols = response.request.url and _symbols_of(response.request.url)
            raise UnknownTickerError(symbols or [], self.name, hint=f"(404: {body})")
        return super().on_client_error(response, shown, body)


def parse_batch(payload, tickers: list[str], url: str | None = None) -> pd.DataFrame:
    """Rows for every asked ticker from a batch answer; absent, empty or broken ones are errors."""
    if not isinstance(payload, dict):
        raise MalformedResponseError(
            f"expected a JSON object keyed by symbol, got {type(payload).__name__}", provider="iex", url=url
        )
    by_upper = {str(key).upper(): value for key, value in payload.items()}
    missing = [t for t in tickers if t.upper() not in by_upper]
    if missing:
        raise UnknownTickerError(missing, "iex", hint="It is absent from the batch answer.")
    frames = [chart_rows(by_upper[t.upper()], t, url) for t in tickers]
    return pd.concat(frames, ignore_index=True)


def chart_rows(entry, ticker: str, url: str | None = None) -> pd.DataFrame:
    """One symbol's ``{"chart": [...]}`` (or a bare chart list) as tidy-column rows."""
    rows = entry.get("chart") if isinstance(entry, dict) else entry
    if not isinstance(rows, list):
        raise MalformedResponseError(f"{ticker}: no 'chart' list in the answer", provider="iex", url=url)
    if not rows:
        raise NoPriceDataError([ticker], "the source answered with an empty chart")
    frame = pd.DataFrame(rows)
    for column in ("date", "close"):
        if column not in frame or frame[column].isna().any():
            raise MalformedResponseError(f"{ticker}: chart rows without '{column}'", provider="iex", url=url)
    frame["ticker"] = ticker
    frame["adj_close"] = frame["fClose"] if "fClose" in frame else float("nan")
    try:
        frame["date"] = pd.to_datetime(frame["date"], format="%Y-%m-%d")
    except (ValueError, TypeError):
        raise MalformedResponseError(
            f"{ticker}: a chart date is not YYYY-MM-DD", provider="iex", url=url
        ) from None
    return frame


def _symbols_of(url: str) -> list[str]:
    return parse_qs(urlsplit(url).query).get("symbols", [""])[0].split(",")
