"""Fakes for the ports: small, honest in-memory versions that record what happened."""

from __future__ import annotations

import base64
import binascii
import json
import threading
from dataclasses import asdict, fields, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from chalicelib.domain.capture import Capture
from chalicelib.domain.errors import InvalidPayloadError
from chalicelib.domain.model import Attribution, Lead, Touchpoint
from chalicelib.domain.team import TeamConfig
from chalicelib.ports import (
    AtCapError,
    DuplicateTouchError,
    IdentityTakenError,
    InboundEvent,
    LeadChange,
    LeadPage,
    LeadQuery,
    OwnerChange,
    OwnerChangedError,
    RecordedEvent,
    StaleTouchError,
    TeamChangedError,
)

T0 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)


class FakeClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime = T0) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


class DictSecrets:
    """Secret references resolved from a dict."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def resolve(self, ref: str) -> str:
        return self.values[ref]


class StaticTeamStore:
    """A team configuration held in memory, versioned like the DynamoDB one."""

    def __init__(self, team: TeamConfig) -> None:
        self.team = team
        self.version = 0

    def load(self) -> TeamConfig:
        return self.team

    def load_latest(self) -> tuple[TeamConfig, int]:
        return self.team, self.version

    def save(self, team: TeamConfig, *, expected_version: int | None = None) -> int:
        if expected_version is not None and expected_version != self.version:
            raise TeamChangedError("the team configuration was saved meanwhile")
        self.team, self.version = team, self.version + 1
        return self.version


class MemoryRoutingStore:
    """RoutingStore in dicts, under one lock: the same atomicity as DynamoDB's updates."""

    def __init__(self) -> None:
        self.positions: dict[str, int] = {}
        self.open: dict[str, int] = {}
        self.daily: dict[tuple[str, date], int] = {}
        self._lock = threading.Lock()

    def next_position(self, queue: str) -> int:
        with self._lock:
            position = self.positions.get(queue, 0)
            self.positions[queue] = position + 1
            return position

    def take_load(
        self, rep: str, day: date, *, max_open: int | None, max_per_day: int | None
    ) -> bool:
        with self._lock:
            open_now, today = self.open.get(rep, 0), self.daily.get((rep, day), 0)
            if max_open is not None and open_now >= max_open:
                return False
            if max_per_day is not None and today >= max_per_day:
                return False
            self.open[rep], self.daily[(rep, day)] = open_now + 1, today + 1
            return True

    def release_load(self, rep: str, *, day: date | None = None) -> None:
        with self._lock:
            if self.open.get(rep, 0) <= 0 or (day and self.daily.get((rep, day), 0) <= 0):
                return  # as the conditional update: never below zero
            self.open[rep] -= 1
            if day is not None:
                self.daily[(rep, day)] -= 1


