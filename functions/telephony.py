"""Twilio webhooks: incoming calls and SMS, the end of a forwarded call, voicemail, statuses."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.adapters import twiml
from chalicelib.adapters.signatures import parse_twilio_form
from chalicelib.domain.identity import e164_or_none
from chalicelib.services.capture import (
    capture_call,
    capture_dial_result,
    capture_twilio_event,
    check_size,
    record_alert_status,
)
from chalicelib.services.worker import ALERT_STATUS_PATH
from chalicelib.wiring import Container, container
from functions.http import json_errors, json_response, lower_headers, public_url, raw_body

bp = Blueprint(__name__)

FORM = ["application/x-www-form-urlencoded"]
VOICE = "/webhooks/twilio/voice"
DIAL_DONE = "/webhooks/twilio/dial-done"
VOICEMAIL = "/webhooks/twilio/voicemail"
NO_REP = "-"
SMS = "/webhooks/twilio/sms"
STATUS = "/webhooks/twilio/status"


@bp.route(VOICE, methods=["POST"], content_types=FORM)
@json_errors
def voice() -> Response:
    """An incoming call: record it, give the caller an owner and ring them (else the queue's
    number); an unanswered leg comes back to dial-done."""
    c, args, base = _signed(VOICE)
    plan = capture_call(*args, **_ports(c))
    # The reps rung so far travel in the action URL's last segment ("-" for none).
    rung = plan.ringing or NO_REP
    xml = twiml.forward_call(
        plan.forward_to,
        caller_id=plan.caller_id,
        timeout_s=plan.ring_timeout_s,
        dial_action_url=base + f"{DIAL_DONE}/{rung}",
        voicemail_action_url=base + VOICEMAIL if plan.voicemail else None,
    )
    return _xml(xml)


@bp.route(DIAL_DONE + "/{rung}", methods=["POST"], content_types=FORM)
@json_errors
def dial_done(rung: str) -> Response:
    """A forwarded leg ended: hang up if it was answered, else ring the next eligible rep,
    then voicemail."""
    c, args, base = _signed(f"{DIAL_DONE}/{rung}")
    tried = tuple(r for r in rung.split(".") if r and r != NO_REP)
    plan = capture_dial_result(*args, tried=tried, worker=c.worker(), **_ports(c, routing=False))
    if plan.ring is not None and plan.ring.phone:
        xml = twiml.forward_call(
            plan.ring.phone,
            caller_id=_caller_id(args[2]),
            timeout_s=plan.ring_timeout_s,
            dial_action_url=base + f"{DIAL_DONE}/{'.'.join(plan.tried)}",
            voicemail_action_url=None,
        )
        return _xml(xml)
    return _xml(twiml.voicemail(base + VOICEMAIL) if plan.voicemail else twiml.hangup())


@bp.route(VOICEMAIL, methods=["POST"], content_types=FORM)
@json_errors
def voicemail() -> Response:
    """A voicemail was recorded."""
    c, args, _base = _signed(VOICEMAIL)
    capture_twilio_event("voicemail", *args, **_ports(c))
    return _xml(twiml.hangup())


@bp.route(SMS, methods=["POST"], content_types=FORM)
@json_errors
def sms() -> Response:
    """An incoming SMS; Twilio itself answers STOP/HELP, so we reply with nothing."""
    c, args, _base = _signed(SMS)
    capture_twilio_event("sms", *args, **_ports(c))
    return _xml(twiml.no_reply())


@bp.route(STATUS, methods=["POST"], content_types=FORM)
@json_errors
def status() -> Response:
    """A call or message status callback."""
    c, args, _base = _signed(STATUS)
    landed = capture_twilio_event("status", *args, **_ports(c))
    return json_response({"lead_id": landed.lead_id, "status": landed.status})


@bp.route(ALERT_STATUS_PATH + "/{lead_id}/{key}", methods=["POST"], content_types=FORM)
@json_errors
def alert_status(lead_id: str, key: str) -> Response:
    """Twilio reports whether an alert SMS reached the rep's phone."""
    c, args, _ = _signed(f"{ALERT_STATUS_PATH}/{lead_id}/{key}")
    status = record_alert_status(
        lead_id,
        key,
        *args,
        team=c.team,
        secrets=c.secrets,
        verify=c.verify_twilio,
        alerts=c.alert_log,
    )
    return json_response({"status": status or "ignored"})


def _signed(route: str) -> tuple[Container, tuple[Any, ...], str]:
    """The container, the service's leading arguments (url, body, params, signature), and the
    base our TwiML's action URLs start from: PUBLIC_BASE_URL when set, else the base of the
    URL Twilio just called (Host and the path API Gateway saw), so a stage prefix survives."""
    request, c = bp.current_request, container()
    body = raw_body(request)
    # Refuse an oversized body before spending time parsing it.
    check_size(body)
    params = parse_twilio_form(body)
    url = public_url(request, route, c.settings.public_base_url)
    base = url[: -len(route)] if url.endswith(route) else (c.settings.public_base_url or "")
    signature = lower_headers(request).get("x-twilio-signature")
    return c, (url, body, params, signature), base


def _ports(c: Container, *, routing: bool = True) -> dict[str, Any]:
    ports = {
        "team": c.team,
        "secrets": c.secrets,
        "verify": c.verify_twilio,
        "store": c.store,
        "clock": c.clock,
    }
    # Only events that can create a lead can need an owner (and start a clock).
    return {**ports, "routing": c.routing, "timers": c.timers} if routing else ports


def _caller_id(params: dict[str, str]) -> str | None:
    # Ring reps from the tracking number the lead called, so they know it is a lead.
    return e164_or_none(params.get("To"))


def _xml(body: str) -> Response:
    return Response(body, status_code=200, headers={"Content-Type": "text/xml"})
