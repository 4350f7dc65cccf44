"""What a digest covers and when it goes out, on the team's wall clock.

- daily: one local day, sent the next day at the digest's `daily_at`.
- weekly: the 7 local days ending the day before `weekly_on`, sent that day at `weekly_at`; with
  `weekly_on: mon` that is the previous Monday to Sunday.

A period is named by its kind and first day: `daily:2026-11-21`, `weekly:2026-11-16`. Days are
the team's local days, the same days the lead facts are kept under (`facts.bucket_day`).

A run sends every period whose send time has come within the last CATCH_UP, oldest first, so
a run that was missed (or failed) catches up instead of skipping a day. A digest added to the
file does not send a backlog: periods due before it was first seen are skipped, except the
latest of each kind, so the first digest arrives at the next run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from chalicelib.domain.calendar import WEEKDAYS
from chalicelib.domain.errors import InvalidPayloadError
from chalicelib.domain.team import DigestConfig

KINDS = ("daily", "weekly")
LENGTH = {"daily": 1, "weekly": 7}
CATCH_UP = timedelta(days=3)
DEFAULT_AT = 8 * 60  # a weekly digest with no time of its own and no daily time: 08:00
PERIOD_RULE = "must be daily, weekly, daily:YYYY-MM-DD or weekly:YYYY-MM-DD"


@dataclass(frozen=True, order=True)
class Period:
    """A run of the team's local days that one digest covers."""

    kind: str  # one of KINDS
    start: date  # the first local day

    @property
    def end(self) -> date:
        """The last local day, included."""
        return self.start + timedelta(days=LENGTH[self.kind] - 1)

    @property
    def key(self) -> str:
        """The period's name in records and URLs: "daily:2026-11-21"."""
        return f"{self.kind}:{self.start.isoformat()}"

    def days(self) -> list[date]:
        """Each local day of the period, in order."""
        return [self.start + timedelta(days=i) for i in range(LENGTH[self.kind])]

    def previous(self) -> Period:
        """The period of the same length just before, for comparisons."""
        return Period(self.kind, self.start - timedelta(days=LENGTH[self.kind]))

    def bounds(self, timezone: str) -> tuple[datetime, datetime]:
        """The instants (UTC) the period runs from and up to: local midnights."""
        after = self.end + timedelta(days=1)
        return wall_clock(self.start, 0, timezone), wall_clock(after, 0, timezone)


def wall_clock(day: date, minute: int, timezone: str) -> datetime:
    """The instant (UTC) the wall clock of `timezone` shows `minute` (after midnight) on `day`.

    A time a DST change skips (02:30 on a spring-forward night in New York) is read with the
    offset from before the change, so it lands as far past the jump as it was meant to be
    (03:30 EDT): a digest set for 02:30 still goes out that day. A time the clock shows twice
    (01:30 on a fall-back night) is the first of the two.
    """
    hours, minutes = divmod(minute, 60)
    # fold=0 gives both of the behaviours above (PEP 495); the arithmetic is zoneinfo's.
    local = datetime.combine(day, time(hours, minutes), tzinfo=ZoneInfo(timezone))
    return local.astimezone(UTC)


def weekly_at(digest: DigestConfig) -> int:
    """When the weekly digest goes out: its own time, else the daily time, else 08:00."""
    if digest.weekly_at is not None:
        return digest.weekly_at
    return digest.daily_at if digest.daily_at is not None else DEFAULT_AT


def due_at(digest: DigestConfig, period: Period, timezone: str) -> datetime | None:
    """When `digest` sends `period`: the day after it ends, at its time. None when the digest
    has no schedule of that kind, or the weekly day does not follow the period."""
    send_day = period.end + timedelta(days=1)
    if period.kind == "daily":
        at = digest.daily_at
    elif digest.weekly_on is None or WEEKDAYS[send_day.weekday()] != digest.weekly_on:
        return None
    else:
        at = weekly_at(digest)
    return None if at is None else wall_clock(send_day, at, timezone)


def due_periods(
    digest: DigestConfig,
    timezone: str,
    now: datetime,
    *,
    since: datetime | None = None,
    catch_up: timedelta = CATCH_UP,
) -> list[Period]:
    """The periods whose send time is in (now - catch_up, now], oldest first.

    `since` is when the digest was first seen: periods due before it are left out, except the
    latest of each kind (a new digest sends its first one at once, not a backlog)."""
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    found: list[tuple[datetime, Period]] = []
    for kind in KINDS:
        candidates: list[tuple[datetime, Period]] = []
        # Every send day that can fall inside the window, with a day to spare either side for
        # zones far from UTC.
        for back in range(catch_up.days + 2, -1, -1):
            send_day = today - timedelta(days=back)
            period = Period(kind, send_day - timedelta(days=LENGTH[kind]))
            at = due_at(digest, period, timezone)
            if at is not None and now - catch_up < at <= now:
                candidates.append((at, period))
        if since is not None and candidates:
            latest = candidates[-1]
            candidates = [c for c in candidates[:-1] if c[0] >= since] + [latest]
        found += candidates
    found.sort()
    return [period for _, period in found]


def latest_period(kind: str, digest: DigestConfig, timezone: str, now: datetime) -> Period:
    """The most recent period of `kind` that has ended, for a preview: yesterday; for weekly,
    the 7 days before the latest `weekly_on` day (today counts), or the 7 days up to
    yesterday when the digest has no weekly day."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    if kind == "daily":
        return Period("daily", today - timedelta(days=1))
    send_day = today
    if digest.weekly_on is not None:
        wanted = WEEKDAYS.index(digest.weekly_on)
        send_day = today - timedelta(days=(today.weekday() - wanted) % 7)
    return Period("weekly", send_day - timedelta(days=7))


def parse_period(text: str, digest: DigestConfig, timezone: str, now: datetime) -> Period:
    """A period from a preview request: "daily" or "weekly" (the latest), or a kind and a
    first day ("daily:2026-11-21"). InvalidPayloadError for anything else, or a period that
    has not started yet on the team's wall clock."""
    kind, colon, start = text.strip().partition(":")
    if kind not in KINDS:
        raise InvalidPayloadError(PERIOD_RULE, field="period")
    if not colon:
        return latest_period(kind, digest, timezone, now)
    try:
        first = date.fromisoformat(start)
    except ValueError:
        raise InvalidPayloadError(PERIOD_RULE, field="period") from None
    if first > now.astimezone(ZoneInfo(timezone)).date():
        raise InvalidPayloadError("the period has not started yet", field="period")
    return Period(kind, first)
