"""Alert channel adapters: Twilio SMS, Slack, SES email, and the local outbox.

Each adapter calls its provider once per send and sorts failures into transient (worth a retry)
and permanent (fall back to the next channel); retries and backoff belong to the alert service.
Provider libraries are imported on first use only, so importing these modules stays cheap.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from chalicelib.ports import AlertContent, Sender, Sent


@runtime_checkable
class UpdatingSender(Sender, Protocol):
    """A sender whose messages can be edited after sending (Slack's chat.update); test with
    isinstance. Senders of channels that cannot edit raise a permanent "not_supported"."""

    def update(self, provider_id: str, content: AlertContent) -> Sent:
        """Replace the message `provider_id` with `content`; raises DeliveryError."""
        ...
