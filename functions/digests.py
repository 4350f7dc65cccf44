"""Manager digests: the schedule that sends them, and a preview for the manager to check one.

Every Lambda imports the whole app, the webhooks' too, so the digest code is imported inside
the handlers."""

from __future__ import annotations

from chalice.app import Blueprint, CloudWatchEvent, Response

from chalicelib.domain.errors import InvalidPayloadError
from chalicelib.wiring import container
from functions.http import json_errors, json_response, require_admin

bp = Blueprint(__name__)

# Every 15 minutes on the quarter hour, not rate(1 hour): a rate schedule counts from when it
# was deployed (an 08:00 digest could go at 08:59), and time zones sit on quarter hours
# (Kathmandu is UTC+05:45, India +05:30), so this reaches every zone's 08:00 on time. A run
# with nothing due costs a read or two per digest.
SCHEDULE = "cron(0/15 * * * ? *)"
QUERY_KEYS = ("team", "period", "format")
FORMATS = ("html", "text", "slack")


@bp.schedule(SCHEDULE)
def digests(event: CloudWatchEvent) -> None:
    """Send each digest whose time has come (and any a missed run left), once per period."""
    from chalicelib.services.digests import send_due

    c = container()
    send_due(c.worker(), c.digest_log)


@bp.route("/digests/preview", methods=["GET"], api_key_required=True)
@json_errors
def digest_preview() -> Response:
    """?team=<digest name> (default: the first digest in the team file)
    &period=daily|weekly (the latest) or daily:YYYY-MM-DD|weekly:YYYY-MM-DD (the first day)
    &format=html (default, the email as it would go out now)|text (its plain-text part)|slack
    (the Block Kit message)."""
    c = container()
    request = bp.current_request
    require_admin(request, c)
    query: dict[str, str] = dict(request.query_params or {})
    for key in query:
        if key not in QUERY_KEYS:
            raise InvalidPayloadError(f"unknown parameter; use {', '.join(QUERY_KEYS)}", field=key)
    form = query.get("format") or "html"
    if form not in FORMATS:
        raise InvalidPayloadError(f"must be one of {', '.join(FORMATS)}", field="format")
    from chalicelib.services import digest_render
    from chalicelib.services.digests import preview

    report = preview(
        query.get("team") or None,
        query.get("period") or "daily",
        team=c.team,
        store=c.store,
        alerts=c.alert_log,
        clock=c.clock,
    )
    # Today's numbers change by the minute, and the page names leads: never cached.
    headers: dict[str, str | list[str]] = {"Cache-Control": "no-store"}
    if form == "text":
        body = digest_render.text(report)
        return Response(body, headers=headers | {"Content-Type": "text/plain; charset=utf-8"})
    if form == "slack":
        message = digest_render.slack(report)
        response = json_response({"text": message.text, "blocks": list(message.blocks)})
        response.headers.update(headers)
        return response
    page = digest_render.html(report)
    return Response(page, headers=headers | {"Content-Type": "text/html; charset=utf-8"})
