"""The SQLite store itself, the ``store info|clear`` command, and the whole job with a store."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from autochart import cli
from autochart.store import PriceStore

from .conftest import PRICES, only_run_dir, run_cli, run_record
from .source_servers import TiingoServer, price_days

KEY = "test_key_0123456789"


def bars(ticker: str, first: str, last: str) -> pd.DataFrame:
    days = price_days(PRICES / f"{ticker}.csv")
    days = days[(days["date"] >= first) & (days["date"] <= last)]
    return days.assign(ticker=ticker, date=pd.to_datetime(days["date"]))


def test_save_load_and_upsert(tmp_path):
    with PriceStore(tmp_path / "p.sqlite") as store:
        assert (
            store.save("tiingo", "JPM", bars("JPM", "2024-03-01", "2024-03-06"), covered_from="2024-03-01")
            == 4
        )
        corrected = bars("JPM", "2024-03-06", "2024-03-08")
        corrected.loc[corrected["date"] == "2024-03-06", "close"] = 1.0
        store.save("tiingo", "JPM", corrected)
        loaded = store.load("tiingo", ["JPM"])
        span = store.span("tiingo", "JPM")
        mode = store.db.execute("PRAGMA journal_mode").fetchone()[0]
    assert loaded["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-03-01",
        "2024-03-04",
        "2024-03-05",
        "2024-03-06",
        "2024-03-07",
        "2024-03-08",
    ]
    assert loaded.set_index("date").loc["2024-03-06", "close"] == 1.0
    expected = bars("JPM", "2024-03-01", "2024-03-05")
    assert loaded["close"].tolist()[:3] == expected["close"].tolist()
    assert (span.rows, span.first, span.last, span.covered_from) == (
        6,
        "2024-03-01",
        "2024-03-08",
        "2024-03-01",
    )
    assert mode == "wal"


def test_sources_are_kept_apart_and_replace_drops_old_days(tmp_path):
    with PriceStore(tmp_path / "p.sqlite") as store:
        store.save("yahoo", "NVDA", bars("NVDA", "2024-03-01", "2024-03-08"))
        store.save("stooq", "NVDA", bars("NVDA", "2024-03-04", "2024-03-08"))
        store.save("stooq", "NVDA", bars("NVDA", "2024-03-07", "2024-03-08"), replace=True)
        info = store.info()
    assert info[["ticker", "source", "rows", "first", "last"]].values.tolist() == [
        ["NVDA", "stooq", 2, "2024-03-07", "2024-03-08"],
        ["NVDA", "yahoo", 6, "2024-03-01", "2024-03-08"],
    ]


def test_a_failed_write_changes_nothing(tmp_path):
    with PriceStore(tmp_path / "p.sqlite") as store:
        store.save("tiingo", "JPM", bars("JPM", "2024-03-01", "2024-03-08"))
        before = store.snapshot()
        broken = bars("JPM", "2024-03-01", "2024-03-08")
        broken["date"] = pd.NaT  # a row without a day violates NOT NULL halfway through
        with pytest.raises(sqlite3.IntegrityError):
            store.save("tiingo", "JPM", broken, replace=True)
        assert store.snapshot() == before


def test_store_info_and_clear_commands(tmp_path, capsys):
    with PriceStore(tmp_path / "prices.sqlite") as store:
        store.save("tiingo", "JPM", bars("JPM", "2024-03-01", "2024-03-08"))
        store.save("tiingo", "BAC", bars("BAC", "2024-03-04", "2024-03-08"))
    assert cli.main(["store", "info", "-p", "output_dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["ticker", "source", "rows", "first", "last", "fetched_at"]
    assert out[2].split()[:5] == ["BAC", "tiingo", "5", "2024-03-04", "2024-03-08"]
    assert out[3].split()[:5] == ["JPM", "tiingo", "6", "2024-03-01", "2024-03-08"]
    assert cli.main(["store", "clear", "jpm", "-p", "output_dir", str(tmp_path)]) == 0
    assert "cleared 6 rows (JPM)" in capsys.readouterr().out
    assert cli.main(["store", "info", "JPM", "-p", "output_dir", str(tmp_path)]) == 0
    assert "nothing stored for JPM" in capsys.readouterr().out
    assert cli.main(["store", "clear", "-p", "output_dir", str(tmp_path)]) == 0
    assert "cleared 5 rows (all tickers)" in capsys.readouterr().out
    assert cli.main(["store", "info", "-p", "output_dir", str(tmp_path), "-p", "store", "null"]) == 2


@pytest.mark.notebook
def test_the_whole_job_keeps_a_store_and_reports_each_ticker(tmp_path, monkeypatch):
    monkeypatch.setenv("TIINGO_API_KEY", KEY)
    server = TiingoServer(key=KEY).start()
    try:
        first = tmp_path / "first"
        assert (
            run_cli(
                first,
                "source",
                "tiingo",
                "base_url",
                server.url,
                "tickers",
                "[JPM, NOPE]",
                "on_missing",
                "warn",
                "store",
                str(tmp_path / "p.sqlite"),
                extra=["--no-publish"],
            )
            == 0
        )
        record = run_record(only_run_dir(first))
        server.requests.clear()
        second = tmp_path / "second"
        assert (
            run_cli(
                second,
                "source",
                "tiingo",
                "base_url",
                server.url,
                "tickers",
                "[JPM]",
                "store",
                str(tmp_path / "p.sqlite"),
                extra=["--no-publish"],
            )
            == 0
        )
        again = run_record(only_run_dir(second))
    finally:
        server.stop()
    fetch = record["data"]["fetch"]
    assert fetch["tickers"]["JPM"]["status"] == "fetched"
    assert fetch["tickers"]["NOPE"]["status"] == "failed"
    assert "unknown ticker(s) NOPE" in fetch["tickers"]["NOPE"]["error"]
    assert record["data"]["tickers"] == ["JPM"]
    assert any("stale data, last price 2024-03-08" in w for w in fetch["warnings"])
    assert "data: JPM: stale data" in (only_run_dir(first) / "run.log").read_text()
    assert "JPM: stale data" in (only_run_dir(first) / "stock_dashboard.ipynb").read_text()
    # the second run asked only for the days since the last stored one, minus the overlap
    assert [r["query"]["startDate"] for r in server.requests] == ["2024-03-05"]
    jpm = again["data"]["fetch"]["tickers"]["JPM"]
    assert (jpm["status"], jpm["rows_fetched"], jpm["request"]) == ("fetched", 4, "since 2024-03-05")
    assert again["data"]["rows_fetched"] == {"JPM": 4}
    assert jpm["rows_from_store"] == fetch["tickers"]["JPM"]["rows_fetched"] - 4
