"""What services need from the outside world. Adapters implement these; tests use fakes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from chalicelib.domain.capture import Capture
from chalicelib.domain.facts import LeadFact
from chalicelib.domain.model import Lead, Touchpoint
from chalicelib.domain.routing import Assignment
from chalicelib.domain.sla import ClockStart, Speed
from chalicelib.domain.team import TeamConfig


class Clock(Protocol):
    """Time is a port so tests can move it."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class Secrets(Protocol):
    """Resolves a secret reference (`env:NAME`, `ssm:/path`) to its value."""

    def resolve(self, ref: str) -> str:
        """The secret `ref` points at."""
        ...


class FormVerifier(Protocol):
    """Checks a form request's signature or token; returns the provider's idempotency id."""

    def __call__(
        self,
        scheme: str,
        secret: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        path_token: str | None,
        now: datetime,
    ) -> str | None:
        """Raise UnauthorizedError unless the request is the source's own."""
        ...


class TwilioVerifier(Protocol):
    """Checks X-Twilio-Signature over the public URL and every received parameter."""

    def __call__(
        self, auth_token: str, url: str, params: Mapping[str, str], signature: str | None
    ) -> None:
        """Raise ForbiddenError unless Twilio signed the request."""
        ...


class RoutingStore(Protocol):
    """Atomic counters for fair assignment: a rotation position per queue, a load per rep."""

    def next_position(self, queue: str) -> int:
        """The queue's next rotation position (0, 1, 2, …); distinct for concurrent callers."""
        ...

    def take_load(
        self, rep: str, day: date, *, max_open: int | None, max_per_day: int | None
    ) -> bool:
        """Count one more open lead, and one more on `day`, for `rep`; False at a cap."""
        ...

    def release_load(self, rep: str, *, day: date | None = None) -> None:
        """One open lead fewer for `rep` (contacted, or moved to someone else); with `day`, one
        fewer counted on that day too (a take that did not land)."""
        ...


class TeamChangedError(Exception):
    """The configuration was saved by someone else since the version an edit was made on."""


class TeamStore(Protocol):
    """The team configuration as deployed, versioned so concurrent edits cannot overwrite."""

    def load(self) -> TeamConfig:
        """The current configuration (adapters may cache it briefly: the capture path)."""
        ...

    def load_latest(self) -> tuple[TeamConfig, int]:
        """The configuration and its version, read fresh (for editing)."""
        ...

    def save(self, team: TeamConfig, *, expected_version: int | None = None) -> int:
        """Replace the configuration; with `expected_version`, only if it is still the stored
        version (else TeamChangedError). Returns the new version."""
        ...


@dataclass(frozen=True)
class InboundEvent:
    """An authenticated request, durably recorded before anything else happens to it."""

    event_key: str
    received_at: datetime
    capture: Capture
    raw_body: str = ""
    content_type: str = ""


@dataclass(frozen=True)
class RecordedEvent:
    """What the store knew about an event key when asked to record it."""

    is_new: bool
    received_at: datetime
    status: str = "pending"  # pending | processed | unmatched
    lead_id: str | None = None


@dataclass(frozen=True)
class LoadClaim:
    """One more open lead, and one more on `day`, for `rep`; refused at the caps given."""

    rep: str
    day: date
    max_open: int | None = None
    max_per_day: int | None = None


@dataclass(frozen=True)
class LeadChange:
    """One atomic change: a touchpoint lands on a lead, which is created if it does not exist."""

    lead_id: str
    touchpoint: Touchpoint
    capture: Capture
    claims: tuple[str, ...] = ()  # identity keys to take for this lead; must be free
    links: tuple[str, ...] = ()  # other leads that proved to be the same person
    is_new: bool = False  # the lead id is fresh: this change creates the lead
    moves_last_touch: bool = True  # False once a newer touch is known to have landed first
    # A new owner for the lead, and the owner it must still have for that to apply (None: the
    # lead must have no owner), so two deliveries can never both assign.
    assignment: Assignment | None = None
    expected_owner: str | None = None
    load: LoadClaim | None = None  # claimed in the same atomic write as the lead change
    clock: ClockStart | None = None  # a new lead's SLA clock, set in the same write
    # A new lead's metrics fact and the day it is kept under, written in the same write.
    fact: LeadFact | None = None
    fact_day: date | None = None


@dataclass(frozen=True)
class OwnerChange:
    """A lead moved to another owner (or to nobody), with its timeline entry."""

    lead_id: str
    assignment: Assignment
    expected_owner: str | None  # the owner the move was decided against
    touchpoint: Touchpoint  # kind "reassigned"; its key makes a repeated request land once
    fact_day: date | None = None  # the lead's fact_day: its metrics fact follows the owner


class IdentityTakenError(Exception):
    """Another lead claimed an identity key first (a concurrent delivery won the race)."""


