"""Slack alerts: a bot token (chat.postMessage, DMs, chat.update) or an incoming webhook.

slack_sdk is imported on the first send only. Its built-in retry handlers are switched off:
the alert service retries, honours Retry-After and counts attempts, and a hidden retry here
would send twice and hide the lateness it causes.
"""

from __future__ import annotations

import http.client
import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chalicelib.ports import AlertContent, Delivery, DeliveryError, Sent

if TYPE_CHECKING:
    from slack_sdk import WebClient
    from slack_sdk.webhook import WebhookClient

SLACK_API = "https://slack.com/api/"
TIMEOUT_S = 10
ERROR_NAME = re.compile(r"[a-z_]{1,64}")
# Errors no retry can fix: the address is wrong or gone, or the app may not post there.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "user_not_found",
        "is_archived",
        "channel_is_archived",
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "account_inactive",
        "no_permission",
        "missing_scope",
        "restricted_action",
        "cannot_dm_bot",
        "user_disabled",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
    }
)


class SlackBot:
    """Posts with a bot token: to a channel id (C…) or a user id (U…/W…), which opens a DM."""

    def __init__(self, token: str, *, base_url: str | None = None) -> None:
        self._token = token
        self._base_url = base_url or SLACK_API
        self._client: WebClient | None = None
        self._lock = threading.Lock()

    def send(self, delivery: Delivery) -> Sent:
        """Post the message once; the provider id is "<channel>:<ts>", what chat.update needs."""
        content = delivery.content
        reply = self._call(
            "chat_postMessage",
            channel=delivery.to,
            text=content.text,
            blocks=[dict(b) for b in content.blocks] or None,
        )
        # For a DM the reply names the D… channel Slack opened, which is what an update needs.
        return Sent(f"{reply['channel']}:{reply['ts']}")

    def update(self, provider_id: str, content: AlertContent) -> Sent:
        """Replace an earlier message (e.g. mark it claimed) in place."""
        channel, _, ts = provider_id.partition(":")
        if not channel or not ts:
            raise DeliveryError(
                f"not a Slack message id: {provider_id!r}", permanent=True, code="bad_id"
            )
        reply = self._call(
            "chat_update",
            channel=channel,
            ts=ts,
            text=content.text,
            blocks=[dict(b) for b in content.blocks] or None,
        )
        return Sent(f"{reply.get('channel') or channel}:{reply.get('ts') or ts}")

    def _call(self, method: str, **kwargs: Any) -> Mapping[str, Any]:
        from slack_sdk.errors import SlackApiError

        try:
            reply = getattr(self._web(), method)(**kwargs)
        except SlackApiError as exc:
            response = exc.response
            error = response.get("error") if isinstance(response.data, dict) else None
            raise classify(response.status_code, error, response.headers) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise _connection_error(exc) from exc
        data: Mapping[str, Any] = reply.data if isinstance(reply.data, dict) else {}
        return data

    def _web(self) -> WebClient:
        with self._lock:
            if self._client is None:
                from slack_sdk import WebClient

                self._client = WebClient(
                    token=self._token,
                    base_url=self._base_url,
                    timeout=TIMEOUT_S,
                    retry_handlers=[],
                )
            return self._client


class SlackWebhook:
    """Posts to an incoming webhook, which is bound to one channel: every `to` lands there."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._client: WebhookClient | None = None
        self._lock = threading.Lock()

    def send(self, delivery: Delivery) -> Sent:
        """Post the message once; webhooks return no message id."""
        if is_user_id(delivery.to):
            # A webhook cannot reach a person. Permanent, so the service falls back to the
            # recipient's next channel; a DM needs the bot token.
            raise DeliveryError(
                "a Slack DM needs the bot token; only a webhook is configured",
                permanent=True,
                code="not_configured",
            )
        content = delivery.content
        try:
            reply = self._webhook().send(
                text=content.text, blocks=[dict(b) for b in content.blocks] or None
            )
        except (OSError, http.client.HTTPException) as exc:
            raise _connection_error(exc) from exc
        if reply.status_code == 200 and reply.body.strip() == "ok":
            return Sent(None)
        error = reply.body.strip()[:100] or None
        if reply.status_code == 200:
            # Slack answered but not as documented; a later attempt may go through.
            raise DeliveryError(
                f"Slack webhook answered {error!r}", permanent=False, code=error or "unexpected"
            )
        raise classify(reply.status_code, error, reply.headers, any_4xx_permanent=True)

    def _webhook(self) -> WebhookClient:
        with self._lock:
            if self._client is None:
                from slack_sdk.webhook import WebhookClient

                self._client = WebhookClient(self._url, timeout=TIMEOUT_S, retry_handlers=[])
            return self._client


def is_user_id(to: str) -> bool:
    """True for a Slack user id (U…, or W… on Enterprise Grid), false for a channel id."""
    return to[:1] in ("U", "W")


def classify(
    status: int,
    error: str | None,
    headers: Mapping[str, Any] | None,
    *,
    any_4xx_permanent: bool = False,
) -> DeliveryError:
    """A Slack failure as a DeliveryError: 429 carries Retry-After; known errors are permanent."""
    text = f"Slack {status}: {error or 'error'}"
    if status == 429 or error == "ratelimited":
        return DeliveryError(
            text, permanent=False, code="ratelimited", retry_after=retry_after(headers)
        )
    if error in PERMANENT_ERRORS:
        return DeliveryError(text, permanent=True, code=error)
    # A webhook answers 400/403/404/410 for a bad payload, a revoked hook or a deleted channel.
    permanent = any_4xx_permanent and 400 <= status < 500
    # slack_sdk reports an undecodable body (a proxy's HTML page) as a long sentence.
    code = error if error and ERROR_NAME.fullmatch(error) else str(status)
    return DeliveryError(text, permanent=permanent, code=code)


def retry_after(headers: Mapping[str, Any] | None) -> float | None:
    """Seconds from a Retry-After header (any case), if present and a number."""
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) and value else value
            try:
                return max(0.0, float(raw))
            except (TypeError, ValueError):
                return None
    return None


def _connection_error(exc: BaseException) -> DeliveryError:
    return DeliveryError(f"could not reach Slack: {exc}", permanent=False, code="connection")
