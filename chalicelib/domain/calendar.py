"""Business calendars: when a team is open, in its own time zone, holidays and closed days
included. The SLA clock counts response time in a calendar's open minutes."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = datetime.weekday()

# Minutes since local midnight, [start, end): (540, 1020) is 09:00-17:00; end may be 1440.
Span = tuple[int, int]


@dataclass(frozen=True)
class Calendar:
    """When a team is open. `closed` holds whole local dates off: the public holidays of
    `holidays` (resolved when the configuration is loaded, so the capture path never imports
    the holidays library) and any custom closed dates."""

    name: str
    timezone: str = "UTC"
    # Weekday ("mon".."sun") -> spans on the calendar's wall clock; a day left out is closed.
    # None: open around the clock on every day that is not closed.
    hours: Mapping[str, tuple[Span, ...]] | None = None
    closed: frozenset[date] = frozenset()
    holidays: str | None = None  # "US", "US-CA", "GB-SCT": where `closed`'s holidays come from
    holiday_years: tuple[int, int] | None = None  # first and last year resolved into `closed`


# Business time is computed span by span on real instants. Real time is cut into pieces in which
# the zone's UTC offset is constant; inside a piece the wall clock is real time plus that offset,
# so a local day's spans map to real intervals by subtracting it. A span across the
# spring-forward gap therefore holds one hour less of real time and a span across the repeated
# fall-back hour one hour more, exactly as the wall-clock comparison of `is_open` says.
_FULL_DAY: tuple[Span, ...] = ((0, 1440),)
_PROBE = timedelta(hours=3)  # offsets are probed this far apart; no zone changes twice within it
_PROBES = 8  # pieces end at most a day on, so a closed stretch costs a few probes a day
_MICROSECOND = timedelta(microseconds=1)
_HORIZON = timedelta(days=3 * 366)  # a calendar shut this long is treated as never opening


def is_open(cal: Calendar | None, at: datetime) -> bool:
    """Whether the calendar is open at the aware instant `at`; no calendar means always open."""
    _require_aware(at)
    if cal is None:
        return True
    local = at.astimezone(ZoneInfo(cal.timezone))
    minute = local.hour * 60 + local.minute
    if local.date() in cal.closed:
        return False
    if cal.hours is None:
        return True
    spans = cal.hours.get(WEEKDAYS[local.weekday()], ())
    return any(start <= minute < end for start, end in spans)


def next_open(cal: Calendar | None, at: datetime) -> datetime:
    """`at` (in UTC) when the calendar is open then, else the first open instant after it."""
    _require_aware(at)
    if cal is None:
        return at.astimezone(UTC)
    first, _ = next(_open_intervals(cal, _naive_utc(at), None))
    return first.replace(tzinfo=UTC)


def add_business(cal: Calendar | None, start: datetime, seconds: float) -> datetime:
    """The instant (UTC) by which `seconds` of open time have passed since `start`."""
    _require_aware(start)
    if not 0 <= seconds < math.inf:
        raise ValueError(f"business seconds must be finite and not negative, not {seconds}")
    if cal is None:
        return start.astimezone(UTC) + timedelta(seconds=seconds)
    remaining = timedelta(seconds=seconds)
    for first, end in _open_intervals(cal, _naive_utc(start), None):
        if end - first >= remaining:
            return (first + remaining).replace(tzinfo=UTC)
        remaining -= end - first
    raise AssertionError("open intervals never run out")  # the generator raises instead


def business_seconds(cal: Calendar | None, start: datetime, end: datetime) -> float:
    """Open seconds in [start, end); 0 when `end` is not after `start`."""
    _require_aware(start)
    _require_aware(end)
    if end <= start:
        return 0.0
    if cal is None:
        return (end - start).total_seconds()
    total = timedelta()
    for first, last in _open_intervals(cal, _naive_utc(start), _naive_utc(end)):
        total += last - first
    return total.total_seconds()


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("an aware datetime is needed for business time")


def _naive_utc(at: datetime) -> datetime:
    # Naive UTC inside: arithmetic on it is exact and skips tzinfo calls.
    return at.astimezone(UTC).replace(tzinfo=None)


def _week(cal: Calendar) -> tuple[tuple[Span, ...], ...]:
    """Each weekday's spans, sorted and merged, Monday first."""
    if cal.hours is None:
        return (_FULL_DAY,) * 7
    return tuple(_merged(cal.hours.get(day, ())) for day in WEEKDAYS)


def _merged(spans: tuple[Span, ...]) -> tuple[Span, ...]:
    merged: list[Span] = []
    for start, end in sorted((max(0, s), min(1440, e)) for s, e in spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def _day_spans(cal: Calendar, week: tuple[tuple[Span, ...], ...], day: date) -> tuple[Span, ...]:
    return () if day in cal.closed else week[day.weekday()]


def _offset(zone: ZoneInfo, at: datetime) -> timedelta:
    """The zone's UTC offset at the naive UTC instant `at`."""
    return zone.fromutc(at.replace(tzinfo=zone)).utcoffset() or timedelta()


def _piece_end(zone: ZoneInfo, at: datetime, offset: timedelta) -> datetime:
    """The first instant after `at` with another offset, or a day on when there is none."""
    low = at
    for _ in range(_PROBES):
        high = low + _PROBE
        if _offset(zone, high) != offset:
            # Bisect to the microsecond: `low` has the offset, `high` does not.
            while high - low > _MICROSECOND:
                middle = low + (high - low) / 2
                if _offset(zone, middle) == offset:
                    low = middle
                else:
                    high = middle
            return high
        low = high
    return low


def _open_intervals(
    cal: Calendar, start: datetime, until: datetime | None
) -> Iterator[tuple[datetime, datetime]]:
    """The calendar's open time from `start` on as sorted, disjoint, non-empty naive UTC
    intervals, cut at `until`; without `until`, endless unless shut for _HORIZON."""
    zone = ZoneInfo(cal.timezone)
    week = _week(cal)
    at = start
    last_open = start
    while until is None or at < until:
        offset = _offset(zone, at)
        end = _piece_end(zone, at, offset)
        if until is not None:
            end = min(end, until)
        day = (at + offset).date()
        while day <= (end + offset).date():
            midnight = datetime.combine(day, time()) - offset  # the real instant of wall 00:00
            for first_minute, end_minute in _day_spans(cal, week, day):
                first = max(at, midnight + timedelta(minutes=first_minute))
                last = min(end, midnight + timedelta(minutes=end_minute))
                if first < last:
                    last_open = last
                    yield first, last
            day += timedelta(days=1)
        at = end
        if until is None and at - last_open > _HORIZON:
            raise ValueError(f"calendar {cal.name!r} does not open within three years")
