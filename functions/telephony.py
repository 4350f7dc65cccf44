"""Twilio webhooks: incoming calls and SMS, the end of a forwarded call, voicemail, statuses."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.adapters import twiml
from chalicelib.adapters.signatures import parse_twilio_form
from chalicelib.services.capture import (
    capture_call,
    capture_dial_result,
    capture_twilio_event,
    check_size,
)
from chalicelib.wiring import Container, container
from functions.http import json_errors, json_response, lower_headers, public_url, raw_body

bp = Blueprint(__name__)

FORM = ["application/x-www-form-urlencoded"]
VOICE = "/webhooks/twilio/voice"
DIAL_DONE = "/webhooks/twilio/dial-done"
VOICEMAIL = "/webhooks/twilio/voicemail"
SMS = "/webhooks/twilio/sms"
STATUS = "/webhooks/twilio/status"


@bp.route(VOICE, methods=["POST"], content_types=FORM)
@json_errors
def voice() -> Response:
    """An incoming call: record it, then ring the queue's number (voicemail if nobody answers)."""
    c, args = _signed(VOICE)
    plan = capture_call(*args, **_ports(c))
    xml = twiml.forward_call(
        plan.forward_to,
        caller_id=plan.caller_id,
        timeout_s=plan.ring_timeout_s,
        dial_action_url=_url(c, DIAL_DONE),
        voicemail_action_url=_url(c, VOICEMAIL) if plan.voicemail else None,
    )
    return _xml(xml)


@bp.route(DIAL_DONE, methods=["POST"], content_types=FORM)
@json_errors
def dial_done() -> Response:
    """The forwarded call ended: voicemail when it was not answered, else hang up."""
    c, args = _signed(DIAL_DONE)
    to_voicemail = capture_dial_result(*args, **_ports(c, routing=False))
    return _xml(twiml.voicemail(_url(c, VOICEMAIL)) if to_voicemail else twiml.hangup())


@bp.route(VOICEMAIL, methods=["POST"], content_types=FORM)
@json_errors
def voicemail() -> Response:
    """A voicemail was recorded."""
    c, args = _signed(VOICEMAIL)
    capture_twilio_event("voicemail", *args, **_ports(c))
    return _xml(twiml.hangup())


@bp.route(SMS, methods=["POST"], content_types=FORM)
@json_errors
def sms() -> Response:
    """An incoming SMS; Twilio itself answers STOP/HELP, so we reply with nothing."""
    c, args = _signed(SMS)
    capture_twilio_event("sms", *args, **_ports(c))
    return _xml(twiml.no_reply())


@bp.route(STATUS, methods=["POST"], content_types=FORM)
@json_errors
def status() -> Response:
    """A call or message status callback."""
    c, args = _signed(STATUS)
    landed = capture_twilio_event("status", *args, **_ports(c))
    return json_response({"lead_id": landed.lead_id, "status": landed.status})


def _signed(route: str) -> tuple[Container, tuple[Any, ...]]:
    request, c = bp.current_request, container()
    body = raw_body(request)
    # Refuse an oversized body before spending time parsing it.
    check_size(body)
    params = parse_twilio_form(body)
    url = public_url(request, route, c.settings.public_base_url)
    signature = lower_headers(request).get("x-twilio-signature")
    return c, (url, body, params, signature)


def _ports(c: Container, *, routing: bool = True) -> dict[str, Any]:
    ports = {
        "team": c.team,
        "secrets": c.secrets,
        "verify": c.verify_twilio,
        "store": c.store,
        "clock": c.clock,
    }
    # Only events that can create a lead can need an owner.
    return {**ports, "routing": c.routing} if routing else ports


def _url(c: Container, route: str) -> str:
    # Without PUBLIC_BASE_URL, a URL relative to the current document: Twilio resolves it
    # against the URL it just requested, so the stage prefix (/api) survives. A root-relative
    # "/webhooks/..." would drop it. Every Twilio route shares the /webhooks/twilio/ folder.
    base = c.settings.public_base_url
    return base + route if base else route.rsplit("/", 1)[1]


def _xml(body: str) -> Response:
    return Response(body, status_code=200, headers={"Content-Type": "text/xml"})
