"""``tiingo``: Tiingo's end-of-day prices, one ticker a request.

``GET {base_url}/tiingo/daily/{TICKER}/prices?startDate=YYYY-MM-DD&endDate=...&format=json``
with the header ``Authorization: Token <key>``; the key comes from the environment variable
``TIINGO_API_KEY`` and is only ever sent in that header. The answer is a JSON array of days with
raw ``open/high/low/close/volume``, split- and dividend-adjusted ``adj*`` values, and the day's
``divCash`` and ``splitFactor`` (a corporate action on a new day means the stored adjusted history
is out of date). An unknown ticker is a 404.

Free plan (2025): 50 requests an hour, 1,000 a day, 500 distinct symbols a month.
"""

from __future__ import annotations

import pandas as pd

from ..exceptions import MalformedResponseError, NoPriceDataError, UnknownTickerError
from .base import HttpSource, tidy

KEY_VARIABLE = "TIINGO_API_KEY"
FIELDS = {
    "date": "date",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "adjClose": "adj_close",
    "volume": "volume",
}


class TiingoSource(HttpSource):
    name = "tiingo"
    key_variable = KEY_VARIABLE  # the environment variable holding the key
    default_base_url = "https://api.tiingo.com"

    def fetch_one(self, ticker: str, start: str | None, end: str | None) -> pd.DataFrame:
        query = {
            "format": "json",
            "resampleFreq": "daily",
            "startDate": start or "1900-01-01",
        }  # without startDate Tiingo sends one day
        if end:
            query["endDate"] = end
        headers = {"Authorization": f"Token {self.key}"} if self.key else None
        response = self.get(f"tiingo/daily/{ticker}/prices", query, headers=headers)
        payload = self.json(response, response.url)
        prices = parse_prices(payload, ticker, url=response.url)
        self.actions[ticker] = corporate_actions(payload)
        return prices

    def on_client_error(self, response, shown, body):
        if response.status_code == 404:
            ticker = response.url.split("/daily/")[-1].split("/")[0]
            raise UnknownTickerError([ticker], self.name, hint=f"(404: {body})")
        return super().on_client_error(response, shown, body)


def parse_prices(payload, ticker: str, url: str | None = None) -> pd.DataFrame:
    """Tiingo's JSON array of days as tidy-column rows, plus ``div_cash`` and ``split_factor``."""
    if not isinstance(payload, list):
        detail = payload.get("detail") if isinstance(payload, dict) else type(payload).__name__
        raise MalformedResponseError(
            f"{ticker}: expected a JSON array of days, got {detail!r}", provider="tiingo", url=url, status=200
        )
    frame = pd.DataFrame(payload)
    if frame.empty:
        return tidy(frame.assign(ticker=ticker))
    missing = [f for f in FIELDS if f not in frame]
    if missing:
        raise MalformedResponseError(
            f"{ticker}: days without {', '.join(missing)}", provider="tiingo", url=url, status=200
        )
    if frame["close"].isna().all():
        raise NoPriceDataError([ticker], "tiingo answered with days that have no close")
    out = frame.rename(columns=FIELDS)
    out["date"] = pd.to_datetime(out["date"], utc=True, errors="coerce")
    if out["date"].isna().any():
        raise MalformedResponseError(
            f"{ticker}: a date is not ISO 8601", provider="tiingo", url=url, status=200
        )
    out["ticker"] = ticker
    return tidy(out)


def corporate_actions(payload: list[dict]) -> list[str]:
    """Days (YYYY-MM-DD) on which Tiingo reports a dividend or a split."""
    return [
        str(day["date"])[:10]
        for day in payload
        if day.get("divCash") or (day.get("splitFactor") not in (None, 1, 1.0))
    ]
