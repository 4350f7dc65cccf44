"""Twilio webhooks: incoming calls and SMS, the end of a forwarded call, voicemail, statuses."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.adapters import twiml
from chalicelib.adapters.signatures import parse_twilio_form
from chalicelib.services.capture import capture_call, capture_dial_result, capture_twilio_event
from chalicelib.wiring import Container, container
from functions.http import json_errors, lower_headers, public_url

bp = Blueprint(__name__)

FORM = ["application/x-www-form-urlencoded"]
VOICE, DIAL_DONE, VOICEMAIL = "/webhooks/twilio/voice", "/webhooks/twilio/dial-done", "/webhooks/twilio/voicemail"
SMS, STATUS = "/webhooks/twilio/sms", "/webhooks/twilio/status"


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
    to_voicemail = capture_dial_result(*args, **_ports(c))
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
    return Response({"lead_id": landed.lead_id, "status": landed.status}, status_code=200)


def _signed(route: str) -> tuple[Container, tuple[Any, ...]]:
    request, c = bp.current_request, container()
    body = request.raw_body
    params = parse_twilio_form(body)
    url = public_url(request, route, c.settings.public_base_url)
    signature = lower_headers(request).get("x-twilio-signature")
    return c, (url, body, params, signature)


def _ports(c: Container) -> dict[str, Any]:
    return {
        "team": c.team,
        "secrets": c.secrets,
        "verify": c.verify_twilio,
        "store": c.store,
        "clock": c.clock,
    }


def _url(c: Container, route: str) -> str:
    return (c.settings.public_base_url or "") + route


def _xml(body: str) -> Response:
    return Response(body, status_code=200, headers={"Content-Type": "text/xml"})
