"""CRM activity: a CRM reports "call logged / email sent" for a lead, which counts as a response.

The sender is one of the team's sources with the standard_webhooks scheme, so a repeated
delivery carries the same webhook-id and lands once on the lead's timeline.

Body (JSON):
    type    one of ACTIVITY_TYPES
    lead_id | phone | email   at least one; tried in that order to find the lead
    at      ISO 8601 with an offset, within the last 7 days (default: now)
    by      a rep id or a rep's email (optional)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.errors import InvalidPayloadError, NotFoundError, UnauthorizedError
from chalicelib.domain.identity import email_key, normalise_email, normalise_phone, phone_key
from chalicelib.domain.model import Attribution, Lead, Touchpoint
from chalicelib.domain.team import RepConfig, TeamConfig
from chalicelib.ports import FormVerifier, Secrets
from chalicelib.services.capture import check_size
from chalicelib.services.responses import MAX_BACKDATE, stop
from chalicelib.services.worker import Worker

# What a CRM may report. Each is something a rep did towards the lead, so each is a response.
ACTIVITY_TYPES = ("call_logged", "email_sent", "sms_sent", "meeting_booked")
SCHEME = "standard_webhooks"
# A CRM's clock may run a little ahead of ours; more than this is a wrong "at".
CLOCK_SKEW = timedelta(seconds=5)


@dataclass(frozen=True)
class Activity:
    """A CRM activity read from its body: what was done, to whom, when and by whom."""

    type: str
    lead_id: str | None
    phone: str | None  # E.164
    email: str | None  # lower-cased
    at: datetime | None
    by: str | None  # a rep id


@dataclass(frozen=True)
class Recorded:
    """What became of an activity: recorded or a duplicate delivery, and whether it is the
    lead's first response."""

    lead_id: str
    status: str  # "recorded" | "duplicate"
    first_response: bool


def record_activity(
    source_name: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    secrets: Secrets,
    verify: FormVerifier,
    worker: Worker,
) -> Recorded:
    """Authenticate a CRM's activity report, find its lead and record it as a response."""
    webhook_id = verified_crm(
        source_name, body, headers, secrets=secrets, verify=verify, worker=worker
    )
    team, now = worker.team.load(), worker.clock.now()
    activity = parse_activity(json_body(body), team, now=now)
    lead = find_lead(activity, worker)
    key = f"activity:{source_name}:{webhook_id}"
    # The touchpoint's place on the timeline includes its time, and a retry without "at" comes
    # with another "now": a delivery already on the timeline is found by its key first.
    earlier = next((t for t in worker.store.touchpoints(lead.lead_id) if t.event_key == key), None)
    if earlier is not None:
        return Recorded(lead.lead_id, "duplicate", earlier.at == lead.first_response_at)
    when = activity.at or now
    touch = Touchpoint(
        event_key=key,
        lead_id=lead.lead_id,
        at=when,
        channel="crm",
        kind="crm_activity",
        attribution=Attribution(source=source_name, channel="crm"),
        detail={"type": activity.type, **({"by": activity.by} if activity.by else {})},
    )
    stopped = stop(lead, at=when, by=activity.by, worker=worker, touchpoint=touch)
    # stop() stops at the earliest response known; an earlier one already set is not this one.
    first = stopped and (lead.first_response_at is None or when <= lead.first_response_at)
    return Recorded(lead.lead_id, "recorded", first)


def verified_crm(
    source_name: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    secrets: Secrets,
    verify: FormVerifier,
    worker: Worker,
) -> str | None:
    """The webhook-id of a CRM request, once its size and its Standard Webhooks signature by
    a team source of that scheme are checked (UnauthorizedError otherwise). A form source with
    a shared token must not be able to stop clocks or move deals: signed senders only."""
    check_size(body)
    source = worker.team.load().source(source_name)
    if source is None or source.auth_scheme != SCHEME:
        raise UnauthorizedError(f"no signed CRM source '{source_name[:64]}'")
    secret = secrets.resolve(source.secret_ref)
    return verify(SCHEME, secret, body, headers, path_token=None, now=worker.clock.now())


def parse_activity(data: Mapping[str, Any], team: TeamConfig, *, now: datetime) -> Activity:
    """The activity in `data`, normalised; InvalidPayloadError naming the first bad field."""
    kind = data.get("type")
    if kind not in ACTIVITY_TYPES:
        raise InvalidPayloadError(f"must be one of: {', '.join(ACTIVITY_TYPES)}", field="type")
    lead_id = _text(data, "lead_id")
    phone = _text(data, "phone")
    email = _text(data, "email")
    if not (lead_id or phone or email):
        raise InvalidPayloadError("give lead_id, phone or email", field="lead_id")
    return Activity(
        type=kind,
        lead_id=lead_id,
        phone=normalise_phone(phone, team.default_phone_region) if phone else None,
        email=normalise_email(email) if email else None,
        at=_at(data.get("at"), now),
        by=_rep(data.get("by"), team),
    )


def find_lead(activity: Activity, worker: Worker) -> Lead:
    """The lead by id, else by phone, else by email; NotFoundError when none is known."""
    if activity.lead_id:
        lead = worker.store.get_lead(activity.lead_id)
        if lead is not None:
            return lead
    keys = [phone_key(activity.phone)] if activity.phone else []
    keys += [email_key(activity.email)] if activity.email else []
    found = worker.store.find_leads(tuple(keys)) if keys else {}
    for key in keys:
        lead = worker.store.get_lead(found[key]) if key in found else None
        if lead is not None:
            return lead
    raise NotFoundError("no lead with this lead_id, phone or email", field="lead_id")


def json_body(body: bytes) -> dict[str, Any]:
    """A webhook body that must be one JSON object (InvalidPayloadError otherwise)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidPayloadError("invalid JSON", field="body") from None
    if not isinstance(data, dict):
        raise InvalidPayloadError("must be a JSON object", field="body")
    return data


def _text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 256:
        raise InvalidPayloadError("must be a string of at most 256 characters", field=name)
    return value.strip() or None


def _at(value: Any, now: datetime) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidPayloadError("must be an ISO 8601 date-time string", field="at")
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidPayloadError("not an ISO 8601 date-time", field="at") from None
    if at.tzinfo is None:
        raise InvalidPayloadError("needs a UTC offset, e.g. 2026-11-01T09:30:00Z", field="at")
    if at > now + CLOCK_SKEW:
        raise InvalidPayloadError("is in the future", field="at")
    if at < now - MAX_BACKDATE:
        raise InvalidPayloadError("is more than 7 days ago", field="at")
    return at


def _rep(value: Any, team: TeamConfig) -> str | None:
    """The rep id `value` names (by id or email); the timeline says who did it, so an unknown
    rep is refused rather than recorded under a name nobody can resolve."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 256:
        raise InvalidPayloadError("must be a rep id or a rep's email", field="by")
    rep: RepConfig | None = team.rep(value)
    if rep is None:
        wanted = value.strip().lower()
        rep = next((r for r in team.reps if r.email and r.email.lower() == wanted), None)
    if rep is None:
        raise InvalidPayloadError("no rep with this id or email", field="by")
    return rep.id
