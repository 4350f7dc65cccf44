"""The team configuration: sources, tracking numbers, reps, queues and rules, as plain records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.domain.calendar import WEEKDAYS, Calendar, Span
from chalicelib.domain.sla import SlaPolicy

__all__ = ["WEEKDAYS", "Calendar", "SlaPolicy", "Span"]  # re-exported for older imports

# How a form source proves a request is its own.
AUTH_SCHEMES = ("standard_webhooks", "typeform", "webflow", "token")


@dataclass(frozen=True)
class SourceConfig:
    """A web form or form tool that posts to /webhooks/forms/{name}."""

    name: str
    auth_scheme: str  # one of AUTH_SCHEMES
    secret_ref: str  # "env:NAME" or "ssm:/param/name"; never the secret itself
    queue: str | None = None
    sla_policy: str | None = None  # overrides the queue's policy for this source's leads


@dataclass(frozen=True)
class TrackingNumber:
    """A Twilio number that calls and texts arrive on, and what it stands for."""

    number: str  # E.164
    source: str
    campaign: str | None = None
    queue: str | None = None


REP_STATUSES = ("active", "paused", "out_of_office")
QUIET_SMS = ("email", "hold")  # what an SMS alert in a recipient's quiet hours becomes


@dataclass(frozen=True)
class RepConfig:
    """A person who works leads."""

    id: str  # slug, used in queues and on leads
    name: str
    phone: str | None = None  # E.164
    email: str | None = None
    slack_user_id: str | None = None
    timezone: str = "UTC"  # IANA; working hours are read in it
    # Weekday ("mon".."sun") -> spans in the rep's local time. None: no hours set, always on.
    hours: Mapping[str, tuple[Span, ...]] | None = None
    status: str = "active"  # one of REP_STATUSES
    out_of_office_until: datetime | None = None  # aware; with status out_of_office
    max_open: int | None = None  # open, not yet contacted leads
    max_per_day: int | None = None  # new leads per day, the day in the rep's time zone
    # Alerts: a span on the rep's wall clock when SMS is not sent (it may wrap midnight,
    # (1320, 420) is 22:00-07:00); inside it an SMS goes by email, or is held to its end.
    quiet_hours: Span | None = None
    quiet_sms: str = "email"  # one of QUIET_SMS


@dataclass(frozen=True)
class Member:
    """A rep in a queue, with a weight (2 gets twice the leads of 1)."""

    rep: str
    weight: int = 1


@dataclass(frozen=True)
class QueueConfig:
    """A routing pool: members with weights, a fallback owner, stickiness, call forwarding."""

    name: str
    members: tuple[Member, ...] = ()
    fallback_owner: str | None = None  # a rep id; used when no member is eligible
    fallback_number: str | None = None  # E.164; calls ring here when nobody can take them
    ring_timeout_s: int = 20
    voicemail: bool = True
    sticky: bool = True  # a returning person keeps an eligible owner
    sticky_days: int = 30  # ...if they were assigned within this many days
    sla_policy: str | None = None  # None: the team's default policy
    backup: str | None = None  # a rep id: the ladder's "backup" recipient
    manager: str | None = None  # a rep id: the ladder's "manager"; else the team's manager
    slack_channel: str | None = None  # a channel id (C…): the ladder's "channel" recipient


@dataclass(frozen=True)
class RuleConfig:
    """Sends matching leads to a queue; every condition given must hold. First match wins."""

    name: str
    queue: str
    source: str | None = None
    campaign: str | None = None  # compared normalised, like UTM campaigns
    tracking_number: str | None = None  # E.164
    fields: Mapping[str, str] = field(default_factory=dict)  # form field -> value, any case


@dataclass(frozen=True)
class AlertChannels:
    """How alerts leave: the Twilio sender, the Slack bot or webhook, the SES sender. A channel
    with nothing set is not configured; with nothing at all, alerts go to the local outbox."""

    twilio_account_sid_ref: str | None = None  # the auth token is TeamConfig's twilio one
    sms_from: str | None = None  # E.164; or
    messaging_service_sid: str | None = None  # MG…
    slack_bot_token_ref: str | None = None  # xoxb-…: DMs, channels, chat.update
    slack_webhook_url_ref: str | None = None  # an incoming webhook: channel messages only
    # Checks that button clicks (POST /webhooks/slack/actions) really come from Slack.
    slack_signing_secret_ref: str | None = None
    email_from: str | None = None  # an SES-verified address
    email_configuration_set: str | None = None


@dataclass(frozen=True)
class DigestConfig:
    """A manager's (or the team's) breach digest: to whom, and when, on the team's wall clock.
    Times are minutes after local midnight; chalicelib/domain/digest_periods.py reads them."""

    name: str  # a slug: the digest's records and its preview name it
    to: tuple[str, ...] = ()  # rep ids (their email) or email addresses
    slack_channel: str | None = None  # a channel id (C…) the digest is posted to
    daily_at: int | None = None  # the previous day's digest goes out at this time; None: none
    weekly_on: str | None = None  # a day of WEEKDAYS: the previous 7 days' digest goes out
    weekly_at: int | None = None  # ...at this time (None: daily_at, else 08:00)
    queues: tuple[str, ...] = ()  # only these queues' leads; empty: every lead


@dataclass(frozen=True)
class TeamConfig:
    """Everything the configuration file says, validated."""

    name: str
    timezone: str = "UTC"
    default_phone_region: str = "US"
    # When a rep may text a lead, on the lead's own wall clock (minutes; 08:00 up to 21:00).
    lead_sms_hours: Span = (8 * 60, 21 * 60)
    twilio_auth_token_ref: str | None = None
    sources: tuple[SourceConfig, ...] = ()
    tracking_numbers: tuple[TrackingNumber, ...] = ()
    queues: tuple[QueueConfig, ...] = ()
    default_queue: str | None = None
    reps: tuple[RepConfig, ...] = ()
    rules: tuple[RuleConfig, ...] = ()
    calendars: tuple[Calendar, ...] = ()
    sla_policies: tuple[SlaPolicy, ...] = ()
    default_sla_policy: str | None = None
    manager: str | None = None  # a rep id: the manager of queues that name none
    alerts: AlertChannels = field(default_factory=AlertChannels)
    digests: tuple[DigestConfig, ...] = ()

    def source(self, name: str) -> SourceConfig | None:
        """The source called `name`, if configured."""
        return next((s for s in self.sources if s.name == name), None)

    def tracking_number(self, number: str) -> TrackingNumber | None:
        """The tracking number `number` (E.164), if configured."""
        return next((n for n in self.tracking_numbers if n.number == number), None)

    def rep(self, rep_id: str) -> RepConfig | None:
        """The rep with id `rep_id`, if configured."""
        return next((r for r in self.reps if r.id == rep_id), None)

    def calendar(self, name: str | None) -> Calendar | None:
        """The calendar called `name`, if configured."""
        return next((c for c in self.calendars if c.name == name), None)

    def sla_policy(self, name: str | None) -> SlaPolicy | None:
        """The SLA policy called `name`, if configured."""
        return next((p for p in self.sla_policies if p.name == name), None)

    def digest(self, name: str) -> DigestConfig | None:
        """The digest called `name`, if configured."""
        return next((d for d in self.digests if d.name == name), None)

    def queue(self, name: str | None) -> QueueConfig | None:
        """The queue called `name`, falling back to the default queue."""
        wanted = name or self.default_queue
        return next((q for q in self.queues if q.name == wanted), None)
