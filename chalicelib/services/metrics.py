"""The metrics of a window of days: read each day's lead facts (a few items a day, never a Scan
of the leads) and compute them (chalicelib/domain/metrics.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from chalicelib.domain.facts import LeadFact
from chalicelib.domain.metrics import GROUP_BY, Metrics, MetricsQueryError, compute, window_days
from chalicelib.ports import Clock, LeadStore, TeamStore


@dataclass(frozen=True)
class Window:
    """A window's metrics and what was read for them."""

    start: date
    end: date
    timezone: str
    now: datetime
    metrics: Metrics
    leads_read: int


def today(team: TeamStore, clock: Clock) -> date:
    """The team's local date now."""
    return clock.now().astimezone(ZoneInfo(team.load().timezone)).date()


def window(
    start: date | None,
    end: date | None,
    *,
    group_by: str | None,
    store: LeadStore,
    team: TeamStore,
    clock: Clock,
) -> Window:
    """Metrics for the leads that arrived from `start` to `end` (local dates, both included;
    each defaults to today, in the team's time zone)."""
    end = end or today(team, clock)
    start = start or end
    if group_by is not None and group_by not in GROUP_BY:
        # Refused before reading a year of days to find out.
        raise MetricsQueryError(f"group_by must be one of {', '.join(GROUP_BY)}", field="group_by")
    days = window_days(start, end)  # refuses a window backwards or too long, before any read
    facts: list[LeadFact] = [fact for day in days for fact in store.facts(day)]
    now = clock.now()
    metrics = compute(facts, group_by=group_by, now=now)
    return Window(start, end, team.load().timezone, now, metrics, len(facts))
