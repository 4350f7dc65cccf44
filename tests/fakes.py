"""Fakes for the ports: small, honest in-memory versions that record what happened."""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from chalicelib.domain.model import Attribution, Lead, Touchpoint
from chalicelib.domain.team import TeamConfig
from chalicelib.ports import (
    DuplicateTouchError,
    IdentityTakenError,
    InboundEvent,
    LeadChange,
    LeadPage,
    LeadQuery,
    RecordedEvent,
)

T0 = datetime(2026, 11, 2, 14, 0, tzinfo=timezone.utc)


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
    """A team configuration held in memory."""

    def __init__(self, team: TeamConfig) -> None:
        self.team = team

    def load(self) -> TeamConfig:
        return self.team

    def save(self, team: TeamConfig) -> None:
        self.team = team


class MemoryLeadStore:
    """LeadStore in dicts, with the same atomicity as the DynamoDB transaction: all or nothing."""

    def __init__(self) -> None:
        self.events: dict[str, tuple[InboundEvent, str, str | None]] = {}
        self.identities: dict[str, str] = {}
        self.leads: dict[str, Lead] = {}
        self.touches: dict[str, dict[str, Touchpoint]] = {}
        self.fail_next_apply: Exception | None = None
        self._lock = threading.Lock()

    def record_event(self, event: InboundEvent, *, replace_before: datetime | None) -> RecordedEvent:
        with self._lock:
            old = self.events.get(event.event_key)
            if old and not (replace_before and old[0].received_at < replace_before):
                return RecordedEvent(False, old[0].received_at, old[1], old[2])
            self.events[event.event_key] = (event, "pending", None)
            return RecordedEvent(True, event.received_at)

    def pending_events(self, *, received_before: datetime, limit: int) -> list[InboundEvent]:
        with self._lock:
            rows = [e for e, status, _ in self.events.values() if status == "pending"]
        rows = [e for e in rows if e.received_at < received_before]
        return sorted(rows, key=lambda e: e.received_at)[:limit]

    def mark_event(self, event_key: str, status: str) -> None:
        with self._lock:
            event, _, lead_id = self.events[event_key]
            self.events[event_key] = (event, status, lead_id)

    def find_leads(self, keys: tuple[str, ...]) -> dict[str, str]:
        with self._lock:
            return {k: self.identities[k] for k in keys if k in self.identities}

    def apply(self, change: LeadChange) -> None:
        with self._lock:
            if self.fail_next_apply is not None:
                error, self.fail_next_apply = self.fail_next_apply, None
                raise error
            touch = change.touchpoint
            sk = f"{touch.at.isoformat()}#{touch.event_key}"
            if sk in self.touches.get(change.lead_id, {}):
                raise DuplicateTouchError()
            if any(k in self.identities for k in change.claims):
                raise IdentityTakenError()
            self.leads[change.lead_id] = _upsert(self.leads.get(change.lead_id), change)
            self.touches.setdefault(change.lead_id, {})[sk] = touch
            for key in change.claims:
                self.identities[key] = change.lead_id
            for other in change.links:
                if other in self.leads:
                    linked = self.leads[other].linked_lead_ids | {change.lead_id}
                    self.leads[other] = replace(self.leads[other], linked_lead_ids=linked)
            event = self.events[change.capture.event_key][0]
            self.events[change.capture.event_key] = (event, "processed", change.lead_id)

    def get_lead(self, lead_id: str) -> Lead | None:
        return self.leads.get(lead_id)

    def touchpoints(self, lead_id: str) -> list[Touchpoint]:
        rows = self.touches.get(lead_id, {})
        return [rows[k] for k in sorted(rows)]

    def list_leads(self, query: LeadQuery) -> LeadPage:
        rows = sorted(self.leads.values(), key=lambda x: (x.created_at, x.lead_id), reverse=True)
        rows = [
            x
            for x in rows
            if (query.since is None or x.created_at >= query.since)
            and (query.source is None or x.first_touch.source == query.source)
            and (query.status is None or x.status == query.status)
        ]
        start = int(json.loads(base64.b64decode(query.cursor))) if query.cursor else 0
        page = rows[start : start + query.limit]
        more = start + query.limit < len(rows)
        cursor = base64.b64encode(json.dumps(start + query.limit).encode()).decode() if more else None
        return LeadPage(page, cursor)


def _upsert(lead: Lead | None, change: LeadChange) -> Lead:
    c, at = change.capture, change.touchpoint.at
    touch: Attribution = change.touchpoint.attribution
    if lead is None:
        lead = Lead(
            lead_id=change.lead_id,
            created_at=at,
            updated_at=at,
            first_touch=touch,
            last_touch=touch,
            touch_count=0,
        )
    return replace(
        lead,
        updated_at=at,
        last_touch=touch if c.creates_lead else lead.last_touch,
        phone=lead.phone or c.phone,
        email=lead.email or c.email,
        name=c.name or lead.name,
        company=c.company or lead.company,
        sms_opt_out=lead.sms_opt_out if c.sms_opt_out is None else c.sms_opt_out,
        touch_count=lead.touch_count + 1,
        linked_lead_ids=lead.linked_lead_ids | set(change.links),
    )
