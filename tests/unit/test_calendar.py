"""Business time in a calendar: overnight arrivals, weekends, lunch breaks, holidays and DST both
ways, checked against a minute-by-minute reference walk and on named examples."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.calendar import (
    WEEKDAYS,
    Calendar,
    Span,
    add_business,
    business_seconds,
    is_open,
    next_open,
)

MINUTE = timedelta(minutes=1)
HOUR = 3600
NINE_TO_FIVE: tuple[Span, ...] = ((9 * 60, 17 * 60),)
WEEKDAYS_NINE_TO_FIVE = dict.fromkeys(WEEKDAYS[:5], NINE_TO_FIVE)
# Each zone with the 2026 days its offset changes: US, EU, and Lord Howe's half-hour DST.
ZONES: dict[str, tuple[date, ...]] = {
    "UTC": (),
    "Asia/Kolkata": (),
    "America/New_York": (date(2026, 3, 8), date(2026, 11, 1)),
    "Europe/London": (date(2026, 3, 29), date(2026, 10, 25)),
    "Australia/Lord_Howe": (date(2026, 4, 5), date(2026, 10, 4)),
}


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(
    zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, fold: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone), fold=fold)


def calendar(
    timezone: str = "UTC",
    hours: Mapping[str, tuple[Span, ...]] | None = WEEKDAYS_NINE_TO_FIVE,
    closed: frozenset[date] = frozenset(),
) -> Calendar:
    return Calendar(name="office", timezone=timezone, hours=hours, closed=closed)


# The reference: walk whole minutes and ask is_open at each. With whole-minute starts and zones
# whose offsets and changes fall on whole minutes, a minute is open or closed throughout.


def open_minutes(cal: Calendar, start: datetime, count: int) -> list[bool]:
    return [is_open(cal, start + i * MINUTE) for i in range(count)]


def reference_add(start: datetime, flags: list[bool], minutes: int) -> datetime | None:
    """When `minutes` open minutes have passed, or None when the walk is too short to say."""
    seen = 0
    for i, flag in enumerate(flags):
        if flag and minutes == 0:
            return start + i * MINUTE
        seen += flag
        if flag and seen == minutes:
            return start + (i + 1) * MINUTE
    return None


def weekly_minutes(cal: Calendar) -> int:
    """Open minutes in an ordinary week (the drawn spans never overlap)."""
    if cal.hours is None:
        return 7 * 1440
    return sum(end - start for day in cal.hours.values() for start, end in day)


spans = st.lists(
    st.one_of(st.integers(0, 1440), st.sampled_from((0, 60, 90, 120, 150, 180, 720, 1440))),
    max_size=6,
    unique=True,
).map(lambda edges: tuple(zip(sorted(edges)[::2], sorted(edges)[1::2], strict=False)))

week_hours = st.one_of(
    st.none(),
    st.fixed_dictionaries({}, optional=dict.fromkeys(WEEKDAYS, spans)),
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Calendar, datetime, int]:
    """A calendar, a whole-minute start and a walk length in minutes of up to four days."""
    zone = draw(st.sampled_from(sorted(ZONES)))
    changes = ZONES[zone]
    if draw(st.booleans()) and changes:
        # Half the time the walk covers the whole local day on which the zone changes offset.
        day = draw(st.sampled_from(changes))
        before = draw(st.integers(0, 2 * 1440))
        midnight = datetime.combine(day, datetime.min.time(), ZoneInfo(zone)).astimezone(UTC)
        start = midnight - before * MINUTE
        length = before + 1500 + draw(st.integers(0, 2 * 1440 - 1500))
    else:
        day = draw(st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31)))
        start = datetime.combine(day, datetime.min.time(), UTC)
        start += draw(st.integers(0, 1439)) * MINUTE
        length = draw(st.integers(0, 4 * 1440))
    closed = frozenset(
        start.date() + timedelta(days=offset)
        for offset in draw(st.sets(st.integers(-1, 5), max_size=3))
    )
    return calendar(zone, draw(week_hours), closed), start, length


@settings(max_examples=200, deadline=None)
@given(case=cases(), data=st.data())
def test_business_time_agrees_with_a_minute_by_minute_walk(
    case: tuple[Calendar, datetime, int], data: st.DataObject
) -> None:
    cal, start, length = case
    flags = open_minutes(cal, start, length)

    for cut in (length, data.draw(st.integers(0, length), label="cut")):
        assert business_seconds(cal, start, start + cut * MINUTE) == 60 * sum(flags[:cut])

    if weekly_minutes(cal) == 0:
        with pytest.raises(ValueError, match="does not open"):
            add_business(cal, start, 0)
        return
    # Past the walk's open minutes only a little: a sparse calendar would take years to reach more.
    for minutes in (0, data.draw(st.integers(0, sum(flags) + 60), label="minutes")):
        expected = reference_add(start, flags, minutes)
        due = add_business(cal, start, minutes * 60)
        if expected is None:
            # Not enough open time in the walk: the due time lies past it.
            assert due >= start + length * MINUTE
        else:
            assert due == expected
            assert due.tzinfo is UTC
        if minutes == 0 and expected is not None:
            assert next_open(cal, start) == expected


@settings(max_examples=200, deadline=None)
@given(case=cases(), data=st.data())
def test_business_seconds_undoes_add_business(
    case: tuple[Calendar, datetime, int], data: st.DataObject
) -> None:
    cal, start, _ = case
    weekly = weekly_minutes(cal)
    if weekly == 0:
        return  # never opens: covered by an example below
    # Up to three days, and no more than about two weeks of this calendar's open time.
    seconds = data.draw(st.integers(0, min(3 * 86400, 2 * 60 * weekly)), label="seconds")
    begin = start + timedelta(seconds=data.draw(st.integers(0, 59)), microseconds=250)
    due = add_business(cal, begin, seconds)
    assert business_seconds(cal, begin, due) == seconds
    if seconds:
        assert is_open(cal, due - timedelta(microseconds=1))


def test_overnight_arrival_starts_the_clock_at_the_next_opening() -> None:
    new_york = calendar("America/New_York")
    arrival = local("America/New_York", 2026, 6, 16, 22, 30)  # Tuesday night
    assert not is_open(new_york, arrival)
    assert next_open(new_york, arrival) == local("America/New_York", 2026, 6, 17, 9, 0)
    assert add_business(new_york, arrival, 5 * 60) == local("America/New_York", 2026, 6, 17, 9, 5)
    assert business_seconds(new_york, arrival, local("America/New_York", 2026, 6, 17, 9, 5)) == 300


def test_friday_evening_lead_is_due_on_monday_morning() -> None:
    office = calendar("Europe/London")
    friday_late = local("Europe/London", 2026, 6, 19, 16, 58)
    due = add_business(office, friday_late, 5 * 60)
    assert due == local("Europe/London", 2026, 6, 22, 9, 3)
    assert business_seconds(office, friday_late, due) == 300


def test_lunch_break_is_not_counted() -> None:
    lunch_break = ((9 * 60, 12 * 60), (13 * 60, 17 * 60))
    with_lunch = calendar(hours=dict.fromkeys(WEEKDAYS[:5], lunch_break))
    before_lunch = utc(2026, 6, 17, 11, 58)
    assert not is_open(with_lunch, utc(2026, 6, 17, 12, 30))
    assert add_business(with_lunch, before_lunch, 5 * 60) == utc(2026, 6, 17, 13, 3)
    assert next_open(with_lunch, utc(2026, 6, 17, 12, 30)) == utc(2026, 6, 17, 13, 0)
    assert business_seconds(with_lunch, utc(2026, 6, 17), utc(2026, 6, 18)) == 7 * HOUR


def test_holiday_is_closed_all_day_and_the_clock_starts_the_next_working_day() -> None:
    office = calendar("America/New_York", closed=frozenset({date(2026, 7, 3)}))
    thursday_late = local("America/New_York", 2026, 7, 2, 16, 59)
    assert not is_open(office, local("America/New_York", 2026, 7, 3, 10, 0))
    monday = local("America/New_York", 2026, 7, 6, 9, 1)
    assert add_business(office, thursday_late, 2 * 60) == monday


def test_closed_dates_apply_to_a_calendar_open_around_the_clock() -> None:
    always_but_christmas = calendar(hours=None, closed=frozenset({date(2026, 12, 25)}))
    christmas_eve_late = utc(2026, 12, 24, 23, 0)
    assert add_business(always_but_christmas, christmas_eve_late, 2 * HOUR) == utc(2026, 12, 26, 1)
    assert next_open(always_but_christmas, utc(2026, 12, 25, 12)) == utc(2026, 12, 26)


def test_closed_date_is_the_calendars_local_date() -> None:
    # 2026-12-25 in Kolkata begins at 18:30 UTC on the 24th.
    kolkata = calendar("Asia/Kolkata", hours=None, closed=frozenset({date(2026, 12, 25)}))
    assert is_open(kolkata, utc(2026, 12, 24, 18, 29))
    assert not is_open(kolkata, utc(2026, 12, 24, 18, 30))
    assert next_open(kolkata, utc(2026, 12, 24, 18, 30)) == utc(2026, 12, 25, 18, 30)


def test_span_ending_at_midnight_runs_into_the_next_days_span() -> None:
    overnight = calendar(hours={"mon": ((22 * 60, 1440),), "tue": ((0, 6 * 60),)})
    monday_late = utc(2026, 6, 15, 23, 0)
    assert add_business(overnight, monday_late, 3 * HOUR) == utc(2026, 6, 16, 2, 0)
    assert business_seconds(overnight, utc(2026, 6, 15), utc(2026, 6, 17)) == 8 * HOUR
    assert not is_open(overnight, utc(2026, 6, 16, 6, 0))


def test_sub_minute_start_counts_exact_seconds() -> None:
    office = calendar()
    start = utc(2026, 6, 17, 16, 59, 30)
    assert add_business(office, start, 45) == utc(2026, 6, 18, 9, 0, 15)
    assert add_business(office, start, 0.25) == utc(2026, 6, 17, 16, 59, 30) + timedelta(
        seconds=0.25
    )
    assert business_seconds(office, start, utc(2026, 6, 18, 9, 0, 15)) == 45


def test_full_working_day_ends_at_closing_time_not_the_next_opening() -> None:
    office = calendar()
    assert add_business(office, utc(2026, 6, 17, 9), 8 * HOUR) == utc(2026, 6, 17, 17)


@pytest.mark.parametrize(
    ("zone", "day"),
    [("America/New_York", date(2026, 3, 8)), ("Europe/London", date(2026, 3, 29))],
)
def test_spring_forward_day_has_one_hour_less_of_real_time(zone: str, day: date) -> None:
    # Open all Sunday 00:00-04:00 on the wall clock; the skipped hour holds no time.
    sunday = calendar(zone, hours={"sun": ((0, 4 * 60),)})
    midnight = local(zone, day.year, day.month, day.day)
    assert business_seconds(sunday, midnight, midnight + timedelta(days=1)) == 3 * HOUR
    assert add_business(sunday, midnight, 3 * HOUR) == local(zone, day.year, day.month, day.day, 4)
    whole_day = calendar(zone, hours=None)
    assert business_seconds(whole_day, midnight, local(zone, 2026, day.month, day.day + 1)) == (
        23 * HOUR
    )


@pytest.mark.parametrize(
    ("zone", "day"),
    [("America/New_York", date(2026, 11, 1)), ("Europe/London", date(2026, 10, 25))],
)
def test_fall_back_day_counts_the_repeated_hour_twice(zone: str, day: date) -> None:
    sunday = calendar(zone, hours={"sun": ((0, 4 * 60),)})
    midnight = local(zone, day.year, day.month, day.day)
    assert business_seconds(sunday, midnight, midnight + timedelta(days=1)) == 5 * HOUR
    assert add_business(sunday, midnight, 5 * HOUR) == local(zone, day.year, day.month, day.day, 4)
    whole_day = calendar(zone, hours=None)
    assert business_seconds(whole_day, midnight, local(zone, 2026, day.month, day.day + 1)) == (
        25 * HOUR
    )


def test_new_york_due_time_across_spring_forward_follows_the_wall_clock() -> None:
    # Friday 16:58 EST plus five business minutes is Monday 09:03 EDT: 13:03 UTC, not 14:03.
    office = calendar("America/New_York")
    due = add_business(office, local("America/New_York", 2026, 3, 6, 16, 58), 5 * 60)
    assert due == utc(2026, 3, 9, 13, 3)


def test_london_due_time_across_fall_back_follows_the_wall_clock() -> None:
    # Friday 16:58 BST plus five business minutes is Monday 09:03 GMT: 09:03 UTC.
    office = calendar("Europe/London")
    due = add_business(office, local("Europe/London", 2026, 10, 23, 16, 58), 5 * 60)
    assert due == utc(2026, 10, 26, 9, 3)


def test_span_inside_the_repeated_hour_is_open_in_both_occurrences() -> None:
    # 01:15-01:45 on the fall-back Sunday happens twice in New York: an hour of real time.
    short = calendar("America/New_York", hours={"sun": ((75, 105),)})
    first = local("America/New_York", 2026, 11, 1, 1, 15, fold=0)
    second = local("America/New_York", 2026, 11, 1, 1, 15, fold=1)
    assert is_open(short, first)
    assert is_open(short, second)
    assert not is_open(short, local("America/New_York", 2026, 11, 1, 1, 50, fold=0))
    assert business_seconds(short, utc(2026, 11, 1), utc(2026, 11, 2)) == HOUR
    # Aware arithmetic in a ZoneInfo zone is wall-clock arithmetic, so add in UTC.
    assert add_business(short, first, 45 * 60) == second.astimezone(UTC) + timedelta(minutes=15)


def test_span_inside_the_skipped_hour_never_opens() -> None:
    # 02:00-03:00 does not exist on the spring-forward Sunday, so the next opening is a week on.
    skipped = calendar("America/New_York", hours={"sun": ((2 * 60, 3 * 60),)})
    assert business_seconds(skipped, utc(2026, 3, 8), utc(2026, 3, 9)) == 0
    assert next_open(skipped, utc(2026, 3, 8)) == local("America/New_York", 2026, 3, 15, 2)


def test_lord_howe_half_hour_change_shortens_its_day_by_thirty_minutes() -> None:
    lord_howe = calendar("Australia/Lord_Howe", hours=None)
    start = local("Australia/Lord_Howe", 2026, 10, 4)
    end = local("Australia/Lord_Howe", 2026, 10, 5)
    assert business_seconds(lord_howe, start, end) == 23.5 * HOUR


def test_no_calendar_is_plain_addition_of_real_seconds() -> None:
    start = local("America/New_York", 2026, 3, 8, 1, 30)  # half an hour before spring-forward
    assert is_open(None, start)
    assert next_open(None, start) == start
    assert add_business(None, start, HOUR) == local("America/New_York", 2026, 3, 8, 3, 30)
    assert add_business(None, start, 1800.5) == start.astimezone(UTC) + timedelta(seconds=1800.5)
    assert add_business(None, start, 60).tzinfo is UTC
    assert business_seconds(None, start, start + timedelta(hours=30)) == 30 * HOUR
    assert business_seconds(None, start, start - timedelta(hours=1)) == 0


def test_business_seconds_of_an_empty_or_backward_range_is_zero() -> None:
    office = calendar()
    noon = utc(2026, 6, 17, 12)
    assert business_seconds(office, noon, noon) == 0
    assert business_seconds(office, noon, noon - timedelta(hours=2)) == 0


def test_calendar_that_never_opens_raises_rather_than_spinning() -> None:
    never = calendar(hours={})
    with pytest.raises(ValueError, match="does not open"):
        next_open(never, utc(2026, 6, 17))
    with pytest.raises(ValueError, match="does not open"):
        add_business(never, utc(2026, 6, 17), 60)
    assert business_seconds(never, utc(2026, 6, 17), utc(2027, 6, 17)) == 0


def test_naive_datetimes_and_negative_seconds_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        is_open(calendar(), datetime(2026, 6, 17, 12))
    with pytest.raises(ValueError, match="aware"):
        add_business(None, datetime(2026, 6, 17, 12), 60)
    with pytest.raises(ValueError, match="negative"):
        add_business(calendar(), utc(2026, 6, 17, 12), -1)
