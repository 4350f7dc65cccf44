"""LeadStore on DynamoDB: a conditional put for the inbox, one read and one transaction to land;
one conditional update per step of the SLA clock's ladder."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo import facts
from chalicelib.adapters.dynamo.alerts import alert_row
from chalicelib.adapters.dynamo.cursor import decode_cursor, encode_cursor, matches, months
from chalicelib.adapters.dynamo.mapping import (
    attribution_attr,
    compact_assignment,
    iso,
    lead_from_row,
    parse,
    touch_from_row,
    touch_item,
)
from chalicelib.adapters.dynamo.models import (
    AlertModel,
    EventModel,
    FactModel,
    IdentityModel,
    LeadModel,
    RoutingModel,
    TouchpointModel,
)
from chalicelib.adapters.dynamo.routing import load_item, load_release, load_update
from chalicelib.domain.capture import Capture
from chalicelib.domain.facts import LOST, LeadFact
from chalicelib.domain.model import Lead, Touchpoint
from chalicelib.ports import (
    AlertRecord,
    AtCapError,
    ClaimChange,
    Clock,
    ClockStop,
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
    StageChange,
    StaleTouchError,
)

_PENDING = "pending"
_DUE = "due"  # the one value of the due-steps index's key: present while a step is pending
_FAILED = "ConditionalCheckFailed"


class _SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class DynamoLeadStore:
    """Leads, identities, touchpoints and the event inbox in five DynamoDB tables."""

    def __init__(
        self,
        *,
        region: str,
        host: str | None,
        clock: Clock | None = None,
        connection: Connection | None = None,
    ) -> None:
        self._region = region
        self._host = host
        # Listing starts at the current month's partition: "current" must be the app's clock,
        # so a test (or a replay of old data) that moves time sees the leads it wrote.
        self._clock: Clock = clock or _SystemClock()
        # The connection `bind` returns, so transactions reuse the models' botocore client.
        self._connection: Connection | None = connection
        self._connection_lock = threading.Lock()

    def record_event(
        self, event: InboundEvent, *, replace_before: datetime | None
    ) -> RecordedEvent:
        """Store the event unless its key exists (or exists from before `replace_before`)."""
        item = EventModel(
            event.event_key,
            received_at=iso(event.received_at),
            status=_PENDING,
            pending=_PENDING,
            capture=event.capture.to_dict(),
            raw_body=event.raw_body or None,
            content_type=event.content_type or None,
        )
        condition = EventModel.event_key.does_not_exist()
        if replace_before is not None:
            condition = condition | (EventModel.received_at < iso(replace_before))
        try:
            item.save(condition=condition)
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            old = EventModel.get(event.event_key, consistent_read=True)
            return RecordedEvent(False, parse(old.received_at), old.status, old.lead_id)
        return RecordedEvent(True, event.received_at)

    def pending_events(self, *, received_before: datetime, limit: int) -> list[InboundEvent]:
        """Events recorded but not landed, oldest first, from the sparse index."""
        rows = EventModel.pending_index.query(
            _PENDING, EventModel.received_at < iso(received_before), limit=limit
        )
        return [
            InboundEvent(
                row.event_key,
                parse(row.received_at),
                Capture.from_dict(row.capture),
                row.raw_body or "",
                row.content_type or "",
            )
            for row in rows
        ]

    def mark_event(self, event_key: str, status: str) -> None:
        """Close an event that lands on no lead; LookupError if it was never recorded."""
        try:
            EventModel(event_key).update(
                actions=[EventModel.status.set(status), EventModel.pending.remove()],
                condition=EventModel.event_key.exists(),
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            raise LookupError(f"event {event_key} was never recorded") from None

    def find_leads(self, keys: tuple[str, ...]) -> dict[str, str]:
        """Identity key → lead id, in one consistent BatchGetItem."""
        # BatchGetItem refuses a request that names one key twice.
        unique = list(dict.fromkeys(keys))
        if not unique:
            return {}
        rows = IdentityModel.batch_get(unique, consistent_read=True)
        return {row.key: row.lead_id for row in rows}

    def apply(self, change: LeadChange) -> None:
        """Upsert the lead, add the touchpoint, claim identities, link leads and close the
        event, all in one TransactWriteItems so a failure leaves nothing half-written."""
        touch, capture = change.touchpoint, change.capture
        at = iso(touch.at)
        # A transaction may name an item once only.
        claims = list(dict.fromkeys(change.claims))
        links = [x for x in dict.fromkeys(change.links) if x != change.lead_id]
        # PynamoDB sends puts before updates; `kinds` mirrors that order so a cancellation
        # reason can be traced to the item that caused it.
        kinds = ["touch"] + ["claim"] * len(claims) + ["lead"] + ["link"] * len(links) + ["event"]
        kinds += ["load"] if change.load else []
        fact = _fact_actions(change)
        try:
            with TransactWrite(connection=self._conn()) as tx:
                tx.save(touch_item(touch), condition=TouchpointModel.sk.does_not_exist())
                for key in claims:
                    claim = IdentityModel(key, lead_id=change.lead_id, created_at=at)
                    tx.save(claim, condition=IdentityModel.key.does_not_exist())
                tx.update(
                    LeadModel(change.lead_id),
                    actions=_lead_actions(change, links, at),
                    condition=_lead_condition(change, at),
                )
                for other in links:
                    # Without the condition an unknown id would become a lead item with no
                    # contact or attribution, which no reader could map.
                    tx.update(
                        LeadModel(other),
                        actions=[LeadModel.linked_lead_ids.add({change.lead_id})],
                        condition=LeadModel.lead_id.exists(),
                    )
                # Close this very delivery: an event never recorded must not appear as a bare
                # stub, and one replaced by a newer delivery (same content after the window) is
                # that delivery's to close.
                tx.update(
                    EventModel(capture.event_key),
                    actions=[
                        EventModel.status.set("processed"),
                        EventModel.lead_id.set(change.lead_id),
                        EventModel.pending.remove(),
                    ],
                    condition=EventModel.received_at == at,
                )
                if change.load is not None:
                    # The owner's load, in the same write: claimed only if the lead lands.
                    actions, condition = load_update(change.load)
                    tx.update(load_item(change.load), actions=actions, condition=condition)
                if fact and change.fact_day is not None:
                    # The lead's metrics fact, in the same write: counted if and only if it lands.
                    tx.update(facts.item(change.fact_day, change.lead_id), actions=fact)
        except TransactWriteError as exc:
            error = _cancellation_error(exc, kinds, change)
            if error is None:
                raise
            raise error from None

    def reassign(self, change: OwnerChange) -> None:
        """Move the lead and add its "reassigned" timeline entry in one transaction."""
        touch, assignment, at = change.touchpoint, change.assignment, iso(change.touchpoint.at)
        owner = LeadModel.owner
        expected = change.expected_owner
        actions: list[Any] = [
            owner.set(assignment.owner) if assignment.owner else owner.remove(),
            LeadModel.owner_assigned_at.set(at),
            LeadModel.assignment.set(compact_assignment(assignment)),
            LeadModel.updated_at.set(at),
        ]
        if expected:
            history = LeadModel.previous_owners
            actions.append(history.set((history | []).append([expected])))
        try:
            with TransactWrite(connection=self._conn()) as tx:
                tx.save(touch_item(touch), condition=TouchpointModel.sk.does_not_exist())
                tx.update(
                    LeadModel(change.lead_id),
                    actions=actions,
                    condition=LeadModel.lead_id.exists()
                    & (owner.does_not_exist() if expected is None else owner == expected),
                )
                if change.fact_day is not None:
                    fact = facts.owned(assignment.owner)
                    tx.update(facts.item(change.fact_day, change.lead_id), actions=fact)
        except TransactWriteError as exc:
            reasons = [r.code if r else None for r in (exc.cancellation_reasons or [])]
            if reasons[:1] == ["ConditionalCheckFailed"]:
                raise DuplicateTouchError() from None
            if "ConditionalCheckFailed" in reasons[1:2]:
                raise OwnerChangedError() from None
            raise

    def get_lead(self, lead_id: str) -> Lead | None:
        """The lead, read consistently so a lead just captured is always found."""
        try:
            return lead_from_row(LeadModel.get(lead_id, consistent_read=True))
        except LeadModel.DoesNotExist:
            return None

    def touchpoints(self, lead_id: str) -> list[Touchpoint]:
        """The lead's timeline, oldest first."""
        return [touch_from_row(row) for row in TouchpointModel.query(lead_id, consistent_read=True)]

    def list_leads(self, query: LeadQuery) -> LeadPage:
        """Newest first, month partition by month, filters applied after a batched read."""
        cursor = decode_cursor(query.cursor)
        since = iso(query.since) if query.since else None
        leads: list[Lead] = []
        for month in months(self._clock.now(), query.since, cursor.get("m")):
            start = cursor.get("k") if cursor.get("m") == month else None
            condition = LeadModel.created_key >= since if since else None
            while True:
                # Unfiltered, every key read is a lead returned: read no more than are wanted
                # (a page of 7 must not cost 100 item reads). Filtered, read 100 at a time.
                size = 100 if query.source or query.status else query.limit - len(leads)
                page = LeadModel.by_month.query(
                    month,
                    condition,
                    scan_index_forward=False,
                    limit=size,
                    last_evaluated_key=start,
                )
                keys = [row.lead_id for row in page]
                rows = {r.lead_id: r for r in LeadModel.batch_get(keys)} if keys else {}
                for lead_id in keys:
                    row = rows.get(lead_id)
                    if row is None or not matches(row, query):
                        continue
                    leads.append(lead_from_row(row))
                    if len(leads) == query.limit:
                        return LeadPage(leads, encode_cursor(month, row))
                start = page.last_evaluated_key
                if not start:
                    break
        return LeadPage(leads, None)

    def due_steps(self, *, before: datetime, limit: int) -> list[DueStep]:
        """Pending steps due by `before`, earliest first: one Query of the sparse index."""
        rows = LeadModel.due_steps.query(_DUE, LeadModel.next_step_at <= before, limit=limit)
        return [
            DueStep(row.lead_id, int(row.next_step), row.next_step_at)
            for row in rows
            if row.next_step is not None and row.next_step_at is not None
        ]

    def facts(self, day: date) -> list[LeadFact]:
        """The day's metrics facts: one Query of the day's items (no Scan of the leads)."""
        rows = FactModel.query(day.isoformat(), consistent_read=True)
        return [facts.fact_of(row) for row in rows]

    def begin_step(
        self, lead_id: str, step: int, *, now: datetime, lease_until: datetime
    ) -> Lead | None:
        """One conditional UpdateItem: the step must be pending, due and unanswered. Its time
        moves to the lease's end, and the lead comes back from the update itself."""
        row = LeadModel(lead_id)
        condition = (
            (LeadModel.next_step == step)
            & (LeadModel.next_step_at <= now)
            & LeadModel.first_response_at.does_not_exist()
        )
        actions: list[Any] = [
            LeadModel.next_step_at.set(lease_until),
            LeadModel.step_attempts.add(1),
        ]
        if not _conditional(lambda: row.update(actions=actions, condition=condition)):
            return None
        return lead_from_row(row)

    def finish_step(
        self,
        lead_id: str,
        step: int,
        *,
        next_step: int | None,
        next_at: datetime | None,
        alerts: Sequence[AlertRecord] = (),
    ) -> bool:
        """Move the pending step on, or off the index when the ladder is done, with the step's
        alert log in the same transaction (one request however many alerts)."""
        actions: list[Any] = [LeadModel.step_attempts.remove()]
        if next_step is None or next_at is None:
            actions += _no_pending_step()
        else:
            actions += [
                LeadModel.next_step.set(next_step),
                LeadModel.next_step_at.set(next_at),
                LeadModel.due.set(_DUE),
            ]
        row = LeadModel(lead_id)
        condition = LeadModel.next_step == step
        if not alerts:
            return _conditional(lambda: row.update(actions=actions, condition=condition))
        try:
            with TransactWrite(connection=self._conn()) as tx:
                for alert in alerts:  # puts go first, as PynamoDB sends them
                    tx.save(alert_row(alert))
                tx.update(row, actions=actions, condition=condition)
        except TransactWriteError as exc:
            if not _failed(exc, len(alerts) + 1)[-1]:
                raise
            # The step moved on meanwhile (answered mid-step, or a slow step's lease ran out and
            # another worker finished it): what this worker sent is logged all the same.
            with AlertModel.batch_write() as batch:
                for alert in alerts:
                    batch.save(alert_row(alert))
            return False
        return True

    def defer_step(self, lead_id: str, step: int, *, until: datetime) -> bool:
        """Keep the step pending, later."""
        row = LeadModel(lead_id)
        actions: list[Any] = [LeadModel.next_step_at.set(until)]
        return _conditional(
            lambda: row.update(actions=actions, condition=LeadModel.next_step == step)
        )

    def claim(self, change: ClaimChange) -> Lead:
        """The claim and its timeline entry in one transaction; the pending step, if any, moves
        to the end of the pause only if it is still the step the claim was decided against."""
        actions: list[Any] = [
            LeadModel.claimed_by.set(change.by),
            LeadModel.claimed_at.set(change.at),
            LeadModel.paused_until.set(change.until),
            LeadModel.updated_at.set(iso(change.at)),
        ]
        condition = LeadModel.lead_id.exists()
        if change.expected_step is None:
            condition &= LeadModel.next_step.does_not_exist()
        else:
            condition &= LeadModel.next_step == change.expected_step
            if change.step_at is not None:
                actions.append(LeadModel.next_step_at.set(change.step_at))
        touch = touch_item(change.touchpoint)
        try:
            with TransactWrite(connection=self._conn()) as tx:
                tx.save(touch, condition=TouchpointModel.sk.does_not_exist())
                tx.update(LeadModel(change.lead_id), actions=actions, condition=condition)
                if change.fact_day is not None:
                    fact = facts.claimed(change.by)
                    tx.update(facts.item(change.fact_day, change.lead_id), actions=fact)
        except TransactWriteError as exc:
            touch_failed, lead_failed = _failed(exc, 3 if change.fact_day else 2)[:2]
            if touch_failed:
                raise DuplicateTouchError() from None
            if not lead_failed:
                raise
            if self.get_lead(change.lead_id) is None:
                raise LookupError(f"no lead {change.lead_id}") from None
            raise OwnerChangedError() from None
        lead = self.get_lead(change.lead_id)
        assert lead is not None  # it was just updated, and leads are never deleted
        return lead

    def stop_clock(self, stop: ClockStop) -> bool:
        """Record the first response and speed and cancel pending steps, in the same
        transaction as the touchpoint, unless the clock stopped before (then the touchpoint is
        still added, once)."""
        at = iso(stop.at)
        actions: list[Any] = [
            LeadModel.first_response_at.set(LeadModel.first_response_at | at),
            LeadModel.status.set("contacted"),
            LeadModel.updated_at.set(at),
            LeadModel.step_attempts.remove(),
            *_no_pending_step(),
        ]
        if stop.by:
            by = LeadModel.first_response_by
            actions.append(by.set(by | stop.by))
        marks = _contact_marks(stop)
        actions += marks
        if stop.speed is not None:
            actions += [
                LeadModel.speed_wall_s.set(stop.speed.wall_s),
                LeadModel.speed_business_s.set(stop.speed.business_s),
                LeadModel.sla_met.set(stop.speed.met),
            ]
        # A lead with a clock stops once its speed is recorded (a connected call's landing sets
        # first_response_at alone, and must not keep the clock from stopping); a lead without
        # one stops at its first response.
        condition = (
            LeadModel.lead_id.exists()
            & LeadModel.speed_wall_s.does_not_exist()
            & (LeadModel.sla_due_at.exists() | LeadModel.first_response_at.does_not_exist())
        )
        lead = LeadModel(stop.lead_id)
        fact: list[Any] = []
        if stop.fact_day is not None:
            fact = facts.responded(stop.at, by=stop.by, speed=stop.speed)
        if stop.touchpoint is None and stop.release is None and not fact:
            if _conditional(lambda: lead.update(actions=actions, condition=condition)):
                return True
            if self.get_lead(stop.lead_id) is None:
                raise LookupError(f"no lead {stop.lead_id}")
            self._late_response(stop, None, marks)
            return False
        touch = touch_item(stop.touchpoint) if stop.touchpoint else None
        release = stop.release
        while True:
            try:
                with TransactWrite(connection=self._conn()) as tx:
                    if touch is not None:
                        tx.save(touch, condition=TouchpointModel.sk.does_not_exist())
                    tx.update(lead, actions=actions, condition=condition)
                    if release is not None:
                        # The owner's open count, in the same write: the response frees it.
                        load_actions, load_condition = load_release(release)
                        tx.update(
                            RoutingModel(f"load#{release}"),
                            actions=load_actions,
                            condition=load_condition,
                        )
                    if fact and stop.fact_day is not None:
                        tx.update(facts.item(stop.fact_day, stop.lead_id), actions=fact)
                return True
            except TransactWriteError as exc:
                # The items in the order they were sent: puts first, then updates.
                order = ["touch"] * (touch is not None) + ["lead"]
                order += ["load"] * (release is not None)
                failed = dict(zip(order, _failed(exc, len(order)), strict=True))
                touch_failed = failed.get("touch", False)
                lead_failed = failed["lead"]
                load_failed = failed.get("load", False)
                if touch_failed:
                    return False  # a repeated request: the touchpoint is there already
                if not lead_failed and load_failed:
                    release = None  # the count is at 0 already: stop without it
                    continue
                if not lead_failed:
                    raise
            if self.get_lead(stop.lead_id) is None:
                raise LookupError(f"no lead {stop.lead_id}") from None
            self._late_response(stop, touch, marks)
            return False

    def _late_response(
        self, stop: ClockStop, touch: TouchpointModel | None, marks: list[Any]
    ) -> None:
        """The clock stopped before: this response still belongs on the timeline, and may be the
        first attempt or connect (a bridged call answered after its ringing stopped the clock).
        A repeated report (its touchpoint is there) changes nothing."""
        new_touch = TouchpointModel.sk.does_not_exist()
        if touch is None:
            if marks:
                LeadModel(stop.lead_id).update(actions=marks, condition=LeadModel.lead_id.exists())
        elif not marks:
            _conditional(lambda: touch.save(condition=new_touch))
        else:
            try:
                with TransactWrite(connection=self._conn()) as tx:
                    tx.save(touch, condition=new_touch)
                    tx.update(LeadModel(stop.lead_id), actions=marks)
            except TransactWriteError as exc:
                if not _failed(exc, 2)[0]:
                    raise
        if stop.speed is None and stop.fact_day is not None:
            # A lead without a clock whose first response a landed call set: its fact has not
            # heard of it. Time and responder together, and only if the fact has neither.
            fact = facts.item(stop.fact_day, stop.lead_id)
            answered = facts.first_response(stop.at, by=stop.by)
            fresh = FactModel.day.exists() & FactModel.responded_at.does_not_exist()
            _conditional(lambda: fact.update(actions=answered, condition=fresh))

    def start_bridge(self, lead_id: str, *, by: str, at: datetime, not_since: datetime) -> bool:
        """Mark `by` as calling the lead now, unless they started a call after `not_since`."""
        row = LeadModel(lead_id)
        condition = LeadModel.lead_id.exists() & (
            LeadModel.bridge_at.does_not_exist()
            | (LeadModel.bridge_by != by)
            | (LeadModel.bridge_at < not_since)
        )
        actions: list[Any] = [LeadModel.bridge_by.set(by), LeadModel.bridge_at.set(at)]
        if _conditional(lambda: row.update(actions=actions, condition=condition)):
            return True
        if self.get_lead(lead_id) is None:
            raise LookupError(f"no lead {lead_id}")
        return False

    def end_bridge(self, lead_id: str, *, at: datetime) -> None:
        """Forget the call started at `at` (it could not be placed), so a retry is not refused
        as a double tap; a later call's mark stays."""
        row = LeadModel(lead_id)
        actions: list[Any] = [LeadModel.bridge_by.remove(), LeadModel.bridge_at.remove()]
        _conditional(lambda: row.update(actions=actions, condition=LeadModel.bridge_at == at))

    def add_touch(self, touch: Touchpoint) -> bool:
        """Put `touch` on its lead's timeline unless it is there already (False then)."""
        item = touch_item(touch)
        return _conditional(lambda: item.save(condition=TouchpointModel.sk.does_not_exist()))

    def _conn(self) -> Connection:
        # Several threads may land at once (the local runner, the concurrency tests).
        with self._connection_lock:
            if self._connection is None:
                self._connection = Connection(region=self._region, host=self._host)
            return self._connection

    def change_stage(self, change: StageChange) -> bool:
        """Move the lead's stage and put its timeline entry in one transaction, on condition
        that the lead is still at the stage the move was decided against."""
        stage = LeadModel.stage
        actions: list[Any] = [
            stage.set(change.stage),
            LeadModel.stage_at.set(change.at),
            LeadModel.updated_at.set(iso(change.at)),
            # Stored only where it differs from the stage (a lost lead): the row stays small.
            LeadModel.furthest_stage.set(change.furthest)
            if change.furthest != change.stage
            else LeadModel.furthest_stage.remove(),
        ]
        for attr, value in (
            (LeadModel.won_amount, None if change.amount is None else str(change.amount)),
            (LeadModel.currency, change.currency),
            (LeadModel.lost_reason, change.reason),
            (LeadModel.won_last_source, change.last_source),
        ):
            if value is not None:
                actions.append(attr.set(value))
        # A lead that never moved has no stage attribute: it is at "lead".
        at_expected = stage == change.expected_stage
        if change.expected_stage == "lead":
            at_expected = stage.does_not_exist() | at_expected
        try:
            with TransactWrite(connection=self._conn()) as tx:
                tx.save(
                    touch_item(change.touchpoint), condition=TouchpointModel.sk.does_not_exist()
                )
                tx.update(
                    LeadModel(change.lead_id),
                    actions=actions,
                    condition=LeadModel.lead_id.exists() & at_expected,
                )
                if change.fact_day is not None:
                    fact = facts.staged(
                        furthest=change.furthest,
                        lost=change.stage == LOST,
                        amount=change.amount,
                        currency=change.currency,
                        last_source=change.last_source,
                    )
                    tx.update(facts.item(change.fact_day, change.lead_id), actions=fact)
        except TransactWriteError as exc:
            if not any(_failed(exc, 2)):
                raise
            if self.get_lead(change.lead_id) is None:
                raise LookupError(f"no lead {change.lead_id}") from None
            return False
        return True


