"""The leads API, behind the admin key: GET /leads, GET /leads/{lead_id} and
POST /leads/{lead_id}/reassign."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from chalice.app import Blueprint, MultiDict, Response

from chalicelib.domain.errors import InvalidPayloadError
from chalicelib.domain.model import Lead, Touchpoint
from chalicelib.services.assignment import reassign
from chalicelib.services.leads import get_lead, list_leads
from chalicelib.wiring import container
from functions.http import json_errors, json_object, json_response, raw_body, require_admin

bp = Blueprint(__name__)


@bp.route("/leads/{lead_id}", methods=["GET"], api_key_required=True)
@json_errors
def lead(lead_id: str) -> Response:
    """One lead: contact, first and last touch, status and its touchpoints in order."""
    c = container()
    require_admin(bp.current_request, c)
    view = get_lead(lead_id, store=c.store)
    body = lead_json(view.lead)
    body["touchpoints"] = [touch_json(t) for t in view.touchpoints]
    return json_response(body)


@bp.route("/leads", methods=["GET"], api_key_required=True)
@json_errors
def leads() -> Response:
    """Leads newest first; filters since, source, status; cursor pagination."""
    c = container()
    request = bp.current_request
    require_admin(request, c)
    q: MultiDict | dict[str, str] = request.query_params or {}
    page = list_leads(
        since=q.get("since"),
        source=q.get("source"),
        status=q.get("status"),
        limit=q.get("limit"),
        cursor=q.get("cursor"),
        store=c.store,
    )
    return json_response({"leads": [lead_json(x) for x in page.leads], "cursor": page.cursor})


@bp.route("/leads/{lead_id}/reassign", methods=["POST"], api_key_required=True)
@json_errors
def reassign_lead(lead_id: str) -> Response:
    """Move the lead to the next eligible rep; body {"reason": "...", "by": "..."} (optional)."""
    c = container()
    request = bp.current_request
    require_admin(request, c)
    body = json_object(raw_body(request))
    moved = reassign(
        lead_id,
        reason=_text(body, "reason", "manager request", 200),
        by=_text(body, "by", "api", 100),
        team=c.team,
        routing=c.routing,
        store=c.store,
        clock=c.clock,
    )
    return json_response(lead_json(moved))


def _text(body: dict[str, Any], name: str, default: str, limit: int) -> str:
    value = body.get(name, default)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidPayloadError(f"must be text of 1 to {limit} characters", field=name)
    return value.strip()


def lead_json(lead: Lead) -> dict[str, Any]:
    """The API's JSON for a lead."""
    body = asdict(lead)
    body["linked_lead_ids"] = sorted(lead.linked_lead_ids)
    return _iso(body)


def touch_json(touch: Touchpoint) -> dict[str, Any]:
    """The API's JSON for a touchpoint."""
    return _iso(asdict(touch))


def _iso(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in body.items()}
