"""Click-to-call: Twilio rings the rep; when they answer and press 1, it dials the lead from the
tracking number the lead knows, and the lead leg's own status callbacks stop the clock.

    start_call ──calls.create──▶ rep's phone ──answered──▶ answer(): whisper, "press 1"
    connect() on "1" ──<Dial callerId=tracking><Number statusCallback=lead-status>──▶ lead
    lead leg "initiated" → first attempt (and first response: the clock stops)
    lead leg "answered"  → first connect

Every Twilio request carries a signed bridge token in its path, bound to the lead and the rep,
as well as Twilio's own signature: a token for lead A cannot touch lead B, and a leaked URL
expires in an hour. A second tap by the same rep within DOUBLE_TAP places no second call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from chalicelib.domain.errors import (
    ConflictError,
    ForbiddenError,
    InvalidPayloadError,
    NotConfiguredError,
    NotFoundError,
    ProviderUnavailableError,
)
from chalicelib.domain.links import Grant, LinkError, grant, sign
from chalicelib.domain.links import verify as verify_link
from chalicelib.domain.model import Attribution, Lead, Touchpoint
from chalicelib.logs import get_logger
from chalicelib.ports import AlertContent, Delivery, DeliveryError, Secrets, TwilioVerifier
from chalicelib.services.capture import verified_twilio
from chalicelib.services.lead_sms import sender_number
from chalicelib.services.responses import stop
from chalicelib.services.worker import Worker

log = get_logger(__name__)

BRIDGE_PATH = "/bridge"  # /bridge/{token}/{answer|connect|done|lead-status|rep-status}
DOUBLE_TAP = timedelta(seconds=60)
# A call is answered within minutes, but its last callbacks come when it ends: a long call
# must not find its URLs expired. A leaked URL dies the same day.
TOKEN_TTL = timedelta(hours=8)
CONNECT_DIGIT = "1"
RING_LEAD_S = 30
# The lead leg's states: any of these means the call to the lead was placed (an attempt)...
ATTEMPT_STATES = frozenset(
    {"initiated", "queued", "ringing", "in-progress", "answered", "completed", "busy", "no-answer"}
)
# ...and these that the lead picked up (Twilio reports "answered" as CallStatus in-progress).
CONNECT_STATES = frozenset({"in-progress", "answered"})
LEGS = ("lead", "rep")


@dataclass(frozen=True)
class CallStarted:
    """What a tap on Call did: "calling" now, or "duplicate" (this rep's call is under way)."""

    lead_id: str
    rep: str
    status: str
    call_sid: str | None
    rep_phone: str
    caller_id: str
    at: datetime


@dataclass(frozen=True)
class Whisper:
    """What the rep hears on answering, and where their key press goes."""

    text: str
    connect_url: str


@dataclass(frozen=True)
class Connect:
    """Dial the lead from `caller_id`; `status_url` hears the lead leg, `done_url` its end."""

    lead_phone: str
    caller_id: str
    status_url: str
    done_url: str
    timeout_s: int = RING_LEAD_S


def start_call(lead_id: str, *, by: str, worker: Worker) -> CallStarted:
    """Ring rep `by`'s phone for a bridged call to the lead. NotFoundError without the lead,
    InvalidPayloadError for an unknown rep, ConflictError when there is no one or nothing to
    call with (the message says why), ProviderUnavailableError when Twilio failed for now."""
    team = worker.team.load()
    rep = team.rep(by)
    if rep is None:
        raise InvalidPayloadError("no rep with this id", field="by")
    lead = worker.store.get_lead(lead_id)
    if lead is None:
        raise NotFoundError("no such lead", field="lead_id")
    if not rep.phone:
        raise ConflictError(f"rep {rep.id} has no phone number to ring")
    if not lead.phone:
        raise ConflictError("the lead has no phone number")
    caller_id = sender_number(lead, team)
    if caller_id is None:
        raise ConflictError("no number to call from: no tracking number or alerts SMS from")
    secret = worker.link_secret()
    if not worker.public_url or not secret:
        raise NotConfiguredError("calls need the public URL and the link secret")
    sender = worker.senders(team).get("voice")
    if sender is None:
        raise ConflictError("calls are not configured (Twilio account sid)")
    now = worker.clock.now()
    if not worker.store.start_bridge(lead_id, by=rep.id, at=now, not_since=now - DOUBLE_TAP):
        return CallStarted(
            lead_id,
            rep.id,
            "duplicate",
            _latest_call(lead_id, rep.id, worker),
            rep.phone,
            caller_id,
            now,
        )
    base = bridge_url(
        worker.public_url, sign(grant(lead_id, rep.id, "bridge", now=now, ttl=TOKEN_TTL), secret)
    )
    text = whisper_text(lead, now)
    delivery = Delivery(
        "voice",
        rep.phone,
        AlertContent(subject=f"Call {lead.name or 'a lead'}", text=text, html=""),
        status_callback=f"{base}/rep-status",
        sender=caller_id,
        answer_url=f"{base}/answer",
    )
    try:
        sent = sender.send(delivery)
    except DeliveryError as exc:
        worker.store.end_bridge(lead_id, at=now)  # nothing rings: a retry must not be refused
        if exc.permanent:
            raise ConflictError(f"Twilio refused the call ({exc.code}): {exc.message}") from exc
        raise ProviderUnavailableError(
            f"Twilio failed, try again: {exc.message}", exc.code
        ) from exc
    worker.store.add_touch(
        _touch(
            lead_id,
            f"bridge:{sent.provider_id or now.isoformat()}",
            now,
            "bridge_started",
            {"by": rep.id, "sid": sent.provider_id, "caller_id": caller_id},
        )
    )
    log.info("bridge started", extra={"fields": {"lead_id": lead_id, "rep": rep.id}})
    return CallStarted(lead_id, rep.id, "calling", sent.provider_id, rep.phone, caller_id, now)


def bridge_url(public_url: str, token: str) -> str:
    """The base of a bridge's Twilio URLs."""
    return f"{public_url.rstrip('/')}{BRIDGE_PATH}/{token}"


def whisper_text(lead: Lead, now: datetime) -> str:
    """What the rep hears: who, from where, how long they have waited, and what to press."""
    touch = lead.first_touch
    source = _spoken(touch.source) + (f", {touch.campaign}" if touch.campaign else "")
    waited = _spoken_duration((now - (lead.clock_started_at or lead.created_at)).total_seconds())
    who = lead.name or "a new lead"
    return f"New lead from {source}: {who}, {waited}. Press {CONNECT_DIGIT} to connect."


def answer(
    token: str,
    url: str,
    body: bytes,
    params: Mapping[str, str],
    signature: str | None,
    *,
    secrets: Secrets,
    verify: TwilioVerifier,
    worker: Worker,
) -> Whisper:
    """The rep picked up: the whisper, and where to send their key press."""
    _, lead, _ = _checked(token, url, body, params, signature, secrets, verify, worker)
    base = bridge_url(worker.public_url or _base_of(url, token), token)
    return Whisper(whisper_text(lead, worker.clock.now()), f"{base}/connect")


def connect(
    token: str,
    url: str,
    body: bytes,
    params: Mapping[str, str],
    signature: str | None,
    *,
    secrets: Secrets,
    verify: TwilioVerifier,
    worker: Worker,
) -> Connect | None:
    """The rep pressed a key: on CONNECT_DIGIT, dial the lead; anything else, hang up (None)."""
    _, lead, caller_id = _checked(token, url, body, params, signature, secrets, verify, worker)
    if params.get("Digits", "").strip() != CONNECT_DIGIT or not lead.phone:
        return None
    base = bridge_url(worker.public_url or _base_of(url, token), token)
    return Connect(lead.phone, caller_id, f"{base}/lead-status", f"{base}/done")


def record_leg(
    token: str,
    leg: str,
    url: str,
    body: bytes,
    params: Mapping[str, str],
    signature: str | None,
    *,
    secrets: Secrets,
    verify: TwilioVerifier,
    worker: Worker,
) -> str | None:
    """A status report for one leg. The lead leg placed is the first attempt and the lead's
    first response (the clock stops); answered, the first connect. The rep leg's reports go on
    the timeline only. Returns the status recorded, or None when ignored."""
    if leg not in LEGS:
        raise NotFoundError("no such call leg", field="leg")
    g, lead, _ = _checked(token, url, body, params, signature, secrets, verify, worker)
    status = params.get("CallStatus", "").strip().lower()
    sid = params.get("CallSid", "").strip()
    if not status or not sid:
        return None
    key = f"bridge-{leg}:{sid}:{status}"
    # A repeated callback may come at another "now", and a touchpoint's place on the timeline
    # includes its time: one already there is found by its key first.
    if any(t.event_key == key for t in worker.store.touchpoints(lead.lead_id)):
        return status
    at = _reported_at(params, worker.clock.now())
    touch = _touch(
        lead.lead_id, key, at, f"bridge_{leg}_leg", {"by": g.rep, "sid": sid, "status": status}
    )
    if leg == "rep" or status not in ATTEMPT_STATES:
        worker.store.add_touch(touch)
        return status
    connected = at if status in CONNECT_STATES else None
    stop(
        lead, at=at, by=g.rep, worker=worker, touchpoint=touch, attempt_at=at, connect_at=connected
    )
    return status


def finish(
    token: str,
    url: str,
    body: bytes,
    params: Mapping[str, str],
    signature: str | None,
    *,
    secrets: Secrets,
    verify: TwilioVerifier,
    worker: Worker,
) -> str:
    """The dial to the lead ended; returns its outcome (DialCallStatus) for the rep to hear."""
    _checked(token, url, body, params, signature, secrets, verify, worker)
    return params.get("DialCallStatus", "").strip().lower() or "completed"


def _checked(
    token: str,
    url: str,
    body: bytes,
    params: Mapping[str, str],
    signature: str | None,
    secrets: Secrets,
    verify_twilio: TwilioVerifier,
    worker: Worker,
) -> tuple[Grant, Lead, str]:
    """Twilio's signature, then the bridge token: its grant, lead and caller id."""
    team = verified_twilio(
        url, body, params, signature, team=worker.team, secrets=secrets, verify=verify_twilio
    )
    secret = worker.link_secret()
    if not secret:
        raise NotConfiguredError("the link secret is not set")
    try:
        g = verify_link(token, secret, now=worker.clock.now())
    except LinkError as exc:
        raise ForbiddenError(f"bridge token {exc.reason}") from None
    if g.purpose != "bridge":
        raise ForbiddenError("not a bridge token")
    lead = worker.store.get_lead(g.lead_id)
    if lead is None:
        raise NotFoundError("no such lead", field="lead_id")
    caller_id = sender_number(lead, team) or ""
    return g, lead, caller_id


def _latest_call(lead_id: str, rep: str, worker: Worker) -> str | None:
    calls = [
        t
        for t in worker.store.touchpoints(lead_id)
        if t.kind == "bridge_started" and t.detail.get("by") == rep
    ]
    return calls[-1].detail.get("sid") if calls else None


def _reported_at(params: Mapping[str, str], now: datetime) -> datetime:
    """Twilio's own time of the event (Timestamp, RFC 2822), so a retried callback lands at the
    same instant; the arrival time when it is missing or implausible."""
    try:
        at = parsedate_to_datetime(params.get("Timestamp", ""))
    except (TypeError, ValueError, IndexError):
        return now
    if at.tzinfo is None or not now - timedelta(hours=2) <= at <= now + timedelta(seconds=5):
        return now
    return at


def _touch(
    lead_id: str, key: str, at: datetime, kind: str, detail: Mapping[str, object]
) -> Touchpoint:
    return Touchpoint(
        event_key=key,
        lead_id=lead_id,
        at=at,
        channel="call",
        kind=kind,
        attribution=Attribution(source="leadclock", channel="call"),
        detail={k: v for k, v in detail.items() if v is not None},
    )


def _base_of(url: str, token: str) -> str:
    # Without a configured public URL, the one Twilio called (signed, so trusted) is the base.
    return url.split(f"{BRIDGE_PATH}/{token}", 1)[0]


def _spoken(source: str | None) -> str:
    # "google_ads" reads badly aloud; "google ads" does not.
    return (source or "an unknown source").replace("_", " ").replace("-", " ")


def _spoken_duration(seconds: float) -> str:
    """How long the lead has waited, as said aloud: "waiting 3 minutes", "waiting 1 hour 5
    minutes"; under a minute, the seconds."""
    s = int(max(seconds, 0))
    if s < 60:
        return "waiting 1 second" if s == 1 else f"waiting {s} seconds"
    parts = [(s // 86400, "day"), (s % 86400 // 3600, "hour"), (s % 3600 // 60, "minute")]
    said = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in parts if n]
    return "waiting " + " ".join(said[:2])