class MemoryLeadStore:
    """LeadStore in dicts, behaving like DynamoLeadStore: the same conditions, the same
    all-or-nothing apply, values read back as they would be after a trip through DynamoDB.
    tests/integration/test_store_contract.py runs the same claims against both.

    Not modelled: DynamoDB's month partitions, so listing without `since` sees every lead,
    where DynamoDB looks back 24 months from the store's clock.

    `fail_next_apply` makes the next apply raise that error and write nothing (a crash or an
    outage between recording an event and landing it). A change's load claim is taken from
    `routing` (the same counters the assignment reads), as the last condition before writing."""

    def __init__(self, routing: MemoryRoutingStore | None = None) -> None:
        self.routing = routing or MemoryRoutingStore()
        # Tests read these directly: event key → (event, status, lead id); identity key → lead
        # id; lead id → lead; lead id → touchpoint sort key → touchpoint.
        self.events: dict[str, tuple[InboundEvent, str, str | None]] = {}
        self.identities: dict[str, str] = {}
        self.leads: dict[str, Lead] = {}
        self.touches: dict[str, dict[str, Touchpoint]] = {}
        self.fail_next_apply: Exception | None = None
        self._lock = threading.Lock()

    def record_event(
        self, event: InboundEvent, *, replace_before: datetime | None
    ) -> RecordedEvent:
        with self._lock:
            old = self.events.get(event.event_key)
            if old and not (replace_before and old[0].received_at < replace_before):
                return RecordedEvent(False, old[0].received_at, old[1], old[2])
            stored = replace(
                event,
                received_at=_utc(event.received_at),
                capture=Capture.from_dict(_json_copy(event.capture.to_dict())),
            )
            self.events[event.event_key] = (stored, "pending", None)
            return RecordedEvent(True, stored.received_at)

    def pending_events(self, *, received_before: datetime, limit: int) -> list[InboundEvent]:
        with self._lock:
            rows = [e for e, status, _ in self.events.values() if status == "pending"]
        rows = [e for e in rows if e.received_at < received_before]
        return sorted(rows, key=lambda e: e.received_at)[:limit]

    def mark_event(self, event_key: str, status: str) -> None:
        with self._lock:
            if event_key not in self.events:
                raise LookupError(f"event {event_key} was never recorded")
            event, _, lead_id = self.events[event_key]
            self.events[event_key] = (event, status, lead_id)

    def find_leads(self, keys: tuple[str, ...]) -> dict[str, str]:
        with self._lock:
            return {k: self.identities[k] for k in keys if k in self.identities}

    def apply(self, change: LeadChange) -> None:
        with self._lock:
            # Every condition is checked before anything is written, as in the transaction.
            if self.fail_next_apply is not None:
                error, self.fail_next_apply = self.fail_next_apply, None
                raise error
            touch = _stored_touch(change.touchpoint)
            sk = _sort_key(touch)
            links = [x for x in dict.fromkeys(change.links) if x != change.lead_id]
            if sk in self.touches.get(touch.lead_id, {}):
                raise DuplicateTouchError()
            if any(k in self.identities for k in change.claims):
                raise IdentityTakenError()
            if any(other not in self.leads for other in links):
                raise LookupError(f"a linked lead does not exist: {sorted(change.links)}")
            event_key = change.capture.event_key
            if event_key not in self.events:
                raise LookupError(f"event {event_key} was never recorded")
            if self.events[event_key][0].received_at != change.touchpoint.at:
                raise DuplicateTouchError()  # superseded by a newer delivery
            lead = self.leads.get(change.lead_id)
            if change.assignment is not None and (lead.owner if lead else None) != (
                change.expected_owner
            ):
                raise OwnerChangedError()
            moves = change.capture.creates_lead and change.moves_last_touch
            if moves and lead and lead.last_touch_at and lead.last_touch_at > change.touchpoint.at:
                raise StaleTouchError()
            claim = change.load
            if claim is not None and not self.routing.take_load(
                claim.rep, claim.day, max_open=claim.max_open, max_per_day=claim.max_per_day
            ):
                raise AtCapError(claim.rep)
            self.leads[change.lead_id] = _upsert(
                self.leads.get(change.lead_id), change, touch, links
            )
            self.touches.setdefault(touch.lead_id, {})[sk] = touch
            for key in change.claims:
                self.identities[key] = change.lead_id
            for other in links:
                linked = self.leads[other].linked_lead_ids | {change.lead_id}
                self.leads[other] = replace(self.leads[other], linked_lead_ids=linked)
            self.events[event_key] = (self.events[event_key][0], "processed", change.lead_id)

    def reassign(self, change: OwnerChange) -> None:
        with self._lock:
            touch = _stored_touch(change.touchpoint)
            sk = _sort_key(touch)
            if sk in self.touches.get(touch.lead_id, {}):
                raise DuplicateTouchError()
            lead = self.leads.get(change.lead_id)
            if lead is None or lead.owner != change.expected_owner:
                raise OwnerChangedError()
            previous = lead.previous_owners + ((lead.owner,) if lead.owner else ())
            self.leads[change.lead_id] = replace(
                lead,
                owner=change.assignment.owner,
                owner_assigned_at=touch.at,
                assignment=change.assignment.to_dict(),
                previous_owners=previous,
                updated_at=touch.at,
            )
            self.touches.setdefault(touch.lead_id, {})[sk] = touch

    def get_lead(self, lead_id: str) -> Lead | None:
        with self._lock:
            return self.leads.get(lead_id)

    def touchpoints(self, lead_id: str) -> list[Touchpoint]:
        with self._lock:
            rows = dict(self.touches.get(lead_id, {}))
        return [rows[k] for k in sorted(rows)]

    def list_leads(self, query: LeadQuery) -> LeadPage:
        after = _decode_cursor(query.cursor)
        with self._lock:
            rows = sorted(self.leads.values(), key=_created_key, reverse=True)
        rows = [
            x
            for x in rows
            if (query.since is None or x.created_at >= query.since)
            and (query.source is None or x.first_touch.source == query.source)
            and (query.status is None or x.status == query.status)
            and (after is None or _created_key(x) < after)
        ]
        page = rows[: query.limit]
        # Like DynamoDB's, the cursor is a position, not an offset (leads arriving between pages
        # don't shift it), and a full page always has one, even when the next page is empty.
        cursor = _encode_cursor(page[-1]) if len(page) == query.limit else None
        return LeadPage(page, cursor)


