"""``yahoo``: Yahoo Finance's v8 ``chart`` JSON, one ticker a request, no key.

``GET {base_url}/v8/finance/chart/{TICKER}?period1=<unix>&period2=<unix>&interval=1d
&events=div|split``. The answer holds parallel arrays: ``timestamp`` (UNIX seconds, UTC; usually
the 09:30 New York open, but the live last bar carries ``regularMarketTime``, e.g. 20:00:01 UTC),
``indicators.quote[0]`` (open/high/low/close/volume; ``close`` is split-adjusted only) and
``indicators.adjclose[0]`` (split- and dividend-adjusted). Each timestamp is turned into a day in
the exchange's own time zone, never by assuming a time of day. ``events.splits`` and
``events.dividends`` are kept as the ticker's corporate actions: one newer than the stored history
makes the store refetch that ticker in full.

Unofficial and unkeyed: Yahoo rate-limits in waves of 429 (retried with backoff) and may change
the format without notice.
"""

from __future__ import annotations

import calendar
import datetime as dt

import pandas as pd

from ..exceptions import MalformedResponseError, NoPriceDataError, UnknownTickerError
from .base import HttpSource, redact, tidy

QUOTE_FIELDS = ("open", "high", "low", "close", "volume")


def unix(day: str | dt.date) -> int:
    """Midnight UTC of ``day`` in UNIX seconds."""
    return calendar.timegm(pd.Timestamp(day).timetuple())


class YahooSource(HttpSource):
    name = "yahoo"
    default_base_url = "https://query2.finance.yahoo.com"

    def fetch_one(self, ticker: str, start: str | None, end: str | None) -> pd.DataFrame:
        last = pd.Timestamp(end).date() if end else self.today()
        query = {
            "period1": str(unix(start or "1970-01-02")),
            "period2": str(unix(last + dt.timedelta(days=1))),
            "interval": "1d",
            "events": "div|split",
        }
        response = self.get(f"v8/finance/chart/{ticker}", query)
        shown = redact(response.url)
        prices, actions = parse_chart(self.json(response, shown), ticker, url=shown)
        self.actions[ticker] = actions
        return prices

    def on_client_error(self, response, shown, body):
        if response.status_code == 404:
            ticker = response.url.split("/chart/")[-1].split("?")[0]
            raise UnknownTickerError([ticker], self.name, hint=f"(404: {body})")
        return super().on_client_error(response, shown, body)


def parse_chart(payload, ticker: str, url: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """(tidy rows, days of splits and dividends) from one v8 chart answer."""
    result = _result(payload, ticker, url)
    zone = result.get("meta", {}).get("exchangeTimezoneName") or "America/New_York"
    stamps = result.get("timestamp") or []
    if not stamps:
        raise NoPriceDataError([ticker], "yahoo answered with no bars")
    try:
        quote = result["indicators"]["quote"][0]
        frame = pd.DataFrame({name: quote[name] for name in QUOTE_FIELDS})
        adjclose = result["indicators"].get("adjclose")
        frame["adj_close"] = adjclose[0]["adjclose"] if adjclose else float("nan")
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise MalformedResponseError(
            f"{ticker}: bars not in the v8 chart format ({exc!r})", provider="yahoo", url=url, status=200
        ) from None
    if len(frame) != len(stamps):
        raise MalformedResponseError(
            f"{ticker}: {len(stamps)} timestamps but {len(frame)} bars", provider="yahoo", url=url, status=200
        )
    frame["date"] = _local_days(stamps, zone)
    frame["ticker"] = ticker
    frame = frame.dropna(subset=["close"])  # Yahoo sends null bars for halted days
    events = result.get("events") or {}
    actions = sorted(
        {
            _local_days([int(e["date"])], zone)[0].strftime("%Y-%m-%d")
            for kind in ("splits", "dividends")
            for e in (events.get(kind) or {}).values()
        }
    )
    return tidy(frame), actions


def splits(payload) -> list[dict]:
    """The split events of a v8 chart answer: ``{"date": day, "ratio": "4:1"}``, oldest first."""
    result = _result(payload, "", None)
    zone = result.get("meta", {}).get("exchangeTimezoneName") or "America/New_York"
    found = [
        {
            "date": _local_days([int(e["date"])], zone)[0].strftime("%Y-%m-%d"),
            "ratio": e.get("splitRatio") or f"{e['numerator']}:{e['denominator']}",
        }
        for e in ((result.get("events") or {}).get("splits") or {}).values()
    ]
    return sorted(found, key=lambda e: e["date"])


def _result(payload, ticker: str, url: str | None) -> dict:
    chart = payload.get("chart") if isinstance(payload, dict) else None
    if not isinstance(chart, dict):
        raise MalformedResponseError(
            f"{ticker}: no 'chart' object in the answer", provider="yahoo", url=url, status=200
        )
    if chart.get("error"):
        error = chart["error"]
        description = error.get("description", error) if isinstance(error, dict) else error
        raise UnknownTickerError([ticker], "yahoo", hint=f"({description})")
    results = chart.get("result") or []
    if not results or not isinstance(results[0], dict):
        raise MalformedResponseError(
            f"{ticker}: an empty 'chart.result'", provider="yahoo", url=url, status=200
        )
    return results[0]


def _local_days(stamps: list[int], zone: str) -> pd.DatetimeIndex:
    """UNIX seconds to calendar days in the exchange's time zone (naive midnight)."""
    local = pd.to_datetime(stamps, unit="s", utc=True).tz_convert(zone)
    return local.tz_localize(None).normalize()