class DuplicateTouchError(Exception):
    """The touchpoint is already on the lead, or its event was superseded by a newer delivery
    (a form re-submitted after the de-duplication window): either way, nothing to land."""


class AtCapError(Exception):
    """The rep a load claim named reached a cap meanwhile; nothing was written."""

    def __init__(self, rep: str) -> None:
        super().__init__(rep)
        self.rep = rep


class OwnerChangedError(Exception):
    """The lead's owner is no longer the one the assignment was decided against."""


class StaleTouchError(Exception):
    """A newer touch already moved the lead's last touch (a late replay, or deliveries out of
    order); the touchpoint still belongs on the timeline, without moving last touch back."""


@dataclass(frozen=True)
class LeadQuery:
    """Filters for listing leads, newest first."""

    since: datetime | None = None
    source: str | None = None
    status: str | None = None
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True)
class LeadPage:
    """A page of leads and the cursor for the next one (None when done)."""

    leads: list[Lead] = field(default_factory=list)
    cursor: str | None = None


@dataclass(frozen=True)
class DueStep:
    """A lead whose next ladder step is due (from the sparse index of pending steps)."""

    lead_id: str
    step: int
    at: datetime


@dataclass(frozen=True)
class ClockStop:
    """The first response: stops the clock, records speed-to-lead, cancels pending steps."""

    lead_id: str
    at: datetime
    by: str | None
    speed: Speed | None  # None for a lead that had no clock
    touchpoint: Touchpoint | None = None  # e.g. "contacted"; None when already on the timeline
    release: str | None = None  # the owner whose open count goes down, in the same write
    # Set when this response was a try to reach the lead, or a live conversation with them;
    # each is kept from the earliest report, even after the clock has stopped.
    attempt_at: datetime | None = None
    connect_at: datetime | None = None
    fact_day: date | None = None  # the lead's fact_day: its metrics fact records the response


@dataclass(frozen=True)
class ClaimChange:
    """A rep claims a lead: escalation pauses until `until`; the clock keeps running."""

    lead_id: str
    by: str
    at: datetime
    until: datetime
    expected_step: int | None  # the pending step seen when deciding (its time moves to `until`)
    step_at: datetime | None  # the pending step's new time: max(its time, until)
    touchpoint: Touchpoint
    fact_day: date | None = None  # the lead's fact_day: its metrics fact records the claimer


@dataclass(frozen=True)
class StageChange:
    """A lead moves along the sales funnel, with its timeline entry ("stage_changed"). It
    applies only while the lead is still at `expected_stage`, the stage the move was decided
    against, so two concurrent moves can never both apply."""

    lead_id: str
    expected_stage: str
    stage: str  # one of facts.STAGES, or facts.LOST
    at: datetime
    by: str
    furthest: str  # the furthest of facts.STAGES reached, after the move
    touchpoint: Touchpoint  # its key makes a repeated delivery land once
    amount: Decimal | None = None  # won: the amount, exact
    currency: str | None = None  # won: ISO 4217
    reason: str | None = None  # lost: why, if said
    last_source: str | None = None  # won: the lead's last-touch source, credited with the close
    fact_day: date | None = None  # the lead's fact_day: its metrics fact records the stage


