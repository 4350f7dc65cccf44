"""The team configuration: lead sources, tracking numbers and queues, as plain records."""

from __future__ import annotations

from dataclasses import dataclass

# How a form source proves a request is its own.
AUTH_SCHEMES = ("standard_webhooks", "typeform", "webflow", "token")


@dataclass(frozen=True)
class SourceConfig:
    """A web form or form tool that posts to /webhooks/forms/{name}."""

    name: str
    auth_scheme: str  # one of AUTH_SCHEMES
    secret_ref: str  # "env:NAME" or "ssm:/param/name"; never the secret itself
    queue: str | None = None


@dataclass(frozen=True)
class TrackingNumber:
    """A Twilio number that calls and texts arrive on, and what it stands for."""

    number: str  # E.164
    source: str
    campaign: str | None = None
    queue: str | None = None


@dataclass(frozen=True)
class QueueConfig:
    """A routing pool. Members, weights and SLA policies arrive with the routing issue."""

    name: str
    fallback_number: str | None = None  # E.164; calls forward here until owners exist
    ring_timeout_s: int = 20
    voicemail: bool = True


@dataclass(frozen=True)
class TeamConfig:
    """Everything the configuration file says, validated."""

    name: str
    timezone: str = "UTC"
    default_phone_region: str = "US"
    twilio_auth_token_ref: str | None = None
    sources: tuple[SourceConfig, ...] = ()
    tracking_numbers: tuple[TrackingNumber, ...] = ()
    queues: tuple[QueueConfig, ...] = ()
    default_queue: str | None = None

    def source(self, name: str) -> SourceConfig | None:
        """The source called `name`, if configured."""
        return next((s for s in self.sources if s.name == name), None)

    def tracking_number(self, number: str) -> TrackingNumber | None:
        """The tracking number `number` (E.164), if configured."""
        return next((n for n in self.tracking_numbers if n.number == number), None)

    def queue(self, name: str | None) -> QueueConfig | None:
        """The queue called `name`, falling back to the default queue."""
        wanted = name or self.default_queue
        return next((q for q in self.queues if q.name == wanted), None)
