"""Each HTTP source against a local server answering with the real recorded bodies."""

from __future__ import annotations

import datetime as dt
import email.utils
import io
import json
import time

import pandas as pd
import pytest

from autochart.exceptions import (
    AuthError,
    MalformedResponseError,
    ProviderError,
    RateLimitError,
    UnknownTickerError,
)
from autochart.sources import RetryPolicy, get_source
from autochart.sources.alphavantage import output_size
from autochart.sources.yahoo import splits

from .iex_server import Scripted
from .source_servers import (
    AV_IBM,
    STOOQ,
    TIINGO_CSV,
    TIINGO_JSON,
    YAHOO_6MO,
    YAHOO_SPLIT,
    AlphaVantageServer,
    StooqServer,
    TiingoServer,
    YahooServer,
)

KEY = "test_key_0123456789"
FAST = RetryPolicy(retries=3, base_delay=0.01, max_delay=0.05, max_total=5)


@pytest.fixture
def keys(monkeypatch):
    for name in ("TIINGO_API_KEY", "ALPHAVANTAGE_API_KEY", "STOOQ_API_KEY"):
        monkeypatch.setenv(name, KEY)


@pytest.fixture
def serve():
    started = []

    def start(cls, key=KEY):
        server = cls(key=key).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def source(name, server, **options):
    return get_source(name, base_url=server.url, retry=FAST, **options)


# --- tiingo ----------------------------------------------------------------------------------


def test_tiingo_values_equal_the_recorded_json_and_csv(keys, serve):
    server = serve(TiingoServer)
    prices = source("tiingo", server).fetch(["GOOGL"], "2018-01-05", "2018-01-19")
    recorded = pd.DataFrame(json.loads(TIINGO_JSON.read_text()))
    as_csv = pd.read_csv(TIINGO_CSV)
    assert len(prices) == 10 and "2018-01-15" not in set(prices["date"].dt.strftime("%Y-%m-%d"))
    for frame in (recorded, as_csv):
        assert prices["close"].tolist() == frame["close"].tolist()
        assert prices["adj_close"].tolist() == frame["adjClose"].tolist()
        assert prices["open"].tolist() == frame["open"].tolist()
        assert prices["volume"].tolist() == frame["volume"].astype(float).tolist()
    assert prices["date"].dt.strftime("%Y-%m-%d").tolist() == as_csv["date"].tolist()
    request = server.requests[-1]
    assert request["headers"]["Authorization"] == f"Token {KEY}"
    assert KEY not in json.dumps(request["query"])
    assert request["query"]["startDate"] == "2018-01-05"


def test_tiingo_unknown_ticker_and_missing_key(keys, serve, monkeypatch):
    server = serve(TiingoServer)
    with pytest.raises(UnknownTickerError, match="NOPE"):
        source("tiingo", server).fetch(["NOPE"], "2024-01-02")
    monkeypatch.delenv("TIINGO_API_KEY")
    with pytest.raises(AuthError, match="TIINGO_API_KEY is not set"):
        source("tiingo", server).fetch(["GOOGL"], "2018-01-05")


# --- alphavantage ----------------------------------------------------------------------------


def test_alphavantage_strings_and_newest_first_order(keys, serve):
    server = serve(AlphaVantageServer)
    prices = source("alphavantage", server).fetch(["IBM"])
    recorded = json.loads(AV_IBM.read_text())["Time Series (Daily)"]
    assert list(recorded)[0] == "2023-11-10"  # the recording is newest first
    assert prices["date"].is_monotonic_increasing and len(prices) == 100
    assert prices["date"].iloc[0] == pd.Timestamp("2023-06-22")
    for row in prices.itertuples():
        day = recorded[f"{row.date:%Y-%m-%d}"]
        assert row.open == float(day["1. open"]) and row.close == float(day["4. close"])
        assert row.volume == float(day["5. volume"])
    assert prices["adj_close"].isna().all()  # TIME_SERIES_DAILY has no adjusted close
    assert prices.loc[prices["date"] == "2023-11-10", "close"].item() == 149.02


def test_alphavantage_compact_when_the_gap_fits_else_full():
    today = dt.date(2024, 3, 8)
    assert output_size("2024-03-01", today) == "compact"
    assert output_size("2023-10-16", today) == "compact"  # 99 trading days back
    assert output_size("2023-10-01", today) == "full"
    assert output_size(None, today) == "full"


