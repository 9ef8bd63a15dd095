"""The local price store: one SQLite file, so a run asks a source only for the days it lacks.

Table ``bars`` holds one row per (source, ticker, day) with the tidy prices and the UTC time the
row was fetched; each source keeps its own history (sources disagree on adjustments, e.g. NVDA's
2024 split). Table ``coverage`` remembers, per source and ticker, the first day asked for in the
last full fetch, so a ticker that simply has no older days (a recent IPO) is not refetched in full
every run. Every change for one ticker is one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``) in
WAL mode with ``synchronous=FULL``: a process killed at any instant leaves either the old or the
new rows, never a mix, and the next run picks up from what was committed.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .sources.base import PRICE_COLUMNS, TIDY_COLUMNS, tidy

SCHEMA = """
CREATE TABLE IF NOT EXISTS bars (
    source TEXT NOT NULL,
    ticker TEXT NOT NULL,
    date TEXT NOT NULL,            -- YYYY-MM-DD, the exchange's trading day
    open REAL, high REAL, low REAL, close REAL, adj_close REAL, volume REAL,
    fetched_at TEXT NOT NULL,      -- UTC, ISO 8601
    PRIMARY KEY (source, ticker, date)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS coverage (
    source TEXT NOT NULL,
    ticker TEXT NOT NULL,
    covered_from TEXT NOT NULL,    -- first day asked for in the last full fetch
    checked_at TEXT NOT NULL,      -- UTC time the source was last asked about this ticker
    PRIMARY KEY (source, ticker)
);
"""
COLUMNS = ["date", *PRICE_COLUMNS]


@dataclass(frozen=True)
class Span:
    """What the store holds for one source and ticker."""

    rows: int
    first: str
    last: str
    covered_from: str | None


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class PriceStore:
    """``PriceStore(path)``; use as a context manager or call ``close()``."""

    def __init__(self, path: str | Path, timeout: float = 30.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> PriceStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def transaction(self):
        """One all-or-nothing change; the write lock is taken up front."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- reading ---------------------------------------------------------------------------

    def span(self, source: str, ticker: str) -> Span | None:
        rows, first, last = self.db.execute(
            "SELECT count(*), min(date), max(date) FROM bars WHERE source=? AND ticker=?", (source, ticker)
        ).fetchone()
        covered = self.db.execute(
            "SELECT covered_from FROM coverage WHERE source=? AND ticker=?", (source, ticker)
        ).fetchone()
        if not rows:
            return None
        return Span(rows, first, last, covered[0] if covered else None)

    def load(
        self, source: str, tickers: list[str], start: str | None = None, end: str | None = None
    ) -> pd.DataFrame:
        """Tidy rows of ``tickers`` from ``source`` between ``start`` and ``end`` (inclusive)."""
        marks = ",".join("?" * len(tickers))
        query = (
            f"SELECT ticker, {', '.join(COLUMNS)} FROM bars WHERE source=? "
            f"AND ticker IN ({marks}) AND date >= ? AND date <= ? ORDER BY ticker, date"
        )
        rows = self.db.execute(
            query, (source, *tickers, start or "0000-00-00", end or "9999-99-99")
        ).fetchall()
        return tidy(pd.DataFrame(rows, columns=["ticker", *COLUMNS]))

    def info(self, tickers: list[str] | None = None) -> pd.DataFrame:
        """Per source and ticker: rows, first and last day, when last fetched."""
        where, args = _ticker_filter(tickers)
        rows = self.db.execute(
            f"SELECT ticker, source, count(*), min(date), max(date), max(fetched_at) FROM bars "
            f"{where} GROUP BY ticker, source ORDER BY ticker, source",
            args,
        ).fetchall()
        return pd.DataFrame(rows, columns=["ticker", "source", "rows", "first", "last", "fetched_at"])

    def snapshot(self) -> list[tuple]:
        """Every stored bar without its fetch time, sorted: equal snapshots hold equal prices."""
        return self.db.execute(
            f"SELECT source, ticker, {', '.join(COLUMNS)} FROM bars ORDER BY source, ticker, date"
        ).fetchall()

    # --- writing ---------------------------------------------------------------------------

    def save(
        self,
        source: str,
        ticker: str,
        prices: pd.DataFrame,
        *,
        covered_from: str | None = None,
        replace: bool = False,
    ) -> int:
        """Store one ticker's rows in one transaction: new days added, known days overwritten
        (a correction); ``replace`` drops the ticker's other days first (a re-adjusted history);
        ``covered_from`` records a full fetch. Returns the rows written."""
        now = utc_now()
        rows = _rows(prices[prices["ticker"] == ticker], now)
        with self.transaction() as db:
            if replace:
                db.execute("DELETE FROM bars WHERE source=? AND ticker=?", (source, ticker))
            db.executemany(
                f"INSERT OR REPLACE INTO bars (source, ticker, {', '.join(COLUMNS)}, fetched_at) "
                f"VALUES (?, ?, {', '.join('?' * len(COLUMNS))}, ?)",
                [(source, ticker, *row) for row in rows],
            )
            if covered_from is not None:
                db.execute(
                    "INSERT OR REPLACE INTO coverage VALUES (?, ?, ?, ?)", (source, ticker, covered_from, now)
                )
            else:
                db.execute(
                    "UPDATE coverage SET checked_at=? WHERE source=? AND ticker=?", (now, source, ticker)
                )
        return len(rows)

    def clear(self, tickers: list[str] | None = None) -> int:
        """Forget ``tickers`` (every source), or everything; returns the bars deleted."""
        where, args = _ticker_filter(tickers)
        with self.transaction() as db:
            deleted = db.execute(f"DELETE FROM bars {where}", args).rowcount
            db.execute(f"DELETE FROM coverage {where}", args)
        return deleted


def _ticker_filter(tickers: list[str] | None) -> tuple[str, tuple]:
    if not tickers:
        return "", ()
    return f"WHERE ticker IN ({','.join('?' * len(tickers))})", tuple(tickers)


def _rows(prices: pd.DataFrame, fetched_at: str) -> list[tuple]:
    frame = prices.reindex(columns=TIDY_COLUMNS)
    days = pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d")
    values = frame[PRICE_COLUMNS].astype("float64").astype(object)
    values = values.where(values.notna(), None)
    return [(day, *vals, fetched_at) for day, vals in zip(days, values.itertuples(index=False), strict=True)]


def command(params, action: str, tickers: list[str]) -> str:
    """``store info|clear [TICKER...]`` for the store ``params`` name; returns the text to print."""
    from .exceptions import ParameterError
    from .fetching import store_path

    path = store_path(params)
    if path is None:
        raise ParameterError(["store is null: there is no price store (set store: to a path)"])
    if not path.is_file():
        return f"no price store yet at {path} (the first run of an HTTP source makes it)"
    with PriceStore(path) as store:
        if action == "clear":
            deleted = store.clear(tickers or None)
            which = ", ".join(tickers) if tickers else "all tickers"
            return f"cleared {deleted} rows ({which}) from {path}"
        table = store.info(tickers or None)
    if table.empty:
        return f"{path}: nothing stored" + (f" for {', '.join(tickers)}" if tickers else "")
    return f"{path}\n{table.to_string(index=False)}"
