"""Sources against real data: the csv folder, the offline sample, and IEX over local HTTP."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from autochart.exceptions import (
    AuthError,
    MalformedResponseError,
    NoPriceDataError,
    ProviderError,
    QuotaError,
    RateLimitError,
    UnknownTickerError,
    UnreachableError,
)
from autochart.sources import RetryPolicy, get_source, redact
from autochart.sources.iex import parse_batch, range_for

from .conftest import BANKS, CASES, FAKE_IEX_TOKEN, PRICES, RESPONSES
from .iex_server import Scripted

FAST = RetryPolicy(retries=2, base_delay=0.01, max_delay=0.05)


def yahoo(ticker: str) -> pd.DataFrame:
    return pd.read_csv(PRICES / f"{ticker}.csv", na_values=["null"], parse_dates=["Date"])


def iex(server, **kwargs):
    return get_source("iex", base_url=server.url, retry=kwargs.pop("retry", FAST), **kwargs)


# --- csv -------------------------------------------------------------------------------------


def test_csv_yahoo_files_parse_value_for_value():
    prices = get_source("csv", csv_dir=str(PRICES)).fetch(BANKS)
    for ticker in BANKS:
        mine = prices[prices["ticker"] == ticker]
        theirs = yahoo(ticker)
        assert len(mine) == len(theirs) == 6084
        np.testing.assert_array_equal(mine["close"].to_numpy(), theirs["Close"].to_numpy())
        np.testing.assert_array_equal(mine["adj_close"].to_numpy(), theirs["Adj Close"].to_numpy())
        assert (mine["date"].to_numpy() == theirs["Date"].to_numpy()).all()


def test_csv_null_rows_are_missing_values_not_errors():
    shpw = get_source("csv", csv_dir=str(PRICES)).fetch(["SHPW"])
    gap = shpw[(shpw["date"] >= "2023-08-09") & (shpw["date"] <= "2023-09-15")]
    assert len(gap) == 27 and gap["close"].isna().all()
    assert shpw.loc[shpw["date"] == "2023-09-18", "close"].item() == pytest.approx(3.36, abs=0.01)


def test_csv_reads_stooq_format_with_crlf():
    prices = get_source("csv", csv_dir=str(RESPONSES / "stooq")).fetch(["JPM", "NVDA"])
    jpm = prices[prices["ticker"] == "JPM"].set_index("date")
    assert len(jpm) == 1453
    assert jpm.loc["2021-12-31", "close"] == 153.507
    assert jpm.loc["2021-12-31", "volume"] == pytest.approx(5989153.1853756)
    nvda = prices[prices["ticker"] == "NVDA"].set_index("date")
    assert nvda.loc["2024-03-08", "adj_close"] == pytest.approx(87.5073)


def test_csv_missing_file_names_the_ticker_and_folder():
    with pytest.raises(UnknownTickerError) as caught:
        get_source("csv", csv_dir=str(PRICES)).fetch(["JPM", "ZZZZ"])
    assert caught.value.tickers == ["ZZZZ"]
    assert str(PRICES) in str(caught.value)
    assert "tried ZZZZ.csv, zzzz.csv, zzzz_us_d.csv, zzzz.us.csv" in str(caught.value)


def test_csv_header_only_file_is_no_data_naming_the_file(tmp_path):
    (tmp_path / "AAA.csv").write_text("Date,Open,High,Low,Close,Adj Close,Volume\n")
    with pytest.raises(NoPriceDataError) as caught:
        get_source("csv", csv_dir=str(tmp_path)).fetch(["AAA"])
    assert str(tmp_path / "AAA.csv") in str(caught.value) and caught.value.tickers == ["AAA"]


def test_csv_dir_that_is_not_a_folder(tmp_path):
    with pytest.raises(Exception, match="is not a folder"):
        get_source("csv", csv_dir=str(tmp_path / "nope"))


@pytest.mark.parametrize(
    "text, problem",
    [
        ("Date,Price\n2024-01-02,1\n", "has columns"),
        (
            "Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-01,1,1,1,1,1,1\n02/01/2024,1,1,1,1,1,1\n",
            "line 3: date '02/01/2024' is not YYYY-MM-DD",
        ),
        (
            "Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,1,1,1,-4.5,1,1\n",
            "line 2: a price is zero or negative",
        ),
        (
            "Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,1,1,1,n/a,1,1\n",
            "line 2: close 'n/a' is not a number",
        ),
        ("", "cannot be read as CSV"),
    ],
)
def test_csv_malformed_file_is_named(tmp_path, text, problem):
    (tmp_path / "AAA.csv").write_text(text)
    with pytest.raises(MalformedResponseError) as caught:
        get_source("csv", csv_dir=str(tmp_path)).fetch(["AAA"])
    assert str(tmp_path / "AAA.csv") in str(caught.value)
    assert problem in str(caught.value)


# --- sample ----------------------------------------------------------------------------------


def test_sample_has_the_bokeh_tickers_with_adjusted_closes():
    prices = get_source("sample").fetch(["AAPL", "FB"])
    aapl = prices[prices["ticker"] == "AAPL"]
    assert aapl["date"].min() == pd.Timestamp("2000-03-01")
    assert aapl["date"].max() == pd.Timestamp("2013-03-01")
    assert aapl["adj_close"].notna().all()
    assert prices[prices["ticker"] == "FB"]["date"].min() == pd.Timestamp("2012-05-18")


def test_sample_unknown_ticker_lists_what_it_has():
    with pytest.raises(UnknownTickerError, match="has only AAPL, FB, GOOG, IBM, MSFT"):
        get_source("sample").fetch(["JPM"])


# --- iex: real formats over local HTTP --------------------------------------------------------


def test_iex_batch_from_real_files_equals_the_files(iex_server, iex_token):
    prices = iex(iex_server).fetch(BANKS, start="2019-03-08")
    request = iex_server.requests[0]
    assert request["path"] == "/stable/stock/market/batch"
    assert request["query"]["symbols"] == ",".join(BANKS)
    assert request["query"]["types"] == "chart"
    assert request["query"]["token"] == FAKE_IEX_TOKEN
    for ticker in BANKS:
        theirs = yahoo(ticker).set_index("Date")["Close"].loc["2019-03-01":]
        mine = prices[prices["ticker"] == ticker].set_index("date")["close"]
        pd.testing.assert_series_equal(
            mine.loc[theirs.index.min() :], theirs, check_names=False, check_freq=False
        )


def test_iex_recorded_msft_chart_rows_parse(iex_server, iex_token):
    recorded = json.loads((RESPONSES / "iex" / "chart_MSFT_1m_recorded-2019-08-10.json").read_text())
    prices = iex(iex_server).fetch(["MSFT"], start="2019-07-10")
    assert len(prices) == len(recorded) == 23
    assert prices["close"].tolist() == [row["close"] for row in recorded]
    assert prices["date"].min() == pd.Timestamp("2019-07-10")
    assert prices["adj_close"].isna().all()  # IEX chart rows carry no dividend-adjusted close


def test_iex_legacy_rows_parse():
    rows = json.loads((RESPONSES / "iex" / "legacy-1.0_chart_MSFT_1m_recorded-2018-03-28.json").read_text())
    frame = parse_batch({"MSFT": {"chart": rows}}, ["MSFT"])
    assert len(frame) == 21 and frame["close"].tolist() == [r["close"] for r in rows]


def test_br01_symbol_absent_from_a_200_answer_is_named():
    answer = json.loads((CASES / "BR-01" / "batch_response.json").read_text())
    request = json.loads((CASES / "BR-01" / "request.json").read_text())
    expected = json.loads((CASES / "BR-01" / "expected.json").read_text())
    with pytest.raises(UnknownTickerError) as caught:
        parse_batch(answer, request["tickers"])
    assert caught.value.tickers == expected["missing_symbols"]
    for needle in expected["message_must_contain"]:
        assert needle in str(caught.value)


def test_iex_empty_chart_is_no_data_for_that_ticker(iex_server, iex_token):
    with pytest.raises(NoPriceDataError, match="ABCD"):
        iex(iex_server).fetch(["JPM", "ABCD"], start="2024-01-01")


def test_iex_404_unknown_symbol(iex_server, iex_token):
    with pytest.raises(UnknownTickerError) as caught:
        iex(iex_server).fetch(["NOPE1", "NOPE2"], start="2024-01-01")
    assert caught.value.tickers == ["NOPE1", "NOPE2"]
    assert "Unknown symbol" in str(caught.value)


def test_iex_invalid_key_is_an_auth_error_without_the_token(iex_server, monkeypatch):
    monkeypatch.setenv("IEX_TOKEN", "pk_wrong_secret_999")
    with pytest.raises(AuthError) as caught:
        iex(iex_server).fetch(["JPM"], start="2024-01-01")
    message = str(caught.value)
    assert "403" in message and "The API key provided is not valid." in message
    assert "pk_wrong_secret_999" not in message and "token=REDACTED" in message


def test_iex_missing_token_says_which_variable(iex_server):
    with pytest.raises(AuthError, match="IEX_TOKEN is not set"):
        iex(iex_server).fetch(["JPM"], start="2024-01-01")


def br03(name: str) -> Scripted:
    case = json.loads((CASES / "BR-03" / name).read_text())
    return Scripted(case["status"], case["body"], case["content_type"])


def test_br03_402_quota(iex_server, iex_token):
    iex_server.script(br03("response_402.json"))
    with pytest.raises(QuotaError) as caught:
        iex(iex_server).fetch(["JPM"], start="2024-01-01")
    assert "402" in str(caught.value) and "Expected object or value" not in str(caught.value)
    assert len(iex_server.requests) == 1  # a quota answer is final: no retries


def test_br03_429_retries_then_gives_up_within_the_bound(iex_server, iex_token):
    iex_server.script(*[br03("response_429.json")] * 5)
    with pytest.raises(RateLimitError, match="429"):
        iex(iex_server).fetch(["JPM"], start="2024-01-01")
    assert len(iex_server.requests) == 3  # 1 + FAST.retries


def test_429_with_retry_after_then_success(iex_server, iex_token):
    iex_server.script(Scripted(429, "Too many requests", headers={"Retry-After": "0.2"}))
    pauses = []
    source = iex(iex_server, sleep=pauses.append)
    prices = source.fetch(["JPM"], start="2024-01-01")
    assert len(prices) > 0 and pauses == [0.2]


def test_5xx_is_retried(iex_server, iex_token):
    iex_server.script(Scripted(503, "busy"), Scripted(502, "bad gateway"))
    assert len(iex(iex_server).fetch(["JPM"], start="2024-01-01")) > 0
    assert [r["status"] for r in iex_server.requests] == [503, 502, 200]


def test_persistent_5xx_names_the_status(iex_server, iex_token):
    iex_server.script(*[Scripted(500, "internal")] * 3)
    with pytest.raises(ProviderError, match="server error \\(500"):
        iex(iex_server).fetch(["JPM"], start="2024-01-01")


def test_br03_unreachable_host_says_connection(iex_token):
    source = get_source("iex", base_url="http://127.0.0.1:9", retry=FAST)  # nothing listens
    with pytest.raises(UnreachableError) as caught:
        source.fetch(["JPM"], start="2024-01-01")
    assert "connection" in str(caught.value)
    assert "pk_TEST" not in str(caught.value)


def test_slow_answer_is_a_timeout(iex_server, iex_token):
    iex_server.script(*[Scripted(200, "{}", delay=1.0)] * 3)
    with pytest.raises(UnreachableError, match="timed out"):
        iex(iex_server, timeout=0.2).fetch(["JPM"], start="2024-01-01")


def test_non_json_200_is_malformed(iex_server, iex_token):
    iex_server.script(Scripted(200, "<html>maintenance</html>", "text/html"))
    with pytest.raises(MalformedResponseError, match="not valid JSON \\(Content-Type text/html\\)"):
        iex(iex_server).fetch(["JPM"], start="2024-01-01")


def test_rows_without_close_are_malformed():
    with pytest.raises(MalformedResponseError, match="AAA: chart rows without 'close'"):
        parse_batch({"AAA": {"chart": [{"date": "2024-01-02", "open": 1}]}}, ["AAA"])


def test_more_than_100_symbols_are_split_into_batches(iex_server, iex_token):
    iex_server.alias = "MSFT"  # 23 recorded rows each: keeps the test quick
    tickers = [f"T{i:03d}" for i in range(150)]
    prices = iex(iex_server).fetch(tickers, start="2024-03-01")
    sizes = [len(r["query"]["symbols"].split(",")) for r in iex_server.requests]
    assert sizes == [100, 50]
    assert prices["ticker"].nunique() == 150


@pytest.mark.parametrize(
    "start, expected",
    [
        ("2026-11-30", "5d"),
        ("2026-11-10", "1m"),
        ("2026-06-04", "6m"),
        ("2025-12-04", "1y"),
        ("2021-12-04", "5y"),
        ("2019-01-01", "max"),
        (None, "max"),
    ],
)
def test_smallest_iex_range_that_covers_the_start(start, expected):
    assert range_for(start, today=pd.Timestamp("2026-12-03").date()) == expected


def test_redact_hides_every_secret_parameter():
    url = "https://x.test/a?symbols=A&token=pk_1&apikey=k2&range=5y"
    assert redact(url) == "https://x.test/a?symbols=A&token=REDACTED&apikey=REDACTED&range=5y"


def test_a_key_echoed_back_by_the_server_is_scrubbed(iex_server, iex_token):
    echo = f"<html><body>500: GET /stable/stock/market/batch?token={FAKE_IEX_TOKEN}</body></html>"
    iex_server.script(*[Scripted(500, echo, "text/html")] * 3)
    with pytest.raises(ProviderError) as caught:
        iex(iex_server).fetch(["JPM"], start="2024-01-01")
    assert "server error (500" in str(caught.value)
    assert FAKE_IEX_TOKEN not in str(caught.value) and "token=REDACTED" in str(caught.value)
