"""The sales funnel: POST /leads/{lead_id}/stage (admin key) and POST /webhooks/crm/{source}
(a CRM, Standard Webhooks signed) move a lead to mql, sql, opportunity, won or lost.

Both routes share one Lambda with the webhooks, so the service is imported inside the handlers:
a form's cold start does not pay for it."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.domain.errors import InvalidPayloadError
from chalicelib.wiring import container
from functions.api import lead_json
from functions.http import (
    json_errors,
    json_object,
    json_response,
    lower_headers,
    raw_body,
    require_admin,
)

bp = Blueprint(__name__)

MAX_KEY_CHARS = 128


@bp.route("/leads/{lead_id}/stage", methods=["POST"], api_key_required=True)
@json_errors
def lead_stage(lead_id: str) -> Response:
    """Body {"stage": "won", "amount": "1200.50", "currency": "USD", "reason", "by", "at"};
    answers the lead as it is after the move (the same move again: unchanged, 200). Header
    Idempotency-Key (optional): a retry with the same key is answered as done even after the
    lead has moved on."""
    c = container()
    request = bp.current_request
    require_admin(request, c)
    body = json_object(raw_body(request))
    key = lower_headers(request).get("idempotency-key")
    if key is not None and not 1 <= len(key) <= MAX_KEY_CHARS:
        raise InvalidPayloadError(
            f"must be 1 to {MAX_KEY_CHARS} characters", field="Idempotency-Key"
        )
    from chalicelib.services.stages import change_stage

    result = change_stage(
        lead_id,
        stage=body.get("stage"),
        by=body.get("by"),
        at=body.get("at"),
        amount=body.get("amount"),
        currency=body.get("currency"),
        reason=body.get("reason"),
        source_event_id=f"api:{key}" if key else None,
        worker=c.worker(),
    )
    return json_response(lead_json(result.lead))


@bp.route("/webhooks/crm/{source}", methods=["POST"], content_types=["application/json"])
@json_errors
def crm_stage(source: str) -> Response:
    """A CRM moved a deal: the lead (by lead_id, phone or email) moves to the same stage."""
    request, c = bp.current_request, container()
    from chalicelib.services.stages import record_crm_stage

    result = record_crm_stage(
        source,
        raw_body(request),
        lower_headers(request),
        secrets=c.secrets,
        verify=c.verify_form,
        worker=c.worker(),
    )
    lead = result.lead
    body = {"lead_id": lead.lead_id, "stage": lead.stage, "status": result.status}
    return json_response(body)
