"""Slack's interactivity Request URL: a rep clicked Claim, Call or Contacted on an alert.

Signed by Slack (X-Slack-Signature over the raw body, 5-minute timestamp window): anything else
is 403 and changes nothing. Slack retries a click it got no 200 for within 3 s, marking it
X-Slack-Retry-Num; the retry is handled like the first delivery and lands once, because claiming
and "contacted" are idempotent per rep and lead."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

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


@bp.route(ACTIONS_PATH, methods=["POST"], content_types=FORM)
@json_errors
def slack_actions() -> Response:
    """A block_actions payload: act on the button for the rep who clicked it."""
    request, c = bp.current_request, container()
    body = raw_body(request)
    check_size(body)
    headers = lower_headers(request)
    ref = c.team.load().alerts.slack_signing_secret_ref
    if ref is None:
        raise NotConfiguredError("alerts.slack.signing_secret is not set in the team file")
    c.verify_slack(c.secrets.resolve(ref), body, headers, clock=c.clock)
    click = _click(body)
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
    from chalicelib.services.slack_actions import handle_click

    reply = handle_click(click, worker=c.worker())
    if reply.message is None:
        return json_response({"response_type": "ephemeral", "text": reply.text})
    return json_response(
        {
            "replace_original": True,
            "text": reply.message.text,
            "blocks": list(reply.message.blocks),
        }
    )


def _click(body: bytes) -> SlackClick:
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
    )


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 255:
        raise InvalidPayloadError("must be a non-empty string", field=field)
    return value


def _blocks(blocks: object) -> list[Mapping[str, object]]:
    if not isinstance(blocks, list):
        return []
    return [b for b in blocks if isinstance(b, dict)]
