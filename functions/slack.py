"""Slack's interactivity Request URL: a rep clicked Claim, Call or Contacted on an alert.

Signed by Slack (X-Slack-Signature over the raw body, 5-minute timestamp window): anything else
is 403 and changes nothing. Slack wants a 200 within 3 seconds, and ignores its body for a
button click, so the click is only queued here (an empty 200 at once); the alert worker acts on
it and answers through the click's response_url (chalicelib/services/slack_actions.py). If the
click cannot be queued the answer is 503, so Slack retries and the click is not lost. A retry
(X-Slack-Retry-Num) is queued again like the first delivery and lands once: every action is
idempotent per rep and lead."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from chalice.app import Blueprint, Response

from chalicelib.domain.errors import InvalidPayloadError, NotConfiguredError
from chalicelib.logs import get_logger
from chalicelib.services.capture import check_size
from chalicelib.wiring import container
from functions.http import json_errors, json_response, lower_headers, raw_body

if TYPE_CHECKING:
    from chalicelib.services.slack_actions import SlackClick

bp = Blueprint(__name__)
log = get_logger(__name__)

ACTIONS_PATH = "/webhooks/slack/actions"
FORM = ["application/x-www-form-urlencoded"]
SLACK_HOOKS_HOST = "hooks.slack.com"  # where Slack's response_urls point
MAX_URL_CHARS = 2048


@bp.route(ACTIONS_PATH, methods=["POST"], content_types=FORM)
@json_errors
def slack_actions() -> Response:
    """A block_actions payload: queue the click for the worker and say "received" at once."""
    request, c = bp.current_request, container()
    body = raw_body(request)
    check_size(body)
    headers = lower_headers(request)
    ref = c.team.load().alerts.slack_signing_secret_ref
    if ref is None:
        raise NotConfiguredError("alerts.slack.signing_secret is not set in the team file")
    c.verify_slack(c.secrets.resolve(ref), body, headers, clock=c.clock)
    click = _click(body, test_base=c.settings.slack_api_base)
    if "x-slack-retry-num" in headers:
        log.info(
            "slack retry",
            extra={
                "fields": {
                    "retry": headers["x-slack-retry-num"],
                    "reason": headers.get("x-slack-retry-reason"),
                }
            },
        )
    from chalicelib.services.slack_actions import submit

    try:
        submit(click, jobs=c.jobs)
    except Exception:
        log.exception("slack click not queued; Slack retries it")
        return json_response({"Code": "unavailable", "Message": "try again"}, 503)
    # An empty 200 is Slack's "received"; the answer follows through the response_url.
    return Response(body="", status_code=200)


def _click(body: bytes, *, test_base: str | None) -> SlackClick:
    """The click in Slack's form body (one field, `payload`, holding JSON)."""
    from chalicelib.services.slack_actions import SlackClick

    try:
        fields = parse_qs(body.decode("utf-8"), strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise InvalidPayloadError("body is not a valid form", field="payload") from None
    raw = fields.get("payload")
    if not raw:
        raise InvalidPayloadError("is required", field="payload")
    try:
        payload = json.loads(raw[-1])
    except ValueError:
        raise InvalidPayloadError("is not valid JSON", field="payload") from None
    if not isinstance(payload, dict):
        raise InvalidPayloadError("must be a JSON object", field="payload")
    if payload.get("type") != "block_actions":
        raise InvalidPayloadError('must be "block_actions"', field="payload.type")
    user = payload.get("user")
    user_id = user.get("id") if isinstance(user, dict) else None
    actions = payload.get("actions")
    action = actions[0] if isinstance(actions, list) and actions else None
    if not isinstance(action, dict):
        raise InvalidPayloadError("must hold one action", field="payload.actions")
    message = payload.get("message")
    message = message if isinstance(message, dict) else {}
    text = message.get("text")
    return SlackClick(
        user_id=_text(user_id, "payload.user.id"),
        action_id=_text(action.get("action_id"), "payload.actions[0].action_id"),
        lead_id=_text(action.get("value"), "payload.actions[0].value"),
        message_text=text if isinstance(text, str) else "",
        message_blocks=tuple(_blocks(message.get("blocks"))),
        response_url=_response_url(payload.get("response_url"), test_base=test_base),
    )


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 255:
        raise InvalidPayloadError("must be a non-empty string", field=field)
    return value


def _blocks(blocks: object) -> list[Mapping[str, object]]:
    if not isinstance(blocks, list):
        return []
    return [b for b in blocks if isinstance(b, dict)]


def _response_url(value: object, *, test_base: str | None) -> str:
    """The click's response_url if it is Slack's (https on hooks.slack.com), or on the origin
    of `test_base` (LEADCLOCK_SLACK_API_BASE: a fake Slack on 127.0.0.1, never set in AWS);
    else InvalidPayloadError. The worker posts there, so a payload can aim it only at Slack."""
    field = "payload.response_url"
    if not isinstance(value, str) or not value:
        raise InvalidPayloadError("is required", field=field)
    if not (len(value) <= MAX_URL_CHARS and value.isascii() and value.isprintable()):
        raise InvalidPayloadError("is not a URL", field=field)
    if " " in value or "\\" in value:
        raise InvalidPayloadError("is not a URL", field=field)
    allowed = {("https", SLACK_HOOKS_HOST, 443)}
    base = _origin(test_base) if test_base else None
    if base is not None:
        allowed.add(base)
    origin = _origin(value)
    if origin is not None and origin in allowed:
        return value
    raise InvalidPayloadError(f"must be an https URL on {SLACK_HOOKS_HOST}", field=field)


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL without credentials; None for anything else."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.username is not None or parts.password is not None or not parts.hostname:
        return None
    default = {"https": 443, "http": 80}.get(parts.scheme)
    if default is None:
        return None
    return parts.scheme, parts.hostname, port or default
