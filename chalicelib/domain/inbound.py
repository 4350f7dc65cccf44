"""Turn each provider's request into a Capture: pure rules, one function per kind of event."""

from __future__ import annotations

import hashlib
from dataclasses import asdict
import json
from typing import Any, Mapping

from chalicelib.domain.attribution import normalise_utm
from chalicelib.domain.capture import Capture
from chalicelib.domain.errors import InvalidPayloadError
from chalicelib.domain.identity import (
    email_key,
    normalise_email,
    normalise_phone,
    phone_key,
    sid_key,
    try_phone,
)
from chalicelib.domain.model import Attribution, FormSubmission
from chalicelib.domain.team import SourceConfig, TrackingNumber

# Whole-body keywords, matched the way Twilio matches them (case-insensitive, trimmed).
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
_MAX_SMS_BODY = 1600


def form_capture(
    source: SourceConfig,
    sub: FormSubmission,
    *,
    provider_id: str | None,
    default_region: str,
) -> tuple[Capture, bool]:
    """The capture for a form submission, and whether its key is a content hash (which only
    de-duplicates within a window, since a person may honestly submit the same form again)."""
    contact = sub.contact
    phone = normalise_phone(contact.phone, default_region) if contact.phone else None
    email = normalise_email(contact.email) if contact.email else None
    if not phone and not email:
        raise InvalidPayloadError("a lead needs a phone or an email", field="phone")
    name = contact.name or " ".join(p for p in (contact.first_name, contact.last_name) if p) or None
    identities = tuple(k for k in (phone and phone_key(phone), email and email_key(email)) if k)
    detail: dict[str, Any] = {"fields": dict(sub.fields)}
    if contact.message:
        detail["message"] = contact.message
    if contact.consent is not None:
        detail["consent"] = contact.consent
    attribution = Attribution(
        source=source.name,
        channel="form",
        campaign=sub.utm.get("utm_campaign"),
        utm=dict(sub.utm),
        utm_raw=dict(sub.utm_raw),
        click_ids=dict(sub.click_ids),
        landing_page=sub.landing_page,
        referrer=sub.referrer,
        form_id=sub.form_id,
    )
    if provider_id:
        key, windowed = f"form:{source.name}:{provider_id}", False
    else:
        digest = _digest(phone, email, name, contact.company, detail, asdict(attribution))
        key, windowed = f"form:{source.name}:h:{digest}", True
    capture = Capture(
        event_key=key,
        kind="form_submitted",
        channel="form",
        attribution=attribution,
        identities=identities,
        claims=identities,
        phone=phone,
        email=email,
        name=name,
        company=contact.company,
        detail=detail,
    )
    return capture, windowed


def call_capture(
    params: Mapping[str, str], number: TrackingNumber | None, *, default_region: str
) -> Capture:
    """The capture for an incoming call to a tracking number."""
    sid = _required(params, "CallSid")
    phone = try_phone(params.get("From"), default_region)
    identities = (sid_key(sid),) + ((phone_key(phone),) if phone else ())
    detail = _pick(params, "CallStatus", "Direction", "CallerName", "FromCity", "FromState")
    detail["call_sid"] = sid
    return Capture(
        event_key=f"twilio:call:{sid}",
        kind="call_received",
        channel="call",
        attribution=_number_attribution(number, params.get("To"), "call"),
        identities=identities,
        claims=identities,
        phone=phone,
        name=params.get("CallerName") or None,
        detail=detail,
    )


def sms_capture(
    params: Mapping[str, str], number: TrackingNumber | None, *, default_region: str
) -> Capture:
    """The capture for an incoming SMS; STOP/START words and Twilio's OptOutType set opt-out."""
    sid = _required(params, "MessageSid")
    phone = try_phone(params.get("From"), default_region)
    body = params.get("Body", "")[:_MAX_SMS_BODY]
    identities = (phone_key(phone),) if phone else (sid_key(sid),)
    detail: dict[str, Any] = {"message_sid": sid, "body": body}
    media = int(params.get("NumMedia") or 0) if (params.get("NumMedia") or "0").isdigit() else 0
    if media:
        detail["media_urls"] = [params[f"MediaUrl{i}"] for i in range(media) if f"MediaUrl{i}" in params]
    return Capture(
        event_key=f"twilio:sms:{sid}",
        kind="sms_received",
        channel="sms",
        attribution=_number_attribution(number, params.get("To"), "sms"),
        identities=identities,
        claims=identities,
        phone=phone,
        sms_opt_out=opt_out_change(body, params.get("OptOutType")),
        detail=detail,
    )


