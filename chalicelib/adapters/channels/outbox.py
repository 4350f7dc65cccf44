"""The local outbox: where alerts go when no provider is configured (and `make run` prints them)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from chalicelib.adapters.clock import SystemClock
from chalicelib.ports import AlertContent, Clock, Delivery, DeliveryError, Sent


@dataclass(frozen=True)
class OutboxItem:
    """One message that would have gone to a provider, or an edit of one."""

    id: str
    kind: str  # send | update
    channel: str
    to: str
    subject: str
    text: str
    at: datetime


class Outbox:
    """A thread-safe in-memory list of what was sent; `echo` sees each item as it lands."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        echo: Callable[[str], object] | None = None,
        keep: int = 1000,
    ) -> None:
        self._clock = clock or SystemClock()
        self._echo = echo
        self._keep = keep
        self._items: list[OutboxItem] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, *, kind: str, channel: str, to: str, content: AlertContent) -> OutboxItem:
        """Record one message and return it with its id ("outbox-1", "outbox-2", …)."""
        with self._lock:
            item = OutboxItem(
                id=f"outbox-{next(self._ids)}",
                kind=kind,
                channel=channel,
                to=to,
                subject=content.subject,
                text=content.text,
                at=self._clock.now(),
            )
            self._items.append(item)
            # A long local session must not grow without bound; the oldest items go first.
            del self._items[: -self._keep]
        if self._echo is not None:
            self._echo(f"[outbox {item.id}] {kind} {channel} to {to}: {item.subject}\n{item.text}")
        return item

    def items(self, limit: int = 100) -> list[OutboxItem]:
        """The most recent items, newest first."""
        with self._lock:
            return list(reversed(self._items[-limit:])) if limit > 0 else []

    def find(self, item_id: str) -> OutboxItem | None:
        """The item with id `item_id`, if it is still kept."""
        with self._lock:
            return next((i for i in self._items if i.id == item_id), None)


class OutboxSender:
    """A Sender for one channel that writes to the outbox instead of a provider."""

    def __init__(self, outbox: Outbox, channel: str) -> None:
        self.outbox = outbox
        self.channel = channel

    def send(self, delivery: Delivery) -> Sent:
        """Record the message as the channel would send it; it always succeeds."""
        content = delivery.content
        if self.channel == "sms":
            content = replace(content, text=content.sms_body)
        item = self.outbox.add(kind="send", channel=self.channel, to=delivery.to, content=content)
        return Sent(item.id, {"outbox": "true"})

    def update(self, provider_id: str, content: AlertContent) -> Sent:
        """Record an edit of an earlier message, addressed like the original."""
        original = self.outbox.find(provider_id)
        if original is None:
            raise DeliveryError(
                f"no outbox message {provider_id}", permanent=True, code="not_found"
            )
        self.outbox.add(kind="update", channel=self.channel, to=original.to, content=content)
        return Sent(provider_id, {"outbox": "true"})
