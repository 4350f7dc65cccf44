"""The alert worker: fire a lead's due ladder step once, alert its recipients, schedule the next.

Entry points: `on_timer` (an SQS message from `Timers.schedule`) and `sweep` (the 1-minute
safety net over the sparse index of due steps, which only matters when a message was lost).

Firing a step once, whatever is delivered twice:
1. `begin_step` is one conditional update: the step must still be pending, due, and the lead
   unanswered. It moves the step's time a lease ahead, so a worker that dies mid-step leaves
   the step for the sweeper (or SQS's redelivery) to resume when the lease runs out.
2. Each alert is logged as "sending" (a conditional put on lead + step + recipient + channel)
   before the provider is called. A resumed step skips every alert already logged: one logged
   as "sending" may have gone out before the worker died, so it is marked "unconfirmed", never
   sent again. Duplicates are impossible; an alert lost that way is visible, not silent.
3. `finish_step` moves the lead to the next step, and a timer is scheduled for it.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.domain.errors import LeadclockError
from chalicelib.domain.model import Lead
from chalicelib.domain.sla import (
    LadderStep,
    SlaPolicy,
    TimerMessage,
    next_step,
    step,
    step_time,
)
from chalicelib.domain.team import RepConfig, TeamConfig
from chalicelib.logs import get_logger
from chalicelib.ports import (
    AlertContent,
    AlertLog,
    AlertRecord,
    Clock,
    Delivery,
    DeliveryError,
    LeadStore,
    RoutingStore,
    Sender,
    Sent,
    TeamStore,
    Timers,
)
from chalicelib.services import alert_text
from chalicelib.services.assignment import reassign

log = get_logger(__name__)

# A step's alerts take seconds; a worker that has not finished one in a minute has died.
LEASE = timedelta(seconds=60)
# Attempts per alert on one channel before falling back to the recipient's next channel.
MAX_ATTEMPTS = 3
BACKOFF_S = 0.5  # first retry after this, doubling
MAX_RETRY_AFTER_S = 20.0  # a provider asking for longer gets the next channel instead
# SQS delays are whole seconds: a message may arrive up to a second early, and the worker waits
# out the remainder rather than paying another round trip.
EARLY_TOLERANCE_S = 1.0
CHANNEL_ORDER = ("sms", "slack", "email")
# Twilio reports an alert SMS's delivery here; the path names the alert.
ALERT_STATUS_PATH = "/webhooks/twilio/alert-status"


def alert_key(index: int, recipient: str, channel: str) -> str:
    """An alert's key within its lead: step, recipient, channel (URL-safe: it rides in the
    SMS status callback's path)."""
    return f"{index}:{recipient}:{channel}"


@dataclass(frozen=True)
class Worker:
    """Everything firing a step needs."""

    store: LeadStore
    team: TeamStore
    routing: RoutingStore
    timers: Timers
    alerts: AlertLog
    senders: Callable[[TeamConfig], Mapping[str, Sender]]  # channel -> sender, per configuration
    clock: Clock
    sleep: Callable[[float], None]  # backoff between delivery attempts
    public_url: str | None = None  # for links and status callbacks


@dataclass(frozen=True)
class Fired:
    """What firing a step did."""

    status: str  # fired | stale | deferred | done
    alerts: tuple[AlertRecord, ...] = ()
    next_step: int | None = None
    next_at: datetime | None = None


@dataclass(frozen=True)
class _Recipient:
    key: str  # a rep id, or "channel"
    rep: RepConfig | None
    slack_channel: str | None = None


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


