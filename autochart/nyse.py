"""NYSE trading days: weekends, the exchange's regular holidays and its one-off closures.

Regular holidays (current rules): New Year's Day, Martin Luther King Jr. Day (from 1998),
Washington's Birthday, Good Friday, Memorial Day, Juneteenth (from 2022), Independence Day,
Labor Day, Thanksgiving, Christmas. A holiday on a Saturday is observed the Friday before, on a
Sunday the Monday after, except New Year's Day on a Saturday, which is not moved into December.
One-off closures since 2000 are listed in ``SPECIAL_CLOSURES``. Pandas' USFederalHolidayCalendar
would be wrong here: it has Columbus and Veterans Day (NYSE open) and lacks Good Friday.
Checked against every trading day of the Yahoo and Stooq price files (2000-2026).
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import pandas as pd

SPECIAL_CLOSURES = frozenset(
    dt.date.fromisoformat(d)
    for d in (
        "2001-09-11",
        "2001-09-12",
        "2001-09-13",
        "2001-09-14",  # September 11
        "2004-06-11",  # President Reagan's funeral
        "2007-01-02",  # President Ford's day of mourning
        "2012-10-29",
        "2012-10-30",  # Hurricane Sandy
        "2018-12-05",  # President G. H. W. Bush's day of mourning
        "2025-01-09",  # President Carter's day of mourning
    )
)


def easter(year: int) -> dt.date:
    """Easter Sunday (Gregorian), by the anonymous Gregorian computus."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return dt.date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The ``n``-th ``weekday`` (Monday 0) of the month; ``n = -1`` for the last one."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: dt.date) -> dt.date:
    if day.weekday() == 5:
        return day - dt.timedelta(days=1)
    if day.weekday() == 6:
        return day + dt.timedelta(days=1)
    return day


@cache
def holidays(year: int) -> frozenset[dt.date]:
    """The NYSE's full-day closures in ``year`` (weekends aside)."""
    days = {
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
        easter(year) - dt.timedelta(days=2),  # Good Friday
        _nth_weekday(year, 5, 0, -1),  # Memorial Day
        _observed(dt.date(year, 7, 4)),
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving
        _observed(dt.date(year, 12, 25)),
    }
    new_year = dt.date(year, 1, 1)
    if new_year.weekday() != 5:  # a Saturday New Year's Day is not observed
        days.add(_observed(new_year))
    if year >= 1998:
        days.add(_nth_weekday(year, 1, 0, 3))  # Martin Luther King Jr. Day
    if year >= 2022:
        days.add(_observed(dt.date(year, 6, 19)))  # Juneteenth
    days |= {d for d in SPECIAL_CLOSURES if d.year == year}
    return frozenset(days)


def is_trading_day(day: dt.date | str) -> bool:
    day = _date(day)
    return day.weekday() < 5 and day not in holidays(day.year)


def trading_days(first: dt.date | str, last: dt.date | str) -> list[dt.date]:
    """Every trading day from ``first`` to ``last``, both included."""
    first, last = _date(first), _date(last)
    days = (first + dt.timedelta(days=n) for n in range((last - first).days + 1))
    return [d for d in days if is_trading_day(d)]


def trading_days_between(after: dt.date | str, through: dt.date | str) -> int:
    """How many trading days come after ``after`` up to and including ``through``."""
    after = _date(after)
    return len(trading_days(after + dt.timedelta(days=1), through)) if after < _date(through) else 0


def previous_trading_day(day: dt.date | str) -> dt.date:
    """The last trading day strictly before ``day`` (its bar is complete by ``day``)."""
    day = _date(day) - dt.timedelta(days=1)
    while not is_trading_day(day):
        day -= dt.timedelta(days=1)
    return day


def _date(day) -> dt.date:
    if isinstance(day, dt.datetime):
        return day.date()
    if isinstance(day, dt.date):
        return day
    return pd.Timestamp(day).date()