class LeadStore(Protocol):
    """Leads, their identities and touchpoints, and the inbox of raw events."""

    def record_event(
        self, event: InboundEvent, *, replace_before: datetime | None
    ) -> RecordedEvent:
        """Store the event unless its key exists; an existing key older than `replace_before`
        is replaced (a form re-submitted after the de-duplication window)."""
        ...

    def pending_events(self, *, received_before: datetime, limit: int) -> list[InboundEvent]:
        """Events recorded but not yet landed on a lead, oldest first."""
        ...

    def mark_event(self, event_key: str, status: str) -> None:
        """Close an event that lands on no lead (e.g. a status callback for an unknown call)."""
        ...

    def find_leads(self, keys: tuple[str, ...]) -> dict[str, str]:
        """Identity key → lead id for the keys that are known (one read)."""
        ...

    def apply(self, change: LeadChange) -> None:
        """Land the change (and its load claim) atomically and close its event; raises
        IdentityTakenError, DuplicateTouchError, StaleTouchError, OwnerChangedError or
        AtCapError, and then nothing is written."""
        ...

    def reassign(self, change: OwnerChange) -> None:
        """Move the lead to the new owner and add the timeline entry, atomically; raises
        OwnerChangedError (someone else moved it first) or DuplicateTouchError."""
        ...

    def get_lead(self, lead_id: str) -> Lead | None:
        """The lead, or None."""
        ...

    def touchpoints(self, lead_id: str) -> list[Touchpoint]:
        """The lead's touchpoints, oldest first."""
        ...

    def list_leads(self, query: LeadQuery) -> LeadPage:
        """Leads matching the query, newest first."""
        ...

    def due_steps(self, *, before: datetime, limit: int) -> list[DueStep]:
        """Leads with a pending step due before `before`, earliest first (sparse index)."""
        ...

    def begin_step(
        self, lead_id: str, step: int, *, now: datetime, lease_until: datetime
    ) -> Lead | None:
        """Take step `step` for firing: only if it is still the lead's pending step, due by
        `now`, and the lead has no response. The step's time moves to `lease_until`, so if the
        worker dies the sweeper retries it then. Returns the lead, or None (nothing to fire)."""
        ...

    def finish_step(
        self,
        lead_id: str,
        step: int,
        *,
        next_step: int | None,
        next_at: datetime | None,
        alerts: Sequence[AlertRecord] = (),
    ) -> bool:
        """Move the pending step from `step` on (None: the ladder is done) and log the step's
        alerts, in one atomic write; False when `step` was no longer pending (the alerts are
        logged all the same: they went out)."""
        ...

    def defer_step(self, lead_id: str, step: int, *, until: datetime) -> bool:
        """Keep step `step` pending but move it to `until` (a claim paused escalation)."""
        ...

    def claim(self, change: ClaimChange) -> Lead:
        """Record the claim and its timeline entry, pause escalation; a repeated claim (same
        touchpoint key) changes nothing. Raises OwnerChangedError if the pending step moved."""
        ...

    def stop_clock(self, stop: ClockStop) -> bool:
        """Record the first response and speed, cancel pending steps and release the owner's
        open count, unless the clock has stopped already (then False and only a new touchpoint
        is added)."""
        ...

    def change_stage(self, change: StageChange) -> bool:
        """Move the lead to `change.stage` and add its timeline entry, atomically; False (and
        nothing written) when the lead is no longer at `change.expected_stage` or the entry is
        there already. LookupError for an unknown lead."""
        ...

    def facts(self, day: date) -> list[LeadFact]:
        """The metrics facts of the leads that arrived on `day` (the team's local day)."""
        ...

    def start_bridge(self, lead_id: str, *, by: str, at: datetime, not_since: datetime) -> bool:
        """Mark rep `by` as calling the lead from `at`, unless `by` started a call after
        `not_since` (a double tap: False, nothing written)."""
        ...

    def end_bridge(self, lead_id: str, *, at: datetime) -> None:
        """Clear the mark of the call started at `at` (it could not be placed)."""
        ...

    def add_touch(self, touch: Touchpoint) -> bool:
        """Add `touch` to its lead's timeline; False if that touchpoint is there already."""
        ...


class Timers(Protocol):
    """Wakes the alert worker for a lead's step at a given time (an SQS delayed message)."""

    def schedule(self, lead_id: str, step: int, due: datetime) -> None:
        """Deliver (lead_id, step, due) back to the worker at `due`, or a little before."""
        ...

    def dead_letters(self) -> int | None:
        """Messages in the dead-letter queue, if there is one to ask."""
        ...


class Jobs(Protocol):
    """Work handed to the alert worker to do soon (no delay), so a request can answer at once.
    On the wire a job is the JSON object `{"kind": kind, **payload}`."""

    def enqueue(self, kind: str, payload: Mapping[str, object]) -> None:
        """Queue one job of `kind` (e.g. "slack_click"); raises if it was not queued."""
        ...


class SlackResponder(Protocol):
    """Answers a Slack interaction through its `response_url` (valid 30 minutes, 5 posts)."""

    def respond(
        self,
        url: str,
        *,
        text: str,
        blocks: Sequence[Mapping[str, object]] = (),
        replace_original: bool,
    ) -> None:
        """Replace the clicked message (`replace_original`), or tell the clicker alone
        (ephemeral); raises DeliveryError."""
        ...


@dataclass(frozen=True)
class AlertContent:
    """What one alert says, in each channel's form. `links` is where one-tap actions go."""

    subject: str
    text: str  # SMS body and the fallback text of Slack and email
    html: str
    blocks: tuple[Mapping[str, object], ...] = ()  # Slack Block Kit
    links: Mapping[str, str] = field(default_factory=dict)  # e.g. {"claim": url, "call": url}
    sms: str = ""  # the SMS body when it says more than `text` (how to reply); else `text`

    @property
    def sms_body(self) -> str:
        """What goes out as a text message."""
        return self.sms or self.text


@dataclass(frozen=True)
class Delivery:
    """One message to one address on one channel."""

    channel: str  # sms | slack | email
    to: str  # E.164 phone, Slack user or channel id, email address
    content: AlertContent
    status_callback: str | None = None  # SMS: where Twilio reports delivery
    # SMS: the number to send from (a lead's tracking number); None: the channel's own sender.
    # Voice: the caller id.
    sender: str | None = None
    # Voice: where Twilio fetches the call's instructions (TwiML) once it is answered.
    answer_url: str | None = None


