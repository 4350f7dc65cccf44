"""Fakes for the ports: small, honest in-memory versions that record what happened."""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from chalicelib.domain.capture import Capture
from chalicelib.domain.errors import InvalidPayloadError
from chalicelib.domain.facts import LeadFact
from chalicelib.domain.model import Attribution, Lead, Touchpoint
from chalicelib.domain.team import TeamConfig
from chalicelib.ports import (
    ATTENTION_STATUSES,
    AlertContent,
    AlertRecord,
    AtCapError,
    ClaimChange,
    ClockStop,
    Delivery,
    DeliveryError,
    DigestRun,
    DueStep,
    DuplicateTouchError,
    IdentityTakenError,
    InboundEvent,
    LeadChange,
    LeadPage,
    LeadQuery,
    OwnerChange,
    OwnerChangedError,
    RecordedEvent,
    Sent,
    StageChange,
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
        # Metrics facts: day → lead id → fact (DynamoDB: the facts table, in the same writes).
        self.fact_rows: dict[date, dict[str, LeadFact]] = {}
        self.fail_next_apply: Exception | None = None
        # Where finish_step logs a step's alerts (DynamoDB: the alerts table, same database).
        self.alert_log = MemoryAlertLog()
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
            if change.is_new and change.fact is not None and change.fact_day is not None:
                fact = replace(change.fact, created_at=_utc(change.fact.created_at))
                fact = replace(fact, due_at=_utc_or_none(fact.due_at))
                self.fact_rows.setdefault(change.fact_day, {})[change.lead_id] = fact
                self.leads[change.lead_id] = replace(
                    self.leads[change.lead_id], fact_day=change.fact_day
                )
            elif change.assignment is not None:
                self._set_fact(change.fact_day, change.lead_id, owner=change.assignment.owner)
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
            self._set_fact(change.fact_day, change.lead_id, owner=change.assignment.owner)
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

    def due_steps(self, *, before: datetime, limit: int) -> list[DueStep]:
        with self._lock:
            rows = [
                DueStep(x.lead_id, x.next_step, x.next_step_at)
                for x in self.leads.values()
                if x.next_step is not None
                and x.next_step_at is not None
                and x.next_step_at <= before
            ]
        return sorted(rows, key=lambda d: (d.at, d.lead_id))[:limit]

    def begin_step(
        self, lead_id: str, step: int, *, now: datetime, lease_until: datetime
    ) -> Lead | None:
        with self._lock:
            lead = self.leads.get(lead_id)
            if (
                lead is None
                or lead.next_step != step
                or lead.next_step_at is None
                or lead.next_step_at > now
                or lead.first_response_at is not None
            ):
                return None
            lead = replace(
                lead, next_step_at=_utc(lease_until), step_attempts=lead.step_attempts + 1
            )
            self.leads[lead_id] = lead
            return lead

    def finish_step(
        self,
        lead_id: str,
        step: int,
        *,
        next_step: int | None,
        next_at: datetime | None,
        alerts: Sequence[AlertRecord] = (),
    ) -> bool:
        with self._lock:
            for alert in alerts:  # logged whether or not the step is still pending
                self.alert_log.finish(alert)
            lead = self.leads.get(lead_id)
            if lead is None or lead.next_step != step:
                return False
            if next_step is None or next_at is None:
                next_step, next_at = None, None
            self.leads[lead_id] = replace(
                lead,
                next_step=next_step,
                next_step_at=_utc(next_at) if next_at else None,
                step_attempts=0,
            )
            return True

    def defer_step(self, lead_id: str, step: int, *, until: datetime) -> bool:
        with self._lock:
            lead = self.leads.get(lead_id)
            if lead is None or lead.next_step != step:
                return False
            self.leads[lead_id] = replace(lead, next_step_at=_utc(until))
            return True

    def claim(self, change: ClaimChange) -> Lead:
        with self._lock:
            touch = _stored_touch(change.touchpoint)
            sk = _sort_key(touch)
            if sk in self.touches.get(touch.lead_id, {}):
                raise DuplicateTouchError()
            lead = self.leads.get(change.lead_id)
            if lead is None:
                raise LookupError(f"no lead {change.lead_id}")
            if lead.next_step != change.expected_step:
                raise OwnerChangedError()
            step_at = lead.next_step_at
            if change.expected_step is not None and change.step_at is not None:
                step_at = _utc(change.step_at)
            lead = replace(
                lead,
                claimed_by=change.by,
                claimed_at=_utc(change.at),
                paused_until=_utc(change.until),
                updated_at=_utc(change.at),
                next_step_at=step_at,
            )
            self.leads[change.lead_id] = lead
            self.touches.setdefault(touch.lead_id, {})[sk] = touch
            fact = self.fact_rows.get(change.fact_day or date.min, {}).get(change.lead_id)
            claimer = fact.claimed_by if fact and fact.claimed_by else change.by
            self._set_fact(change.fact_day, change.lead_id, claimed_by=claimer)
            return lead

    def stop_clock(self, stop: ClockStop) -> bool:
        with self._lock:
            touch = _stored_touch(stop.touchpoint) if stop.touchpoint else None
            rows = self.touches.get(touch.lead_id, {}) if touch else {}
            if touch is not None and _sort_key(touch) in rows:
                return False  # a repeated request: the touchpoint is there already
            lead = self.leads.get(stop.lead_id)
            if lead is None:
                raise LookupError(f"no lead {stop.lead_id}")
            if touch is not None:
                self.touches.setdefault(touch.lead_id, {})[_sort_key(touch)] = touch
            lead = replace(
                lead,
                first_attempt_at=lead.first_attempt_at or _utc_or_none(stop.attempt_at),
                first_connect_at=lead.first_connect_at or _utc_or_none(stop.connect_at),
            )
            self.leads[stop.lead_id] = lead
            # A lead with a clock stops once its speed is recorded; one without, at its first
            # response (as DynamoLeadStore's condition).
            has_clock = lead.sla_due_at is not None
            if lead.speed_wall_s is not None or (
                not has_clock and lead.first_response_at is not None
            ):
                # Stopped before; a fact that has not heard of a response hears of this one.
                fact = self.fact_rows.get(stop.fact_day or date.min, {}).get(stop.lead_id)
                if fact is not None and fact.responded_at is None:
                    self._set_fact(
                        stop.fact_day,
                        stop.lead_id,
                        responded_at=_utc(stop.at),
                        responded_by=fact.responded_by or stop.by or None,
                    )
                return False
            speed = stop.speed
            self.leads[stop.lead_id] = replace(
                lead,
                first_response_at=lead.first_response_at or _utc(stop.at),
                first_response_by=lead.first_response_by or stop.by or None,
                status="contacted",
                updated_at=_utc(stop.at),
                next_step=None,
                next_step_at=None,
                step_attempts=0,
                speed_wall_s=float(speed.wall_s) if speed else lead.speed_wall_s,
                speed_business_s=float(speed.business_s) if speed else lead.speed_business_s,
                sla_met=speed.met if speed else lead.sla_met,
            )
            fact = self.fact_rows.get(stop.fact_day or date.min, {}).get(stop.lead_id)
            if fact is not None:
                fact = replace(
                    fact,
                    responded_at=fact.responded_at or _utc(stop.at),
                    responded_by=fact.responded_by or stop.by or None,
                )
                if speed is not None:
                    fact = replace(
                        fact,
                        speed_wall_s=float(speed.wall_s),
                        speed_business_s=float(speed.business_s),
                        sla_met=speed.met,
                    )
                self.fact_rows[stop.fact_day or date.min][stop.lead_id] = fact
        if stop.release:
            self.routing.release_load(stop.release)
        return True

    def facts(self, day: date) -> list[LeadFact]:
        with self._lock:
            return list(self.fact_rows.get(day, {}).values())

    def _set_fact(self, day: date | None, lead_id: str, **changes: Any) -> None:
        """Change a lead's fact, when it has one (a lead from before facts has none)."""
        fact = self.fact_rows.get(day or date.min, {}).get(lead_id)
        if day is not None and fact is not None:
            self.fact_rows[day][lead_id] = replace(fact, **changes)

    def start_bridge(self, lead_id: str, *, by: str, at: datetime, not_since: datetime) -> bool:
        with self._lock:
            lead = self.leads.get(lead_id)
            if lead is None:
                raise LookupError(f"no lead {lead_id}")
            if lead.bridge_by == by and lead.bridge_at is not None and lead.bridge_at >= not_since:
                return False
            self.leads[lead_id] = replace(lead, bridge_by=by, bridge_at=_utc(at))
            return True

    def end_bridge(self, lead_id: str, *, at: datetime) -> None:
        with self._lock:
            lead = self.leads.get(lead_id)
            if lead is not None and lead.bridge_at == _utc(at):
                self.leads[lead_id] = replace(lead, bridge_by=None, bridge_at=None)

    def add_touch(self, touch: Touchpoint) -> bool:
        with self._lock:
            stored = _stored_touch(touch)
            rows = self.touches.setdefault(stored.lead_id, {})
            if _sort_key(stored) in rows:
                return False
            rows[_sort_key(stored)] = stored
            return True

    def change_stage(self, change: StageChange) -> bool:
        with self._lock:
            touch = _stored_touch(change.touchpoint)
            rows = self.touches.get(touch.lead_id, {})
            lead = self.leads.get(change.lead_id)
            if lead is None:
                raise LookupError(f"no lead {change.lead_id}")
            if _sort_key(touch) in rows or lead.stage != change.expected_stage:
                return False
            at = _utc(change.at)
            self.leads[change.lead_id] = replace(
                lead,
                stage=change.stage,
                stage_at=at,
                updated_at=at,
                furthest_stage=change.furthest,
                won_amount=lead.won_amount if change.amount is None else change.amount,
                currency=change.currency or lead.currency,
                lost_reason=change.reason or lead.lost_reason,
                won_last_source=change.last_source or lead.won_last_source,
            )
            self.touches.setdefault(touch.lead_id, {})[_sort_key(touch)] = touch
            revenue: dict[str, Any] = {}
            if change.amount is not None and change.currency:
                revenue = {"won_amount": change.amount, "currency": change.currency}
                if change.last_source:
                    revenue["last_source"] = change.last_source
            lost = change.stage == "lost"
            self._set_fact(
                change.fact_day, change.lead_id, stage=change.furthest, lost=lost, **revenue
            )
            return True


class MemoryAlertLog:
    """AlertLog in a dict, behaving like DynamoAlertLog (tests/integration/
    test_alert_log_contract.py runs the same claims against both). Tests read `records`."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], AlertRecord] = {}
        self._lock = threading.Lock()

    def finish(self, record: AlertRecord) -> None:
        with self._lock:
            self.records[(record.lead_id, record.key)] = _stored_alert(record)

    def get(self, lead_id: str, key: str) -> AlertRecord | None:
        with self._lock:
            return self.records.get((lead_id, key))

    def take(self, lead_id: str, key: str, *, expected: str, status: str) -> bool:
        with self._lock:
            record = self.records.get((lead_id, key))
            if record is None or record.status != expected:
                return False
            self.records[(lead_id, key)] = replace(record, status=status)
            return True

    def for_lead(self, lead_id: str) -> list[AlertRecord]:
        with self._lock:
            rows = [r for (lead, _), r in self.records.items() if lead == lead_id]
        return sorted(rows, key=lambda r: r.key)

    def by_status(self, status: str, *, limit: int) -> list[AlertRecord]:
        if status not in ATTENTION_STATUSES:
            raise ValueError(f"only alerts needing attention are listed by status: {status}")
        with self._lock:
            rows = [r for r in self.records.values() if r.status == status]
        rows.sort(key=lambda r: (_iso(r.created_at), r.lead_id, r.key), reverse=True)
        return rows[:limit]

    def recent_sms_for_rep(self, rep_id: str, *, limit: int) -> list[AlertRecord]:
        with self._lock:
            rows = [
                r
                for r in self.records.values()
                if r.channel == "sms" and r.recipient != "channel" and r.recipient == rep_id
            ]
        rows.sort(key=lambda r: (_iso(r.created_at), r.lead_id, r.key), reverse=True)
        return rows[:limit]


class MemoryDigestLog:
    """DigestLog in a dict, behaving like DynamoDigestLog (tests/integration/
    test_digest_log_contract.py runs the same claims against both). Tests read `runs`."""

    def __init__(self) -> None:
        self.runs: dict[tuple[str, str], DigestRun] = {}
        self.since: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def first_seen(self, digest: str, now: datetime) -> datetime:
        with self._lock:
            return self.since.setdefault(digest, _utc(now))

    def get(self, digest: str, period: str) -> DigestRun | None:
        with self._lock:
            return self.runs.get((digest, period))

    def take(
        self, digest: str, period: str, *, now: datetime, lease_until: datetime, max_attempts: int
    ) -> DigestRun | None:
        with self._lock:
            run = self.runs.get((digest, period))
            if run is not None:
                open_ = run.status == "failed" or (
                    run.status == "sending" and run.lease_until < now
                )
                if not open_ or run.attempts >= max_attempts:
                    return None
            taken = DigestRun(
                digest=digest,
                period=period,
                status="sending",
                attempts=(run.attempts if run else 0) + 1,
                taken_at=_utc(now),
                lease_until=_utc(lease_until),
                done=run.done if run else frozenset(),
                error=run.error if run else None,
            )
            self.runs[(digest, period)] = taken
            return taken

    def delivered(self, digest: str, period: str, address: str) -> None:
        with self._lock:
            run = self.runs[(digest, period)]
            self.runs[(digest, period)] = replace(run, done=run.done | {address})

    def finish(
        self, digest: str, period: str, *, status: str, at: datetime, error: str | None = None
    ) -> None:
        with self._lock:
            run = self.runs[(digest, period)]
            self.runs[(digest, period)] = replace(
                run, status=status, finished_at=_utc(at), error=error
            )


class FakeTimers:
    """Timers that record what was scheduled: `scheduled` holds (lead_id, step, due).
    `fail_next` makes the next schedule raise it (the queue unreachable after the lead is
    stored); `dead` is what dead_letters() reports."""

    def __init__(self) -> None:
        self.scheduled: list[tuple[str, int, datetime]] = []
        self.fail_next: Exception | None = None
        self.dead: int | None = 0

    def schedule(self, lead_id: str, step: int, due: datetime) -> None:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        self.scheduled.append((lead_id, step, due))

    def dead_letters(self) -> int | None:
        return self.dead


class FakeJobs:
    """Jobs that record each job as the SQS adapter would send it: `bodies` holds the JSON
    messages, to run through services.jobs.handle (or the timer Lambda). `fail_next` makes the
    next enqueue raise it (the queue unreachable)."""

    def __init__(self) -> None:
        self.bodies: list[str] = []
        self.fail_next: Exception | None = None

    def enqueue(self, kind: str, payload: Mapping[str, object]) -> None:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        self.bodies.append(json.dumps({"kind": kind, **payload}))

    def take(self) -> list[str]:
        """The queued bodies, which leave the queue (as received and deleted)."""
        bodies, self.bodies = self.bodies, []
        return bodies


@dataclass(frozen=True)
class SlackAnswer:
    """One answer posted to a response_url."""

    url: str
    text: str
    blocks: tuple[Mapping[str, object], ...]
    replace_original: bool


class FakeSlackResponder:
    """Records every answer (`answers`); `fail_next(error, times=n)` makes the next n raise."""

    def __init__(self) -> None:
        self.answers: list[SlackAnswer] = []
        self._failures: list[Exception] = []

    def fail_next(self, error: Exception, *, times: int = 1) -> None:
        self._failures += [error] * times

    def respond(
        self,
        url: str,
        *,
        text: str,
        blocks: Sequence[Mapping[str, object]] = (),
        replace_original: bool,
    ) -> None:
        if self._failures:
            raise self._failures.pop(0)
        self.answers.append(SlackAnswer(url, text, tuple(blocks), replace_original))


class RecordingSender:
    """A Sender that records every delivery it accepts (`sent`) and every attempt (`attempts`);
    `fail_next(error, times=n)` makes the next n attempts raise `error`. Provider ids count
    the accepted deliveries: "sms-1", "sms-2", …"""

    def __init__(self) -> None:
        self.sent: list[Delivery] = []
        self.attempts: list[Delivery] = []
        self._failures: list[DeliveryError] = []

    def fail_next(self, error: DeliveryError, *, times: int = 1) -> None:
        """The next `times` attempts raise `error` (after any failures already scripted)."""
        self._failures += [error] * times

    def send(self, delivery: Delivery) -> Sent:
        self.attempts.append(delivery)
        if self._failures:
            raise self._failures.pop(0)
        self.sent.append(delivery)
        return Sent(provider_id=f"{delivery.channel}-{len(self.sent)}")


class RecordingUpdatingSender(RecordingSender):
    """A RecordingSender whose messages can be edited (as Slack's): `updates` holds
    (provider_id, content) for every update."""

    def __init__(self) -> None:
        super().__init__()
        self.updates: list[tuple[str, AlertContent]] = []

    def update(self, provider_id: str, content: AlertContent) -> Sent:
        if self._failures:
            raise self._failures.pop(0)
        self.updates.append((provider_id, content))
        return Sent(provider_id=provider_id)


class FakeSleep:
    """A sleep that returns at once, recording what was asked (`calls`); given a FakeClock it
    moves the clock on by as much, so time still passes for the code under test."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.calls: list[float] = []
        self.clock = clock

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.clock is not None:
            self.clock.advance(seconds=seconds)

    @property
    def total(self) -> float:
        """Seconds asked for, in all."""
        return sum(self.calls)


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
    clock = change.clock
    if clock is not None:
        # As stored: a clock starting at capture is read back from created_at.
        started = lead.created_at if clock.started_at == at else _utc(clock.started_at)
        pending = clock.next_step is not None and clock.next_step_at is not None
        updated = replace(
            updated,
            sla_policy=clock.policy,
            clock_started_at=started,
            sla_due_at=_utc(clock.due_at),
            next_step=clock.next_step if pending else updated.next_step,
            next_step_at=_utc(clock.next_step_at)
            if pending and clock.next_step_at
            else updated.next_step_at,
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


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


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


def _stored_alert(record: AlertRecord) -> AlertRecord:
    """`record` as DynamoDB gives it back: times in UTC, numbers as int and float."""
    return replace(
        record,
        step=int(record.step),
        due_at=_utc(record.due_at),
        created_at=_utc(record.created_at),
        called_at=_utc(record.called_at) if record.called_at else None,
        lateness_s=None if record.lateness_s is None else float(record.lateness_s),
        attempts=int(record.attempts),
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
