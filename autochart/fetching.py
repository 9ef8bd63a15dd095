"""Step 1 of a run: prices for every ticker, from the local store where it already has them.

For a remote source with a store, each ticker gets a plan: nothing (the store is up to date),
``since`` (the last stored day minus ``OVERLAP_DAYS`` trading days, so late corrections replace
stored values) or ``full`` (nothing stored yet, or an older start wanted). Tickers with the same
plan share requests where the source can batch them. When the overlap shows the source has
re-adjusted its history (a split or dividend: every overlapping adjusted close changed by one
factor), or the source reports a corporate action newer than the stored history, that ticker is
refetched in full. Every ticker ends with a status (fetched, from store, failed + why); then the
run is checked: ``on_missing``, stale data, one-day jumps in raw closes.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from . import nyse
from .exceptions import DataError, NoPriceDataError, StaleDataError, UnknownTickerError
from .frames import window
from .sources import earliest_needed, get_source, source_options
from .sources.base import empty_tidy, tidy
from .store import PriceStore

log = logging.getLogger(__name__)

OVERLAP_DAYS = 3  # trading days asked again before the last stored one (corrections)
RESCALE_TOLERANCE = 1e-5  # relative change of an adjusted close that counts as a change
FETCHED, FROM_STORE, FAILED = "fetched", "from store", "failed"


@dataclass
class TickerStatus:
    ticker: str
    status: str = FAILED
    rows_fetched: int = 0
    rows_from_store: int = 0
    first: str | None = None
    last: str | None = None
    request: str = ""  # what the source was asked: "full from D", "since D", "nothing"
    error: str = ""  # why the fetch failed (also when stored rows were used instead)


@dataclass
class FetchResult:
    prices: pd.DataFrame
    statuses: list[TickerStatus]
    warnings: list[str] = field(default_factory=list)
    store: str | None = None
    errors: dict[str, Exception] = field(default_factory=dict)  # the typed error per failed ticker

    @property
    def tickers(self) -> list[str]:
        """The tickers that have prices, in the order asked."""
        return [s.ticker for s in self.statuses if s.status != FAILED]

    def scatter_tickers(self, wanted: list[str] | None) -> list[str]:
        """``wanted`` without failed tickers; the first two available when none is left."""
        kept = [t for t in wanted or [] if t in self.tickers]
        return kept or self.tickers[:2]

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(s) for s in self.statuses]).set_index("ticker")

    def report(self) -> dict:
        """For ``run.json``: per-ticker status, totals, the warnings logged."""
        return {
            "store": self.store,
            "rows_fetched": sum(s.rows_fetched for s in self.statuses),
            "rows_from_store": sum(s.rows_from_store for s in self.statuses),
            "tickers": {
                s.ticker: {k: v for k, v in asdict(s).items() if k != "ticker"} for s in self.statuses
            },
            "warnings": list(self.warnings),
        }


# --- the step --------------------------------------------------------------------------------


def fetch(params, *, source=None, today: dt.date | None = None, **options) -> FetchResult:
    """Prices for ``params.tickers`` with a status each; raises per ``on_missing``/stale rules."""
    today = today or dt.date.today()
    source = source or get_source(params.source, **{**source_options(params), "today": today, **options})
    start = earliest_needed(params, pd.Timestamp(today))
    path = store_path(params)
    if path is not None and getattr(source, "remote", False):
        with PriceStore(path) as store:
            result = update(store, source, params.tickers, start, params.end, today)
        result.store = str(path)
    else:
        result = fetch_direct(source, params.tickers, start, params.end)
    check(result, params, today)
    return result


def store_path(params) -> Path | None:
    """The SQLite file: ``store`` as given if absolute, else inside ``output_dir``; None = off."""
    if not params.store:
        return None
    path = Path(params.store).expanduser()
    return path if path.is_absolute() else Path(params.output_dir) / path


def fetch_direct(source, tickers: list[str], start: str | None, end: str | None) -> FetchResult:
    """No store: ask the source for the whole window."""
    frames, statuses, errors = [], [], {}
    for chunk in _chunks(tickers, getattr(source, "batch_size", len(tickers))):
        for ticker, got in ask(source, chunk, start, end).items():
            status = TickerStatus(ticker, request=_whole_window(source, start))
            got = _not_empty(ticker, got)
            if isinstance(got, Exception):
                status.error, errors[ticker] = str(got), got
            else:
                frames.append(got)
                _describe(status, got, FETCHED)
                status.rows_fetched = len(got)
            statuses.append(status)
    order = {t: i for i, t in enumerate(tickers)}
    statuses.sort(key=lambda s: order[s.ticker])
    return FetchResult(_concat(frames), statuses, errors=errors)


def _whole_window(source, start: str | None) -> str:
    if not getattr(source, "remote", False):
        return "everything (local source)"
    return f"full from {start}" if start else "full"


def _not_empty(ticker: str, got):
    """An answer with no rows where the whole window was asked for is a failure, not data."""
    if not isinstance(got, Exception) and got.empty:
        return NoPriceDataError([ticker], "the source returned no rows")
    return got


def ask(source, tickers: list[str], start: str | None, end: str | None) -> dict:
    """``{ticker: rows or the exception that explains why not}``: a ticker the source names as
    unknown (or empty) fails alone and the others are asked again; any other error fails all."""
    try:
        prices = source.fetch(tickers, start=start, end=end)
    except (UnknownTickerError, NoPriceDataError) as exc:
        named = [t for t in exc.tickers if t in tickers]
        rest = [t for t in tickers if t not in named]
        if not named or not rest:
            return {t: exc for t in tickers}
        log.warning("%s", exc)
        return {**{t: exc for t in named}, **ask(source, rest, start, end)}
    except DataError as exc:
        return {t: exc for t in tickers}
    return {t: prices[prices["ticker"] == t] for t in tickers}


# --- with the store --------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    kind: str  # "nothing" | "since" | "full"
    start: str | None


def plan(span, needed_from: str | None, end: str | None, today: dt.date) -> Plan:
    """What to ask the source for one ticker, given what the store holds (``span``)."""
    if (
        span is None
        or span.covered_from is None
        or (needed_from is not None and span.covered_from > needed_from)
    ):
        return Plan("full", needed_from)
    target = _expected_last(today, end)
    if span.last >= target.isoformat():
        return Plan("nothing", None)
    since = dt.date.fromisoformat(span.last)
    for _ in range(OVERLAP_DAYS):
        since = nyse.previous_trading_day(since)
    return Plan("since", since.isoformat())


def _expected_last(today: dt.date, end: str | None) -> dt.date:
    """The newest day a source could have: today if it trades (its bar may be in), else the
    trading day before; never after ``end``."""
    last = today if nyse.is_trading_day(today) else nyse.previous_trading_day(today)
    if end:
        last = min(last, dt.date.fromisoformat(end))
    return last


def update(
    store: PriceStore, source, tickers: list[str], needed_from: str | None, end: str | None, today: dt.date
) -> FetchResult:
    """Bring the store up to date for ``tickers`` and return their rows from it."""
    statuses = {t: TickerStatus(t) for t in tickers}
    errors: dict[str, Exception] = {}
    plans = {t: plan(store.span(source.name, t), needed_from, end, today) for t in tickers}
    groups: dict[tuple[str, str | None], list[str]] = {}
    for ticker, p in plans.items():
        groups.setdefault((p.kind, p.start), []).append(ticker)
    for (kind, start), group in groups.items():
        if kind == "nothing":
            for ticker in group:
                statuses[ticker].request = "nothing (up to date)"
            continue
        for chunk in _chunks(group, getattr(source, "batch_size", 1)):
            for ticker, got in ask(source, chunk, start, end).items():
                if plans[ticker].kind == "full":
                    got = _not_empty(ticker, got)
                if isinstance(got, Exception):
                    errors[ticker] = got
                _absorb(store, source, statuses[ticker], plans[ticker], got, needed_from, end)
    prices = store.load(source.name, tickers, needed_from, end)
    result = FetchResult(prices, [statuses[t] for t in tickers], errors=errors)
    for ticker, status in statuses.items():
        rows = prices[prices["ticker"] == ticker]
        status.rows_from_store = max(0, len(rows) - status.rows_fetched)
        if status.status != FETCHED and not rows.empty:
            status.status = FROM_STORE
        _describe(status, rows, status.status)
    return result


def _absorb(store, source, status: TickerStatus, p: Plan, got, needed_from, end) -> None:
    """Write one ticker's answer to the store (refetching in full if its history changed)."""
    label = f"{p.kind} from {p.start}" if p.start else p.kind
    status.request = label if p.kind == "full" else f"since {p.start}"
    if isinstance(got, Exception):
        status.error = str(got)
        return
    status.rows_fetched = len(got)
    status.status = FETCHED
    if p.kind == "full":
        store.save(source.name, status.ticker, got, covered_from=p.start or "0000-00-00", replace=True)
        return
    span = store.span(source.name, status.ticker)
    stored = store.load(source.name, [status.ticker], p.start, end)
    reason = history_changed(stored, got, source.actions.get(status.ticker, []), span.last)
    if reason is None:
        store.save(source.name, status.ticker, got)
        return
    start = min(filter(None, [span.covered_from, needed_from]), default=None)
    log.warning("%s: %s; refetching its history from %s", status.ticker, reason, start or "the start")
    again = ask(source, [status.ticker], start, end)[status.ticker]
    if isinstance(again, Exception):
        status.error, status.status = f"full refetch failed: {again}", FAILED
        return
    status.rows_fetched += len(again)
    status.request = f"since {p.start}, then full from {start} ({reason})"
    store.save(source.name, status.ticker, again, covered_from=start or "0000-00-00", replace=True)


