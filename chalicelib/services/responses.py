"""Stopping the clock and pausing the ladder: the first response, and a rep's claim."""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.domain.errors import InvalidPayloadError, NotFoundError
from chalicelib.domain.model import Attribution, Lead, Touchpoint
from chalicelib.domain.sla import step
from chalicelib.logs import get_logger
from chalicelib.ports import ClaimChange, ClockStop, DuplicateTouchError, OwnerChangedError
from chalicelib.services import alert_text, sla_clock
from chalicelib.services.worker import Worker

log = get_logger(__name__)

EVENT_TYPES = ("contacted",)
# An explicit response may be back-dated (a rep logging a call they made), not by days.
MAX_BACKDATE = timedelta(days=7)


def record_event(
    lead_id: str, *, kind: str, by: str | None, at: datetime | None, worker: Worker
) -> Lead:
    """An event reported for a lead; "contacted" is a first response and stops the clock."""
    if kind not in EVENT_TYPES:
        raise InvalidPayloadError(f"must be one of: {', '.join(EVENT_TYPES)}", field="type")
    now = worker.clock.now()
    if at is not None and not now - MAX_BACKDATE <= at <= now + timedelta(seconds=5):
        raise InvalidPayloadError(
            "must be within the last 7 days and not in the future", field="at"
        )
    team = worker.team.load()
    if by is not None and team.rep(by) is None:
        raise InvalidPayloadError("no rep with this id", field="by")
    lead = _lead(lead_id, worker)
    if lead.speed_wall_s is not None and lead.first_response_by == by:
        return lead  # this rep's response is the one recorded: a double tap or a retry
    when = at or now
    # One "contacted" per rep and lead: a double tap or a retried request lands once.
    touch = _touch(lead_id, f"contacted:{lead_id}:{by or '-'}", when, "contacted", by)
    stop(lead, at=when, by=by, worker=worker, touchpoint=touch)
    return _lead(lead_id, worker)


def stop(
    lead: Lead,
    *,
    at: datetime,
    by: str | None,
    worker: Worker,
    touchpoint: Touchpoint | None = None,
    attempt_at: datetime | None = None,
    connect_at: datetime | None = None,
) -> bool:
    """Stop `lead`'s clock at its first response (`at`, or an earlier one already recorded):
    speed-to-lead is recorded once, pending steps are cancelled, the owner's open count goes
    down, and Slack alerts are marked. True when this call stopped it. `attempt_at` and
    `connect_at` say the response was a try to reach the lead or a live conversation; they are
    recorded even when the clock had stopped already."""
    response_at = min(at, lead.first_response_at) if lead.first_response_at else at
    team = worker.team.load()
    speed = sla_clock.speed(team, lead, response_at)
    stopped = worker.store.stop_clock(
        ClockStop(
            lead.lead_id,
            response_at,
            by or lead.first_response_by,
            speed,
            touchpoint,
            release=lead.owner,  # the owner's open count goes down in the same write
            attempt_at=attempt_at,
            connect_at=connect_at,
            fact_day=lead.fact_day,
        )
    )
    if stopped:
        rep = team.rep(by) if by else None
        who = rep.name if rep else (by or "someone")
        _mark_slack(lead, f"Contacted by {who}", worker)
        log.info(
            "clock stopped",
            extra={
                "fields": {
                    "lead_id": lead.lead_id,
                    "speed_wall_s": speed.wall_s if speed else None,
                    "met": speed.met if speed else None,
                }
            },
        )
    return stopped


def stop_after_landing(lead_id: str, *, answered_at: datetime, worker: Worker) -> None:
    """A forwarded call the lead made was answered at `answered_at`: the landed event set the
    first response (unless an earlier one had); record its speed, and the call as the first
    connect."""
    lead = worker.store.get_lead(lead_id)
    if lead is None or lead.first_connect_at is not None:
        return
    first = min(answered_at, lead.first_response_at) if lead.first_response_at else answered_at
    stop(lead, at=first, by=lead.first_response_by, worker=worker, connect_at=answered_at)


def claim(lead_id: str, *, by: str, worker: Worker) -> Lead:
    """A rep says "mine": escalation pauses for the policy's grace period (the clock runs on).
    A repeated claim by the same rep inside the grace period changes nothing."""
    team = worker.team.load()
    rep = team.rep(by)
    if rep is None:
        raise InvalidPayloadError("no rep with this id", field="by")
    lead = _lead(lead_id, worker)
    now = worker.clock.now()
    if lead.first_response_at is not None:
        return lead  # answered already: nothing left to pause
    if lead.claimed_by == by and lead.paused_until and lead.paused_until > now:
        return lead
    policy = team.sla_policy(lead.sla_policy)
    until = now + timedelta(seconds=policy.claim_grace_s if policy else 600)
    step_at = None
    if lead.next_step is not None and lead.next_step_at is not None:
        step_at = max(lead.next_step_at, until)
    # Keyed on the claim it replaces: two taps that saw the same lead land once.
    prior = lead.claimed_at.isoformat() if lead.claimed_at else "-"
    change = ClaimChange(
        lead_id=lead_id,
        by=by,
        at=now,
        until=until,
        expected_step=lead.next_step,
        step_at=step_at,
        touchpoint=_touch(lead_id, f"claim:{lead_id}:{prior}", now, "claimed", by),
        fact_day=lead.fact_day,
    )
    try:
        claimed = worker.store.claim(change)
    except (DuplicateTouchError, OwnerChangedError):
        return _lead(lead_id, worker)  # someone else's claim or step landed first
    if lead.next_step is not None and step_at is not None:
        try:
            worker.timers.schedule(lead_id, lead.next_step, step_at)
        except Exception:
            log.exception("timer not scheduled", extra={"fields": {"lead_id": lead_id}})
    _mark_slack(claimed, f"Claimed by {rep.name}", worker)
    return claimed


def _mark_slack(lead: Lead, note: str, worker: Worker) -> None:
    """Best effort: Slack alerts about the lead say what happened, and lose their buttons."""
    try:
        sent = [
            a
            for a in worker.alerts.for_lead(lead.lead_id)
            if a.channel == "slack" and a.status == "sent" and a.provider_id
        ]
        if not sent:
            return
        team = worker.team.load()
        policy = team.sla_policy(lead.sla_policy)
        slack = worker.senders(team).get("slack")
        update = getattr(slack, "update", None)
        if policy is None or update is None:
            return
        owner = team.rep(lead.owner) if lead.owner else None
        for alert in sent:
            rung = step(policy, alert.step)
            if rung is None:
                continue
            body = alert_text.content(
                lead, rung, policy, worker.clock.now(), owner_name=owner.name if owner else None
            )
            update(alert.provider_id, alert_text.marked(body, note))
    except Exception:
        log.exception("slack alerts not updated", extra={"fields": {"lead_id": lead.lead_id}})


def _lead(lead_id: str, worker: Worker) -> Lead:
    lead = worker.store.get_lead(lead_id)
    if lead is None:
        raise NotFoundError("no such lead", field="lead_id")
    return lead


def _touch(lead_id: str, key: str, at: datetime, kind: str, by: str | None) -> Touchpoint:
    return Touchpoint(
        event_key=key,
        lead_id=lead_id,
        at=at,
        channel="rep",
        kind=kind,
        attribution=Attribution(source="leadclock", channel="rep"),
        detail={"by": by} if by else {},
    )
