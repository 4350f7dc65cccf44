"""Working hours on the rep's own wall clock, across time zones and DST, and who is available."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.hours import RepLoad, in_hours, local_day, unavailable
from chalicelib.domain.team import WEEKDAYS, RepConfig, Span

NINE_TO_FIVE: tuple[Span, ...] = ((9 * 60, 17 * 60),)
EVERY_DAY = dict.fromkeys(WEEKDAYS, NINE_TO_FIVE)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def rep(timezone: str = "UTC", **changes: Any) -> RepConfig:
    return replace(RepConfig(id="ana", name="Ana", timezone=timezone), **changes)


def minutes_open(person: RepConfig, start: datetime, end: datetime) -> int:
    """Real minutes between start and end that fall inside the person's hours."""
    steps = int((end - start).total_seconds() // 60)
    return sum(in_hours(person, start + timedelta(minutes=i)) for i in range(steps))


def test_same_instant_is_working_time_in_kolkata_and_night_in_los_angeles() -> None:
    kolkata = rep("Asia/Kolkata", hours=EVERY_DAY)
    los_angeles = rep("America/Los_Angeles", hours=EVERY_DAY)
    morning_in_india = utc(2026, 6, 15, 4, 0)  # 09:30 IST, 21:00 PDT the evening before
    assert in_hours(kolkata, morning_in_india)
    assert not in_hours(los_angeles, morning_in_india)
    morning_in_california = utc(2026, 6, 15, 17, 0)  # 22:30 IST, 10:00 PDT
    assert not in_hours(kolkata, morning_in_california)
    assert in_hours(los_angeles, morning_in_california)


def test_half_hour_offset_zone_opens_on_its_own_half_hour() -> None:
    kolkata = rep("Asia/Kolkata", hours=EVERY_DAY)
    assert not in_hours(kolkata, utc(2026, 6, 15, 3, 29, 59))  # 08:59:59 IST
    assert in_hours(kolkata, utc(2026, 6, 15, 3, 30))  # 09:00 IST


def test_weekday_is_the_reps_local_weekday_not_utcs() -> None:
    # Monday 01:00 UTC is still Sunday evening in Los Angeles.
    sunday_only = rep("America/Los_Angeles", hours={"sun": ((17 * 60, 24 * 60),)})
    assert in_hours(sunday_only, utc(2026, 6, 15, 1, 0))
    assert local_day(sunday_only, utc(2026, 6, 15, 1, 0)).isoformat() == "2026-06-14"


def test_nine_to_five_follows_the_wall_clock_across_spring_forward() -> None:
    new_york = rep("America/New_York", hours=EVERY_DAY)
    # Saturday 2026-03-07 is EST (UTC-5): 09:00 local is 14:00 UTC.
    assert not in_hours(new_york, utc(2026, 3, 7, 13, 59))
    assert in_hours(new_york, utc(2026, 3, 7, 14, 0))
    assert not in_hours(new_york, utc(2026, 3, 7, 22, 0))
    # Sunday 2026-03-08 is EDT (UTC-4) from 02:00 local: 09:00 local is 13:00 UTC.
    assert not in_hours(new_york, utc(2026, 3, 8, 12, 59))
    assert in_hours(new_york, utc(2026, 3, 8, 13, 0))
    assert in_hours(new_york, utc(2026, 3, 8, 20, 59))
    assert not in_hours(new_york, utc(2026, 3, 8, 21, 0))


def test_nine_to_five_follows_the_wall_clock_across_fall_back() -> None:
    new_york = rep("America/New_York", hours=EVERY_DAY)
    # Saturday 2026-10-31 is EDT: 09:00 local is 13:00 UTC.
    assert in_hours(new_york, utc(2026, 10, 31, 13, 0))
    assert not in_hours(new_york, utc(2026, 10, 31, 21, 0))
    # Sunday 2026-11-01 is EST from 02:00 EDT on: 09:00 local is 14:00 UTC.
    assert not in_hours(new_york, utc(2026, 11, 1, 13, 59))
    assert in_hours(new_york, utc(2026, 11, 1, 14, 0))
    assert not in_hours(new_york, utc(2026, 11, 1, 22, 0))


def test_span_inside_the_skipped_spring_hour_is_never_open() -> None:
    skipped_hour = rep("America/New_York", hours={"sun": ((2 * 60, 3 * 60),)})
    assert minutes_open(skipped_hour, utc(2026, 3, 8, 4, 0), utc(2026, 3, 8, 10, 0)) == 0


def test_span_across_the_skipped_spring_hour_has_an_hour_less_real_time() -> None:
    one_to_four = rep("America/New_York", hours={"sun": ((1 * 60, 4 * 60),)})
    assert minutes_open(one_to_four, utc(2026, 3, 8, 4, 0), utc(2026, 3, 8, 10, 0)) == 120
    assert in_hours(one_to_four, utc(2026, 3, 8, 6, 59))  # 01:59 EST
    assert in_hours(one_to_four, utc(2026, 3, 8, 7, 0))  # 03:00 EDT, a real minute later


def test_repeated_fall_hour_is_open_on_both_passes_of_the_wall_clock() -> None:
    one_to_two = rep("America/New_York", hours={"sun": ((1 * 60, 2 * 60),)})
    assert not in_hours(one_to_two, utc(2026, 11, 1, 4, 59))  # 00:59 EDT
    assert in_hours(one_to_two, utc(2026, 11, 1, 5, 30))  # 01:30 EDT, first pass
    assert in_hours(one_to_two, utc(2026, 11, 1, 6, 30))  # 01:30 EST, second pass
    assert not in_hours(one_to_two, utc(2026, 11, 1, 7, 0))  # 02:00 EST
    assert minutes_open(one_to_two, utc(2026, 11, 1, 3, 0), utc(2026, 11, 1, 9, 0)) == 120


def test_split_day_is_closed_over_lunch() -> None:
    split = rep(hours={"mon": ((9 * 60, 12 * 60), (13 * 60, 17 * 60))})
    assert in_hours(split, utc(2026, 6, 15, 11, 59, 59))  # a Monday
    assert not in_hours(split, utc(2026, 6, 15, 12, 0))
    assert not in_hours(split, utc(2026, 6, 15, 12, 59))
    assert in_hours(split, utc(2026, 6, 15, 13, 0))
    assert not in_hours(split, utc(2026, 6, 15, 17, 0))


def test_span_ending_at_24_00_runs_to_the_last_second_of_the_day() -> None:
    late = rep(hours={"mon": ((22 * 60, 24 * 60),)})
    assert in_hours(late, utc(2026, 6, 15, 23, 59, 59))
    assert not in_hours(late, utc(2026, 6, 16, 0, 0))  # Tuesday has no spans


def test_no_hours_means_always_on_and_empty_hours_means_never() -> None:
    assert in_hours(rep(hours=None), utc(2026, 6, 14, 3, 0))
    assert not in_hours(rep(hours={}), utc(2026, 6, 15, 12, 0))


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError):
        in_hours(rep(hours=EVERY_DAY), datetime(2026, 6, 15, 12, 0))


