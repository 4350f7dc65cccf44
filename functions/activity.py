"""CRM activity webhooks: POST /webhooks/activity/{source} (Standard Webhooks signed).

The route shares one Lambda with the form webhooks, so the service is imported inside the
handler: a form's cold start does not pay for the response service."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.wiring import container
from functions.http import json_errors, json_response, lower_headers, raw_body

bp = Blueprint(__name__)


@bp.route("/webhooks/activity/{source}", methods=["POST"], content_types=["application/json"])
@json_errors
def activity(source: str) -> Response:
    """A CRM reports a call, email, SMS or meeting with a lead: it counts as a response."""
    request, c = bp.current_request, container()
    from chalicelib.services.activity import record_activity

    recorded = record_activity(
        source,
        raw_body(request),
        lower_headers(request),
        secrets=c.secrets,
        verify=c.verify_form,
        worker=c.worker(),
    )
    body = {
        "lead_id": recorded.lead_id,
        "status": recorded.status,
        "first_response": recorded.first_response,
    }
    return json_response(body)
