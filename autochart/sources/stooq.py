"""``stooq``: Stooq's daily CSV download, one ticker a request.

``GET {base_url}/q/d/l/?s=jpm.us&i=d&d1=YYYYMMDD&d2=YYYYMMDD&apikey=...``. A plain US ticker is
asked for as ``<ticker>.us``; a ticker that already has a suffix (``tsco.uk``) is sent as is. Since
early 2026 Stooq wants an API key for downloads (get one at https://stooq.com/q/d/?s=spy.us&get_apikey);
it comes from the environment variable ``STOOQ_API_KEY`` and is redacted in every message.
Without a valid key Stooq answers 200 with an HTML page instead of CSV (so may its anti-bot
proof-of-work page, reported in 2026 even with a key): that is an ``AuthError`` saying so.

The CSV is ``Date,Open,High,Low,Close,Volume`` with CRLF lines; prices are already split- and
dividend-adjusted (volumes too, hence fractional volumes), so ``close`` is also the adjusted close.
``No data`` as the whole body means an unknown symbol (or nothing in the window).

Limits: undocumented; Stooq blocks clients that download too much in a day.
"""

from __future__ import annotations

import io

import pandas as pd

from ..exceptions import AuthError, MalformedResponseError, UnknownTickerError
from .base import HttpSource, redact, tidy

KEY_VARIABLE = "STOOQ_API_KEY"
COLUMNS = {"Date": "date", "Open": "open", "High": "high", "Low": "low", "Close": "close", "Volume": "volume"}


def stooq_symbol(ticker: str) -> str:
    return ticker.lower() if "." in ticker else f"{ticker.lower()}.us"


class StooqSource(HttpSource):
    name = "stooq"
    key_variable = KEY_VARIABLE  # the environment variable holding the key
    key_help = "get a key at https://stooq.com/q/d/?s=spy.us&get_apikey and "
    default_base_url = "https://stooq.com"

    def fetch_one(self, ticker: str, start: str | None, end: str | None) -> pd.DataFrame:
        query = {"s": stooq_symbol(ticker), "i": "d"}
        if start:
            query["d1"] = start.replace("-", "")
        query["d2"] = (end or self.today().isoformat()).replace("-", "")
        if self.key:
            query["apikey"] = self.key
        response = self.get("q/d/l/", query)
        shown = redact(response.url)
        if "<html" in response.text[:500].lower():
            raise AuthError(
                f"answered with an HTML page instead of CSV: the API key is missing or "
                f"refused, or Stooq is showing its anti-bot check. {self.auth_hint()}",
                provider=self.name,
                url=shown,
                status=response.status_code,
            )
        return parse_csv(response.text, ticker, url=shown)


def parse_csv(text: str, ticker: str, url: str | None = None) -> pd.DataFrame:
    """A Stooq daily CSV as tidy rows (``adj_close`` = ``close``: Stooq prices are adjusted)."""
    if text.strip().lower() in ("no data", ""):
        raise UnknownTickerError([ticker], "stooq", hint="(Stooq answered 'No data'.)")
    try:
        frame = pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise MalformedResponseError(
            f"{ticker}: not a CSV ({exc})", provider="stooq", url=url, status=200
        ) from None
    missing = [c for c in COLUMNS if c not in frame]
    if missing:
        raise MalformedResponseError(
            f"{ticker}: CSV without {', '.join(missing)} (columns: {', '.join(map(str, frame.columns))})",
            provider="stooq",
            url=url,
            status=200,
        )
    frame = frame.rename(columns=COLUMNS)
    try:
        frame["date"] = pd.to_datetime(frame["date"], format="%Y-%m-%d")
        prices = frame[["open", "high", "low", "close", "volume"]].apply(pd.to_numeric)
    except (ValueError, TypeError) as exc:
        raise MalformedResponseError(
            f"{ticker}: a row is not in Stooq's format ({exc})", provider="stooq", url=url, status=200
        ) from None
    frame[prices.columns] = prices
    frame["adj_close"] = frame["close"]
    frame["ticker"] = ticker
    return tidy(frame)
