"""The store and incremental fetching, against local servers: what was asked, what was kept."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pandas as pd
import pytest

from autochart import fetching, nyse
from autochart.config import Params
from autochart.exceptions import (
    DataError,
    MalformedResponseError,
    ProviderError,
    StaleDataError,
    UnknownTickerError,
)
from autochart.sources import RetryPolicy, get_source
from autochart.store import PriceStore

from .iex_server import IexServer, Scripted
from .source_servers import (
    YAHOO_SPLIT,
    AlphaVantageServer,
    StooqServer,
    TiingoServer,
    YahooServer,
)

KEY = "test_key_0123456789"
FAST = RetryPolicy(retries=2, base_delay=0.01, max_delay=0.02, max_total=2)
WED, THU, FRI = dt.date(2024, 3, 6), dt.date(2024, 3, 7), dt.date(2024, 3, 8)


@pytest.fixture(autouse=True)
def keys(monkeypatch):
    for name in ("TIINGO_API_KEY", "ALPHAVANTAGE_API_KEY", "STOOQ_API_KEY", "IEX_TOKEN"):
        monkeypatch.setenv(name, KEY)


@pytest.fixture
def tiingo():
    server = TiingoServer(key=KEY).start()
    yield server
    server.stop()


def make_params(server, tmp_path, **changes) -> Params:
    values = dict(
        tickers=["JPM", "BAC"], source="tiingo", base_url=server.url, output_dir=str(tmp_path), http_retries=2
    )
    return Params(**{**values, **changes})


def run(params, server, today, **options):
    """One fetch step as of ``today`` (the server has no later days); returns the result."""
    server.today = today.isoformat()
    server.requests.clear()
    return fetching.fetch(params, today=today, retry=FAST, **options)


def stored(params) -> list[tuple]:
    with PriceStore(fetching.store_path(params)) as store:
        return store.snapshot()


def statuses(result) -> dict:
    return {s.ticker: (s.status, s.rows_fetched) for s in result.statuses}


def test_next_day_asks_only_for_the_missing_days(tiingo, tmp_path):
    params = make_params(tiingo, tmp_path)
    first = run(params, tiingo, WED)
    assert [r["query"]["startDate"] for r in tiingo.requests] == ["2019-03-06", "2019-03-06"]
    n = len(nyse.trading_days("2019-03-06", WED))  # the 5 years back from Wednesday
    assert statuses(first) == {"JPM": ("fetched", n), "BAC": ("fetched", n)} and n == 1260

    second = run(params, tiingo, THU)
    # the last stored day (Wed 6th) minus 3 trading days of overlap: Fri 1st
    assert [(r["path"], r["query"]["startDate"]) for r in tiingo.requests] == [
        ("/tiingo/daily/JPM/prices", "2024-03-01"),
        ("/tiingo/daily/BAC/prices", "2024-03-01"),
    ]
    assert statuses(second) == {"JPM": ("fetched", 5), "BAC": ("fetched", 5)}
    assert {s.rows_from_store for s in second.statuses} == {1255}
    assert second.prices["date"].max() == pd.Timestamp(THU)

    third = run(params, tiingo, THU)  # again the same day: nothing to ask
    assert tiingo.requests == []
    assert statuses(third) == {"JPM": ("from store", 0), "BAC": ("from store", 0)}
    pd.testing.assert_frame_equal(third.prices, second.prices)

    fresh = make_params(tiingo, tmp_path / "fresh")
    run(fresh, tiingo, THU)
    assert stored(params)[-1][2] == "2024-03-07"
    # the same bars as one uninterrupted full fetch, except days older than that one's window
    assert [r for r in stored(params) if r[2] >= "2019-03-07"] == stored(fresh)


def test_a_correction_inside_the_overlap_replaces_the_stored_value(tiingo, tmp_path):
    params = make_params(tiingo, tmp_path)
    run(params, tiingo, WED)
    days = tiingo.days["JPM"]
    day = days.index[days["date"] == "2024-03-05"][0]
    before = days.loc[day, "close"]
    days.loc[day, ["close", "adj_close"]] = before + 1.25  # the provider corrects one day
    result = run(params, tiingo, THU)
    assert len(tiingo.requests) == 2  # no full refetch for a correction
    jpm = result.prices[result.prices["ticker"] == "JPM"].set_index("date")
    assert jpm.loc["2024-03-05", "close"] == before + 1.25
    assert jpm.loc["2024-03-04", "close"] == days.loc[day - 1, "close"]


def test_a_readjusted_history_is_refetched_in_full(tiingo, tmp_path):
    params = make_params(tiingo, tmp_path)
    run(params, tiingo, WED)
    days = tiingo.days["JPM"]
    days.loc[days["date"] < "2024-03-07", "adj_close"] *= 0.99  # a dividend goes ex on the 7th
    result = run(params, tiingo, THU)
    jpm_requests = [r["query"]["startDate"] for r in tiingo.requests if "JPM" in r["path"]]
    assert jpm_requests == ["2024-03-01", "2019-03-06"]  # the overlap, then the whole history
    jpm = result.prices[result.prices["ticker"] == "JPM"]
    expected = days[(days["date"] >= "2019-03-07") & (days["date"] <= "2024-03-07")]
    assert jpm["adj_close"].tolist() == expected["adj_close"].tolist()
    status = next(s for s in result.statuses if s.ticker == "JPM")
    assert "re-adjusted" in status.request
    assert status.rows_fetched == 5 + 1261  # the overlap, then 2019-03-06..2024-03-07


def test_a_dividend_the_source_reports_after_the_stored_days_triggers_a_full_refetch(tiingo, tmp_path):
    params = make_params(tiingo, tmp_path, tickers=["JPM"])
    run(params, tiingo, WED)
    tiingo.actions["JPM"] = {"2024-03-07": {"divCash": 1.15}}
    run(params, tiingo, THU)
    assert [r["query"]["startDate"] for r in tiingo.requests] == ["2024-03-01", "2019-03-06"]


def test_yahoo_split_after_the_stored_history_replaces_it(tmp_path):
    server = YahooServer().start()
    try:
        params = make_params(server, tmp_path, source="yahoo", tickers=["AAPL"], start="2020-08-24")
        # Stored before the split: the real raw close of 2020-08-28 (4 x chartPreviousClose).
        meta = json.loads(YAHOO_SPLIT.read_text())["chart"]["result"][0]["meta"]
        pre_split = pd.DataFrame(
            {
                "ticker": ["AAPL"],
                "date": [pd.Timestamp("2020-08-28")],
                "close": [meta["chartPreviousClose"] * 4],
            }
        )
        with PriceStore(fetching.store_path(params)) as store:
            store.save("yahoo", "AAPL", pre_split, covered_from="2020-08-24")
        result = fetching.fetch(params, today=dt.date(2020, 11, 9), retry=FAST)
    finally:
        server.stop()
    assert len(server.requests) == 2  # since the 25th, then in full after seeing the split
    aapl = result.prices
    assert len(aapl) == 49 and aapl["date"].min() == pd.Timestamp("2020-08-31")
    assert aapl["close"].max() < 140  # no pre-split 499 left to chart as a crash
    assert not [w for w in result.warnings if "raw close moved" in w]
    assert "split or dividend on 2020-08-31" in result.statuses[0].request


def test_a_split_in_raw_closes_is_flagged(tmp_path):
    params = Params(tickers=["AAPL", "MSFT"], output_dir=str(tmp_path), lookback_years=10)
    result = fetching.fetch(params)  # the offline sample, charted from 2003-03-01
    flagged = [w for w in result.warnings if "raw close moved" in w]
    assert len(flagged) == 1 and flagged[0].startswith(
        "AAPL: raw close moved -50% from 2005-02-25 to 2005-02-28 (88.99 to 44.86)"
    )
    quiet = fetching.fetch(dataclasses.replace(params, split_threshold=None))
    assert not [w for w in quiet.warnings if "raw close moved" in w]


def test_iex_asks_for_the_smallest_range_that_covers_the_gap(tmp_path):
    server = IexServer(token=KEY).start()
    try:
        params = make_params(server, tmp_path, source="iex", tickers=["JPM", "BAC", "C"])
        run(params, server, THU)
        assert [r["query"]["range"] for r in server.requests] == ["5y"]
        result = run(params, server, FRI)
        assert [(r["query"]["range"], r["query"]["symbols"]) for r in server.requests] == [
            ("5d", "JPM,BAC,C")
        ]
        assert server.rows_served() == 3 * 6
        assert result.prices.groupby("ticker")["date"].max().eq(pd.Timestamp(FRI)).all()
    finally:
        server.stop()


def test_alphavantage_and_stooq_incremental_requests(tmp_path):
    av, stooq = AlphaVantageServer(key=KEY).start(), StooqServer(key=KEY).start()
    try:
        av_params = make_params(av, tmp_path / "av", source="alphavantage", tickers=["JPM"])
        run(av_params, av, THU)
        first = av.requests[0]["query"]["outputsize"]
        run(av_params, av, FRI)
        assert (first, av.requests[0]["query"]["outputsize"]) == ("full", "compact")
        st_params = make_params(stooq, tmp_path / "st", source="stooq", tickers=["BAC"])
        run(st_params, stooq, THU)
        first = stooq.requests[0]["query"]["d1"]
        run(st_params, stooq, FRI)
        assert (first, stooq.requests[0]["query"]["d1"]) == ("20190307", "20240304")
        assert stooq.requests[0]["query"]["d2"] == "20240308"
    finally:
        av.stop()
        stooq.stop()


def test_every_ticker_gets_a_status_and_on_missing_decides(tiingo, tmp_path):
    params = make_params(tiingo, tmp_path, tickers=["JPM", "NOPE"], on_missing="warn")
    result = run(params, tiingo, THU)
    assert result.tickers == ["JPM"]
    nope = result.table().loc["NOPE"]
    assert nope["status"] == "failed" and "unknown ticker(s) NOPE" in nope["error"]
    report = result.report()
    assert report["tickers"]["JPM"]["status"] == "fetched"
    assert any(w.startswith("NOPE left out") for w in report["warnings"])
    with pytest.raises(UnknownTickerError, match="NOPE"):
        run(dataclasses.replace(params, on_missing="fail"), tiingo, THU)
    with pytest.raises(DataError, match="no prices for 2 tickers"):
        run(dataclasses.replace(params, tickers=["NOPE", "NADA"]), tiingo, THU)


def test_a_failed_refresh_stops_the_run_or_falls_back_to_the_store(tiingo, tmp_path):
    params = make_params(tiingo, tmp_path, tickers=["JPM"])
    run(params, tiingo, WED)
    tiingo.script(*[Scripted(503, "maintenance")] * 3)
    with pytest.raises(ProviderError, match="503: maintenance"):  # on_missing: fail
        run(params, tiingo, THU)
    tiingo.script(*[Scripted(503, "maintenance")] * 3)
    result = run(dataclasses.replace(params, on_missing="warn"), tiingo, THU)
    status = result.statuses[0]
    assert status.status == "from store" and "503: maintenance" in status.error
    assert result.prices["date"].max() == pd.Timestamp(WED)
    assert any("refresh failed, using stored prices up to 2024-03-06" in w for w in result.warnings)


def test_stale_data_warns_and_can_be_an_error(tiingo, tmp_path):
    params = make_params(tiingo, tmp_path, tickers=["JPM"])
    result = run(params, tiingo, dt.date(2024, 3, 14))  # the server's data ends on the 8th
    assert result.warnings == []  # Wed 13th is 3 trading days after Fri 8th: not stale yet
    tiingo.requests.clear()
    result = fetching.fetch(params, today=dt.date(2024, 3, 15), retry=FAST)
    assert [w for w in result.warnings if "stale data, last price 2024-03-08 is 4 trading" in w]
    with pytest.raises(StaleDataError, match="JPM"):
        fetching.fetch(
            dataclasses.replace(params, stale_is_error=True), today=dt.date(2024, 3, 15), retry=FAST
        )


def test_no_store_fetches_the_whole_window_every_time(tiingo, tmp_path):
    params = make_params(tiingo, tmp_path, store=None, tickers=["JPM"])
    run(params, tiingo, WED)
    run(params, tiingo, THU)
    assert [r["query"]["startDate"] for r in tiingo.requests] == ["2019-03-07"]
    assert not (tmp_path / "prices.sqlite").exists()


def test_store_path_is_relative_to_output_dir(tmp_path):
    params = Params(output_dir=str(tmp_path), store="data/p.sqlite")
    assert fetching.store_path(params) == tmp_path / "data" / "p.sqlite"
    assert fetching.store_path(dataclasses.replace(params, store=str(tmp_path / "x.db"))) == tmp_path / "x.db"


def test_a_source_is_asked_per_batch(tmp_path):
    server = IexServer(token=KEY).start()
    try:
        source = get_source("iex", base_url=server.url, today=FRI, retry=FAST)
        result = fetching.fetch_direct(source, ["JPM", "NOPE", "BAC"], "2024-03-01", None)
    finally:
        server.stop()
    assert [s.status for s in result.statuses] == ["fetched", "failed", "fetched"]
    assert len(server.requests) == 2  # the batch, then again without the unknown symbol


def test_a_malformed_answer_names_the_ticker_and_leaves_its_stored_days_alone(tiingo, tmp_path):
    params = make_params(tiingo, tmp_path)
    run(params, tiingo, WED)

    def jpm_rows():
        return [row for row in stored(params) if row[1] == "JPM"]

    before = jpm_rows()
    tiingo.script(Scripted(200, '{"detail": "temporarily unavailable"}', "application/json"))
    with pytest.raises(MalformedResponseError, match="JPM: expected a JSON array of days"):
        run(params, tiingo, THU)
    assert jpm_rows() == before
    assert max(row[2] for row in stored(params) if row[1] == "BAC") == "2024-03-07"  # good data
    tiingo.script(Scripted(200, '[{"date": "2024-03-07T00:00:00.000Z", "close": 1}]', "application/json"))
    missing = "JPM: days without open, high, low, adjClose, volume \\[200 from "
    with pytest.raises(MalformedResponseError, match=missing):
        run(params, tiingo, THU)
    assert jpm_rows() == before