def test_out_of_office_until_one_second_before_is_away_and_at_until_is_back() -> None:
    until = utc(2026, 6, 15, 12, 0)
    away = rep(status="out_of_office", out_of_office_until=until)
    assert unavailable(away, until - timedelta(seconds=1), RepLoad()) == "out_of_office"
    assert unavailable(away, until, RepLoad()) is None


def test_out_of_office_without_until_is_away_until_changed() -> None:
    away = rep(status="out_of_office")
    assert unavailable(away, utc(2030, 1, 1), RepLoad()) == "out_of_office"


def test_back_from_office_is_still_bound_by_hours() -> None:
    until = utc(2026, 6, 15, 3, 0)
    back = rep(status="out_of_office", out_of_office_until=until, hours=EVERY_DAY)
    assert unavailable(back, until, RepLoad()) == "outside_hours"


def test_paused_rep_is_unavailable() -> None:
    assert unavailable(rep(status="paused"), utc(2026, 6, 15, 12), RepLoad()) == "paused"


def test_caps_are_reached_at_the_limit_not_past_it() -> None:
    capped = rep(max_open=3, max_per_day=10)
    at = utc(2026, 6, 15, 12)
    assert unavailable(capped, at, RepLoad(open=2, today=9)) is None
    assert unavailable(capped, at, RepLoad(open=3, today=0)) == "at_cap_open"
    assert unavailable(capped, at, RepLoad(open=0, today=10)) == "at_cap_daily"


def test_missing_phone_does_not_make_a_rep_unavailable() -> None:
    assert unavailable(rep(phone=None), utc(2026, 6, 15, 12), RepLoad()) is None


def test_paused_is_reported_before_hours_and_caps() -> None:
    everything = rep(status="paused", hours={}, max_open=0)
    assert unavailable(everything, utc(2026, 6, 15, 12), RepLoad()) == "paused"
