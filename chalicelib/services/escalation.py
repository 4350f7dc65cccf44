"""The alert worker: fire a lead's due ladder step once, alert its recipients, schedule the next.

Entry points: `on_timer` (an SQS message from `Timers.schedule`) and `sweep` (the 1-minute
safety net over the sparse index of due steps, which only matters when a message was lost).

Firing a step once, whatever is delivered twice:
1. `begin_step` is one conditional update: the step must still be pending, due, and the lead
   unanswered; it counts the attempt and moves the step's time a lease ahead, so a worker that
   dies mid-step leaves the step for the sweeper (or SQS's redelivery) when the lease runs out.
2. The alerts go out (chalicelib/services/delivery.py). A step on its second attempt sends
   nothing: its first attempt may have reached a provider, so its alerts are logged
   "unconfirmed" instead (at most once, as promised: never a second SMS).
3. `finish_step` logs the step's alerts and moves the lead to the next step in one write, and a
   timer is scheduled for it.

Writes per fired step: two on the lead (begin, finish with the alert log), whatever the number
of alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain.errors import LeadclockError
from chalicelib.domain.model import Lead
from chalicelib.domain.sla import TimerMessage, next_step, step, step_time
from chalicelib.logs import get_logger
from chalicelib.ports import AlertRecord
from chalicelib.services.assignment import reassign
from chalicelib.services.delivery import deliver_step, send_held, unconfirmed_step
from chalicelib.services.worker import Worker

log = get_logger(__name__)

# A step's alerts take seconds; a worker that has not finished one in a minute has died.
LEASE = timedelta(seconds=60)
# SQS delays are whole seconds: a message may arrive up to a second early, and the worker waits
# out the remainder rather than paying another round trip.
EARLY_TOLERANCE_S = 1.0


@dataclass(frozen=True)
class Fired:
    """What firing a step did."""

    status: str  # fired | stale | deferred | done
    alerts: tuple[AlertRecord, ...] = ()
    next_step: int | None = None
    next_at: datetime | None = None


def on_timer(body: str, worker: Worker) -> Fired | None:
    """Handle one timer message: re-send it if it is early, else fire its step. Raises only
    when the message should be retried (SQS redelivers it)."""
    try:
        message = TimerMessage.from_json(body)
    except ValueError:
        # Retrying cannot fix a malformed body; the sweeper covers any step it stood for.
        log.error("unreadable timer message dropped", extra={"fields": {"body": body[:200]}})
        return None
    remaining = (message.due - worker.clock.now()).total_seconds()
    if remaining > EARLY_TOLERANCE_S:
        worker.timers.schedule(message.lead_id, message.step, message.due)
        return None
    if remaining > 0:
        worker.sleep(remaining)
    return fire(message.lead_id, message.step, worker)


# The sweeper's Lambda times out at 60 s: a run starts no step after this, so none is cut off
# halfway (a step cut off would be taken up again and logged unconfirmed, not sent).
SWEEP_BUDGET = timedelta(seconds=40)


def sweep(worker: Worker, *, limit: int = 100, pages: int = 20) -> int:
    """Fire steps whose timer message was lost (or whose worker died), page by page until the
    index has no due step left (a backlog after an SQS outage drains in one run, not a page a
    minute) or the run's time budget is spent; then send SMS held for quiet hours that have
    ended (after the steps, so a lead reassigned by one of them no longer reminds its earlier
    owner). Returns how many steps fired."""
    started, fired = worker.clock.now(), 0
    for _ in range(pages):
        due = worker.store.due_steps(before=worker.clock.now(), limit=limit)
        progress = 0
        for d in due:
            if worker.clock.now() - started > SWEEP_BUDGET:
                return fired + progress  # the next run, a minute on, carries on
            progress += _catch_up(worker, d.lead_id, d.step)
        fired += progress
        if len(due) < limit or not progress:
            break
    send_held(worker, limit=limit)
    return fired


def _catch_up(worker: Worker, lead_id: str, index: int) -> int:
    """Fire the lead's due step and, after an outage, every later step already due, in order."""
    fired = 0
    try:
        result = fire(lead_id, index, worker)
        while result.status == "fired":
            fired += 1
            log.warning(
                "sweeper fired a step its timer missed",
                extra={"fields": {"lead_id": lead_id, "step": index}},
            )
            if result.next_step is None or result.next_at is None:
                break
            if result.next_at > worker.clock.now():
                break
            index = result.next_step
            result = fire(lead_id, index, worker)
    except Exception:
        log.exception("sweeper could not fire", extra={"fields": {"lead_id": lead_id}})
    return fired


def fire(lead_id: str, index: int, worker: Worker) -> Fired:
    """Fire step `index` of the lead's ladder if it is still pending and due; at most once."""
    now = worker.clock.now()
    lead = worker.store.begin_step(lead_id, index, now=now, lease_until=now + LEASE)
    if lead is None:
        return Fired("stale")  # fired already, answered, not due, or moved on
    team = worker.team.load()
    policy = team.sla_policy(lead.sla_policy)
    rung = step(policy, index) if policy else None
    if policy is None or rung is None or lead.sla_due_at is None:
        worker.store.finish_step(lead_id, index, next_step=None, next_at=None)
        return Fired("done")
    if lead.paused_until is not None and lead.paused_until > now:
        # Claimed: the step waits for the grace period, then fires unless answered by then.
        worker.store.defer_step(lead_id, index, until=lead.paused_until)
        _schedule(worker, lead_id, index, lead.paused_until)
        return Fired("deferred")
    started, sla_due = lead.clock_started_at or lead.created_at, lead.sla_due_at
    due_at = step_time(policy, index, sla_due, started)
    if rung.reassign and lead.step_attempts == 1:
        # Only on a step's first attempt: a resumed step must not move the lead again.
        lead = _reassign(lead, worker)
    if lead.step_attempts > 1:
        records: tuple[AlertRecord, ...] = tuple(
            unconfirmed_step(lead, rung, index, team, due_at, worker)
        )
    else:
        records = tuple(deliver_step(lead, rung, index, policy, team, due_at, worker))
    following = next_step(policy, index, sla_due, started)
    nxt, at = following if following else (None, None)
    finished = worker.store.finish_step(lead_id, index, next_step=nxt, next_at=at, alerts=records)
    if finished and nxt is not None:
        assert at is not None
        _schedule(worker, lead_id, nxt, at)
    return Fired("fired", records, nxt, at)


def _schedule(worker: Worker, lead_id: str, index: int, at: datetime) -> None:
    try:
        worker.timers.schedule(lead_id, index, at)
    except Exception:
        # The step is stored with its time; the sweeper fires it if this message never exists.
        log.exception("timer not scheduled", extra={"fields": {"lead_id": lead_id}})


def _reassign(lead: Lead, worker: Worker) -> Lead:
    try:
        return reassign(
            lead.lead_id,
            reason="SLA escalation",
            by="ladder",
            team=worker.team,
            routing=worker.routing,
            store=worker.store,
            clock=worker.clock,
        )
    except LeadclockError as exc:
        # Nobody else eligible, or moved too often: the ladder goes on alerting.
        log.warning(
            "escalation could not reassign",
            extra={"fields": {"lead_id": lead.lead_id, "why": exc.message}},
        )
        return lead