def _contact_marks(stop: ClockStop) -> list[Any]:
    """First attempt and first connect, each kept from the first report of it."""
    marks: list[Any] = []
    if stop.attempt_at is not None:
        marks.append(LeadModel.first_attempt_at.set(LeadModel.first_attempt_at | stop.attempt_at))
    if stop.connect_at is not None:
        marks.append(LeadModel.first_connect_at.set(LeadModel.first_connect_at | stop.connect_at))
    return marks


def _conditional(write: Callable[[], object]) -> bool:
    """Run a conditional single-item write; False when its condition failed."""
    try:
        write()
    except (UpdateError, PutError) as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True


def _failed(exc: TransactWriteError, count: int) -> list[bool]:
    """For each of the first `count` items of a cancelled transaction, whether its condition
    failed."""
    reasons = list(exc.cancellation_reasons or [])
    reasons += [None] * (count - len(reasons))
    return [r is not None and r.code == _FAILED for r in reasons[:count]]


def _no_pending_step() -> list[Any]:
    """The actions that take a lead's pending step off the ladder and out of the index."""
    return [LeadModel.next_step.remove(), LeadModel.next_step_at.remove(), LeadModel.due.remove()]


def _cancellation_error(
    exc: TransactWriteError, kinds: list[str], change: LeadChange
) -> Exception | None:
    """The error a cancelled transaction stands for, or None if it is not one we name."""
    reasons = list(exc.cancellation_reasons or [])[: len(kinds)]
    codes = {(kinds[i], r.code) for i, r in enumerate(reasons) if r is not None}
    failed = {kind for kind, code in codes if code == "ConditionalCheckFailed"}
    if "touch" in failed:
        return DuplicateTouchError()
    if "claim" in failed:
        return IdentityTakenError()
    if "link" in failed:
        return LookupError(f"a linked lead does not exist: {sorted(change.links)}")
    if "event" in failed:
        # Rare: tell a superseded delivery from one never recorded with one read.
        try:
            EventModel.get(change.capture.event_key, consistent_read=True)
        except EventModel.DoesNotExist:
            return LookupError(f"event {change.capture.event_key} was never recorded")
        return DuplicateTouchError()
    if "load" in failed and change.load is not None:
        return AtCapError(change.load.rep)
    if "lead" in failed:
        # Two conditions may guard the lead; one read (rare) tells which failed.
        if change.assignment is not None:
            try:
                row = LeadModel.get(change.lead_id, consistent_read=True)
            except LeadModel.DoesNotExist:
                row = None
            if row is not None and row.owner != change.expected_owner:
                return OwnerChangedError()
        return StaleTouchError()
    # Another transaction was writing the same lead or identity at that moment (real DynamoDB
    # cancels rather than waits). Re-resolving and retrying is exactly what a lost identity race
    # needs too, so the caller gets the error it already retries on.
    if any(code == "TransactionConflict" for _, code in codes):
        return IdentityTakenError()
    return None


