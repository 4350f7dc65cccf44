"""Capture use cases: authenticate a provider's request, read it, and land it on a lead."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from chalicelib.domain import inbound
from chalicelib.domain.capture import Capture
from chalicelib.domain.errors import ForbiddenError, PayloadTooLargeError, UnauthorizedError
from chalicelib.domain.forms import parse_form
from chalicelib.domain.identity import e164_or_none
from chalicelib.domain.routing import next_to_ring
from chalicelib.domain.team import QueueConfig, RepConfig, TeamConfig
from chalicelib.ports import (
    AlertLog,
    Clock,
    FormVerifier,
    LeadStore,
    RoutingStore,
    Secrets,
    TeamStore,
    Timers,
    TwilioVerifier,
)
from chalicelib.services.assignment import Assigner
from chalicelib.services.landing import Landed, accept
from chalicelib.services.worker import Worker

MAX_BODY_BYTES = 64 * 1024
# A form tool's double submit usually lands within seconds; ten minutes covers a user who
# presses back and submits again, without swallowing a genuine return visit later that day.
FORM_DEDUP_WINDOW = timedelta(minutes=10)
# The number a call came in on is shown to whoever it is forwarded to, but only when it is a
# phone number: a call to a Twilio Client or SIP address ("client:alice") has no caller id to
# lend, and Twilio then shows the caller's own number.


@dataclass(frozen=True)
class CallPlan:
    """What to do with a live call: forward it, then voicemail if nobody answers."""

    landed: Landed
    forward_to: str | None
    ringing: str | None  # the rep whose phone forward_to is; None for the fallback number
    caller_id: str | None
    ring_timeout_s: int
    voicemail: bool


def capture_form(
    source_name: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    path_token: str | None,
    team: TeamStore,
    secrets: Secrets,
    verify: FormVerifier,
    store: LeadStore,
    routing: RoutingStore,
    clock: Clock,
    timers: Timers | None = None,
) -> Landed:
    """Authenticate a form post by its source's scheme, read it and land it."""
    check_size(body)
    config = team.load()
    source = config.source(source_name)
    if source is None:
        raise UnauthorizedError(f"unknown source '{source_name[:64]}'")
    secret = secrets.resolve(source.secret_ref)
    provider_id = verify(
        source.auth_scheme, secret, body, headers, path_token=path_token, now=clock.now()
    )
    content_type = headers.get("content-type")
    submission = parse_form(body, content_type)
    capture, windowed = inbound.form_capture(
        source,
        submission,
        provider_id=provider_id or submission.provider_event_id,
        default_region=config.default_phone_region,
    )
    return accept(
        capture,
        store=store,
        clock=clock,
        raw_body=body.decode(),
        content_type=content_type or "",
        dedup_window=FORM_DEDUP_WINDOW if windowed else None,
        assigner=Assigner(team=team, routing=routing, clock=clock, timers=timers),
    )


def capture_call(
    url: str,
    body: bytes,
    params: Mapping[str, str],
    signature: str | None,
    *,
    team: TeamStore,
    secrets: Secrets,
    verify: TwilioVerifier,
    store: LeadStore,
    routing: RoutingStore,
    clock: Clock,
    timers: Timers | None = None,
) -> CallPlan:
    """Record an incoming call, give the caller an owner, and ring the owner (else the queue's
    fallback number)."""
    config = verified_twilio(
        url, body, params, signature, team=team, secrets=secrets, verify=verify
    )
    to = params.get("To", "")
    number = config.tracking_number(to)
    capture = inbound.call_capture(params, number, default_region=config.default_phone_region)
    assigner = Assigner(team=team, routing=routing, clock=clock, timers=timers)
    landed = _accept(capture, body, store=store, clock=clock, assigner=assigner)
    queue = config.queue(number.queue if number else None) or QueueConfig(name="none")
    owner = _owner(config, landed, store)
    return CallPlan(
        landed=landed,
        forward_to=owner.phone if owner else queue.fallback_number,
        ringing=owner.id if owner else None,
        caller_id=e164_or_none(to),
        ring_timeout_s=queue.ring_timeout_s,
        voicemail=queue.voicemail,
    )


@dataclass(frozen=True)
class DialPlan:
    """After a forwarded leg ends: ring the next rep, take a voicemail, or hang up."""

    ring: RepConfig | None  # the next rep to ring
    tried: tuple[str, ...]  # reps rung so far on this call, `ring` included
    voicemail: bool
    ring_timeout_s: int = 20


