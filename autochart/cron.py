"""Cron expressions: check one the way a cron daemon reads it, list its next run times, and
translate it into systemd ``OnCalendar=`` lines.

Only what every cron daemon understands is accepted: five fields (minute, hour, day of month,
month, day of week) made of ``*``, numbers, ranges ``a-b``, steps ``/n``, lists ``a,b`` and the
three-letter month and day names. Extensions of one library or daemon (``L``, ``W``, ``#``, ``?``,
a seconds field) are refused with a message, so what ``show`` predicts is what cron does.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

EXAMPLE = "'0 7 * * 1-5' (07:00, Monday to Friday)"
FORMAT = "five fields: minute hour day-of-month month day-of-week"
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# (name, lowest, highest, names allowed in the field)
FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 7, DAYS),
)
SYSTEMD_DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
_ITEM = re.compile(r"^(?:(?P<star>\*)|(?P<low>\w+)(?:-(?P<high>\w+))?)(?:/(?P<step>\d+))?$")


def check(expression: str, key: str = "schedule") -> str:
    """The expression, tidied to single spaces; ``ValueError`` naming the bad field otherwise."""
    fields = expression.split()
    if len(fields) != len(FIELDS):
        raise ValueError(
            f"{key} {expression!r} has {len(fields)} field(s); a cron expression has {FORMAT}, e.g. {EXAMPLE}"
        )
    for text, spec in zip(fields, FIELDS, strict=True):
        problem = _field_problem(text, *spec)
        if problem:
            raise ValueError(
                f"{key} {expression!r}: {spec[0]} {text!r} {problem}; a cron "
                f"expression has {FORMAT}, e.g. {EXAMPLE}"
            )
    tidy = " ".join(fields)
    if not croniter.is_valid(tidy):  # a second opinion from the library that computes the times
        raise ValueError(f"{key} {expression!r} is not a valid cron expression, e.g. {EXAMPLE}")
    try:  # every field can be valid and the date still never come: "0 7 31 2 *" (31 February)
        next_runs(tidy, count=1)
    except CroniterBadDateError:
        raise ValueError(
            f"{key} {expression!r} never runs: no date matches it (e.g. 31 February); "
            f"check the day-of-month and month fields"
        ) from None
    return tidy


def _field_problem(text: str, name: str, low: int, high: int, names: tuple) -> str | None:
    for item in text.split(","):
        match = _ITEM.match(item)
        if not match:
            return (
                f"is not understood (use *, numbers, ranges a-b, steps /n and lists a,b"
                f"{', or names like ' + names[1] if names else ''})"
            )
        if match["step"] is not None and int(match["step"]) == 0:
            return "has a step of 0"
        if match["star"]:
            continue
        values = [_value(match[part], names) for part in ("low", "high") if match[part]]
        if None in values:
            return f"is not a number{' or a name (' + ', '.join(names) + ')' if names else ''}"
        if any(not low <= v <= high for v in values):
            return f"is out of range {low}-{high}"
        if len(values) == 2 and values[0] > values[1]:
            return "is a range that runs backwards (cron does not wrap around)"
    return None


def _value(text: str, names: tuple) -> int | None:
    if text.isdigit():
        return int(text)
    lowered = text.lower()
    if lowered in names:
        return names.index(lowered) + (1 if names is MONTHS else 0)
    return None


def check_timezone(name: str, key: str = "schedule_timezone") -> str:
    """An IANA time zone name such as ``Europe/Berlin`` (``ValueError`` otherwise)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{key} {name!r} is not a time zone name; use an IANA name such as "
            f"'UTC', 'America/New_York' or 'Europe/Berlin' (or null for the "
            f"machine's clock; EC2 machines run in UTC)"
        ) from None
    return name


def machine_timezone() -> dt.tzinfo:
    """The zone the cron daemon uses: the system's ``/etc/localtime``, else UTC."""
    localtime = Path("/etc/localtime")
    try:
        with localtime.open("rb") as handle:
            return ZoneInfo.from_file(handle, key=_zone_key(localtime))
    except (OSError, ValueError):
        return dt.timezone.utc


def _zone_key(localtime: Path) -> str:
    target = str(localtime.resolve())
    return target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else "localtime"


def zone(timezone: str | None) -> dt.tzinfo:
    return ZoneInfo(timezone) if timezone else machine_timezone()


def next_runs(
    expression: str, count: int = 3, timezone: str | None = None, after: dt.datetime | None = None
) -> list[dt.datetime]:
    """The next ``count`` run times, as aware datetimes in the schedule's zone."""
    tz = zone(timezone)
    start = (after or dt.datetime.now(dt.timezone.utc)).astimezone(tz)
    times = croniter(expression, start, day_or=not _either_day_field_starred(expression))
    return [times.get_next(dt.datetime) for _ in range(count)]


def to_oncalendar(expression: str, timezone: str | None = None) -> list[str]:
    """systemd ``OnCalendar=`` values that fire when cron would.

    Cron runs a job when the day of month *or* the day of week matches if neither field starts
    with ``*``; systemd needs both to match, so that case becomes two values.
    """
    minute, hour, dom, month, dow = croniter(expression).expanded
    time = f"{_join(hour)}:{_join(minute)}:00" + (f" {timezone}" if timezone else "")
    days = "" if dow == ["*"] else ",".join(SYSTEMD_DAYS[d] for d in sorted({d % 7 for d in dow}))
    if _either_day_field_starred(expression):
        return [f"{days} *-{_join(month)}-{_join(dom)} {time}".strip()]
    return [f"*-{_join(month)}-{_join(dom)} {time}", f"{days} *-{_join(month)}-* {time}"]


def _either_day_field_starred(expression: str) -> bool:
    """Cron's rule: both day fields must match when either starts with ``*``, else either."""
    fields = expression.split()
    return fields[2].startswith("*") or fields[4].startswith("*")


def _join(values: list) -> str:
    return "*" if values == ["*"] else ",".join(f"{v:02d}" for v in values)