def _moves_last_touch(change: LeadChange) -> bool:
    # Only the person's own touches move "last touch"; a status callback or voicemail does not.
    return change.capture.creates_lead and change.moves_last_touch


def _lead_condition(change: LeadChange, at: str) -> Any:
    conditions = []
    if _moves_last_touch(change) and not change.is_new:
        conditions.append(
            # A lead's first touch is its last until another lands (then last_touch_at is set).
            (
                LeadModel.last_touch_at.does_not_exist()
                & (LeadModel.created_at.does_not_exist() | (LeadModel.created_at <= at))
            )
            | (LeadModel.last_touch_at <= at)
        )
    if change.assignment is not None:
        # The owner this assignment was decided against must still be the owner: two deliveries
        # can never both assign, and a retry never assigns twice.
        expected = change.expected_owner
        owner = LeadModel.owner
        conditions.append(owner.does_not_exist() if expected is None else owner == expected)
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else conditions[0] & conditions[1]


def _lead_actions(change: LeadChange, links: list[str], at: str) -> list[Any]:
    capture, touch = change.capture, attribution_attr(change.touchpoint.attribution.for_lead())
    actions: list[Any] = [
        LeadModel.created_at.set(LeadModel.created_at | at),
        LeadModel.created_month.set(LeadModel.created_month | at[:7]),
        LeadModel.created_key.set(LeadModel.created_key | f"{at}#{change.lead_id}"),
        LeadModel.first_touch.set(LeadModel.first_touch | touch),
        LeadModel.status.set(LeadModel.status | "new"),
        LeadModel.touch_count.add(1),
    ]
    # A new lead's updated_at is its created_at: read back from it, not stored twice.
    if not change.is_new:
        actions.append(LeadModel.updated_at.set(at))
    # A new lead's last touch is its first: stored once, read back from first_touch and
    # created_at. That keeps a typical new lead item under 1 KB.
    if _moves_last_touch(change) and not change.is_new:
        actions += [LeadModel.last_touch_at.set(at), LeadModel.last_touch.set(touch)]
    # Stored once an SMS sets or clears it; absent reads as False (the model's default).
    if capture.sms_opt_out is not None:
        actions.append(LeadModel.sms_opt_out.set(capture.sms_opt_out))
    for attr, value in ((LeadModel.phone, capture.phone), (LeadModel.email, capture.email)):
        if value:
            actions.append(attr.set(attr | value))
    for attr, value in ((LeadModel.name, capture.name), (LeadModel.company, capture.company)):
        if value:
            actions.append(attr.set(value))
    if links:
        actions.append(LeadModel.linked_lead_ids.add(set(links)))
    response = capture.first_response
    if response:
        # The first response is kept: a later one never moves it.
        actions.append(
            LeadModel.first_response_at.set(LeadModel.first_response_at | response["at"])
        )
        if response.get("by"):
            by = LeadModel.first_response_by
            actions.append(by.set(by | response["by"]))
    assignment = change.assignment
    if assignment is not None:
        actions += [
            LeadModel.queue.set(assignment.queue) if assignment.queue else LeadModel.queue.remove(),
            LeadModel.owner.set(assignment.owner) if assignment.owner else LeadModel.owner.remove(),
            LeadModel.assignment.set(compact_assignment(assignment)),
        ]
        if not change.is_new:  # a new lead's owner was assigned when it was created
            actions.append(LeadModel.owner_assigned_at.set(at))
    if change.is_new and change.fact is not None and change.fact_day is not None:
        actions.append(LeadModel.fact_day.set(change.fact_day.isoformat()))
    return actions + _clock_actions(change)


def _fact_actions(change: LeadChange) -> list[Any]:
    """What the change writes to the lead's metrics fact: a new lead's whole fact, or the new
    owner of a known lead that has one."""
    if change.is_new:
        return facts.created(change.fact) if change.fact and change.fact_day else []
    if change.assignment is not None and change.fact_day is not None:
        return facts.owned(change.assignment.owner)
    return []


def _clock_actions(change: LeadChange) -> list[Any]:
    """A new lead's SLA clock and first pending step, set in the same update as the lead."""
    clock = change.clock
    if clock is None:
        return []
    actions: list[Any] = [
        LeadModel.sla_policy.set(clock.policy),
        LeadModel.sla_due_at.set(clock.due_at),
    ]
    # A clock that starts at capture is read back from created_at.
    if clock.started_at != change.touchpoint.at:
        actions.append(LeadModel.clock_started_at.set(clock.started_at))
    if clock.next_step is not None and clock.next_step_at is not None:
        actions += [
            LeadModel.next_step.set(clock.next_step),
            LeadModel.next_step_at.set(clock.next_step_at),
            LeadModel.due.set(_DUE),
        ]
    return actions