def sweep(worker: Worker, *, limit: int = 100) -> int:
    """Fire steps whose timer message was lost (or whose worker died), and send SMS held for
    quiet hours that have ended (after the steps, so a lead reassigned by one of them no longer
    reminds its earlier owner); returns how many steps fired."""
    fired = 0
    for due in worker.store.due_steps(before=worker.clock.now(), limit=limit):
        try:
            index = due.step
            result = fire(due.lead_id, index, worker)
            # After an outage several steps may be overdue: catch the lead up now, in order.
            while result.status == "fired":
                fired += 1
                log.warning(
                    "sweeper fired a step its timer missed",
                    extra={"fields": {"lead_id": due.lead_id, "step": index}},
                )
                if result.next_step is None or result.next_at is None:
                    break
                if result.next_at > worker.clock.now():
                    break
                index = result.next_step
                result = fire(due.lead_id, index, worker)
        except Exception:
            log.exception("sweeper could not fire", extra={"fields": {"lead_id": due.lead_id}})
    send_held(worker, limit=limit)
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
    records = tuple(_alert_all(lead, rung, index, policy, team, due_at, worker))
    following = next_step(policy, index, sla_due, started)
    nxt, at = following if following else (None, None)
    if worker.store.finish_step(lead_id, index, next_step=nxt, next_at=at) and nxt is not None:
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


def _recipients(team: TeamConfig, lead: Lead, rung: LadderStep) -> list[_Recipient]:
    queue = team.queue(lead.queue)
    found: dict[str, _Recipient] = {}
    for name in rung.notify:
        if name == "channel":
            if queue and queue.slack_channel:
                found.setdefault("channel", _Recipient("channel", None, queue.slack_channel))
            continue
        if name == "owner":
            rep_id = lead.owner
        elif name == "backup":
            rep_id = queue.backup if queue else None
        elif name == "manager":
            rep_id = (queue.manager if queue else None) or team.manager
        else:
            rep_id = name.removeprefix("rep:")
        rep = team.rep(rep_id) if rep_id else None
        if rep is not None:
            found.setdefault(rep.id, _Recipient(rep.id, rep))
    return list(found.values())


def _address(recipient: _Recipient, channel: str) -> str | None:
    rep = recipient.rep
    if rep is None:
        return recipient.slack_channel if channel == "slack" else None
    return {"sms": rep.phone, "slack": rep.slack_user_id, "email": rep.email}.get(channel)


def _alert_all(
    lead: Lead,
    rung: LadderStep,
    index: int,
    policy: SlaPolicy,
    team: TeamConfig,
    due_at: datetime,
    worker: Worker,
) -> Iterator[AlertRecord]:
    owner = team.rep(lead.owner) if lead.owner else None
    body = alert_text.content(
        lead, rung, policy, worker.clock.now(), owner_name=owner.name if owner else None
    )
    senders = worker.senders(team)
    for recipient in _recipients(team, lead, rung):
        channels = [c for c in rung.channels if _address(recipient, c)]
        if not channels:
            # The step's channels are not ones this person has: reach them some other way.
            channels = [c for c in _channels_for(recipient) if _address(recipient, c)][:1]
        # Channels this step sends or has tried for the recipient: a fallback takes another.
        done = set(channels)
        for channel in channels:
            yield from _deliver(
                lead, index, rung, recipient, channel, body, due_at, worker, senders, done
            )


def _channels_for(recipient: _Recipient) -> tuple[str, ...]:
    """The channels a recipient can be reached on, in fallback order."""
    return ("slack",) if recipient.rep is None else CHANNEL_ORDER


