"""Shaping (BR-05, duplicates, windows, gaps) and charts (BR-07, BR-09) without a kernel."""

from __future__ import annotations

import gc
import json
import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from autochart import charts, frames
from autochart.exceptions import ConflictingDataError, NoPriceDataError
from autochart.sources import get_source, tidy
from autochart.sources.iex import parse_batch

from .conftest import BANKS, CASES, PRICES


def read_closes(path) -> pd.DataFrame:
    return pd.read_csv(path, index_col="date", parse_dates=["date"])


def tidy_from_wide(wide: pd.DataFrame) -> pd.DataFrame:
    long = wide.reset_index().melt(id_vars="date", var_name="ticker", value_name="close")
    long["adj_close"] = long["close"]
    return tidy(long)


# --- BR-05: join on dates ---------------------------------------------------------------------


def test_br05_closes_are_joined_on_dates_not_positions():
    answer = json.loads((CASES / "BR-05" / "batch_response.json").read_text())
    prices = tidy(parse_batch(answer, ["AAA", "BBB"]))
    closes = frames.closes(prices, ["AAA", "BBB"], "close", lookback_years=5)
    expected = read_closes(CASES / "BR-05" / "expected_closes.csv")
    pd.testing.assert_frame_equal(closes, expected, check_freq=False)
    wrong = read_closes(CASES / "BR-05" / "wrong_positional_result.csv")
    assert not closes.equals(wrong)


def test_br05_the_gap_is_reported():
    answer = json.loads((CASES / "BR-05" / "batch_response.json").read_text())
    closes = frames.closes(tidy(parse_batch(answer, ["AAA", "BBB"])), ["AAA", "BBB"], "close")
    report = frames.gaps(closes)
    assert report == {
        "BBB": {
            "first": "2024-01-02",
            "last": "2024-01-08",
            "missing_days": 1,
            "missing_sample": ["2024-01-04"],
        }
    }
    assert "BBB: priced 2024-01-02 to 2024-01-08, 1 day(s) without a price" in frames.describe_gaps(report)[0]


def test_banks_window_equals_the_files_close_column():
    prices = get_source("csv", csv_dir=str(PRICES)).fetch(BANKS)
    closes = frames.closes(prices, BANKS, "close", lookback_years=5)
    assert list(closes.columns) == BANKS
    assert closes.index.name == "date" and closes.index.is_monotonic_increasing
    assert closes.index.min() == pd.Timestamp("2019-03-08")
    assert closes.index.max() == pd.Timestamp("2024-03-08")
    for ticker in BANKS:
        theirs = pd.read_csv(PRICES / f"{ticker}.csv", index_col="Date", parse_dates=True)
        np.testing.assert_array_equal(
            closes[ticker].to_numpy(), theirs.loc["2019-03-08":, "Close"].to_numpy()
        )


def test_short_history_starts_late_and_is_reported():
    prices = get_source("csv", csv_dir=str(PRICES)).fetch(["JPM", "ARM"])
    closes = frames.closes(prices, ["JPM", "ARM"], "close", lookback_years=1)
    report = frames.gaps(closes)
    assert report["ARM"]["first"] == "2023-09-14" and report["ARM"]["missing_days"] == 0
    assert "JPM" not in report


def test_explicit_start_and_end_win_over_lookback():
    prices = get_source("csv", csv_dir=str(PRICES)).fetch(["JPM"])
    closes = frames.closes(prices, ["JPM"], "close", start="2020-03-02", end="2020-03-31")
    assert closes.index.min() == pd.Timestamp("2020-03-02")
    assert closes.index.max() == pd.Timestamp("2020-03-31")
    assert closes.loc["2020-03-23", "JPM"] == pytest.approx(79.03, abs=0.01)


def test_identical_duplicates_collapse_with_a_warning(caplog):
    answer = json.loads((CASES / "BR-05" / "batch_response.json").read_text())
    prices = tidy(parse_batch(answer, ["AAA", "BBB"]))
    doubled = pd.concat([prices, prices.iloc[[0, 1]]], ignore_index=True)
    with caplog.at_level(logging.WARNING):
        closes = frames.closes(doubled, ["AAA", "BBB"], "close")
    assert len(closes) == 5
    assert "dropped 2 identical duplicate row(s): AAA 2024-01-02" in caplog.text


def test_conflicting_duplicates_name_ticker_and_date():
    answer = json.loads((CASES / "BR-05" / "batch_response.json").read_text())
    prices = tidy(parse_batch(answer, ["AAA", "BBB"]))
    clash = prices.iloc[[2]].copy()
    clash["close"] = 99.0
    with pytest.raises(ConflictingDataError, match="AAA has 2 conflicting rows for 2024-01-04"):
        frames.closes(pd.concat([prices, clash]), ["AAA", "BBB"], "close")


def test_adjusted_falls_back_to_close_when_the_source_has_none(caplog):
    answer = json.loads((CASES / "BR-05" / "batch_response.json").read_text())
    prices = tidy(parse_batch(answer, ["AAA", "BBB"]))
    with caplog.at_level(logging.WARNING):
        assert frames.price_used(prices, "adjusted") == "close"
    assert "no adjusted close for AAA, BBB" in caplog.text
    prices["adj_close"] = prices["close"]
    assert frames.price_used(prices, "adjusted") == "adjusted"


# --- BR-09: no data is an error before charting -----------------------------------------------


