"""Texts to the team's alerts number (POST /webhooks/twilio/alerts-sms, Twilio-signed): a rep's
reply to an SMS alert (1 or CLAIM, CALL, DONE), answered with a TwiML <Message>; a text from
anyone else lands as a lead's SMS, with no reply.

Kept apart from /webhooks/twilio/sms: the capture route's cold start stays as it is, and the
service is imported inside the handler (the routes share one Lambda)."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.adapters import twiml
from chalicelib.adapters.signatures import parse_twilio_form
from chalicelib.services.capture import check_size
from chalicelib.wiring import container
from functions.http import json_errors, lower_headers, public_url, raw_body

bp = Blueprint(__name__)

FORM = ["application/x-www-form-urlencoded"]
ALERTS_SMS = "/webhooks/twilio/alerts-sms"


@bp.route(ALERTS_SMS, methods=["POST"], content_types=FORM)
@json_errors
def alerts_sms() -> Response:
    """A text to the alerts number: act on a rep's reply, or land a lead's message."""
    request, c = bp.current_request, container()
    body = raw_body(request)
    check_size(body)  # before spending time parsing it
    from chalicelib.services.rep_replies import handle_alerts_sms

    reply = handle_alerts_sms(
        public_url(request, ALERTS_SMS, c.settings.public_base_url),
        body,
        parse_twilio_form(body),
        lower_headers(request).get("x-twilio-signature"),
        secrets=c.secrets,
        verify=c.verify_twilio,
        worker=c.worker(),
    )
    xml = twiml.no_reply() if reply.text is None else twiml.message(reply.text)
    return Response(xml, status_code=200, headers={"Content-Type": "text/xml"})
