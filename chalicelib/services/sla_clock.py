"""The SLA clock: which policy a lead runs on, when it is due, and its speed when answered."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain.calendar import add_business, business_seconds, next_open
from chalicelib.domain.model import Lead
from chalicelib.domain.sla import UNASSIGNED, ClockStart, SlaPolicy, Speed, next_step
from chalicelib.domain.team import TeamConfig


def policy_for(team: TeamConfig, *, queue: str | None, source: str | None) -> SlaPolicy | None:
    """The policy a lead runs on: its source's, else its queue's, else the team default."""
    configured = team.source(source) if source else None
    q = team.queue(queue)
    for name in (
        configured.sla_policy if configured else None,
        q.sla_policy if q else None,
        team.default_sla_policy,
    ):
        if name:
            return team.sla_policy(name)
    return None


def start(
    team: TeamConfig, *, queue: str | None, source: str | None, at: datetime, assigned: bool
) -> ClockStart | None:
    """The clock of a lead captured at `at`: counting starts then, or at the calendar's next
    opening; the first step is the ladder's first, or, for a lead nobody could take, an alert to
    the manager right away."""
    policy = policy_for(team, queue=queue, source=source)
    if policy is None:
        return None
    calendar = team.calendar(policy.calendar)
    started = next_open(calendar, at)
    due = add_business(calendar, started, policy.target_s)
    if not assigned:
        first: tuple[int, datetime] | None = (UNASSIGNED, at)
    else:
        first = next_step(policy, UNASSIGNED, due, started)
    return ClockStart(
        policy=policy.name,
        started_at=started,
        due_at=due,
        next_step=first[0] if first else None,
        next_step_at=first[1] if first else None,
    )


def speed(team: TeamConfig, lead: Lead, response_at: datetime) -> Speed | None:
    """Speed-to-lead for a response at `response_at`: wall time since capture, business time
    in the policy's calendar, and whether it came by the due time. None without a clock."""
    if lead.sla_due_at is None:
        return None
    policy = team.sla_policy(lead.sla_policy)
    calendar = team.calendar(policy.calendar) if policy else None
    wall = max((response_at - lead.created_at).total_seconds(), 0.0)
    business = business_seconds(calendar, lead.created_at, response_at)
    met = response_at <= lead.sla_due_at
    return Speed(wall_s=round(wall, 3), business_s=round(business, 3), met=met)
