"""A rep texts a lead: refused when the lead opted out or it is night where the lead lives;
Twilio's "sent"/"delivered" status callback is the lead's first response.

Local time: the zone of the lead's phone number (phonenumbers' time zones for its prefix). A
prefix spanning several zones (a US toll-free number, most mobile ranges outside North America)
uses the team's zone when it is one of them, else the first phonenumbers lists; an unknown one
uses the team's zone. Allowed hours are the team file's `team.lead_sms_hours` (08:00-21:00 by
default).

Idempotency: an optional Idempotency-Key names the send; the same key for the same lead sends
once (its "sms_sent" touchpoint is keyed by it and looked up first). Two requests with the same
key racing each other can both send: the key guards retries, not concurrent duplicates.
"""

from __future__ import annotations

import secrets as _random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from html import escape
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as number_zones

from chalicelib.domain.capture import Capture
from chalicelib.domain.errors import (
    ConflictError,
    InvalidPayloadError,
    NotFoundError,
    ProviderUnavailableError,
)
from chalicelib.domain.identity import phone_key, sid_key
from chalicelib.domain.model import Attribution, Lead, Touchpoint
from chalicelib.domain.team import TeamConfig
from chalicelib.logs import get_logger
from chalicelib.ports import AlertContent, Delivery, DeliveryError, Secrets, TwilioVerifier
from chalicelib.services.capture import verified_twilio
from chalicelib.services.landing import accept
from chalicelib.services.responses import stop
from chalicelib.services.worker import Worker

log = get_logger(__name__)

# When a lead may be texted, on their own wall clock, unless the team file says otherwise:
# from 08:00 up to (not at) 21:00.
SMS_HOURS = (time(8, 0), time(21, 0))
MAX_BODY_CHARS = 1000
MAX_KEY_CHARS = 200
# Twilio reports a lead SMS's progress here (functions/lead_sms.py); the path names the lead.
LEAD_SMS_STATUS_PATH = "/webhooks/twilio/lead-sms-status"
# Twilio's message states that mean it left for the lead's phone: the first response.
RESPONSE_STATES = ("sent", "delivered")


@dataclass(frozen=True)
class SmsSent:
    """What a send did: "sent" now, or "duplicate" (this Idempotency-Key sent it before)."""

    lead_id: str
    status: str
    provider_id: str | None
    from_number: str
    at: datetime


def lead_zone(phone: str, team_zone: str) -> ZoneInfo:
    """The time zone the lead's phone number belongs to (see the module's docstring)."""
    try:
        zones = number_zones.time_zones_for_number(phonenumbers.parse(phone))
    except phonenumbers.NumberParseException:
        zones = ()
    known = [z for z in zones if z != number_zones.UNKNOWN_TIMEZONE]
    name = team_zone if team_zone in known or not known else known[0]
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(team_zone)


def within_hours(at: datetime, zone: ZoneInfo, hours: tuple[time, time] = SMS_HOURS) -> bool:
    """Whether `at` falls inside `hours` on the wall clock of `zone`."""
    local = at.astimezone(zone).time()
    return hours[0] <= local < hours[1]


def next_allowed(at: datetime, zone: ZoneInfo, hours: tuple[time, time] = SMS_HOURS) -> datetime:
    """The first instant at or after `at` inside `hours` in `zone`."""
    if within_hours(at, zone, hours):
        return at
    local = at.astimezone(zone)
    day = local.date() if local.time() < hours[0] else local.date() + timedelta(days=1)
    # Built on the wall clock, so a DST change overnight lands on the right hour.
    return datetime.combine(day, hours[0], tzinfo=zone)