@dataclass(frozen=True)
class Sent:
    """A provider accepted the message."""

    provider_id: str | None  # Twilio SM…, Slack "channel:ts", SES message id
    detail: Mapping[str, str] = field(default_factory=dict)


class DeliveryError(Exception):
    """A provider refused or failed. Transient errors are worth retrying (after `retry_after`
    seconds if the provider said); permanent ones are not (opted out, invalid number, no such
    channel)."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code
        self.retry_after = retry_after


class Sender(Protocol):
    """One channel's provider: Twilio SMS, Slack, SES, or the local outbox."""

    def send(self, delivery: Delivery) -> Sent:
        """Hand the message to the provider once; raises DeliveryError."""
        ...


@dataclass(frozen=True)
class AlertRecord:
    """One alert as logged: who, how, what the provider said, and how late it went out."""

    lead_id: str
    key: str  # "<step>:<recipient>:<channel>": unique per lead, the alert's idempotency key
    step: int
    step_name: str
    recipient: str  # a rep id, or "channel"
    channel: str
    to: str
    # sending | sent | failed | held | unconfirmed | cancelled (held for a lead answered since);
    # then delivered | undelivered (from the SMS status callback)
    status: str
    due_at: datetime
    created_at: datetime
    called_at: datetime | None = None  # when the provider was first called
    lateness_s: float | None = None  # called_at - due_at
    provider_id: str | None = None
    attempts: int = 0
    error: str | None = None
    fallback_of: str | None = None  # the channel this alert replaced after a permanent error


# Alert statuses someone should look at: listed across all leads (GET /alerts?status=…).
ATTENTION_STATUSES = ("failed", "unconfirmed", "held", "undelivered")


class AlertLog(Protocol):
    """Every alert and its outcome. A fired step's alerts are written with its finish
    (LeadStore.finish_step); this log reads them back and updates held and reported ones."""

    def finish(self, record: AlertRecord) -> None:
        """Write the alert as it stands now (a held SMS sent, a delivery report)."""
        ...

    def get(self, lead_id: str, key: str) -> AlertRecord | None:
        """The alert logged under `key`, if any."""
        ...

    def take(self, lead_id: str, key: str, *, expected: str, status: str) -> bool:
        """Move the alert from status `expected` to `status`; False if it was not in
        `expected` (another worker took it first). A held alert is sent by whoever takes it."""
        ...

    def for_lead(self, lead_id: str) -> list[AlertRecord]:
        """The lead's alerts, in key order."""
        ...

    def by_status(self, status: str, *, limit: int) -> list[AlertRecord]:
        """Alerts with `status`, one of ATTENTION_STATUSES (ValueError otherwise: alerts that
        went fine are read per lead), newest first."""
        ...

    def recent_sms_for_rep(self, rep_id: str, *, limit: int) -> list[AlertRecord]:
        """The SMS alerts to rep `rep_id`, whatever their status, newest first (by
        created_at): what a reply to the alerts number can refer to."""
        ...


@dataclass(frozen=True)
class DigestRun:
    """One digest's sending for one period (`digest#<name>#<period>`): taken by one run at a
    time, then sent, or failed and taken again by a later run."""

    digest: str
    period: str  # e.g. "daily:2026-11-21"
    status: str  # sending | sent | failed
    attempts: int  # runs that took it
    taken_at: datetime
    lease_until: datetime  # a "sending" run past this died; a later run may take it over
    done: frozenset[str] = frozenset()  # "<channel>:<address>" already sent, never again
    finished_at: datetime | None = None
    error: str | None = None


class DigestLog(Protocol):
    """Which digests went out, so each goes out once per period however often the schedule
    fires (DynamoDB: conditional writes on the routing table)."""

    def first_seen(self, digest: str, now: datetime) -> datetime:
        """When `digest` was first scheduled: `now` on the first call, stored for later."""
        ...

    def get(self, digest: str, period: str) -> DigestRun | None:
        """The record of `digest` for `period`, if any run took it."""
        ...

    def take(
        self, digest: str, period: str, *, now: datetime, lease_until: datetime, max_attempts: int
    ) -> DigestRun | None:
        """Take the period for sending, counting an attempt: only if no run took it, or the
        last run failed, or its lease ran out, with fewer than `max_attempts` so far. Returns
        the record as taken (its `done` addresses are not sent again), else None."""
        ...

    def delivered(self, digest: str, period: str, address: str) -> None:
        """Note one address as sent (added to `done`; repeating it changes nothing)."""
        ...

    def finish(
        self, digest: str, period: str, *, status: str, at: datetime, error: str | None = None
    ) -> None:
        """Close the run: "sent", or "failed" with the reason (a later run retries it)."""
        ...