def history_changed(
    stored: pd.DataFrame, fetched: pd.DataFrame, actions: list[str], last_stored: str
) -> str | None:
    """Why the stored history of one ticker is out of date, or None: a split or dividend the
    source reports after the last stored day, or every overlapping adjusted close rescaled by
    one factor (a correction changes a day or two, not all of them)."""
    newer = [day for day in actions if day > last_stored]
    if newer:
        return f"split or dividend on {newer[0]} (after the last stored day {last_stored})"
    both = stored.merge(fetched, on="date", suffixes=("_stored", "_new"))
    column = "adj_close" if both[["adj_close_stored", "adj_close_new"]].notna().all().all() else "close"
    both = both.dropna(subset=[f"{column}_stored", f"{column}_new"])
    if both.empty:
        return None
    ratio = both[f"{column}_new"] / both[f"{column}_stored"]
    if ((ratio - 1).abs() > RESCALE_TOLERANCE).all() and ratio.max() / ratio.min() - 1 < 1e-3:
        return (
            f"the source re-adjusted its history ({column} x{ratio.mean():.6g} on every one "
            f"of the {len(both)} overlapping days)"
        )
    return None


# --- checks ----------------------------------------------------------------------------------


def check(result: FetchResult, params, today: dt.date) -> None:
    """``on_missing``, stale data and one-day jumps; warnings go to the log and the result."""
    failed = [s for s in result.statuses if s.status == FAILED]
    if failed and len(failed) == len(result.statuses):
        raise _failure(failed, result.errors)
    if params.on_missing == "fail":  # a failed refresh counts too, even with prices stored
        unrefreshed = [s for s in result.statuses if s.error]
        if unrefreshed:
            raise _failure(unrefreshed, result.errors)
    for status in result.statuses:
        if status.status == FAILED:
            _warn(result, f"{status.ticker} left out (on_missing: warn): {status.error}")
        elif status.error:
            _warn(
                result,
                f"{status.ticker}: refresh failed, using stored prices up to "
                f"{status.last} (on_missing: warn): {status.error}",
            )
    if params.source != "sample" and params.stale_after_days is not None and not params.end:
        stale = stale_tickers(result.statuses, today, params.stale_after_days)
        for ticker, lag in stale.items():
            _warn(
                result,
                f"{ticker}: stale data, last price {_last(result, ticker)} is {lag} "
                f"trading days old (stale_after_days: {params.stale_after_days})",
            )
        if stale and params.stale_is_error:
            raise StaleDataError(f"stale data for {', '.join(stale)} (stale_is_error: true); see the run log")
    for line in jumps(charted(result.prices, params), params.split_threshold):
        _warn(result, line)


