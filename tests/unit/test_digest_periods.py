"""When digests go out and what they cover: local days, DST changes, odd offsets, catch-up."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.digest_periods import (
    CATCH_UP,
    Period,
    due_at,
    due_periods,
    parse_period,
    wall_clock,
)
from chalicelib.domain.errors import InvalidPayloadError
from chalicelib.domain.team import DigestConfig

NY = "America/New_York"
LORD_HOWE = "Australia/Lord_Howe"  # +10:30, and +11 in summer: a half-hour DST change
KATHMANDU = "Asia/Kathmandu"  # +05:45 all year


def daily(at: str = "08:00") -> DigestConfig:
    hours, minutes = at.split(":")
    return DigestConfig(name="team", to=("carmen",), daily_at=int(hours) * 60 + int(minutes))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_daily_digest_covers_yesterday_and_goes_out_today_at_its_local_time() -> None:
    digest = daily("08:00")
    # 13:00 UTC is 08:00 in New York in November (EST, -5).
    assert due_periods(digest, NY, utc(2026, 11, 22, 12, 59))[-1] == Period(
        "daily", date(2026, 11, 20)
    )
    assert due_periods(digest, NY, utc(2026, 11, 22, 13, 0))[-1] == Period(
        "daily", date(2026, 11, 21)
    )


def test_period_keys_name_the_kind_and_first_day() -> None:
    assert Period("daily", date(2026, 11, 21)).key == "daily:2026-11-21"
    week = Period("weekly", date(2026, 11, 16))
    assert week.key == "weekly:2026-11-16"
    assert week.end == date(2026, 11, 22)
    assert week.previous() == Period("weekly", date(2026, 11, 9))
    assert len(week.days()) == 7


def test_a_period_runs_between_local_midnights_even_across_a_dst_change() -> None:
    # 1 Nov 2026 is 25 hours long in New York.
    start, end = Period("daily", date(2026, 11, 1)).bounds(NY)
    assert (start, end) == (utc(2026, 11, 1, 4), utc(2026, 11, 2, 5))


def test_a_time_skipped_in_spring_still_sends_that_day_an_hour_later_on_the_wall() -> None:
    # 8 Mar 2026: New York's clocks jump from 02:00 to 03:00, so 02:30 never shows.
    at = wall_clock(date(2026, 3, 8), 2 * 60 + 30, NY)
    assert at == utc(2026, 3, 8, 7, 30)
    assert at.astimezone(ZoneInfo(NY)).strftime("%d %H:%M %Z") == "08 03:30 EDT"
    digest = daily("02:30")
    assert due_at(digest, Period("daily", date(2026, 3, 7)), NY) == at
    just_before = at - timedelta(seconds=1)
    assert Period("daily", date(2026, 3, 7)) not in due_periods(digest, NY, just_before)
    assert due_periods(digest, NY, at)[-1] == Period("daily", date(2026, 3, 7))


def test_a_time_shown_twice_in_autumn_sends_at_the_first() -> None:
    # 1 Nov 2026: 01:30 comes at 05:30 UTC (EDT) and again at 06:30 UTC (EST).
    assert wall_clock(date(2026, 11, 1), 90, NY) == utc(2026, 11, 1, 5, 30)
    digest = daily("01:30")
    period = Period("daily", date(2026, 10, 31))
    assert due_periods(digest, NY, utc(2026, 11, 1, 5, 30))[-1] == period
    # Still the one period at the second 01:30: the log, not the clock, keeps it to one send.
    assert due_periods(digest, NY, utc(2026, 11, 1, 6, 30)).count(period) == 1


def test_lord_howes_half_hour_spring_change_moves_a_skipped_time_by_half_an_hour() -> None:
    # 4 Oct 2026: Lord Howe goes from 02:00 (+10:30) straight to 02:30 (+11).
    at = wall_clock(date(2026, 10, 4), 2 * 60 + 15, LORD_HOWE)
    assert at == utc(2026, 10, 3, 15, 45)
    assert at.astimezone(ZoneInfo(LORD_HOWE)).strftime("%H:%M") == "02:45"
    # And back on 5 Apr 2026: 01:45 shows twice; the first is at +11.
    assert wall_clock(date(2026, 4, 5), 60 + 45, LORD_HOWE) == utc(2026, 4, 4, 14, 45)


def test_kathmandus_quarter_hour_offset_is_kept_to_the_minute() -> None:
    digest = daily("08:00")
    # 08:00 at +05:45 is 02:15 UTC; the schedule runs on the quarter hour, so it is on time.
    assert due_periods(digest, KATHMANDU, utc(2026, 11, 22, 2, 14))[-1] == Period(
        "daily", date(2026, 11, 20)
    )
    assert due_periods(digest, KATHMANDU, utc(2026, 11, 22, 2, 15))[-1] == Period(
        "daily", date(2026, 11, 21)
    )


def test_a_weekly_digest_covers_the_seven_days_before_its_day() -> None:
    digest = DigestConfig(name="team", to=("carmen",), weekly_on="mon", weekly_at=8 * 60 + 30)
    week = Period("weekly", date(2026, 11, 16))  # Monday 16 to Sunday 22 November
    assert due_at(digest, week, NY) == utc(2026, 11, 23, 13, 30)
    assert due_at(digest, Period("weekly", date(2026, 11, 17)), NY) is None  # not a Monday's
    assert due_at(digest, Period("daily", date(2026, 11, 22)), NY) is None  # no daily time
    assert due_periods(digest, NY, utc(2026, 11, 23, 13, 29)) == []
    assert due_periods(digest, NY, utc(2026, 11, 23, 13, 30)) == [week]


def test_a_weekly_digest_without_a_time_of_its_own_takes_the_daily_time() -> None:
    digest = DigestConfig(name="team", to=("carmen",), daily_at=7 * 60, weekly_on="fri")
    week = Period("weekly", date(2026, 11, 20))  # Friday 20 to Thursday 26
    assert due_at(digest, week, NY) == utc(2026, 11, 27, 12, 0)


def test_missed_runs_catch_up_on_the_last_three_days_oldest_first() -> None:
    digest = daily("08:00")
    now = utc(2026, 11, 25, 13, 0)  # Wednesday 08:00 in New York
    assert due_periods(digest, NY, now) == [
        Period("daily", date(2026, 11, 22)),
        Period("daily", date(2026, 11, 23)),
        Period("daily", date(2026, 11, 24)),
    ]
    assert timedelta(days=3) == CATCH_UP


def test_daily_and_weekly_periods_due_together_come_oldest_first() -> None:
    digest = DigestConfig(name="team", to=("carmen",), daily_at=8 * 60, weekly_on="mon")
    got = due_periods(digest, NY, utc(2026, 11, 23, 13, 0))
    assert got[-2:] == [Period("daily", date(2026, 11, 22)), Period("weekly", date(2026, 11, 16))]


def test_a_new_digest_sends_its_latest_period_not_a_backlog() -> None:
    digest = DigestConfig(name="team", to=("carmen",), daily_at=8 * 60, weekly_on="mon")
    now = utc(2026, 11, 25, 15, 0)
    assert due_periods(digest, NY, now, since=now) == [
        Period("weekly", date(2026, 11, 16)),
        Period("daily", date(2026, 11, 24)),
    ]
    # Seen two days ago: the days due since then are caught up, not the one before.
    earlier = due_periods(digest, NY, now, since=utc(2026, 11, 23, 14, 0))
    assert [p.key for p in earlier] == [
        "weekly:2026-11-16",
        "daily:2026-11-23",
        "daily:2026-11-24",
    ]


@pytest.mark.parametrize(
    "zone",
    [NY, LORD_HOWE, KATHMANDU, "Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/London", "UTC"],
)
@pytest.mark.parametrize("at", ["00:00", "02:30", "08:00", "23:45"])
def test_runs_every_quarter_hour_send_each_day_once_at_its_time_across_dst(
    zone: str, at: str
) -> None:
    """Over spans holding every DST change of 2026 in these zones, a run every 15 minutes that
    sends what is due and remembers it sends every day's digest exactly once, at the first run
    at or after its due time."""
    digest = daily(at)
    # March to early April: the northern spring changes and Lord Howe's autumn one (5 Apr);
    # late September to mid November: Lord Howe's spring (4 Oct), London's and New York's fall.
    spans = [(date(2026, 3, 1), 40), (date(2026, 9, 25), 45)]
    for first_day, days in spans:
        start = wall_clock(first_day, 0, zone)
        sent: dict[Period, datetime] = {}
        run = start
        while run < start + timedelta(days=days):
            for period in due_periods(digest, zone, run, since=start):
                sent.setdefault(period, run)
            run += timedelta(minutes=15)
        for offset in range(2, days - 2):
            period = Period("daily", first_day + timedelta(days=offset))
            due = due_at(digest, period, zone)
            assert due is not None
            assert period in sent, f"{period.key} never sent"
            assert timedelta(0) <= sent[period] - due < timedelta(minutes=15), period.key


def test_a_preview_takes_the_latest_period_or_the_one_named() -> None:
    digest = DigestConfig(name="team", to=("carmen",), daily_at=8 * 60, weekly_on="mon")
    now = utc(2026, 11, 25, 3, 0)  # still Tuesday 24th in New York
    assert parse_period("daily", digest, NY, now) == Period("daily", date(2026, 11, 23))
    assert parse_period("weekly", digest, NY, now) == Period("weekly", date(2026, 11, 16))
    assert parse_period("daily:2026-11-24", digest, NY, now) == Period("daily", date(2026, 11, 24))
    assert parse_period(" weekly:2026-11-02 ", digest, NY, now) == Period(
        "weekly", date(2026, 11, 2)
    )


def test_a_preview_of_a_week_without_a_weekly_day_is_the_seven_days_to_yesterday() -> None:
    digest = daily("08:00")
    now = utc(2026, 11, 25, 15, 0)
    assert parse_period("weekly", digest, NY, now) == Period("weekly", date(2026, 11, 18))


@pytest.mark.parametrize(
    "text", ["", "monthly", "daily:", "daily:yesterday", "weekly:2026-13-01", "daily:2026-11-26"]
)
def test_a_period_that_cannot_be_read_or_has_not_started_is_refused(text: str) -> None:
    now = utc(2026, 11, 25, 15, 0)
    with pytest.raises(InvalidPayloadError) as caught:
        parse_period(text, daily(), NY, now)
    assert caught.value.field == "period"
