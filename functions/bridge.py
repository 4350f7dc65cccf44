"""Click-to-call: POST /leads/{lead_id}/call (admin key) rings the rep, and Twilio's requests
for the bridged call (POST /bridge/{token}/…, Twilio-signed and token-bound) are answered here.

The routes share one Lambda with the webhooks, so the service is imported inside the handlers:
a form's cold start does not pay for it."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.adapters import twiml
from chalicelib.adapters.signatures import parse_twilio_form
from chalicelib.domain.errors import InvalidPayloadError, ProviderUnavailableError
from chalicelib.services.capture import check_size
from chalicelib.wiring import container
from functions.http import (
    json_errors,
    json_object,
    json_response,
    lower_headers,
    public_url,
    raw_body,
    require_admin,
)

bp = Blueprint(__name__)

FORM = ["application/x-www-form-urlencoded"]
# As chalicelib.services.bridge.BRIDGE_PATH (not imported here: see above).
BRIDGE = "/bridge/{token}"
_OUTCOMES = {
    "completed": "The call has ended. Goodbye.",
    "busy": "The lead's line is busy. Try again in a few minutes.",
    "no-answer": "The lead did not answer. Goodbye.",
}


@bp.route("/leads/{lead_id}/call", methods=["POST"], api_key_required=True)
@json_errors
def start_call(lead_id: str) -> Response:
    """Body {"by": "<rep id>"}: ring the rep's phone; pressing 1 connects them to the lead."""
    c = container()
    request = bp.current_request
    require_admin(request, c)
    by = json_object(raw_body(request)).get("by")
    if not isinstance(by, str) or not 1 <= len(by) <= 64:
        raise InvalidPayloadError("must be a rep id", field="by")
    from chalicelib.services.bridge import start_call as start

    try:
        call = start(lead_id, by=by, worker=c.worker())
    except ProviderUnavailableError as exc:
        # Nothing rings: the rep taps again.
        body = {"Code": "provider_unavailable", "Message": exc.message}
        return json_response(body | ({"ProviderCode": exc.code} if exc.code else {}), 502)
    return json_response(
        {
            "lead_id": call.lead_id,
            "status": call.status,
            "call_sid": call.call_sid,
            "rep": call.rep,
            "caller_id": call.caller_id,
            "at": call.at.isoformat(),
        }
    )


@bp.route(BRIDGE + "/answer", methods=["POST"], content_types=FORM)
@json_errors
def answer(token: str) -> Response:
    """The rep answered: the whisper, then a key press goes to /connect."""
    from chalicelib.services import bridge

    args, ports = _signed(token, "answer")
    whisper = bridge.answer(token, *args, **ports)
    return _xml(twiml.whisper(whisper.text, connect_url=whisper.connect_url))


@bp.route(BRIDGE + "/connect", methods=["POST"], content_types=FORM)
@json_errors
def connect(token: str) -> Response:
    """The rep pressed a key: 1 dials the lead from the tracking number."""
    from chalicelib.services import bridge

    args, ports = _signed(token, "connect")
    plan = bridge.connect(token, *args, **ports)
    if plan is None:
        return _xml(twiml.say_and_hang_up("Not connecting. Goodbye."))
    xml = twiml.bridge_dial(
        plan.lead_phone,
        caller_id=plan.caller_id,
        status_url=plan.status_url,
        done_url=plan.done_url,
        timeout_s=plan.timeout_s,
    )
    return _xml(xml)


@bp.route(BRIDGE + "/done", methods=["POST"], content_types=FORM)
@json_errors
def done(token: str) -> Response:
    """The dial to the lead ended: tell the rep how, and hang up."""
    from chalicelib.services import bridge

    args, ports = _signed(token, "done")
    outcome = bridge.finish(token, *args, **ports)
    return _xml(twiml.say_and_hang_up(_OUTCOMES.get(outcome, "The call could not connect.")))


@bp.route(BRIDGE + "/lead-status", methods=["POST"], content_types=FORM)
@json_errors
def lead_status(token: str) -> Response:
    """The lead leg's progress: placed is the first attempt (the clock stops), answered the
    first connect."""
    return _leg_status(token, "lead")


@bp.route(BRIDGE + "/rep-status", methods=["POST"], content_types=FORM)
@json_errors
def rep_status(token: str) -> Response:
    """The rep leg's progress, for the timeline."""
    return _leg_status(token, "rep")


def _leg_status(token: str, leg: str) -> Response:
    from chalicelib.services import bridge

    args, ports = _signed(token, f"{leg}-status")
    status = bridge.record_leg(token, leg, *args, **ports)
    return json_response({"status": status or "ignored"})


def _signed(token: str, tail: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The service's leading arguments (url, body, params, signature) and its ports."""
    request, c = bp.current_request, container()
    body = raw_body(request)
    check_size(body)  # before spending time parsing it
    url = public_url(request, f"/bridge/{token}/{tail}", c.settings.public_base_url)
    signature = lower_headers(request).get("x-twilio-signature")
    args = (url, body, parse_twilio_form(body), signature)
    return args, {"secrets": c.secrets, "verify": c.verify_twilio, "worker": c.worker()}


def _xml(body: str) -> Response:
    return Response(body, status_code=200, headers={"Content-Type": "text/xml"})
