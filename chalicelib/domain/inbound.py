"""Turn each provider's request into a Capture: pure rules, one function per kind of event."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

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
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
_MAX_SMS_BODY = 1600
# Twilio sends at most 10 media items with one MMS.
_MAX_MEDIA = 10
# SIDs and statuses become parts of storage keys (DynamoDB caps a key at 2 KB), so they are
# held to the shape Twilio uses: short, ASCII, no spaces. Twilio's SIDs are 34 characters.
_TOKEN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
# A provider's event id longer than this is hashed into the key rather than used verbatim.
_MAX_PROVIDER_ID = 200


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
        if len(provider_id) > _MAX_PROVIDER_ID:
            provider_id = "id:" + _digest(provider_id)
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
    media = _count(params.get("NumMedia"), _MAX_MEDIA)
    urls = [params[f"MediaUrl{i}"] for i in range(media) if params.get(f"MediaUrl{i}")]
    if urls:
        detail["media_urls"] = urls
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
    is_call = bool(params.get("CallSid"))
    if is_call:
        sid, status = _required(params, "CallSid"), _required(params, "CallStatus")
    else:
        sid_name = "MessageSid" if params.get("MessageSid") else "SmsSid"
        status_name = "MessageStatus" if params.get("MessageStatus") else "SmsStatus"
        if not params.get(sid_name):
            raise InvalidPayloadError("required (a CallSid or a MessageSid)", field="CallSid")
        sid, status = _required(params, sid_name), _required(params, status_name)
    # The lead is the caller on an inbound call and the callee on an outbound one. Message
    # status callbacks carry no Direction and only come for messages we sent, so the lead is
    # the recipient there.
    direction = params.get("Direction") or ("inbound" if is_call else "outbound-api")
    other = params.get("From") if direction == "inbound" else params.get("To")
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


def dial_capture(
    params: Mapping[str, str], *, attempt: int, rep: str | None, now: datetime
) -> Capture:
    """The capture for the end of one forwarded leg of a call (the <Dial> action callback):
    `attempt` counts the legs of this call (0 for the first), `rep` is who was rung. An
    answered leg is the lead's first response, at the moment it was answered."""
    sid = _required(params, "CallSid")
    status = _required(params, "DialCallStatus")
    detail = _pick(params, "DialCallDuration", "DialCallSid")
    detail.update({"call_sid": sid, "status": status, "rep": rep})
    response = None
    if status == "completed":
        talked = params.get("DialCallDuration", "")
        seconds = int(talked) if talked.isascii() and talked.isdigit() else 0
        response = {"at": (now - timedelta(seconds=seconds)).isoformat(), "by": rep or ""}
    return Capture(
        event_key=f"twilio:dial:{sid}:{attempt}",
        kind="call_forwarded",
        channel="call",
        attribution=Attribution(source="twilio", channel="call"),
        identities=(sid_key(sid),),
        creates_lead=False,
        first_response=response,
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
    raw = (
        {"utm_campaign": number.campaign} if number.campaign and number.campaign != campaign else {}
    )
    return Attribution(
        source=number.source,
        channel=channel,
        campaign=campaign,
        utm={"utm_campaign": campaign} if campaign else {},
        utm_raw=raw,
        tracking_number=number.number,
    )


def _required(params: Mapping[str, str], name: str) -> str:
    """A SID or status that is present and shaped like Twilio's (it becomes part of a key)."""
    value = params.get(name)
    if not value:
        raise InvalidPayloadError("required", field=name)
    if not _TOKEN.fullmatch(value):
        raise InvalidPayloadError(
            "not a Twilio identifier: 1-64 of A-Z a-z 0-9 _ . : -", field=name
        )
    return value


def _count(raw: str | None, limit: int) -> int:
    # isdigit() alone accepts "²", which int() refuses; Twilio only ever sends ASCII digits.
    if not raw or not (raw.isascii() and raw.isdigit()):
        return 0
    return min(int(raw), limit)


def _pick(params: Mapping[str, str], *names: str) -> dict[str, Any]:
    return {n: params[n] for n in names if params.get(n)}


def _digest(*parts: object) -> str:
    canonical = json.dumps(parts, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]