def charted(prices: pd.DataFrame, params) -> pd.DataFrame:
    """The rows inside the window the charts will show (jumps outside it do not matter)."""
    if prices.empty:
        return prices
    span = window(
        pd.DatetimeIndex(prices["date"]),
        start=params.start,
        end=params.end,
        lookback_years=params.lookback_years,
    )
    return prices[(prices["date"] >= span.start) & (prices["date"] <= span.end)]


def _failure(failed: list[TickerStatus], errors: dict[str, Exception]) -> Exception:
    """One failed ticker: its own typed error; several: one error naming each and why."""
    if len(failed) == 1 and isinstance(errors.get(failed[0].ticker), DataError):
        return errors[failed[0].ticker]
    lines = "; ".join(f"{s.ticker}: {s.error}" for s in failed)
    return DataError(
        f"no prices for {len(failed)} tickers ({lines}); fix or remove them, or set "
        f"on_missing: warn to chart the others"
    )


def stale_tickers(statuses: list[TickerStatus], today: dt.date, limit: int) -> dict[str, int]:
    """Tickers whose last price is more than ``limit`` trading days older than expected."""
    expected = nyse.previous_trading_day(today)
    lags = {
        s.ticker: nyse.trading_days_between(s.last, expected)
        for s in statuses
        if s.status != FAILED and s.last
    }
    return {t: lag for t, lag in lags.items() if lag > limit}


