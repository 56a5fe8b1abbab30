"""TARGET2 closing days, Easter, and the earliest collection date with the bank's cut-off."""

from datetime import date, datetime, time

import pytest

from kring.sepa.business_days import (
    add_business_days,
    earliest_collection_date,
    easter_sunday,
    is_business_day,
    is_possible_collection_date,
    next_business_day,
    submission_day,
)


@pytest.mark.parametrize(
    "year, easter",
    [(2024, date(2024, 3, 31)), (2025, date(2025, 4, 20)), (2026, date(2026, 4, 5)), (2027, date(2027, 3, 28)),
     (2038, date(2038, 4, 25)), (2285, date(2285, 3, 22))],
)  # fmt: skip
def test_easter(year, easter):
    assert easter_sunday(year) == easter


@pytest.mark.parametrize(
    "day, open_",
    [
        (date(2026, 4, 3), False),  # Good Friday
        (date(2026, 4, 6), False),  # Easter Monday
        (date(2026, 4, 7), True),
        (date(2027, 3, 26), False),  # Good Friday 2027
        (date(2027, 3, 29), False),  # Easter Monday 2027
        (date(2026, 5, 1), False),
        (date(2026, 12, 24), True),
        (date(2026, 12, 25), False),
        (date(2026, 12, 28), True),
        (date(2027, 1, 1), False),
        (date(2026, 4, 27), True),  # King's Day is not a TARGET2 holiday
        (date(2026, 1, 3), False),  # Saturday
        (date(2026, 1, 4), False),  # Sunday
    ],
)
def test_closing_days(day, open_):
    assert is_business_day(day) is open_


def test_around_christmas_and_new_year():
    assert next_business_day(date(2026, 12, 24)) == date(2026, 12, 28)
    assert next_business_day(date(2026, 12, 31)) == date(2027, 1, 4)
    assert add_business_days(date(2026, 12, 23), 2) == date(2026, 12, 28)
    assert add_business_days(date(2026, 12, 23), 3) == date(2026, 12, 29)


CUTOFF = time(15, 0)


def test_submission_before_and_after_cutoff():
    assert submission_day(datetime(2026, 3, 2, 14, 59), CUTOFF) == date(2026, 3, 2)
    assert submission_day(datetime(2026, 3, 2, 15, 0), CUTOFF) == date(2026, 3, 3)
    assert submission_day(datetime(2026, 3, 7, 10, 0), CUTOFF) == date(2026, 3, 9)  # Saturday


def test_earliest_collection_date():
    # Monday before the cut-off, 1 business day lead time: Tuesday
    assert earliest_collection_date(now=datetime(2026, 3, 2, 9, 0), lead_days=1, cutoff_time=CUTOFF) == date(
        2026, 3, 3
    )
    # after the cut-off it counts from Tuesday
    assert earliest_collection_date(now=datetime(2026, 3, 2, 16, 0), lead_days=1, cutoff_time=CUTOFF) == date(
        2026, 3, 4
    )
    # Thursday before Easter 2026 after the cut-off: counts from Tuesday 7 April, +2 → Thursday 9 April
    assert earliest_collection_date(now=datetime(2026, 4, 2, 18, 0), lead_days=2, cutoff_time=CUTOFF) == date(
        2026, 4, 9
    )
    # over Christmas and New Year
    assert earliest_collection_date(
        now=datetime(2026, 12, 24, 12, 0), lead_days=5, cutoff_time=CUTOFF
    ) == date(2027, 1, 4)  # 28, 29, 30, 31 Dec, (1 Jan closed), 4 Jan
    assert is_possible_collection_date(
        date(2027, 1, 4), now=datetime(2026, 12, 24, 12, 0), lead_days=5, cutoff_time=CUTOFF
    )
    assert not is_possible_collection_date(
        date(2026, 12, 31), now=datetime(2026, 12, 24, 12, 0), lead_days=5, cutoff_time=CUTOFF
    )
    assert not is_possible_collection_date(
        date(2027, 1, 9), now=datetime(2026, 12, 24, 12, 0), lead_days=5, cutoff_time=CUTOFF
    )
