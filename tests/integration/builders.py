"""Captures and changes for the store tests, built with the real domain builders."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from chalicelib.domain import inbound
from chalicelib.domain.capture import Capture
from chalicelib.domain.forms import parse_form
from chalicelib.domain.model import Touchpoint
from chalicelib.domain.team import SourceConfig
from chalicelib.ports import InboundEvent, LeadChange, LeadStore

REGION = "US"
PHONE = "+14155550134"
TRACKING_NUMBER = "+14155550111"


def source(name: str = "website") -> SourceConfig:
    """A form source as the team file would configure it."""
    return SourceConfig(name=name, auth_scheme="token", secret_ref=f"env:SECRET_{name.upper()}")


def form(
    event_id: str,
    *,
    phone: str | None = PHONE,
    email: str | None = None,
    name: str | None = None,
    company: str | None = None,
    source_name: str = "website",
    **extra: str,
) -> Capture:
    """A form submission with the provider's own event id (so its key is not windowed)."""
    fields: dict[str, Any] = {"phone": phone, "email": email, "name": name, "company": company}
    fields = {k: v for k, v in fields.items() if v is not None} | extra
    submission = parse_form(json.dumps(fields).encode(), "application/json")
    capture, _ = inbound.form_capture(
        source(source_name), submission, provider_id=event_id, default_region=REGION
    )
    return capture


def call(call_sid: str, *, phone: str = PHONE) -> Capture:
    """An incoming call to an unconfigured tracking number (attributed to "phone")."""
    params = {"CallSid": call_sid, "From": phone, "To": TRACKING_NUMBER, "CallStatus": "ringing"}
    return inbound.call_capture(params, None, default_region=REGION)


def sms(message_sid: str, body: str, *, phone: str = PHONE) -> Capture:
    """An incoming SMS; STOP and START in the body change the opt-out."""
    params = {"MessageSid": message_sid, "From": phone, "To": TRACKING_NUMBER, "Body": body}
    return inbound.sms_capture(params, None, default_region=REGION)


def call_status(call_sid: str, status: str, *, phone: str = PHONE) -> Capture:
    """A call status callback: it attaches to a known lead and never creates one."""
    params = {"CallSid": call_sid, "CallStatus": status, "From": phone, "Direction": "inbound"}
    return inbound.status_capture(params, default_region=REGION)


def change(
    capture: Capture,
    lead_id: str,
    at: datetime,
    *,
    claims: tuple[str, ...] | None = None,
    links: tuple[str, ...] = (),
) -> LeadChange:
    """The change that lands `capture` on `lead_id` at `at`, claiming its keys by default."""
    touch = Touchpoint(
        event_key=capture.event_key,
        lead_id=lead_id,
        at=at,
        channel=capture.channel,
        kind=capture.kind,
        attribution=capture.attribution,
        detail=capture.detail,
    )
    return LeadChange(
        lead_id=lead_id,
        touchpoint=touch,
        capture=capture,
        claims=capture.claims if claims is None else claims,
        links=links,
    )


def record(store: LeadStore, capture: Capture, at: datetime) -> None:
    """Record `capture` as received at `at` (new, or the test is wrong)."""
    recorded = store.record_event(InboundEvent(capture.event_key, at, capture), replace_before=None)
    assert recorded.is_new


def land(store: LeadStore, capture: Capture, lead_id: str, at: datetime, **kwargs: Any) -> None:
    """Record `capture` and apply it to `lead_id`, the way the landing service would."""
    record(store, capture, at)
    store.apply(change(capture, lead_id, at, **kwargs))
