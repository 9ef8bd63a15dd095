"""``csv``: a folder with one file per ticker, in Yahoo's or Stooq's daily download format.

Yahoo: ``Date,Open,High,Low,Close,Adj Close,Volume``; ``null`` marks a missing value; ``Close`` is
split-adjusted, ``Adj Close`` also dividend-adjusted. Stooq: ``Date,Open,High,Low,Close,Volume``
with CRLF lines; its ``Close`` is already split- and dividend-adjusted, so it is both columns here.
File names tried per ticker: ``JPM.csv``, ``jpm.csv``, ``jpm_us_d.csv``, ``jpm.us.csv``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..exceptions import DataError, MalformedResponseError, NoPriceDataError, UnknownTickerError
from .base import tidy

YAHOO_COLUMNS = {"Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"}
STOOQ_COLUMNS = {"Date", "Open", "High", "Low", "Close", "Volume"}
RENAME = {
    "Date": "date",
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
}


class CsvSource:
    name = "csv"

    def __init__(self, csv_dir: str | None = None, **_ignored):
        if not csv_dir:
            raise DataError("csv: set csv_dir to a folder of <TICKER>.csv files")
        self.folder = Path(csv_dir)
        if not self.folder.is_dir():
            raise DataError(
                f"csv: csv_dir {self.folder} is not a folder; point csv_dir at the "
                f"folder that holds <TICKER>.csv files"
            )

    def fetch(self, tickers: list[str], start: str | None = None, end: str | None = None) -> pd.DataFrame:
        files = {t: self.file_for(t) for t in tickers}
        missing = [t for t, f in files.items() if f is None]
        if missing:
            raise UnknownTickerError(
                missing,
                self.name,
                hint=f"No file for it in {self.folder} (tried {', '.join(_names(missing[0]))}).",
            )
        return tidy(pd.concat([read_price_file(f, t) for t, f in files.items()], ignore_index=True))

    def file_for(self, ticker: str) -> Path | None:
        for name in _names(ticker):
            candidate = self.folder / name
            if candidate.is_file():
                return candidate
        return None


def _names(ticker: str) -> list[str]:
    low = ticker.lower()
    return [f"{ticker}.csv", f"{low}.csv", f"{low}_us_d.csv", f"{low}.us.csv"]


def read_price_file(path: Path, ticker: str) -> pd.DataFrame:
    """One Yahoo or Stooq file as tidy rows; a file in neither format is an error naming it."""
    try:
        frame = pd.read_csv(path, na_values=["null", "NaN", ""], keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise _malformed(path, f"cannot be read as CSV ({exc})") from None
    columns = {str(c).strip() for c in frame.columns}
    frame.columns = [str(c).strip() for c in frame.columns]
    if not (columns >= YAHOO_COLUMNS or columns >= STOOQ_COLUMNS):
        raise _malformed(
            path,
            f"has columns {sorted(columns)}; expected Yahoo "
            f"({', '.join(sorted(YAHOO_COLUMNS))}) or Stooq format",
        )
    frame = frame.rename(columns=RENAME)
    if "adj_close" not in frame:
        frame["adj_close"] = frame["close"]  # Stooq closes are already adjusted
    dates = pd.to_datetime(frame["date"], format="%Y-%m-%d", errors="coerce")
    if frame.empty:
        raise NoPriceDataError([ticker], f"{path} has a header but no rows")
    if dates.isna().any():
        raise _malformed(
            path,
            f"line {_first_line(dates.isna())}: date "
            f"{frame.loc[dates.isna(), 'date'].iloc[0]!r} is not YYYY-MM-DD",
        )
    frame["date"] = dates
    for column in ("open", "high", "low", "close", "adj_close", "volume"):
        frame[column] = _numbers(frame[column], path, column)
    not_positive = (frame[["open", "high", "low", "close", "adj_close"]] <= 0).any(axis=1)
    if not_positive.any():
        raise _malformed(path, f"line {_first_line(not_positive)}: a price is zero or negative")
    frame["ticker"] = ticker
    return frame


def _first_line(mask: pd.Series) -> int:
    """The file line of the first True row (+1 for the header, +1 to count from 1)."""
    return int(mask.to_numpy().nonzero()[0][0]) + 2


def _numbers(values: pd.Series, path: Path, column: str) -> pd.Series:
    """Numbers, with missing values kept as NaN; any other text is an error naming the row."""
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna()
    if bad.any():
        raise _malformed(path, f"line {_first_line(bad)}: {column} {values[bad].iloc[0]!r} is not a number")
    return numbers


def _malformed(path: Path, problem: str) -> MalformedResponseError:
    return MalformedResponseError(f"{path} {problem}", provider="csv")
