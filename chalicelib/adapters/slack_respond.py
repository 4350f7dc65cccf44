"""Answers to Slack button clicks, posted to the click's `response_url` with slack_sdk's
WebhookClient (the URL itself authorizes the post: no token). Locally, without Slack credentials,
the answers go to the outbox instead.

slack_sdk is imported on the first answer only, and its retry handlers are off: the worker's
queue redelivers a job whose answer failed for now, and a hidden retry would post twice.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from chalicelib.ports import AlertContent, DeliveryError, SlackResponder

if TYPE_CHECKING:
    from chalicelib.adapters.channels.outbox import Outbox

TIMEOUT_S = 10


class WebhookResponder:
    """Posts to response_urls. With `base_url` (a fake Slack on 127.0.0.1 in tests and local
    runs) every answer goes to that origin instead, path kept: nothing reaches the real Slack."""

    def __init__(self, *, base_url: str | None = None, timeout_s: int = TIMEOUT_S) -> None:
        self._base = urlsplit(base_url) if base_url else None
        self._timeout_s = timeout_s

    def respond(
        self,
        url: str,
        *,
        text: str,
        blocks: Sequence[Mapping[str, object]] = (),
        replace_original: bool,
    ) -> None:
        """Replace the clicked message, or answer the clicker alone; raises DeliveryError."""
        from slack_sdk.webhook import WebhookClient

        from chalicelib.adapters.channels.slack import ERROR_NAME, classify

        client = WebhookClient(self._target(url), timeout=self._timeout_s, retry_handlers=[])
        payload = [dict(b) for b in blocks] or None
        try:
            if replace_original:
                reply = client.send(text=text, blocks=payload, replace_original=True)
            else:
                # Said explicitly: the clicked message stays as it is.
                reply = client.send(
                    text=text, blocks=payload, response_type="ephemeral", replace_original=False
                )
        except (OSError, http.client.HTTPException) as exc:
            raise DeliveryError(
                f"could not reach Slack: {exc}", permanent=False, code="connection"
            ) from exc
        error = _error(reply.body)
        if reply.status_code == 200 and error is None:
            return
        if reply.status_code == 200 and error != "ratelimited":
            # Slack read the answer and refused it (a used-up or expired URL, bad blocks): the
            # same answer posted again is refused again.
            code = error if error and ERROR_NAME.fullmatch(error) else "refused"
            raise DeliveryError(f"Slack refused the answer: {error}", permanent=True, code=code)
        raise classify(reply.status_code, error, reply.headers, any_4xx_permanent=True)

    def _target(self, url: str) -> str:
        if self._base is None:
            return url
        parts = urlsplit(url)
        return urlunsplit((self._base.scheme, self._base.netloc, parts.path, parts.query, ""))


def _error(body: str) -> str | None:
    """Slack's error name in a response_url answer (`{"ok": false, "error": …}` or plain text);
    None for a success (`{"ok": true}`, or "ok")."""
    text = body.strip()
    try:
        data = json.loads(text)
    except ValueError:
        return None if text in ("", "ok") else text[:100]
    if isinstance(data, dict):
        if data.get("ok", True) is not False:
            return None
        return str(data.get("error") or "error")[:100]
    return text[:100]


class OutboxResponder:
    """Writes answers to the local outbox (`make run` without Slack credentials)."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def respond(
        self,
        url: str,
        *,
        text: str,
        blocks: Sequence[Mapping[str, object]] = (),
        replace_original: bool,
    ) -> None:
        """Record the answer, addressed to the response_url; always succeeds."""
        content = AlertContent(
            subject="[leadclock] answer to a Slack click"
            + ("" if replace_original else " (only the clicker sees it)"),
            text=text,
            html="",
            blocks=tuple(blocks),
        )
        kind = "update" if replace_original else "send"
        self.outbox.add(kind=kind, channel="slack", to=url, content=content)


class ChosenResponder:
    """Slack when `use_slack()` says its credentials are set, else the outbox, decided per
    answer like the alert senders (setting SLACK_BOT_TOKEN switches a local run over)."""

    def __init__(
        self, slack: SlackResponder, outbox: SlackResponder, use_slack: Callable[[], bool]
    ) -> None:
        self._slack = slack
        self._outbox = outbox
        self._use_slack = use_slack

    def respond(
        self,
        url: str,
        *,
        text: str,
        blocks: Sequence[Mapping[str, object]] = (),
        replace_original: bool,
    ) -> None:
        """Answer through Slack or the outbox."""
        target = self._slack if self._use_slack() else self._outbox
        target.respond(url, text=text, blocks=blocks, replace_original=replace_original)


def build_responder(
    *,
    base_url: str | None,
    outbox: Outbox | None,
    slack_configured: Callable[[], bool],
) -> SlackResponder:
    """The responder for a deployment: Slack's response_urls in AWS; locally (an outbox given)
    the outbox unless the team's Slack credentials are set."""
    slack = WebhookResponder(base_url=base_url)
    if outbox is None:
        return slack
    return ChosenResponder(slack, OutboxResponder(outbox), slack_configured)
