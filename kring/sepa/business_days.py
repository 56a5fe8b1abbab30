"""TARGET2 business days and the earliest possible collection date.

TARGET2 (the euro settlement system that SEPA direct debits settle in) is closed on Saturdays and
Sundays, 1 January, Good Friday, Easter Monday, 1 May, 25 and 26 December. Easter is computed
(the anonymous Gregorian algorithm), so no calendar library is needed.
"""

from datetime import date, datetime, time, timedelta
from functools import cache


@cache
def easter_sunday(year: int) -> date:
    """Western Easter Sunday of `year` (Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    leap = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * leap) // 451
    month, day = divmod(h + leap - 7 * m + 114, 31)
    return date(year, month, day + 1)


@cache
def target2_holidays(year: int) -> frozenset[date]:
    easter = easter_sunday(year)
    return frozenset(
        {
            date(year, 1, 1),
            easter - timedelta(days=2),  # Good Friday
            easter + timedelta(days=1),  # Easter Monday
            date(year, 5, 1),
            date(year, 12, 25),
            date(year, 12, 26),
        }
    )


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in target2_holidays(day.year)


def next_business_day(day: date) -> date:
    """The first TARGET2 business day after `day`."""
    day += timedelta(days=1)
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def add_business_days(day: date, count: int) -> date:
    """The TARGET2 business day `count` business days after `day` (`day` itself when count is 0 and
    it is a business day; else the next one)."""
    if count == 0 and is_business_day(day):
        return day
    if count == 0:
        return next_business_day(day)
    for _ in range(count):
        day = next_business_day(day)
    return day


def submission_day(now: datetime, cutoff_time: time) -> date:
    """The business day a file handed to the bank at `now` counts for: the same day when it is a
    business day and before the bank's cut-off, else the next business day."""
    today = now.date()
    if is_business_day(today) and now.time() < cutoff_time:
        return today
    return next_business_day(today)


def earliest_collection_date(*, now: datetime, lead_days: int, cutoff_time: time) -> date:
    """The first collection date a file submitted at `now` (local time) can ask for: `lead_days`
    TARGET2 business days after the day the submission counts for (see `submission_day`)."""
    return add_business_days(submission_day(now, cutoff_time), lead_days)


def is_possible_collection_date(day: date, *, now: datetime, lead_days: int, cutoff_time: time) -> bool:
    return is_business_day(day) and day >= earliest_collection_date(
        now=now, lead_days=lead_days, cutoff_time=cutoff_time
    )
