"""``sample``: offline daily prices shipped by the ``bokeh_sampledata`` package.

Public-domain Quandl WIKI prices for AAPL, FB, GOOG, IBM and MSFT, 2000-03-01 to 2013-03-01 (FB from
its 2012 IPO). ``close`` is as traded; ``adj_close`` is split- and dividend-adjusted, so the AAPL
splits of 2000 and 2005 only look like crashes in raw closes.
"""

from __future__ import annotations

import pandas as pd

from ..exceptions import UnknownTickerError
from .base import tidy


class SampleSource:
    name = "sample"

    def __init__(self, **_ignored):
        pass

    def fetch(self, tickers: list[str], start: str | None = None, end: str | None = None) -> pd.DataFrame:
        from bokeh_sampledata import stocks

        data = stocks.data
        known = sorted(data["ticker"].unique())
        unknown = [t for t in tickers if t not in known]
        if unknown:
            raise UnknownTickerError(
                unknown, self.name, hint=f"The offline sample has only {', '.join(known)}."
            )
        rows = data[data["ticker"].isin(tickers)]
        return tidy(rows)