def _upsert(lead: Lead | None, change: LeadChange, touch: Touchpoint, links: list[str]) -> Lead:
    c, at, attribution = change.capture, touch.at, touch.attribution.for_lead()
    moves = c.creates_lead and change.moves_last_touch
    if lead is None:
        lead = Lead(
            lead_id=change.lead_id,
            created_at=at,
            updated_at=at,
            first_touch=attribution,
            last_touch=attribution,
            touch_count=0,
        )
    updated = replace(
        lead,
        updated_at=at,
        # Only the person's own touches move "last touch"; a status callback does not.
        last_touch=attribution if moves else lead.last_touch,
        last_touch_at=at if moves else lead.last_touch_at,
        phone=lead.phone or c.phone or None,
        email=lead.email or c.email or None,
        name=c.name or lead.name or None,
        company=c.company or lead.company or None,
        sms_opt_out=lead.sms_opt_out if c.sms_opt_out is None else c.sms_opt_out,
        touch_count=lead.touch_count + 1,
        linked_lead_ids=lead.linked_lead_ids | set(links),
    )
    response = c.first_response
    if response and updated.first_response_at is None:
        updated = replace(
            updated,
            first_response_at=datetime.fromisoformat(response["at"]),
            first_response_by=response.get("by") or None,
        )
    assignment = change.assignment
    if assignment is None:
        return updated
    return replace(
        updated,
        owner=assignment.owner,
        queue=assignment.queue,
        owner_assigned_at=at,
        assignment=assignment.to_dict(),
    )


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _sort_key(touch: Touchpoint) -> str:
    return f"{_iso(touch.at)}#{touch.event_key}"


def _created_key(lead: Lead) -> str:
    return f"{_iso(lead.created_at)}#{lead.lead_id}"


def _json_copy(value: Any) -> Any:
    """`value` as it comes back from a JSON attribute (tuples become lists, and so on)."""
    return json.loads(json.dumps(value))


def _stored_attribution(a: Attribution) -> Attribution:
    """`a` as DynamoDB gives it back: empty strings are not stored, mappings are plain dicts."""
    values = asdict(a)
    for f in fields(Attribution):
        value = values[f.name]
        if isinstance(value, dict):
            values[f.name] = dict(value)
        elif value == "":
            values[f.name] = None
    return Attribution(**values)


def _stored_touch(touch: Touchpoint) -> Touchpoint:
    return replace(
        touch,
        at=_utc(touch.at),
        attribution=_stored_attribution(touch.attribution),
        detail=_json_copy(dict(touch.detail)),
    )


def _encode_cursor(lead: Lead) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": _created_key(lead)}).encode()).decode()


def _decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
    except (ValueError, binascii.Error):
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("after"), str):
        raise InvalidPayloadError("not a cursor this API returned", field="cursor")
    after: str = data["after"]
    return after
