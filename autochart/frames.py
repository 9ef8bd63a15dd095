"""Shape tidy prices into the wide closes frame that the charts draw.

The wide frame has a sorted ``DatetimeIndex`` named ``date`` and one float column per ticker in the
order asked. Tickers are joined on their dates, never by position: a ticker missing a day gets NaN
on that day instead of shifting every later price onto the wrong date.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from .exceptions import ConflictingDataError, NoPriceDataError

log = logging.getLogger(__name__)

PRICE_COLUMN = {"adjusted": "adj_close", "close": "close"}


def drop_duplicates(prices: pd.DataFrame) -> pd.DataFrame:
    """Collapse identical repeated rows (with a warning); conflicting repeats are an error."""
    identical = prices.duplicated(keep="first")
    if identical.any():
        log.warning(
            "dropped %d identical duplicate row(s): %s", int(identical.sum()), _first_keys(prices[identical])
        )
        prices = prices[~identical]
    clash = prices.duplicated(subset=["ticker", "date"], keep=False)
    if clash.any():
        row = prices[clash].iloc[0]
        raise ConflictingDataError(
            f"{row['ticker']} has {int(clash.sum())} conflicting rows for "
            f"{row['date']:%Y-%m-%d} (and maybe other days): the source sent different prices "
            f"for the same day; fix or remove the duplicate rows"
        )
    return prices


def price_used(prices: pd.DataFrame, wanted: str = "adjusted") -> str:
    """``wanted``, unless the source gives no adjusted close for some ticker: then ``close``."""
    if wanted == "adjusted":
        has_adjusted = prices.groupby("ticker")["adj_close"].apply(lambda s: s.notna().any())
        lacking = sorted(has_adjusted.index[~has_adjusted])
        if lacking:
            log.warning(
                "no adjusted close for %s from this source: charting raw closes for all "
                "tickers (set price: close to silence this)",
                ", ".join(lacking),
            )
            return "close"
    return wanted


@dataclass(frozen=True)
class Window:
    start: pd.Timestamp
    end: pd.Timestamp


def window(
    dates: pd.DatetimeIndex, *, start: str | None = None, end: str | None = None, lookback_years: int = 5
) -> Window:
    """The charted date range: explicit start/end, else ``lookback_years`` back from the last date
    in the data (not from today: the data may end earlier, e.g. on a holiday or for old samples)."""
    last = pd.Timestamp(end) if end else dates.max()
    first = pd.Timestamp(start) if start else last - pd.DateOffset(years=lookback_years)
    return Window(first, last)


def closes(
    prices: pd.DataFrame,
    tickers: list[str],
    price: str = "adjusted",
    *,
    start: str | None = None,
    end: str | None = None,
    lookback_years: int = 5,
) -> pd.DataFrame:
    """Wide closes for ``tickers`` over the window, joined on date; NaN where a ticker has no price."""
    require_tickers(prices, tickers)
    prices = drop_duplicates(prices[prices["ticker"].isin(tickers)])
    wide = prices.pivot(index="date", columns="ticker", values=PRICE_COLUMN[price])
    wide = wide.reindex(columns=tickers).sort_index().astype("float64")
    wide.index = pd.DatetimeIndex(wide.index, name="date")
    wide.columns.name = None
    require_data(wide)  # before windowing: an all-empty frame has no last date to count from
    priced = wide.dropna(how="all").index
    span = window(priced, start=start, end=end, lookback_years=lookback_years)
    windowed = wide.loc[span.start : span.end]
    if windowed.dropna(how="all").empty:
        raise NoPriceDataError(
            [],
            f"nothing between {span.start:%Y-%m-%d} and {span.end:%Y-%m-%d}; "
            f"the data runs from {priced.min():%Y-%m-%d} to "
            f"{priced.max():%Y-%m-%d}: change start, end or lookback_years",
        )
    require_data(windowed)
    return windowed


def require_tickers(prices: pd.DataFrame, tickers: list[str]) -> None:
    """Every ticker asked for must have at least one row from the source."""
    present = set(prices["ticker"].unique()) if len(prices) else set()
    absent = [t for t in tickers if t not in present]
    if len(absent) == len(tickers):
        raise NoPriceDataError(absent, "the source returned no rows")
    if absent:
        raise NoPriceDataError(absent, "the source returned no rows for it")


def require_data(closes: pd.DataFrame) -> None:
    """Refuse to chart a ticker with no price at all in the window (it would draw nothing)."""
    empty = [t for t in closes.columns if closes[t].notna().sum() == 0]
    if not empty:
        return
    span = f"{closes.index.min():%Y-%m-%d} to {closes.index.max():%Y-%m-%d}" if len(closes) else "the window"
    if len(empty) == len(closes.columns):
        raise NoPriceDataError(
            [],
            f"none of {', '.join(empty)} has a price in {span}; check the tickers, the source and start/end",
        )
    raise NoPriceDataError(
        empty, f"no price in {span} (other tickers have data); remove it from tickers or widen the window"
    )


def gaps(closes: pd.DataFrame) -> dict[str, dict]:
    """Per ticker: its first and last priced day and the days inside that span it has no price,
    counted against the days on which any other ticker has one. Only tickers with gaps appear."""
    report = {}
    for ticker in closes.columns:
        series = closes[ticker]
        priced = series.dropna()
        if priced.empty:
            continue
        inside = series.loc[priced.index.min() : priced.index.max()]
        missing = inside.index[inside.isna()]
        late_start = priced.index.min() > closes.index.min()
        early_end = priced.index.max() < closes.index.max()
        if len(missing) or late_start or early_end:
            report[ticker] = {
                "first": f"{priced.index.min():%Y-%m-%d}",
                "last": f"{priced.index.max():%Y-%m-%d}",
                "missing_days": int(len(missing)),
                "missing_sample": [f"{d:%Y-%m-%d}" for d in missing[:5]],
            }
    return report


def describe_gaps(report: dict[str, dict]) -> list[str]:
    """One human sentence per ticker with gaps, for the run log."""
    lines = []
    for ticker, info in report.items():
        text = f"{ticker}: priced {info['first']} to {info['last']}"
        if info["missing_days"]:
            text += (
                f", {info['missing_days']} day(s) without a price inside that span "
                f"(first: {', '.join(info['missing_sample'])})"
            )
        lines.append(text)
    return lines


def _first_keys(rows: pd.DataFrame, limit: int = 3) -> str:
    keys = [f"{r.ticker} {r.date:%Y-%m-%d}" for r in rows.head(limit).itertuples()]
    return ", ".join(keys) + (" ..." if len(rows) > limit else "")
