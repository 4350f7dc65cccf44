"""Builds one Sender per alert channel from the team's AlertChannels.

A configured channel gets its provider adapter, built on its first send: secrets are resolved
then, so a missing secret fails that send (permanent "not_configured", and the service falls
back to the recipient's next channel) instead of failing the worker at start. A channel with
nothing configured goes to the local outbox when there is one, else fails every send the same
way. In local mode (an outbox given) a channel whose secrets are not set also goes to the outbox,
and so does email (SES needs an AWS account; the SES adapter is tested against moto): a newcomer
sees every alert in one place, and setting real credentials switches SMS and Slack over.
Slack prefers the bot token; with only an incoming webhook, channel messages go to the
webhook's channel and a DM to a person fails as "not_configured" (DMs need the bot token).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from chalicelib.adapters.channels import UpdatingSender
from chalicelib.adapters.channels.email import SesEmail
from chalicelib.adapters.channels.outbox import Outbox, OutboxSender
from chalicelib.adapters.channels.slack import SlackBot, SlackWebhook
from chalicelib.adapters.channels.sms import TwilioSms
from chalicelib.adapters.channels.voice import TwilioVoice
from chalicelib.domain.errors import NotConfiguredError
from chalicelib.domain.team import AlertChannels
from chalicelib.ports import AlertContent, Delivery, DeliveryError, Secrets, Sender, Sent

CHANNELS = ("sms", "slack", "email")


def build_senders(
    alerts: AlertChannels,
    *,
    twilio_auth_token_ref: str | None,
    secrets: Secrets,
    ses_client: Callable[[], Any],
    outbox: Outbox | None,
    twilio_api_base: str | None = None,
    slack_base_url: str | None = None,
) -> dict[str, Sender]:
    """A Sender for each of "sms", "slack" and "email", and "voice" for the call bridge."""

    def sms() -> Sender:
        if not alerts.twilio_account_sid_ref or not twilio_auth_token_ref:
            raise NotConfiguredError("SMS alerts need the Twilio account sid and auth token")
        if not alerts.sms_from and not alerts.messaging_service_sid:
            raise NotConfiguredError("SMS alerts need a from number or a Messaging Service")
        return TwilioSms(
            secrets.resolve(alerts.twilio_account_sid_ref),
            secrets.resolve(twilio_auth_token_ref),
            sms_from=alerts.sms_from,
            messaging_service_sid=alerts.messaging_service_sid,
            api_base=twilio_api_base,
        )

    def voice() -> Sender:
        if not alerts.twilio_account_sid_ref or not twilio_auth_token_ref:
            raise NotConfiguredError("calls need the Twilio account sid and auth token")
        return TwilioVoice(
            secrets.resolve(alerts.twilio_account_sid_ref),
            secrets.resolve(twilio_auth_token_ref),
            api_base=twilio_api_base,
        )

    def slack() -> Sender:
        if alerts.slack_bot_token_ref:
            return SlackBot(secrets.resolve(alerts.slack_bot_token_ref), base_url=slack_base_url)
        if not alerts.slack_webhook_url_ref:
            raise NotConfiguredError("Slack alerts need a bot token or an incoming webhook")
        return SlackWebhook(secrets.resolve(alerts.slack_webhook_url_ref))

    def email() -> Sender:
        if not alerts.email_from:
            raise NotConfiguredError("email alerts need a verified from address")
        return SesEmail(
            ses_client, sender=alerts.email_from, configuration_set=alerts.email_configuration_set
        )

    configured = {
        "sms": bool(
            alerts.twilio_account_sid_ref or alerts.sms_from or alerts.messaging_service_sid
        ),
        "slack": bool(alerts.slack_bot_token_ref or alerts.slack_webhook_url_ref),
        "email": bool(alerts.email_from or alerts.email_configuration_set),
    }
    builders: dict[str, Callable[[], Sender]] = {"sms": sms, "slack": slack, "email": email}
    senders: dict[str, Sender] = {}
    if outbox is not None:
        configured["email"] = False
    for channel in CHANNELS:
        if configured[channel]:
            fallback = OutboxSender(outbox, channel) if outbox is not None else None
            senders[channel] = LazySender(channel, builders[channel], fallback=fallback)
        elif outbox is not None:
            senders[channel] = OutboxSender(outbox, channel)
        else:
            senders[channel] = UnconfiguredSender(channel)
    # Not an alert channel: the click-to-call bridge's first leg, placed with Twilio's Calls API.
    if alerts.twilio_account_sid_ref:
        fallback = OutboxSender(outbox, "voice") if outbox is not None else None
        senders["voice"] = LazySender("voice", voice, fallback=fallback)
    elif outbox is not None:
        senders["voice"] = OutboxSender(outbox, "voice")
    else:
        senders["voice"] = UnconfiguredSender("voice")
    return senders


class LazySender:
    """Builds the real adapter on the first send; a build that fails is tried again next time."""

    def __init__(
        self, channel: str, build: Callable[[], Sender], *, fallback: Sender | None = None
    ) -> None:
        self.channel = channel
        self._build = build
        self._fallback = fallback  # locally: the outbox, when the channel cannot be built
        self._sender: Sender | None = None
        self._lock = threading.Lock()

    def send(self, delivery: Delivery) -> Sent:
        """Send through the channel's adapter."""
        return self._adapter().send(delivery)

    def update(self, provider_id: str, content: AlertContent) -> Sent:
        """Edit a sent message, where the channel can (Slack's bot)."""
        adapter = self._adapter()
        if not isinstance(adapter, UpdatingSender):
            raise DeliveryError(
                f"{self.channel} messages cannot be edited", permanent=True, code="not_supported"
            )
        return adapter.update(provider_id, content)

    def _adapter(self) -> Sender:
        with self._lock:
            if self._sender is None:
                try:
                    self._sender = self._build()
                except Exception as exc:
                    if self._fallback is None:
                        raise _build_error(self.channel, exc) from exc
                    self._sender = self._fallback  # local mode: the outbox stands in
            return self._sender


def _build_error(channel: str, exc: Exception) -> DeliveryError:
    if isinstance(exc, NotConfiguredError):
        return DeliveryError(f"{channel}: {exc}", permanent=True, code="not_configured")
    # E.g. SSM throttled the secret read: the configuration may well be fine.
    return DeliveryError(
        f"{channel}: could not read its secrets: {exc}", permanent=False, code="secrets"
    )


class UnconfiguredSender:
    """Fails every send permanently, so the service records it and tries the next channel."""

    def __init__(self, channel: str) -> None:
        self.channel = channel

    def send(self, delivery: Delivery) -> Sent:
        """Raise: the channel has no provider configured."""
        raise self._error()

    def update(self, provider_id: str, content: AlertContent) -> Sent:
        """Raise: the channel has no provider configured."""
        raise self._error()

    def _error(self) -> DeliveryError:
        return DeliveryError(
            f"{self.channel} alerts are not configured", permanent=True, code="not_configured"
        )
