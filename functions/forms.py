"""Web form webhooks: POST /webhooks/forms/{source}[/{token}]."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.services.capture import capture_form
from chalicelib.wiring import container
from functions.http import json_errors, json_response, lower_headers, raw_body

bp = Blueprint(__name__)

FORM_TYPES = ["application/json", "application/x-www-form-urlencoded"]
# A new lead is 201; a deferred landing (recorded, landing later) is 202; a returning lead or a
# repeated delivery is 200.
_STATUS = {"created": 201, "accepted": 202}


@bp.route("/webhooks/forms/{source}", methods=["POST"], content_types=FORM_TYPES)
@json_errors
def form(source: str) -> Response:
    """A form submission authenticated by signature or a token header."""
    return _capture(source, None)


@bp.route("/webhooks/forms/{source}/{token}", methods=["POST"], content_types=FORM_TYPES)
@json_errors
def form_with_token(source: str, token: str) -> Response:
    """A form submission from a tool that can only be given a URL (the token is in the path)."""
    return _capture(source, token)


def _capture(source: str, token: str | None) -> Response:
    request, c = bp.current_request, container()
    landed = capture_form(
        source,
        raw_body(request),
        lower_headers(request),
        path_token=token,
        team=c.team,
        secrets=c.secrets,
        verify=c.verify_form,
        store=c.store,
        routing=c.routing,
        clock=c.clock,
        timers=c.timers,
    )
    body = {"lead_id": landed.lead_id, "status": landed.status}
    return json_response(body, _STATUS.get(landed.status, 200))
