"""Domain records: what a lead, a touchpoint and an inbound event are, free of storage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
# Click ids are opaque and case-sensitive (Meta says so for fbclid): stored verbatim.
CLICK_ID_KEYS = (
    "gclid",
    "gbraid",
    "wbraid",
    "dclid",
    "fbclid",
    "msclkid",
    "ttclid",
    "li_fat_id",
    "twclid",
    "yclid",
)


@dataclass(frozen=True)
class Contact:
    """What a person told us about themselves; phone and email are raw until normalised."""

    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    message: str | None = None
    consent: bool | None = None


@dataclass(frozen=True)
class Attribution:
    """Where a touch came from. `utm` holds normalised values, `utm_raw` the originals."""

    source: str
    channel: str  # "form" | "call" | "sms"
    campaign: str | None = None
    utm: Mapping[str, str] = field(default_factory=dict)
    utm_raw: Mapping[str, str] = field(default_factory=dict)
    click_ids: Mapping[str, str] = field(default_factory=dict)
    landing_page: str | None = None
    referrer: str | None = None
    form_id: str | None = None
    tracking_number: str | None = None

    def for_lead(self) -> Attribution:
        """The compact copy a lead keeps as first or last touch: URLs lose their query strings,
        whose UTMs and click ids are already read out (the full URLs stay on the touchpoint).
        It keeps a typical lead item under 1 KB."""
        return replace(
            self,
            landing_page=_without_query(self.landing_page),
            referrer=_without_query(self.referrer),
        )


def _without_query(url: str | None) -> str | None:
    return url.split("?", 1)[0].split("#", 1)[0] if url else url


@dataclass(frozen=True)
class FormSubmission:
    """A web form body read into contact, attribution fields and everything else."""

    contact: Contact
    utm: Mapping[str, str] = field(default_factory=dict)
    utm_raw: Mapping[str, str] = field(default_factory=dict)
    click_ids: Mapping[str, str] = field(default_factory=dict)
    landing_page: str | None = None
    referrer: str | None = None
    form_id: str | None = None
    # Fields we do not map, kept under their original names.
    fields: Mapping[str, str] = field(default_factory=dict)
    # The form tool's own id for this submission (Typeform event_id, Webflow id), if any.
    provider_event_id: str | None = None


@dataclass(frozen=True)
class Touchpoint:
    """One inbound or outbound event on a lead's timeline, idempotent on `event_key`."""

    event_key: str
    lead_id: str
    at: datetime
    channel: str  # "form" | "call" | "sms" | "status" | "voicemail"
    kind: str  # e.g. "form_submitted", "call_received", "sms_received", "call_status"
    attribution: Attribution
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Lead:
    """One person, identified by E.164 phone and/or lower-cased email."""

    lead_id: str
    created_at: datetime
    updated_at: datetime
    first_touch: Attribution
    last_touch: Attribution
    phone: str | None = None
    email: str | None = None
    name: str | None = None
    company: str | None = None
    status: str = "new"
    sms_opt_out: bool = False
    touch_count: int = 1
    linked_lead_ids: frozenset[str] = frozenset()
    last_touch_at: datetime | None = None
    owner: str | None = None  # a rep id; None while unassigned
    queue: str | None = None
    owner_assigned_at: datetime | None = None
    # Why the owner is who it is: queue, rule, eligible, skipped with reasons, weights, position.
    assignment: Mapping[str, Any] | None = None
    previous_owners: tuple[str, ...] = ()  # oldest first; reassignment never returns to them
    # The first real response: a connected call now, more channels with the response issue.
    first_response_at: datetime | None = None
    first_response_by: str | None = None
    # The SLA clock (issue 4): set at capture, stopped by the first response.
    sla_policy: str | None = None
    clock_started_at: datetime | None = None  # capture, or the calendar's next opening
    sla_due_at: datetime | None = None
    next_step: int | None = None  # the ladder step still to fire; None when done or stopped
    next_step_at: datetime | None = None
    step_attempts: int = 0  # times the pending step was begun (>1: a worker died mid-step)
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    paused_until: datetime | None = None  # a claim pauses escalation until then
    speed_wall_s: float | None = None
    speed_business_s: float | None = None
    sla_met: bool | None = None
    # Kept apart from the first response (which also counts CRM activity and "contacted"): the
    # first try to reach the lead (a bridged call's lead leg placed, a text sent) and the first
    # live conversation (a bridged or inbound call answered).
    first_attempt_at: datetime | None = None
    first_connect_at: datetime | None = None
    fact_day: date | None = None  # where the lead's metrics fact is kept (domain/facts.py)
    # The rep's click-to-call in progress: a second tap within a minute places no second call.
    bridge_by: str | None = None
    bridge_at: datetime | None = None
    # The sales funnel (issue 6): the current stage (one of facts.STAGES, or facts.LOST), when
    # it was entered, and the furthest of STAGES reached, which a lost lead keeps (the funnel
    # counts how far it got). Won: the amount (exact, never a float) and its ISO 4217 currency,
    # and the last-touch source at that moment, credited with closing the deal (the first-touch
    # source is credited with creating it).
    stage: str = "lead"
    stage_at: datetime | None = None
    furthest_stage: str = "lead"
    lost_reason: str | None = None
    won_amount: Decimal | None = None
    currency: str | None = None
    won_last_source: str | None = None