def _deliver(
    lead: Lead,
    index: int,
    rung: LadderStep,
    recipient: _Recipient,
    channel: str,
    body: AlertContent,
    due_at: datetime,
    worker: Worker,
    senders: Mapping[str, Sender],
    done: set[str],
    fallback_of: str | None = None,
) -> Iterator[AlertRecord]:
    """Send one alert (logged first), falling back to the recipient's next channel on failure."""
    done.add(channel)
    now = worker.clock.now()
    rep = recipient.rep
    if channel == "sms" and rep is not None and _quiet(rep, now):
        held = yield from _quiet_sms(
            lead, index, rung, recipient, body, due_at, worker, senders, done
        )
        if held:
            return
    to = _address(recipient, channel)
    assert to is not None
    record = AlertRecord(
        lead_id=lead.lead_id,
        key=alert_key(index, recipient.key, channel),
        step=index,
        step_name=rung.name,
        recipient=recipient.key,
        channel=channel,
        to=to,
        status="sending",
        due_at=due_at,
        created_at=now,
        fallback_of=fallback_of,
    )
    if not worker.alerts.start(record):
        earlier = worker.alerts.get(lead.lead_id, record.key)
        if earlier is not None and earlier.status == "sending":
            # A worker died between logging this alert and recording its outcome: the provider
            # may have taken it. Not sent again; marked so it shows.
            unsure = replace(earlier, status="unconfirmed", error="worker stopped mid-send")
            worker.alerts.finish(unsure)
            yield unsure
        return
    callback = (
        f"{worker.public_url}{ALERT_STATUS_PATH}/{lead.lead_id}/{record.key}"
        if worker.public_url
        else None
    )
    delivery = Delivery(channel, to, body, status_callback=callback if channel == "sms" else None)
    sent, error, attempts, called_at = _send(senders.get(channel), delivery, worker)
    finished = replace(
        record,
        status="sent" if sent else "failed",
        called_at=called_at,
        lateness_s=round((called_at - due_at).total_seconds(), 3) if called_at else None,
        provider_id=sent.provider_id if sent else None,
        attempts=attempts,
        error=None if sent else f"{error.code or 'error'}: {error.message}" if error else None,
    )
    worker.alerts.finish(finished)
    log.info(
        "alert %s",
        finished.status,
        extra={
            "fields": {
                "lead_id": lead.lead_id,
                "alert": finished.key,
                "provider_id": finished.provider_id,
                "attempts": attempts,
                "lateness_s": finished.lateness_s,
            }
        },
    )
    yield finished
    if sent is None:
        # Never dropped: the recipient's next channel that has not been tried this step.
        for other in _channels_for(recipient):
            if other not in done and _address(recipient, other):
                yield from _deliver(
                    lead,
                    index,
                    rung,
                    recipient,
                    other,
                    body,
                    due_at,
                    worker,
                    senders,
                    done,
                    fallback_of=channel,
                )
                return


def _send(
    sender: Sender | None, delivery: Delivery, worker: Worker
) -> tuple[Sent | None, DeliveryError | None, int, datetime | None]:
    """Up to MAX_ATTEMPTS calls; transient errors wait (the provider's Retry-After, else a
    doubling backoff). Returns the result, the last error, attempts and the first call time."""
    if sender is None:
        missing = DeliveryError("channel not configured", permanent=True, code="not_configured")
        return None, missing, 0, None
    called_at: datetime | None = None
    error: DeliveryError | None = None
    for attempt in range(1, MAX_ATTEMPTS + 1):
        if called_at is None:
            called_at = worker.clock.now()
        try:
            return sender.send(delivery), None, attempt, called_at
        except DeliveryError as exc:
            error = exc
        if error.permanent or attempt == MAX_ATTEMPTS:
            return None, error, attempt, called_at
        wait = error.retry_after
        if wait is None:
            wait = BACKOFF_S * 2 ** (attempt - 1)
        if wait > MAX_RETRY_AFTER_S:
            return None, error, attempt, called_at
        worker.sleep(wait)
    return None, error, MAX_ATTEMPTS, called_at


def _quiet(rep: RepConfig, at: datetime) -> bool:
    """Whether `at` is inside the rep's quiet hours, on their wall clock."""
    if rep.quiet_hours is None:
        return False
    local = at.astimezone(ZoneInfo(rep.timezone))
    minute = local.hour * 60 + local.minute
    start, end = rep.quiet_hours
    return start <= minute < end if start < end else minute >= start or minute < end