def capture_dial_result(
    url: str,
    body: bytes,
    params: Mapping[str, str],
    signature: str | None,
    *,
    tried: tuple[str, ...],
    team: TeamStore,
    secrets: Secrets,
    verify: TwilioVerifier,
    store: LeadStore,
    clock: Clock,
    worker: Worker | None = None,
) -> DialPlan:
    """Record how a forwarded leg ended (an answered one is the lead's first response); if
    nobody answered, ring the next eligible rep of the lead's queue, then voicemail."""
    config = verified_twilio(
        url, body, params, signature, team=team, secrets=secrets, verify=verify
    )
    now = clock.now()
    rep = tried[-1] if tried else None
    capture = inbound.dial_capture(params, attempt=max(len(tried) - 1, 0), rep=rep, now=now)
    landed = _accept(capture, body, store=store, clock=clock)
    if capture.first_response and landed.lead_id and worker is not None:
        # An answered leg is the lead's first response: the clock stops with its speed. (Imported
        # here: an incoming webhook's cold start need not load the response service.)
        from chalicelib.services.responses import stop_after_landing

        answered = datetime.fromisoformat(capture.first_response["at"])
        stop_after_landing(landed.lead_id, answered_at=answered, worker=worker)
    number = config.tracking_number(params.get("To", ""))
    lead = store.get_lead(landed.lead_id) if landed.lead_id else None
    queue = config.queue((lead.queue if lead else None) or (number.queue if number else None))
    voicemail = queue is None or queue.voicemail
    if params.get("DialCallStatus") == "completed" or queue is None:
        return DialPlan(None, tried, voicemail=False)
    slot = ((lead.assignment or {}).get("slot") or 0) if lead else 0
    ring = next_to_ring(config, queue, slot=slot, at=now, tried=frozenset(tried))
    if ring is None:
        return DialPlan(None, tried, voicemail=voicemail)
    return DialPlan(ring, (*tried, ring.id), voicemail, queue.ring_timeout_s)


def capture_twilio_event(
    kind: str,
    url: str,
    body: bytes,
    params: Mapping[str, str],
    signature: str | None,
    *,
    team: TeamStore,
    secrets: Secrets,
    verify: TwilioVerifier,
    store: LeadStore,
    routing: RoutingStore,
    clock: Clock,
    timers: Timers | None = None,
) -> Landed:
    """Record an SMS, a status callback or a voicemail (kind: sms | status | voicemail)."""
    config = verified_twilio(
        url, body, params, signature, team=team, secrets=secrets, verify=verify
    )
    region = config.default_phone_region
    builders: dict[str, Callable[[], Capture]] = {
        "sms": lambda: inbound.sms_capture(
            params, config.tracking_number(params.get("To", "")), default_region=region
        ),
        "status": lambda: inbound.status_capture(params, default_region=region),
        "voicemail": lambda: inbound.voicemail_capture(params),
    }
    assigner = Assigner(team=team, routing=routing, clock=clock, timers=timers)
    return _accept(builders[kind](), body, store=store, clock=clock, assigner=assigner)


# Twilio's delivery states for a message, as an alert's status; earlier states change nothing.
_ALERT_STATES = {"delivered": "delivered", "undelivered": "undelivered", "failed": "undelivered"}


def record_alert_status(
    lead_id: str,
    key: str,
    url: str,
    body: bytes,
    params: Mapping[str, str],
    signature: str | None,
    *,
    team: TeamStore,
    secrets: Secrets,
    verify: TwilioVerifier,
    alerts: AlertLog,
) -> str | None:
    """Twilio's status callback for an alert SMS: the alert records delivered or undelivered
    (with Twilio's error code). Returns the status recorded, if any."""
    verified_twilio(url, body, params, signature, team=team, secrets=secrets, verify=verify)
    status = _ALERT_STATES.get(params.get("MessageStatus", ""))
    alert = alerts.get(lead_id, key)
    if status is None or alert is None or alert.status in ("delivered", "undelivered"):
        return None
    code = params.get("ErrorCode")
    alerts.finish(replace(alert, status=status, error=f"twilio {code}" if code else alert.error))
    return status


def verified_twilio(
    url: str,
    body: bytes,
    params: Mapping[str, str],
    signature: str | None,
    *,
    team: TeamStore,
    secrets: Secrets,
    verify: TwilioVerifier,
) -> TeamConfig:
    """The team configuration, once the body's size and Twilio's signature have been checked
    (ForbiddenError otherwise): every Twilio webhook starts here."""
    check_size(body)
    config = team.load()
    if not config.twilio_auth_token_ref:
        raise ForbiddenError("no Twilio auth token is configured")
    verify(secrets.resolve(config.twilio_auth_token_ref), url, params, signature)
    return config


def _accept(
    capture: Capture,
    body: bytes,
    *,
    store: LeadStore,
    clock: Clock,
    assigner: Assigner | None = None,
) -> Landed:
    return accept(
        capture,
        store=store,
        clock=clock,
        raw_body=body.decode(),
        content_type="application/x-www-form-urlencoded",
        assigner=assigner,
    )


def _owner(config: TeamConfig, landed: Landed, store: LeadStore) -> RepConfig | None:
    """The owner to ring, if they have a phone."""
    owner = landed.owner
    if owner is None and landed.lead_id and landed.status == "duplicate":
        # A repeated delivery (Twilio's fallback URL) must ring the same owner.
        lead = store.get_lead(landed.lead_id)
        owner = lead.owner if lead else None
    rep = config.rep(owner) if owner else None
    return rep if rep and rep.phone else None


def check_size(body: bytes) -> None:
    """Refuse a body over 64 KB (PayloadTooLargeError, 413)."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLargeError(f"body is over {MAX_BODY_BYTES // 1024} KB", field="body")
