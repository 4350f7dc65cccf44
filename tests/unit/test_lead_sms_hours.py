"""When a lead may be texted: 08:00 up to 21:00 on the wall clock of their phone's zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib.services.lead_sms import lead_zone, next_allowed, within_hours

LA = ZoneInfo("America/Los_Angeles")
NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
SYDNEY = ZoneInfo("Australia/Sydney")


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("phone", "team_zone", "expected"),
    [
        ("+14155550165", "America/New_York", "America/Los_Angeles"),  # San Francisco
        ("+12125550100", "America/Los_Angeles", "America/New_York"),  # New York
        ("+442079460000", "America/New_York", "Europe/London"),
        # A toll-free number spans every North American zone: the team's, being one of them.
        ("+18005550100", "America/Chicago", "America/Chicago"),
        # Several zones, the team's not among them: the first phonenumbers lists.
        ("+61412345678", "America/New_York", "Australia/Adelaide"),
        ("not a number", "Europe/Berlin", "Europe/Berlin"),
        ("+88212345678", "Europe/Berlin", "Europe/Berlin"),  # international networks: unknown
    ],
)
def test_the_lead_zone_comes_from_the_phone_numbers_region(
    phone: str, team_zone: str, expected: str
) -> None:
    assert lead_zone(phone, team_zone).key == expected


@pytest.mark.parametrize(
    ("at", "zone", "allowed"),
    [
        (utc(2026, 11, 2, 16, 0), LA, True),  # 08:00 PST: the first allowed minute
        (utc(2026, 11, 2, 15, 59), LA, False),  # 07:59 PST
        (utc(2026, 11, 3, 4, 59), LA, True),  # 20:59 PST
        (utc(2026, 11, 3, 5, 0), LA, False),  # 21:00 PST: closed
        (utc(2026, 11, 2, 14, 0), NY, True),  # 09:00 EST
        (utc(2026, 11, 2, 14, 0), LA, False),  # the same instant is 06:00 in California
        (utc(2026, 11, 2, 21, 30), LONDON, False),  # 21:30 GMT
        (utc(2026, 11, 2, 21, 30), SYDNEY, True),  # 08:30 AEDT the next morning
    ],
)
def test_hours_are_read_on_the_leads_wall_clock(
    at: datetime, zone: ZoneInfo, allowed: bool
) -> None:
    assert within_hours(at, zone) is allowed


def test_the_same_utc_time_opens_an_hour_earlier_once_daylight_saving_starts() -> None:
    # 15:30 UTC: 07:30 PST on Saturday 7 March 2026, 08:30 PDT on Sunday 8 March.
    assert not within_hours(utc(2026, 3, 7, 15, 30), LA)
    assert within_hours(utc(2026, 3, 8, 15, 30), LA)


def test_the_evening_closes_on_local_time_after_daylight_saving_ends() -> None:
    # 04:30 UTC: 21:30 PDT on 31 October 2026 (closed), 20:30 PST on 2 November (open).
    assert not within_hours(utc(2026, 11, 1, 4, 30), LA)
    assert within_hours(utc(2026, 11, 3, 4, 30), LA)


def test_a_late_evening_opens_at_eight_the_next_morning_across_a_dst_change() -> None:
    # Saturday 22:00 PST; clocks spring forward overnight, so 08:00 PDT is 15:00 UTC.
    opens = next_allowed(utc(2026, 3, 8, 6, 0), LA)
    assert opens.astimezone(UTC) == utc(2026, 3, 8, 15, 0)


def test_an_early_morning_opens_at_eight_the_same_day() -> None:
    opens = next_allowed(utc(2026, 11, 2, 14, 0), LA)  # 06:00 PST
    assert opens.astimezone(UTC) == utc(2026, 11, 2, 16, 0)


def test_inside_the_hours_the_next_allowed_time_is_now() -> None:
    at = utc(2026, 11, 2, 18, 0)
    assert next_allowed(at, LA) == at
