"""``alphavantage``: Alpha Vantage ``TIME_SERIES_DAILY``, one ticker a request.

``GET {base_url}/query?function=TIME_SERIES_DAILY&symbol=IBM&outputsize=compact&apikey=...``; the
key comes from the environment variable ``ALPHAVANTAGE_API_KEY`` (redacted in every message). The
answer maps ``YYYY-MM-DD`` to ``{"1. open": "147.4400", ...}``: every value is a string and the
days come newest first. ``compact`` is the latest 100 days, ``full`` the whole history, so an
incremental run asks for ``compact`` whenever the gap fits in it. There is no adjusted close in
this series (the adjusted one is a premium endpoint), so charts of this source use raw closes.

Alpha Vantage answers problems with HTTP 200: ``{"Error Message": ...}`` for an unknown symbol,
``{"Note": ...}`` or ``{"Information": ...}`` when a rate limit or the daily allowance is hit.

Free plan (2025): 25 requests a day (and a few a minute); ``outputsize=full`` may need a paid plan.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from .. import nyse
from ..exceptions import AuthError, MalformedResponseError, UnknownTickerError
from .base import HttpSource, redact, tidy

KEY_VARIABLE = "ALPHAVANTAGE_API_KEY"
COMPACT_DAYS = 100  # trading days in a compact answer
SERIES_KEY = "Time Series (Daily)"
FIELDS = {"1. open": "open", "2. high": "high", "3. low": "low", "4. close": "close", "5. volume": "volume"}


def output_size(start: str | None, today: dt.date) -> str:
    """``compact`` when the latest 100 trading days reach back to ``start``, else ``full``."""
    if start is None:
        return "full"
    return "compact" if nyse.trading_days_between(start, today) < COMPACT_DAYS else "full"


class AlphaVantageSource(HttpSource):
    name = "alphavantage"
    key_variable = KEY_VARIABLE  # the environment variable holding the key
    default_base_url = "https://www.alphavantage.co"

    def fetch_one(self, ticker: str, start: str | None, end: str | None) -> pd.DataFrame:
        query = {
            "function": "TIME_SERIES_DAILY",
            "symbol": ticker,
            "outputsize": output_size(start, self.today()),
            "apikey": self.key,
        }
        response = self.get("query", query)
        shown = redact(response.url)
        prices = parse_daily(self.json(response, shown), ticker, url=shown, hint=self.auth_hint())
        if start:
            prices = prices[prices["date"] >= pd.Timestamp(start)]
        if end:
            prices = prices[prices["date"] <= pd.Timestamp(end)]
        return prices

    def soft_error(self, response) -> str | None:
        """A 200 whose JSON carries ``Note`` or ``Information`` is Alpha Vantage's rate limit."""
        if "json" not in response.headers.get("Content-Type", "json"):
            return None
        try:
            payload = response.json()
        except ValueError:
            return None
        if isinstance(payload, dict) and SERIES_KEY not in payload:
            for key in ("Note", "Information"):
                if key in payload:
                    return f"{key}: {str(payload[key])[:160]}"
        return None


def parse_daily(payload, ticker: str, url: str | None = None, hint: str = "") -> pd.DataFrame:
    """``Time Series (Daily)`` as tidy rows: strings to numbers, oldest first, no adjusted close."""
    if isinstance(payload, dict) and "Error Message" in payload:
        message = str(payload["Error Message"])
        if "apikey" in message.lower():
            raise AuthError(
                f"the API key was refused ({message[:200]}). {hint}",
                provider="alphavantage",
                url=url,
                status=200,
            )
        raise UnknownTickerError([ticker], "alphavantage", hint=f"({message[:200]})")
    series = payload.get(SERIES_KEY) if isinstance(payload, dict) else None
    if not isinstance(series, dict):
        keys = list(payload)[:5] if isinstance(payload, dict) else type(payload).__name__
        raise MalformedResponseError(
            f"{ticker}: no '{SERIES_KEY}' in the answer (got {keys})",
            provider="alphavantage",
            url=url,
            status=200,
        )
    try:
        frame = pd.DataFrame.from_dict(series, orient="index").rename(columns=FIELDS)
        frame = frame.reindex(columns=list(FIELDS.values())).apply(pd.to_numeric, errors="raise")
        frame["date"] = pd.to_datetime(frame.index, format="%Y-%m-%d")
    except (ValueError, TypeError) as exc:
        raise MalformedResponseError(
            f"{ticker}: a day is not in the documented format ({exc})",
            provider="alphavantage",
            url=url,
            status=200,
        ) from None
    frame["ticker"] = ticker
    return tidy(frame.reset_index(drop=True))
