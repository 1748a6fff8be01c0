from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from jobs.wareki import fiscal_year_label, fiscal_year_of, month_of, to_wareki


@pytest.mark.parametrize(
    ("day", "text"),
    [
        (date(2019, 4, 30), "平成31年4月30日"),
        (date(2019, 5, 1), "令和元年5月1日"),
        (date(2025, 4, 1), "令和7年4月1日"),
        (date(1989, 1, 7), "昭和64年1月7日"),
        (date(1989, 1, 8), "平成元年1月8日"),
    ],
)
def test_to_wareki(day: date, text: str) -> None:
    assert to_wareki(day) == text


def test_dates_before_gregorian_adoption_are_refused() -> None:
    with pytest.raises(ValueError, match="not supported"):
        to_wareki(date(1872, 12, 31))


@pytest.mark.parametrize(
    ("utc", "fiscal_year", "month"),
    [
        # 31 March 23:30 JST is 14:30 UTC: still the old fiscal year.
        (datetime(2026, 3, 31, 14, 30, tzinfo=UTC), 2025, "2026-03"),
        # 1 April 00:10 JST is 31 March 15:10 UTC: already the new one.
        (datetime(2026, 3, 31, 15, 10, tzinfo=UTC), 2026, "2026-04"),
        (datetime(2026, 1, 1, 0, 0, tzinfo=UTC), 2025, "2026-01"),
        (datetime(2025, 12, 31, 15, 0, tzinfo=UTC), 2025, "2026-01"),
    ],
)
def test_fiscal_year_and_month_follow_tokyo_time(utc: datetime, fiscal_year: int, month: str) -> None:
    assert fiscal_year_of(utc, "Asia/Tokyo") == fiscal_year
    assert month_of(utc, "Asia/Tokyo") == month


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        fiscal_year_of(datetime(2026, 3, 31, 12, 0))


@pytest.mark.parametrize(
    ("year", "label"),
    [(2025, "2025年度 (令和7年度)"), (2019, "2019年度 (令和元年度)"), (2018, "2018年度 (平成30年度)")],
)
def test_fiscal_year_label(year: int, label: str) -> None:
    assert fiscal_year_label(year) == label
