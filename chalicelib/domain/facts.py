"""What the metrics count, per lead: a small fact kept beside the lead, one item per lead keyed
by the day the lead came in (on the team's wall clock) and its lead id, so a window's metrics are
one Query per day instead of a read of every lead.

A fact is updated in the same write as the change it records (the lead landing, its first
response, a stage change, a reassignment), field by field, so two changes at once never undo
each other and a repeated delivery writes the same values again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

# The sales funnel, in order; "lost" ends it from any open stage.
STAGES = ("lead", "mql", "sql", "opportunity", "won")
LOST = "lost"


@dataclass(frozen=True)
class LeadFact:
    """One lead, as the metrics see it."""

    lead_id: str
    created_at: datetime  # UTC; the bucket is its day in the team's time zone
    source: str  # first-touch source: the one that created the lead
    campaign: str | None = None
    queue: str | None = None
    owner: str | None = None  # the owner now (after any reassignment)
    due_at: datetime | None = None  # when the SLA is due; None: no clock
    responded_at: datetime | None = None  # first response
    responded_by: str | None = None
    speed_wall_s: float | None = None
    speed_business_s: float | None = None
    sla_met: bool | None = None
    claimed_by: str | None = None  # the first rep who claimed it
    stage: str = "lead"  # the furthest stage of STAGES reached (kept when the lead is lost)
    lost: bool = False
    won_amount: Decimal | None = None
    currency: str | None = None  # ISO 4217, with won_amount
    last_source: str | None = None  # last-touch source when the lead was won

    def breached(self, now: datetime) -> bool:
        """Answered late, or still unanswered after its due time."""
        if self.sla_met is not None:
            return not self.sla_met
        if self.due_at is None:
            return False
        # Answered without a recorded verdict (not written by the clock, but possible in data
        # from elsewhere): judged by the times.
        if self.responded_at is not None:
            return self.responded_at > self.due_at
        return self.due_at <= now


def bucket_day(created_at: datetime, timezone: str) -> date:
    """The day a lead counts on: its arrival on the team's wall clock."""
    return created_at.astimezone(ZoneInfo(timezone)).date()