def send_sms(
    lead_id: str,
    *,
    body: str,
    by: str,
    idempotency_key: str | None,
    worker: Worker,
) -> SmsSent:
    """Text the lead once from the number they came through; ConflictError when they may not
    be texted now, ProviderUnavailableError when the provider failed for now."""
    if not body.strip() or len(body) > MAX_BODY_CHARS:
        raise InvalidPayloadError(f"must be 1 to {MAX_BODY_CHARS} characters", field="body")
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= MAX_KEY_CHARS:
        raise InvalidPayloadError(
            f"must be 1 to {MAX_KEY_CHARS} characters", field="Idempotency-Key"
        )
    team = worker.team.load()
    if team.rep(by) is None:
        raise InvalidPayloadError("no rep with this id", field="by")
    lead = worker.store.get_lead(lead_id)
    if lead is None:
        raise NotFoundError("no such lead", field="lead_id")
    key = f"lead-sms:{lead_id}:key:{idempotency_key}" if idempotency_key else None
    if key is not None:
        earlier = next((t for t in worker.store.touchpoints(lead_id) if t.event_key == key), None)
        if earlier is not None:
            return _result(lead_id, "duplicate", earlier)
    now = worker.clock.now()
    phone = _sendable(lead, team, now)
    from_number = sender_number(lead, team)
    if from_number is None:
        raise ConflictError("no number to send from: no tracking number or alerts SMS from")
    callback = f"{worker.public_url}{LEAD_SMS_STATUS_PATH}/{lead_id}" if worker.public_url else None
    content = AlertContent(subject="", text=body, html=escape(body))
    sender = worker.senders(team).get("sms")
    if sender is None:
        raise ConflictError("SMS is not configured for this team")
    try:
        delivery = Delivery("sms", phone, content, status_callback=callback, sender=from_number)
        sent = sender.send(delivery)
    except DeliveryError as exc:
        if exc.permanent:
            code = exc.code or "error"
            raise ConflictError(
                f"the provider refused the message ({code}): {exc.message}"
            ) from exc
        raise ProviderUnavailableError(
            f"the provider failed, try again: {exc.message}", exc.code
        ) from exc
    key = key or f"lead-sms:{lead_id}:sid:{sent.provider_id or _random.token_hex(8)}"
    capture = Capture(
        event_key=key,
        kind="sms_sent",
        channel="sms",
        attribution=Attribution(source="leadclock", channel="sms", tracking_number=from_number),
        # The lead by its phone; the message's SID is claimed so Twilio's generic status
        # callbacks for it land on this lead too.
        identities=(phone_key(phone),),
        claims=(sid_key(sent.provider_id),) if sent.provider_id else (),
        creates_lead=False,
        detail={"by": by, "provider_id": sent.provider_id, "from": from_number},
    )
    landed = accept(capture, store=worker.store, clock=worker.clock)
    if landed.lead_id not in (lead_id, None):
        log.warning(
            "sms_sent landed on another lead holding the phone",
            extra={"fields": {"lead_id": lead_id, "landed_on": landed.lead_id}},
        )
    return SmsSent(lead_id, "sent", sent.provider_id, from_number, now)


def _sendable(lead: Lead, team: TeamConfig, now: datetime) -> str:
    """The lead's phone, when they may be texted now; ConflictError saying why not."""
    if not lead.phone:
        raise ConflictError("the lead has no phone number")
    if lead.sms_opt_out:
        raise ConflictError("the lead opted out of SMS (replied STOP)")
    zone = lead_zone(lead.phone, team.timezone)
    hours = allowed_hours(team)
    if not within_hours(now, zone, hours):
        local = now.astimezone(zone)
        start, end = (h.strftime("%H:%M") for h in hours)
        opens = next_allowed(now, zone, hours).isoformat()
        raise ConflictError(
            f"it is {local:%H:%M} for the lead ({zone.key}); texts go {start}-{end} "
            f"their time, next from {opens}"
        )
    return lead.phone


def allowed_hours(team: TeamConfig) -> tuple[time, time]:
    """The team's texting hours as wall-clock times (an end of 24:00 is the last minute)."""
    start, end = team.lead_sms_hours
    return time(start // 60, start % 60), time(min(end, 1439) // 60, min(end, 1439) % 60)


def sender_number(lead: Lead, team: TeamConfig) -> str | None:
    """The number the lead should see: the tracking number they came through, if it is still
    one of the team's, else the alerts' SMS number."""
    tracking = lead.first_touch.tracking_number
    if tracking and team.tracking_number(tracking) is not None:
        return tracking
    return team.alerts.sms_from


def _result(lead_id: str, status: str, touch: Touchpoint) -> SmsSent:
    detail = touch.detail
    return SmsSent(lead_id, status, detail.get("provider_id"), detail.get("from", ""), touch.at)


def record_sms_status(
    lead_id: str,
    url: str,
    body: bytes,
    params: Mapping[str, str],
    signature: str | None,
    *,
    secrets: Secrets,
    verify: TwilioVerifier,
    worker: Worker,
) -> str | None:
    """Twilio's status callback for a lead SMS: "sent" or "delivered" is the lead's first
    response, by the rep who sent it. Returns the status recorded, if any."""
    verified_twilio(url, body, params, signature, team=worker.team, secrets=secrets, verify=verify)
    status = params.get("MessageStatus") or params.get("SmsStatus") or ""
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    lead = worker.store.get_lead(lead_id)
    if status not in RESPONSE_STATES or not sid or lead is None:
        return None
    timeline = worker.store.touchpoints(lead_id)
    key = f"lead-sms-status:{sid}:{status}"
    # A touchpoint's place on the timeline includes its time, and a repeated callback comes
    # at another "now": one already on the timeline is found by its key first.
    if any(t.event_key == key for t in timeline):
        return status
    sent = next(
        (t for t in timeline if t.kind == "sms_sent" and t.detail.get("provider_id") == sid),
        None,
    )
    if sent is None:
        return None  # not a message this lead was sent from here
    by = sent.detail.get("by")
    now = worker.clock.now()
    touch = Touchpoint(
        event_key=key,
        lead_id=lead_id,
        at=now,
        channel="sms",
        kind="sms_delivered",
        attribution=Attribution(source="twilio", channel="sms"),
        detail={"sid": sid, "status": status, **({"by": by} if by else {})},
    )
    stop(lead, at=now, by=by, worker=worker, touchpoint=touch, attempt_at=now)
    return status