def test_alphavantage_rate_limit_note_is_retried_then_a_clear_error(keys, serve):
    server = serve(AlphaVantageServer)
    note = json.dumps(
        {
            "Note": "Thank you for using Alpha Vantage! Our standard API call "
            "frequency is 5 calls per minute and 500 calls per day."
        }
    )
    server.script(*[Scripted(200, note, "application/json")] * 4)
    with pytest.raises(RateLimitError, match="still rate limited after 4 attempt") as caught:
        source("alphavantage", server).fetch(["JPM"], "2024-03-01")
    assert KEY not in str(caught.value) and "apikey=REDACTED" in str(caught.value)
    server.script(Scripted(200, json.dumps({"Information": "daily limit"}), "application/json"))
    prices = source("alphavantage", server).fetch(["JPM"], "2024-03-01")
    assert prices["date"].max() == pd.Timestamp("2024-03-08")


def test_alphavantage_unknown_symbol_and_bad_key(keys, serve, monkeypatch):
    server = serve(AlphaVantageServer)
    with pytest.raises(UnknownTickerError, match="NOPE"):
        source("alphavantage", server).fetch(["NOPE"])
    monkeypatch.setenv("ALPHAVANTAGE_API_KEY", "wrong_key_42")
    with pytest.raises(AuthError) as caught:
        source("alphavantage", server).fetch(["IBM"])
    assert "wrong_key_42" not in str(caught.value)


# --- yahoo -----------------------------------------------------------------------------------


def test_yahoo_split_response(serve):
    server = serve(YahooServer, key=None)
    yahoo = source("yahoo", server)
    prices = yahoo.fetch(["AAPL"], "2020-08-31", "2020-11-06")
    result = json.loads(YAHOO_SPLIT.read_text())["chart"]["result"][0]
    quote = result["indicators"]["quote"][0]
    assert len(prices) == 49
    assert prices["close"].tolist() == quote["close"]
    assert prices["adj_close"].tolist() == result["indicators"]["adjclose"][0]["adjclose"]
    assert prices["date"].iloc[0] == pd.Timestamp("2020-08-31")  # the split day, post-split
    # bars move from 13:30 to 14:30 UTC after the DST change; both are the New York day
    assert prices["date"].iloc[-1] == pd.Timestamp("2020-11-06")
    assert prices["date"].dt.day_of_week.max() <= 4 and prices["date"].is_unique
    assert splits(json.loads(YAHOO_SPLIT.read_text())) == [{"date": "2020-08-31", "ratio": "4:1"}]
    assert yahoo.actions["AAPL"] == ["2020-08-31", "2020-11-06"]  # the split, the dividend
    query = server.requests[-1]["query"]
    assert query["events"] == "div|split" and query["interval"] == "1d"


def test_yahoo_live_last_bar_is_its_new_york_day():
    from autochart.sources.yahoo import parse_chart

    prices, actions = parse_chart(json.loads(YAHOO_6MO.read_text()), "AAPL")
    assert len(prices) == 127
    assert prices["date"].iloc[-1] == pd.Timestamp("2025-10-29")  # stamped 20:00:01 UTC
    assert prices["date"].iloc[-2] == pd.Timestamp("2025-10-28")
    assert actions == ["2025-05-12", "2025-08-11"]


def test_yahoo_unknown_symbol(serve):
    server = serve(YahooServer, key=None)
    with pytest.raises(UnknownTickerError, match="NOPE"):
        source("yahoo", server).fetch(["NOPE"], "2024-01-02")


# --- stooq -----------------------------------------------------------------------------------


def test_stooq_values_equal_the_recorded_csv(keys, serve):
    server = serve(StooqServer)
    prices = source("stooq", server, today=dt.date(2026, 3, 2)).fetch(["JPM"])
    recorded = pd.read_csv(io.BytesIO(STOOQ["JPM"].read_bytes()))
    assert len(prices) == 1453
    for ours, theirs in (("open", "Open"), ("close", "Close"), ("volume", "Volume")):
        assert prices[ours].tolist() == recorded[theirs].tolist()
    assert prices["adj_close"].tolist() == recorded["Close"].tolist()
    assert prices.loc[prices["date"] == "2021-12-31", "volume"].item() == 5989153.1853756
    query = server.requests[-1]["query"]
    assert query["s"] == "jpm.us" and query["i"] == "d" and query["d2"] == "20260302"


