"""Delivering one step's alerts: who gets them, on which channels, retried, falling back to
another channel, and held or redirected in quiet hours.

A step fires at most once, never a second message: `begin_step` counts the step's attempts on
the lead before any provider is called, and the step's alerts are logged together when it
finishes (`finish_step`, one write). A step begun before (its worker died after a provider call
but before finishing) sends nothing again: its alerts are logged "unconfirmed", so a lost alert
shows instead of being silent or doubled.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.domain import links
from chalicelib.domain.model import Lead
from chalicelib.domain.sla import LadderStep, SlaPolicy, step
from chalicelib.domain.team import RepConfig, TeamConfig
from chalicelib.logs import get_logger
from chalicelib.ports import AlertContent, AlertRecord, Delivery, DeliveryError, Sender, Sent
from chalicelib.services import alert_text
from chalicelib.services.worker import ALERT_STATUS_PATH, Worker

log = get_logger(__name__)

# Attempts per alert on one channel before falling back to the recipient's next channel.
MAX_ATTEMPTS = 3
BACKOFF_S = 0.5  # first retry after this, doubling
MAX_RETRY_AFTER_S = 20.0  # a provider asking for longer gets the next channel instead
CHANNEL_ORDER = ("sms", "slack", "email")


def alert_key(index: int, recipient: str, channel: str) -> str:
    """An alert's key within its lead: step, recipient, channel (URL-safe: it rides in the
    SMS status callback's path)."""
    return f"{index}:{recipient}:{channel}"


@dataclass(frozen=True)
class Recipient:
    """Someone (a rep) or somewhere (the queue's Slack channel) a step alerts."""

    key: str  # a rep id, or "channel"
    rep: RepConfig | None
    slack_channel: str | None = None


def recipients(team: TeamConfig, lead: Lead, rung: LadderStep) -> list[Recipient]:
    """Who step `rung` alerts for `lead`, each once; roles nobody fills are skipped."""
    queue = team.queue(lead.queue)
    found: dict[str, Recipient] = {}
    for name in rung.notify:
        if name == "channel":
            if queue and queue.slack_channel:
                found.setdefault("channel", Recipient("channel", None, queue.slack_channel))
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
            found.setdefault(rep.id, Recipient(rep.id, rep))
    return list(found.values())


def address(recipient: Recipient, channel: str) -> str | None:
    """Where `recipient` is reached on `channel`, if they can be."""
    rep = recipient.rep
    if rep is None:
        return recipient.slack_channel if channel == "slack" else None
    return {"sms": rep.phone, "slack": rep.slack_user_id, "email": rep.email}.get(channel)


def deliver_step(
    lead: Lead,
    rung: LadderStep,
    index: int,
    policy: SlaPolicy,
    team: TeamConfig,
    due_at: datetime,
    worker: Worker,
) -> Iterator[AlertRecord]:
    """Alert every recipient of step `index` on the step's channels; yields what was logged."""
    owner = team.rep(lead.owner) if lead.owner else None
    senders = worker.senders(team)
    for recipient in recipients(team, lead, rung):
        body = alert_text.content(
            lead,
            rung,
            policy,
            worker.clock.now(),
            owner_name=owner.name if owner else None,
            links=_links(lead, recipient, worker),
        )
        channels = _channels(recipient, rung)
        # Channels this step sends or has tried for the recipient: a fallback takes another.
        done = set(channels)
        for channel in channels:
            yield from deliver(
                lead, index, rung, recipient, channel, body, due_at, worker, senders, done
            )


def _links(lead: Lead, recipient: Recipient, worker: Worker) -> dict[str, str]:
    """A rep's one-tap link to the lead page (claim, mark contacted, call), signed for them and
    this lead only. A channel gets none: Slack's buttons act for whoever taps them."""
    secret = worker.link_secret() if worker.public_url and recipient.rep else None
    if secret is None or recipient.rep is None:
        return {}
    g = links.grant(lead.lead_id, recipient.rep.id, "open", now=worker.clock.now())
    return {"open": f"{worker.public_url}/r/{links.sign(g, secret)}"}


def unconfirmed_step(
    lead: Lead, rung: LadderStep, index: int, team: TeamConfig, due_at: datetime, worker: Worker
) -> list[AlertRecord]:
    """The alerts of a step begun before by a worker that died: some may have gone out, so
    none is sent again; each is logged "unconfirmed"."""
    now = worker.clock.now()
    records = []
    for recipient in recipients(team, lead, rung):
        for channel in _channels(recipient, rung):
            record = _record(lead, index, rung, recipient, channel, due_at, now)
            why = "the step's worker stopped before finishing; not sent again"
            records.append(replace(record, status="unconfirmed", error=why))
    return records


def _record(
    lead: Lead,
    index: int,
    rung: LadderStep,
    recipient: Recipient,
    channel: str,
    due_at: datetime,
    now: datetime,
) -> AlertRecord:
    """The log entry for one alert of a step, before its outcome is known."""
    to = address(recipient, channel)
    assert to is not None
    return AlertRecord(
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
    )


def _channels(recipient: Recipient, rung: LadderStep) -> list[str]:
    """The step's channels this recipient has; else the first channel they can be reached on."""
    channels = [c for c in rung.channels if address(recipient, c)]
    return channels or [c for c in channels_for(recipient) if address(recipient, c)][:1]


def channels_for(recipient: Recipient) -> tuple[str, ...]:
    """The channels a recipient can be reached on, in fallback order."""
    return ("slack",) if recipient.rep is None else CHANNEL_ORDER


def deliver(
    lead: Lead,
    index: int,
    rung: LadderStep,
    recipient: Recipient,
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
    record = replace(
        _record(lead, index, rung, recipient, channel, due_at, now), fallback_of=fallback_of
    )
    callback = (
        f"{worker.public_url}{ALERT_STATUS_PATH}/{lead.lead_id}/{record.key}"
        if worker.public_url
        else None
    )
    delivery = Delivery(
        channel, record.to, body, status_callback=callback if channel == "sms" else None
    )
    sent, error, attempts, called_at = send_with_retries(senders.get(channel), delivery, worker)
    finished = replace(
        record,
        status="sent" if sent else "failed",
        called_at=called_at,
        lateness_s=round((called_at - due_at).total_seconds(), 3) if called_at else None,
        provider_id=sent.provider_id if sent else None,
        attempts=attempts,
        error=None if sent else f"{error.code or 'error'}: {error.message}" if error else None,
    )
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
        for other in channels_for(recipient):
            if other not in done and address(recipient, other):
                yield from deliver(
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


def send_with_retries(
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
    recipient: Recipient,
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
            yield from deliver(
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
    yield held  # logged with the step; send_held delivers it when quiet hours end
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
        if held.recipient not in {r.key for r in recipients(team, lead, rung)}:
            # Reassigned meanwhile: the reminder is no longer this person's to get.
            worker.alerts.finish(replace(held, status="cancelled", error="no longer a recipient"))
            continue
        if lead.paused_until is not None and lead.paused_until > now:
            worker.alerts.finish(replace(held, status="cancelled", error="claimed meanwhile"))
            continue
        owner = team.rep(lead.owner) if lead.owner else None
        body = alert_text.content(lead, rung, policy, now, owner_name=owner.name if owner else None)
        delivery = Delivery("sms", held.to, body)
        sms = worker.senders(team).get("sms")
        ok, error, attempts, called_at = send_with_retries(sms, delivery, worker)
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
