"""Japanese era (和暦) dates and the April–March fiscal year (年度).

Only the modern eras are known; dates before 明治6年 (1873, when Japan adopted
the Gregorian calendar) are refused because the lunisolar calendar would make
the day wrong anyway.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

# (first day, era name), newest first so the first match wins.
_ERAS: tuple[tuple[date, str], ...] = (
    (date(2019, 5, 1), "令和"),
    (date(1989, 1, 8), "平成"),
    (date(1926, 12, 25), "昭和"),
    (date(1912, 7, 30), "大正"),
    (date(1868, 10, 23), "明治"),
)
EARLIEST_SUPPORTED = date(1873, 1, 1)


def era_year(day: date) -> tuple[str, int]:
    """Return (era name, year within the era) for ``day``."""
    if day < EARLIEST_SUPPORTED:
        raise ValueError(f"dates before {EARLIEST_SUPPORTED.isoformat()} are not supported: {day}")
    for start, name in _ERAS:
        if day >= start:
            return name, day.year - start.year + 1
    raise AssertionError("unreachable: 明治 covers every supported date")


def to_wareki(day: date, *, gannen: bool = True) -> str:
    """``date(2025, 4, 1)`` → ``令和7年4月1日``; the first year is 元年 by default."""
    name, year = era_year(day)
    year_text = "元" if gannen and year == 1 else str(year)
    return f"{name}{year_text}年{day.month}月{day.day}日"


def to_seireki(day: date) -> str:
    """``date(2025, 4, 1)`` → ``2025年4月1日``."""
    return f"{day.year}年{day.month}月{day.day}日"


def format_date_ja(day: date) -> str:
    """Both calendars, as official documents show them: ``令和7年4月1日 (2025年4月1日)``."""
    return f"{to_wareki(day)} ({to_seireki(day)})"


def local_date(moment: datetime, tz: str) -> date:
    """The calendar day of ``moment`` in ``tz`` (the city's clock, not UTC):
    a job finished at 23:30 JST on 31 March belongs to March."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: the fiscal year needs an aware moment")
    return moment.astimezone(ZoneInfo(tz)).date()


def fiscal_year_of(moment: datetime | date, tz: str = "Asia/Tokyo") -> int:
    """年度: April to March, named by the year it starts in."""
    day = moment if not isinstance(moment, datetime) else local_date(moment, tz)
    return day.year if day.month >= 4 else day.year - 1


def month_of(moment: datetime, tz: str = "Asia/Tokyo") -> str:
    """``YYYY-MM`` in local time."""
    day = local_date(moment, tz)
    return f"{day.year:04d}-{day.month:02d}"


def fiscal_year_label(fiscal_year: int) -> str:
    """``2025`` → ``2025年度 (令和7年度)``.

    The era is the one in force at the end of the fiscal year's first
    calendar year: FY2019 (April 2019 – March 2020) is 令和元年度, as the city
    names it, even though April 2019 was still 平成31年.
    """
    name, year = era_year(date(fiscal_year, 12, 31))
    year_text = "元" if year == 1 else str(year)
    return f"{fiscal_year}年度 ({name}{year_text}年度)"