def test_stooq_key_page_unknown_symbol_and_redaction(keys, serve, monkeypatch):
    server = serve(StooqServer)
    with pytest.raises(UnknownTickerError, match="NOPE"):
        source("stooq", server).fetch(["NOPE"], "2024-01-02")
    monkeypatch.setenv("STOOQ_API_KEY", "wrong_key_42")
    with pytest.raises(AuthError, match="HTML page") as caught:
        source("stooq", server).fetch(["JPM"], "2024-01-02")
    assert "wrong_key_42" not in str(caught.value) and "REDACTED" in str(caught.value)


def test_stooq_malformed_answer_names_the_ticker(keys, serve):
    server = serve(StooqServer)
    server.script(Scripted(200, "Date,Open,High\r\n2024-01-02,1,2\r\n", "text/csv"))
    with pytest.raises(MalformedResponseError, match="JPM: CSV without Low"):
        source("stooq", server).fetch(["JPM"], "2024-01-02")


# --- retries (shared by every HTTP source) -----------------------------------------------------


def test_429_with_retry_after_then_success(keys, serve):
    server = serve(TiingoServer)
    server.script(Scripted(429, "Too Many Requests", headers={"Retry-After": "0.4"}))
    pauses = []
    prices = source("tiingo", server, sleep=lambda s: (pauses.append(s), time.sleep(s))).fetch(
        ["GOOGL"], "2018-01-05", "2018-01-19"
    )
    assert len(prices) == 10
    assert pauses == [0.4]  # honoured as given
    first, second = server.requests[-2:]
    assert first["status"] == 429 and second["status"] == 200
    assert second["time"] - first["time"] >= 0.4


def test_429_forever_gives_a_clear_error_within_the_bound(keys, serve):
    server = serve(TiingoServer)
    server.script(*[Scripted(429, "Too Many Requests", headers={"Retry-After": "0.3"})] * 50)
    policy = RetryPolicy(retries=20, base_delay=0.1, max_delay=1, max_total=1.5)
    started = time.monotonic()
    with pytest.raises(RateLimitError, match="still rate limited after .* within the 1.5s bound"):
        get_source("tiingo", base_url=server.url, retry=policy).fetch(["GOOGL"], "2018-01-05")
    assert time.monotonic() - started < 1.5
    assert 3 <= len(server.requests) <= 6


def test_retry_after_beyond_the_bound_stops_at_once(keys, serve):
    server = serve(TiingoServer)
    server.script(Scripted(429, "slow down", headers={"Retry-After": "3600"}))
    with pytest.raises(RateLimitError, match="asked to wait 3600s"):
        source("tiingo", server).fetch(["GOOGL"], "2018-01-05")
    assert len(server.requests) == 1


def test_5xx_is_retried_and_then_reported(keys, serve):
    server = serve(YahooServer, key=None)
    server.script(Scripted(503, "busy"), Scripted(502, "bad gateway"))
    assert len(source("yahoo", server).fetch(["JPM"], "2024-03-01")) == 6
    server.script(*[Scripted(500, "boom")] * 4)
    with pytest.raises(ProviderError, match=r"server error \(500: boom\) after 4 attempt"):
        source("yahoo", server).fetch(["JPM"], "2024-03-01")


def test_backoff_grows_with_jitter_and_retry_after_may_be_an_http_date(keys, serve):
    policy = RetryPolicy(base_delay=1.0, max_delay=30.0)
    pauses = [policy.pause(attempt, None) for attempt in range(4) for _ in range(20)]
    for attempt in range(4):
        chunk = pauses[attempt * 20 : (attempt + 1) * 20]
        assert all(2**attempt * 0.5 <= p <= 2**attempt for p in chunk)
        assert len(set(chunk)) > 1  # jitter: not every client comes back at the same instant
    server = serve(TiingoServer)
    soon = email.utils.format_datetime(
        dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2), usegmt=True
    )
    server.script(Scripted(429, "slow down", headers={"Retry-After": soon}))
    pauses = []
    source("tiingo", server, sleep=pauses.append).fetch(["GOOGL"], "2018-01-05")
    assert len(pauses) == 1 and 0.5 < pauses[0] <= 2.0
