"""The NYSE calendar against the trading days in the real price files."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from autochart import nyse

from .conftest import PRICES, RESPONSES


@pytest.mark.parametrize("path", [PRICES / "JPM.csv", RESPONSES / "stooq" / "jpm_us_d.csv"])
def test_trading_days_are_exactly_the_days_in_the_price_files(path):
    days = pd.read_csv(path)["Date"]
    ours = [d.isoformat() for d in nyse.trading_days(days.iloc[0], days.iloc[-1])]
    assert ours == days.tolist()


def test_holidays_that_a_federal_calendar_gets_wrong():
    assert not nyse.is_trading_day("2024-03-29")  # Good Friday: NYSE closed, not federal
    assert nyse.is_trading_day("2023-10-09")  # Columbus Day: federal, NYSE open
    assert nyse.is_trading_day("2023-11-10")  # Veterans Day observed: NYSE open
    assert not nyse.is_trading_day("2025-01-09")  # President Carter's day of mourning
    assert not nyse.is_trading_day("2026-06-19")  # Juneteenth
    assert nyse.is_trading_day("2021-12-31")  # New Year 2022 fell on a Saturday: not moved


def test_counting_and_stepping_back():
    assert nyse.previous_trading_day("2024-04-01") == dt.date(2024, 3, 28)  # over Good Friday
    assert nyse.trading_days_between("2024-03-28", "2024-04-02") == 2
    assert nyse.trading_days_between("2024-04-02", "2024-03-28") == 0
    assert nyse.easter(2024) == dt.date(2024, 3, 31) and nyse.easter(2025) == dt.date(2025, 4, 20)