def _quiet_end(rep: RepConfig, at: datetime) -> datetime:
    """The first instant after `at` outside the rep's quiet hours."""
    assert rep.quiet_hours is not None
    zone = ZoneInfo(rep.timezone)
    local = at.astimezone(zone)
    end = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
        minutes=rep.quiet_hours[1]
    )
    if end <= local:
        end += timedelta(days=1)
    # Re-read on the wall clock, so a DST change inside the night lands on the right hour.
    return end.replace(tzinfo=None).replace(tzinfo=zone)


def _quiet_sms(
    lead: Lead,
    index: int,
    rung: LadderStep,
    recipient: _Recipient,
    body: AlertContent,
    due_at: datetime,
    worker: Worker,
    senders: Mapping[str, Sender],
    done: set[str],
) -> Generator[AlertRecord, None, bool]:
    """An SMS in the rep's quiet hours goes by email instead, or, when they prefer (or have no
    email), is logged "held" until the quiet hours end; `send_held` delivers it then. Never
    dropped. Returns True when the SMS was dealt with here."""
    rep = recipient.rep
    assert rep is not None
    if rep.quiet_sms == "email" and rep.email:
        if "email" not in done:
            yield from _deliver(
                lead,
                index,
                rung,
                recipient,
                "email",
                body,
                due_at,
                worker,
                senders,
                done,
                fallback_of="sms",
            )
        return True
    assert rep.phone is not None
    held = AlertRecord(
        lead_id=lead.lead_id,
        key=alert_key(index, recipient.key, "sms"),
        step=index,
        step_name=rung.name,
        recipient=recipient.key,
        channel="sms",
        to=rep.phone,
        status="held",
        due_at=_quiet_end(rep, worker.clock.now()),
        created_at=worker.clock.now(),
    )
    if worker.alerts.start(held):
        yield held
    return True


def send_held(worker: Worker, *, limit: int = 100) -> int:
    """Send the SMS alerts held for quiet hours whose end has come; returns how many went.
    Whoever moves an alert from "held" to "sending" sends it, so two sweepers send once."""
    now, sent = worker.clock.now(), 0
    for held in worker.alerts.by_status("held", limit=limit):
        if held.due_at > now:
            continue
        if not worker.alerts.take(held.lead_id, held.key, expected="held", status="sending"):
            continue
        lead = worker.store.get_lead(held.lead_id)
        if lead is None or lead.first_response_at is not None:
            worker.alerts.finish(replace(held, status="cancelled", error="answered meanwhile"))
            continue
        team = worker.team.load()
        policy = team.sla_policy(lead.sla_policy)
        rung = step(policy, held.step) if policy else None
        if policy is None or rung is None:
            worker.alerts.finish(replace(held, status="cancelled", error="policy changed"))
            continue
        if held.recipient not in {r.key for r in _recipients(team, lead, rung)}:
            # Reassigned meanwhile: the reminder is no longer this person's to get.
            worker.alerts.finish(replace(held, status="cancelled", error="no longer a recipient"))
            continue
        if lead.paused_until is not None and lead.paused_until > now:
            worker.alerts.finish(replace(held, status="cancelled", error="claimed meanwhile"))
            continue
        owner = team.rep(lead.owner) if lead.owner else None
        body = alert_text.content(lead, rung, policy, now, owner_name=owner.name if owner else None)
        delivery = Delivery("sms", held.to, body)
        ok, error, attempts, called_at = _send(worker.senders(team).get("sms"), delivery, worker)
        worker.alerts.finish(
            replace(
                held,
                status="sent" if ok else "failed",
                called_at=called_at,
                lateness_s=round((called_at - held.due_at).total_seconds(), 3)
                if called_at
                else None,
                provider_id=ok.provider_id if ok else None,
                attempts=attempts,
                error=f"{error.code or 'error'}: {error.message}" if error and not ok else None,
            )
        )
        sent += 1 if ok else 0
    return sent