def status_capture(params: Mapping[str, str], *, default_region: str) -> Capture:
    """The capture for a call or message status callback; it only attaches to a known lead."""
    sid = params.get("CallSid") or params.get("MessageSid") or params.get("SmsSid")
    if not sid:
        raise InvalidPayloadError("required", field="CallSid")
    is_call = bool(params.get("CallSid"))
    status = params.get("CallStatus" if is_call else "MessageStatus") or params.get("SmsStatus")
    if not status:
        raise InvalidPayloadError("required", field="CallStatus" if is_call else "MessageStatus")
    # The lead is the caller on an inbound call and the callee on an outbound one.
    other = params.get("From") if params.get("Direction", "inbound") == "inbound" else params.get("To")
    phone = try_phone(other, default_region)
    detail = _pick(params, "CallDuration", "ErrorCode", "Direction", "SequenceNumber")
    detail.update({"sid": sid, "status": status})
    return Capture(
        event_key=f"twilio:status:{sid}:{status}",
        kind="call_status" if is_call else "message_status",
        channel="status",
        attribution=Attribution(source="twilio", channel="call" if is_call else "sms"),
        identities=(sid_key(sid),) + ((phone_key(phone),) if phone else ()),
        creates_lead=False,
        detail=detail,
    )


def dial_capture(params: Mapping[str, str]) -> Capture:
    """The capture for the end of a forwarded call (the <Dial> action callback)."""
    sid = _required(params, "CallSid")
    status = _required(params, "DialCallStatus")
    detail = _pick(params, "DialCallDuration", "DialCallSid")
    detail.update({"call_sid": sid, "status": status})
    return Capture(
        event_key=f"twilio:dial:{sid}",
        kind="call_forwarded",
        channel="call",
        attribution=Attribution(source="twilio", channel="call"),
        identities=(sid_key(sid),),
        creates_lead=False,
        detail=detail,
    )


def voicemail_capture(params: Mapping[str, str]) -> Capture:
    """The capture for a voicemail left after an unanswered call."""
    sid = _required(params, "CallSid")
    recording = _required(params, "RecordingSid")
    detail = _pick(params, "RecordingUrl", "RecordingDuration")
    detail.update({"call_sid": sid, "recording_sid": recording})
    return Capture(
        event_key=f"twilio:voicemail:{recording}",
        kind="voicemail_left",
        channel="voicemail",
        attribution=Attribution(source="twilio", channel="call"),
        identities=(sid_key(sid),),
        creates_lead=False,
        detail=detail,
    )


def opt_out_change(body: str, opt_out_type: str | None) -> bool | None:
    """True for STOP, False for START, None otherwise; Twilio's OptOutType wins when present."""
    word = (opt_out_type or body).strip().upper()
    if word in STOP_WORDS:
        return True
    if word in START_WORDS:
        return False
    return None


def _number_attribution(number: TrackingNumber | None, to: str | None, channel: str) -> Attribution:
    # A call to a number nobody configured is still a lead: it is attributed to "phone".
    if number is None:
        return Attribution(source="phone", channel=channel, tracking_number=to or None)
    campaign = normalise_utm(number.campaign) if number.campaign else None
    raw = {"utm_campaign": number.campaign} if number.campaign and number.campaign != campaign else {}
    return Attribution(
        source=number.source,
        channel=channel,
        campaign=campaign,
        utm={"utm_campaign": campaign} if campaign else {},
        utm_raw=raw,
        tracking_number=number.number,
    )


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise InvalidPayloadError("required", field=name)
    return value


def _pick(params: Mapping[str, str], *names: str) -> dict[str, Any]:
    return {n: params[n] for n in names if params.get(n)}


def _digest(*parts: object) -> str:
    canonical = json.dumps(parts, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]
