"""A rep texts a lead (POST /leads/{lead_id}/sms, admin key), and Twilio reports the text's
progress (POST /webhooks/twilio/lead-sms-status/{lead_id}, Twilio-signed).

The routes share one Lambda with the webhooks, so the service is imported inside the handlers:
a form's cold start does not pay for it."""

from __future__ import annotations

from chalice.app import Blueprint, Response

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
# As chalicelib.services.lead_sms.LEAD_SMS_STATUS_PATH (not imported here: see above).
STATUS_PATH = "/webhooks/twilio/lead-sms-status"


@bp.route("/leads/{lead_id}/sms", methods=["POST"], api_key_required=True)
@json_errors
def send_lead_sms(lead_id: str) -> Response:
    """Body {"body": "<text>", "by": "<rep id>"}; header Idempotency-Key (optional) sends once."""
    c = container()
    request = bp.current_request
    require_admin(request, c)
    data = json_object(raw_body(request))
    text, by = data.get("body"), data.get("by")
    if not isinstance(text, str):
        raise InvalidPayloadError("is required: the text to send", field="body")
    if not isinstance(by, str) or not 1 <= len(by) <= 64:
        raise InvalidPayloadError("must be a rep id", field="by")
    from chalicelib.services.lead_sms import send_sms

    try:
        sent = send_sms(
            lead_id,
            body=text,
            by=by,
            idempotency_key=lower_headers(request).get("idempotency-key"),
            worker=c.worker(),
        )
    except ProviderUnavailableError as exc:
        # Nothing went out: the rep (or their client, with the same Idempotency-Key) retries.
        body = {"Code": "provider_unavailable", "Message": exc.message}
        return json_response(body | ({"ProviderCode": exc.code} if exc.code else {}), 502)
    return json_response(
        {
            "lead_id": sent.lead_id,
            "status": sent.status,
            "provider_id": sent.provider_id,
            "from": sent.from_number,
            "at": sent.at.isoformat(),
        }
    )


@bp.route(STATUS_PATH + "/{lead_id}", methods=["POST"], content_types=FORM)
@json_errors
def lead_sms_status(lead_id: str) -> Response:
    """Twilio reports a lead SMS sent or delivered: the lead's first response."""
    request, c = bp.current_request, container()
    body = raw_body(request)
    check_size(body)  # before spending time parsing it
    route = f"{STATUS_PATH}/{lead_id}"
    from chalicelib.services.lead_sms import record_sms_status

    status = record_sms_status(
        lead_id,
        public_url(request, route, c.settings.public_base_url),
        body,
        parse_twilio_form(body),
        lower_headers(request).get("x-twilio-signature"),
        secrets=c.secrets,
        verify=c.verify_twilio,
        worker=c.worker(),
    )
    return json_response({"status": status or "ignored"})
