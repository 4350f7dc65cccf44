"""What people do about a lead: claim it (escalation pauses), report a response (the clock
stops), and read the alert log. Behind the admin key until signed links arrive.

Every route shares one Lambda with the webhooks, so these services are imported inside their
handlers: a form's cold start does not pay for them."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from chalice.app import Blueprint, MultiDict, Response

from chalicelib.domain.errors import InvalidPayloadError, NotFoundError
from chalicelib.wiring import container
from functions.api import lead_json
from functions.http import json_errors, json_object, json_response, raw_body, require_admin

bp = Blueprint(__name__)


@bp.route("/leads/{lead_id}/claim", methods=["POST"], api_key_required=True)
@json_errors
def claim_lead(lead_id: str) -> Response:
    """Body {"by": "<rep id>"}: pauses escalation for the policy's grace period."""
    c = container()
    request = bp.current_request
    require_admin(request, c)
    body = json_object(raw_body(request))
    from chalicelib.services.responses import claim

    lead = claim(lead_id, by=_rep(body, required=True) or "", worker=c.worker())
    return json_response(lead_json(lead))


@bp.route("/leads/{lead_id}/events", methods=["POST"], api_key_required=True)
@json_errors
def lead_event(lead_id: str) -> Response:
    """Body {"type": "contacted", "by": "<rep id>", "at": "<ISO time>"} (by, at optional)."""
    c = container()
    request = bp.current_request
    require_admin(request, c)
    body = json_object(raw_body(request))
    kind = body.get("type")
    if not isinstance(kind, str):
        raise InvalidPayloadError('is required, e.g. "contacted"', field="type")
    from chalicelib.services.responses import record_event

    lead = record_event(
        lead_id, kind=kind, by=_rep(body, required=False), at=_at(body), worker=c.worker()
    )
    return json_response(lead_json(lead))


@bp.route("/alerts", methods=["GET"], api_key_required=True)
@json_errors
def alerts() -> Response:
    """Alerts by status (default failed) or for one lead (lead_id), and the DLQ depth."""
    c = container()
    request = bp.current_request
    require_admin(request, c)
    q: MultiDict | dict[str, str] = request.query_params or {}
    from chalicelib.services.alert_queries import list_alerts

    page = list_alerts(
        status=q.get("status"),
        lead_id=q.get("lead_id"),
        limit=q.get("limit"),
        alerts=c.alert_log,
        timers=c.timers,
    )
    items = [_iso(asdict(a)) for a in page.alerts]
    return json_response({"alerts": items, "dead_letters": page.dead_letters})


@bp.route("/outbox", methods=["GET"], api_key_required=True)
@json_errors
def outbox() -> Response:
    """Local mode only: the alerts that would have gone to providers, newest first."""
    c = container()
    require_admin(bp.current_request, c)
    if c.outbox is None:
        raise NotFoundError("the outbox exists in local mode only (make run)")
    return json_response({"items": [_iso(asdict(i)) for i in c.outbox.items(limit=200)]})


def _rep(body: dict[str, Any], *, required: bool) -> str | None:
    value = body.get("by")
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        raise InvalidPayloadError("must be a rep id", field="by")
    return value


def _at(body: dict[str, Any]) -> datetime | None:
    value = body.get("at")
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidPayloadError("not an ISO 8601 date-time", field="at") from None
    if at.tzinfo is None:
        raise InvalidPayloadError("needs a time zone, e.g. 2026-11-01T09:30:00Z", field="at")
    return at


def _iso(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in body.items()}