def test_br09_one_empty_ticker_is_named():
    wide = read_closes(CASES / "BR-09" / "closes_ccc_empty.csv")
    with pytest.raises(NoPriceDataError) as caught:
        frames.closes(tidy_from_wide(wide), ["AAA", "BBB", "CCC"], "close")
    assert caught.value.tickers == ["CCC"] and "CCC" in str(caught.value)
    with pytest.raises(NoPriceDataError, match="CCC"):
        charts.boxplot(wide, plt.figure().add_subplot())
    plt.close("all")


def test_br09_all_empty_says_no_price_data():
    wide = read_closes(CASES / "BR-09" / "closes_all_empty.csv")
    with pytest.raises(NoPriceDataError, match="no price data"):
        frames.closes(tidy_from_wide(wide), ["AAA", "BBB", "CCC"], "close")
    fig, ax = charts.new_figure()
    for draw in (lambda: charts.histogram(wide, ax), lambda: charts.dashboard(wide)):
        with pytest.raises(NoPriceDataError, match="no price data"):
            draw()


def test_ticker_with_no_rows_at_all_is_named():
    answer = json.loads((CASES / "BR-05" / "batch_response.json").read_text())
    prices = tidy(parse_batch(answer, ["AAA", "BBB"]))
    with pytest.raises(NoPriceDataError, match="no price data for CCC"):
        frames.closes(prices, ["AAA", "BBB", "CCC"], "close")


# --- BR-07: one box and one histogram dataset per ticker ---------------------------------------


@pytest.fixture
def br07():
    return (
        read_closes(CASES / "BR-07" / "closes.csv"),
        json.loads((CASES / "BR-07" / "expected.json").read_text()),
    )


def test_br07_boxplot_has_one_labelled_box_per_ticker(br07):
    closes, expected = br07
    fig, ax = charts.new_figure()
    charts.boxplot(closes, ax)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    medians = [line.get_ydata()[0] for line in ax.lines if line.get_gid() == charts.MEDIAN_GID]
    assert len(medians) == expected["boxplot"]["n_boxes"]
    assert labels == expected["boxplot"]["labels"]
    assert dict(zip(labels, medians, strict=True)) == pytest.approx(expected["boxplot"]["medians"])


def test_br07_histogram_has_one_dataset_per_ticker_in_order(br07):
    closes, expected = br07
    fig, ax = charts.new_figure()
    charts.histogram(closes, ax, bins=expected["histogram"]["bins"])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == expected["histogram"]["legend_labels_in_order"]
    assert len(ax.containers) == expected["histogram"]["n_datasets"]
    counts = {label: int(sum(c.datavalues)) for label, c in zip(legend, ax.containers, strict=True)}
    assert counts == expected["histogram"]["counts_per_dataset"]
    assert all(len(c) == expected["histogram"]["bins"] for c in ax.containers)


def test_a_nan_never_empties_a_box(br07):
    closes, expected = br07
    closes = closes.copy()
    closes.iloc[3, 1] = np.nan  # BBB misses a day
    fig, ax = charts.new_figure()
    charts.boxplot(closes, ax)
    medians = [line.get_ydata()[0] for line in ax.lines if line.get_gid() == charts.MEDIAN_GID]
    assert not np.isnan(medians).any()
    assert medians[1] == pytest.approx(closes["BBB"].median())


def test_scatter_uses_a_real_date_axis(br07):
    closes, _ = br07
    fig, ax = charts.new_figure()
    charts.scatter(closes, ax, "AAA", price="close")
    offsets = ax.collections[0].get_offsets()
    assert len(offsets) == 12
    first_day = pd.Timestamp("1970-01-01") + pd.Timedelta(days=float(offsets[0][0]))
    assert first_day.normalize() == pd.Timestamp("2024-02-01")
    assert ax.get_title() == "AAA: daily close"


def test_dashboard_title_states_range_and_close(br07, tmp_path):
    closes, _ = br07
    fig = charts.dashboard(closes, price="adjusted")
    assert fig._suptitle.get_text() == "AAA, BBB, CCC: daily adjusted close, 1 Feb 2024 – 16 Feb 2024"
    assert len(fig.axes) == 4
    path = charts.save(fig, tmp_path / "d.png", dpi=50)
    assert imread(path).shape[:2] == (400, 600)


def test_dashboard_panels_do_not_overlap(br07, tmp_path):
    closes, _ = br07
    fig = charts.dashboard(closes)
    charts.save(fig, tmp_path / "d.png")  # the layout as saved is the layout that counts
    boxes = [ax.get_tightbbox() for ax in fig.axes]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b)


def test_saving_a_pyplot_figure_closes_it(br07, tmp_path):
    closes, _ = br07
    fig, ax = plt.subplots()
    charts.boxplot(closes, ax)
    charts.save(fig, tmp_path / "b.png")
    assert not plt.fignum_exists(fig.number)


def test_many_dashboards_leave_no_figures_behind(br07, tmp_path):
    closes, _ = br07
    before = len(plt.get_fignums())
    for i in range(5):
        charts.save(charts.dashboard(closes), tmp_path / f"d{i}.png", dpi=30)
    gc.collect()
    assert len(plt.get_fignums()) == before


def test_a_window_without_data_says_where_the_data_is():
    prices = get_source("sample").fetch(["AAPL"])
    with pytest.raises(NoPriceDataError) as caught:
        frames.closes(prices, ["AAPL"], "adjusted", start="2020-01-01", end="2020-12-31")
    assert "nothing between 2020-01-01 and 2020-12-31; the data runs from 2000-03-01 to 2013-03-01" in str(
        caught.value
    )