def jumps(prices: pd.DataFrame, threshold: float | None) -> list[str]:
    """One line per one-day move in raw closes beyond ``threshold`` (0.4 = 40%)."""
    if threshold is None or prices.empty:
        return []
    lines = []
    for ticker, rows in prices.sort_values("date").groupby("ticker", sort=False):
        closes = rows.set_index("date")["close"].dropna()
        moves = closes.pct_change().dropna()
        for day, move in moves[moves.abs() > threshold].items():
            before = closes.index[closes.index.get_loc(day) - 1]
            lines.append(
                f"{ticker}: raw close moved {move:+.0%} from {before:%Y-%m-%d} to "
                f"{day:%Y-%m-%d} ({closes[before]:.4g} to {closes[day]:.4g}); a split? "
                f"a chart of raw closes shows it as a crash (price: adjusted does not)"
            )
    return lines


def _warn(result: FetchResult, line: str) -> None:
    log.warning("%s", line)
    result.warnings.append(line)


def _last(result: FetchResult, ticker: str) -> str:
    return next(s.last for s in result.statuses if s.ticker == ticker)


def _describe(status: TickerStatus, rows: pd.DataFrame, state: str) -> None:
    status.status = state
    if not rows.empty:
        status.first = f"{rows['date'].min():%Y-%m-%d}"
        status.last = f"{rows['date'].max():%Y-%m-%d}"


def _chunks(items: list[str], size: int) -> list[list[str]]:
    size = max(1, size or 1)
    return [items[i : i + size] for i in range(0, len(items), size)]


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return tidy(pd.concat(frames, ignore_index=True)) if frames else empty_tidy()
