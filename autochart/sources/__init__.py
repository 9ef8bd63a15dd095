"""Data sources, looked up by name. Each returns one tidy frame (see ``base.TIDY_COLUMNS``)."""

from __future__ import annotations

import logging

import pandas as pd

from ..exceptions import ParameterError
from .alphavantage import AlphaVantageSource
from .base import TIDY_COLUMNS, HttpSource, RetryPolicy, redact, tidy
from .csvdir import CsvSource
from .iex import IexSource
from .sample import SampleSource
from .stooq import StooqSource
from .tiingo import TiingoSource
from .yahoo import YahooSource

log = logging.getLogger(__name__)

SOURCES = {
    "sample": SampleSource,
    "csv": CsvSource,
    "iex": IexSource,
    "tiingo": TiingoSource,
    "alphavantage": AlphaVantageSource,
    "yahoo": YahooSource,
    "stooq": StooqSource,
}
SOURCE_NAMES = tuple(SOURCES)


def get_source(name: str, **options):
    """An instance of the named source; an unknown name lists the known ones."""
    try:
        cls = SOURCES[name]
    except KeyError:
        raise ParameterError([f"source {name!r} is not known; known: {', '.join(SOURCES)}"]) from None
    return cls(**options)


def key_variable(name: str) -> str | None:
    """The environment variable a source reads its API key from (None: it needs no key)."""
    return getattr(SOURCES.get(name), "key_variable", None)


def source_options(params) -> dict:
    """What each source may need from the parameters (each takes what it uses)."""
    return {
        "csv_dir": params.csv_dir,
        "base_url": params.base_url,
        "timeout": params.http_timeout,
        "retry": RetryPolicy(retries=params.http_retries),
    }


def earliest_needed(params, today: pd.Timestamp | None = None) -> str | None:
    """How far back to ask a remote source: ``start``, else ``lookback_years`` before today."""
    if params.start:
        return params.start
    today = today or pd.Timestamp.today().normalize()
    return (today - pd.DateOffset(years=params.lookback_years)).date().isoformat()


def fetch(params, **options) -> pd.DataFrame:
    """Tidy prices for ``params.tickers`` from ``params.source``."""
    source = get_source(params.source, **{**source_options(params), **options})
    prices = source.fetch(params.tickers, start=earliest_needed(params), end=params.end)
    log.info("%s: %d rows for %s", params.source, len(prices), ", ".join(params.tickers))
    return prices


__all__ = [
    "SOURCES",
    "SOURCE_NAMES",
    "TIDY_COLUMNS",
    "HttpSource",
    "RetryPolicy",
    "fetch",
    "get_source",
    "redact",
    "tidy",
]
