"""GET /metrics (admin key): leads in, speed-to-lead, SLA, funnel and revenue for a window of
the team's local days, whole or grouped by source, campaign, rep or queue.

The route shares one Lambda with the webhooks, so the service is imported inside the handler."""

from __future__ import annotations

from datetime import date

from chalice.app import Blueprint, Response

from chalicelib.domain.errors import InvalidPayloadError
from chalicelib.wiring import container
from functions.http import json_errors, json_response, require_admin

bp = Blueprint(__name__)

QUERY_KEYS = ("from", "to", "group_by")


@bp.route("/metrics", methods=["GET"], api_key_required=True)
@json_errors
def metrics() -> Response:
    """?from=YYYY-MM-DD&to=YYYY-MM-DD (local dates, both included; default today)
    &group_by=source|campaign|rep|queue (default: the total alone)."""
    c = container()
    request = bp.current_request
    require_admin(request, c)
    query: dict[str, str] = dict(request.query_params or {})
    for key in query:
        if key not in QUERY_KEYS:
            raise InvalidPayloadError(f"unknown parameter; use {', '.join(QUERY_KEYS)}", field=key)
    from chalicelib.services.metrics import window

    result = window(
        _day(query.get("from"), "from"),
        _day(query.get("to"), "to"),
        group_by=query.get("group_by") or None,
        store=c.store,
        team=c.team,
        clock=c.clock,
    )
    body = {
        "from": result.start.isoformat(),
        "to": result.end.isoformat(),
        "timezone": result.timezone,
        "as_of": result.now.isoformat(),
        "leads_read": result.leads_read,
    }
    return json_response(body | result.metrics.to_json())


def _day(text: str | None, field: str) -> date | None:
    if text is None or text == "":
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidPayloadError("must be a date, YYYY-MM-DD", field=field) from None
