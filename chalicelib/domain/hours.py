"""Whether a rep can take a lead right now: status, out of office, working hours and caps.

Working hours are read on the rep's own wall clock. An instant is converted to the rep's time
zone with zoneinfo and its local weekday and minute are compared with the spans, so daylight
saving time needs no special case:

- on the spring-forward day the skipped hour never shows on the wall clock, so a span inside it
  is never open and a span across it simply holds one hour less of real time;
- on the fall-back day the repeated hour shows twice, so a span covering it is open through both
  occurrences (one more hour of real time): the wall clock is compared, not elapsed time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from chalicelib.domain.team import WEEKDAYS, RepConfig

# The reasons `unavailable` gives, in the order they are checked.
REASONS = ("paused", "out_of_office", "outside_hours", "at_cap_open", "at_cap_daily")


@dataclass(frozen=True)
class RepLoad:
    """How busy a rep is: open uncontacted leads, and new leads today in the rep's time zone."""

    open: int = 0
    today: int = 0


def local_time(rep: RepConfig, at: datetime) -> datetime:
    """`at` on the rep's wall clock; `at` must be aware."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("an aware datetime is needed to read working hours")
    return at.astimezone(ZoneInfo(rep.timezone))


def local_day(rep: RepConfig, at: datetime) -> date:
    """The rep's calendar day at `at`: the day that `max_per_day` counts in."""
    return local_time(rep, at).date()


def in_hours(rep: RepConfig, at: datetime) -> bool:
    """Whether `at` falls in one of the rep's working spans; a rep with no hours is always on."""
    if rep.hours is None:
        return True
    local = local_time(rep, at)
    minute = local.hour * 60 + local.minute
    spans = rep.hours.get(WEEKDAYS[local.weekday()], ())
    return any(start <= minute < end for start, end in spans)


def away(rep: RepConfig, at: datetime) -> bool:
    """Whether the rep is out of office at `at`; from the `until` instant on they are back."""
    if rep.status != "out_of_office":
        return False
    return rep.out_of_office_until is None or rep.out_of_office_until > at


def unavailable(rep: RepConfig, at: datetime, load: RepLoad) -> str | None:
    """Why the rep cannot take a new lead at `at` (one of REASONS), or None when they can."""
    if rep.status == "paused":
        return "paused"
    if away(rep, at):
        return "out_of_office"
    if not in_hours(rep, at):
        return "outside_hours"
    if rep.max_open is not None and load.open >= rep.max_open:
        return "at_cap_open"
    if rep.max_per_day is not None and load.today >= rep.max_per_day:
        return "at_cap_daily"
    return None
