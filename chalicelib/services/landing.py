"""Land an inbound event on one lead: record it durably first, then resolve and apply."""

from __future__ import annotations

import secrets as _random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from chalicelib.domain.capture import Capture
from chalicelib.domain.model import Touchpoint
from chalicelib.logs import get_logger
from chalicelib.ports import (
    AtCapError,
    Clock,
    DuplicateTouchError,
    IdentityTakenError,
    InboundEvent,
    LeadChange,
    LeadStore,
    OwnerChangedError,
    StaleTouchError,
)
from chalicelib.services.assignment import Assigner, Decision

log = get_logger(__name__)

# Concurrent first contacts from one person race to claim the same identity key; the loser
# re-reads and lands on the winner's lead. Three rounds is far more than one race needs.
_RESOLVE_ROUNDS = 3


@dataclass(frozen=True)
class Landed:
    """Where an event ended up: created, updated, duplicate, unmatched or accepted (deferred)."""

    status: str
    lead_id: str | None = None
    owner: str | None = None  # the lead's owner after landing, when this landing knows it


class LandingConflictError(Exception):
    """Identity claims kept losing races; the event stays pending for the replayer."""


def new_lead_id() -> str:
    """A fresh, unguessable lead id."""
    return "ld_" + _random.token_hex(8)


def accept(
    capture: Capture,
    *,
    store: LeadStore,
    clock: Clock,
    raw_body: str = "",
    content_type: str = "",
    dedup_window: timedelta | None = None,
    assigner: Assigner | None = None,
) -> Landed:
    """Record the event, then land it. A failure after recording is left to the replayer, so an
    authenticated request is never lost; a failure to record propagates (the provider retries)."""
    now = clock.now()
    event = InboundEvent(capture.event_key, now, capture, raw_body, content_type)
    replace_before = now - dedup_window if dedup_window else None
    recorded = store.record_event(event, replace_before=replace_before)
    if not recorded.is_new:
        if recorded.status != "pending":
            return Landed("duplicate", recorded.lead_id)
        # An earlier delivery was recorded but not landed: land it now, with its own time, so the
        # touchpoint key is the same whichever delivery gets there first.
        event = replace(event, received_at=recorded.received_at)
    try:
        return land(event, store=store, assigner=assigner)
    except Exception:
        log.exception(
            "landing deferred to the replayer", extra={"fields": {"event": capture.event_key}}
        )
        return Landed("accepted")


def land(event: InboundEvent, *, store: LeadStore, assigner: Assigner | None = None) -> Landed:
    """Resolve the event's lead by identity, give it an owner if it needs one (when an assigner
    is given), and apply the touchpoint in one atomic write."""
    capture = event.capture
    for _ in range(_RESOLVE_ROUNDS):
        known = store.find_leads(capture.identities)
        # Keys are in priority order, so the first lead found is the one the touch lands on.
        lead_ids = list(dict.fromkeys(known[k] for k in capture.identities if k in known))
        if not lead_ids and not capture.creates_lead:
            store.mark_event(capture.event_key, "unmatched")
            return Landed("unmatched")
        lead_id = lead_ids[0] if lead_ids else new_lead_id()
        previous, decision = None, None
        if assigner is not None and capture.creates_lead:
            # One read, for a returning person only: who owns them now (stickiness).
            previous = store.get_lead(lead_id) if lead_ids else None
            decision = assigner.assign(capture, previous)
        change = LeadChange(
            lead_id=lead_id,
            touchpoint=_touchpoint(event, lead_id),
            capture=capture,
            claims=tuple(k for k in capture.claims if k not in known),
            links=tuple(lead_ids[1:]),
            is_new=not lead_ids,
            assignment=decision.assignment if decision else None,
            expected_owner=previous.owner if previous else None,
            load=decision.claim if decision else None,
            fact_day=previous.fact_day if previous else None,
        )
        if assigner is not None and decision is not None and change.is_new:
            change = replace(change, clock=assigner.clock_for(capture, decision, event.received_at))
        if assigner is not None:
            change = assigner.fact_for(change, decision)
        try:
            decision, change = _apply_within_caps(store, change, decision, assigner)
        except (IdentityTakenError, OwnerChangedError):
            continue  # a concurrent delivery got there first: look again
        except DuplicateTouchError:
            return Landed("duplicate", lead_id)
        if assigner is not None:
            assigner.landed(decision, previous)
            _schedule_first_step(assigner, change)
        status = "updated" if lead_ids else "created"
        owner = decision.assignment.owner if decision else (previous.owner if previous else None)
        log.info(
            "lead %s",
            status,
            extra={"fields": {"lead_id": lead_id, "event": capture.event_key, "owner": owner}},
        )
        return Landed(status, lead_id, owner)
    raise LandingConflictError(capture.event_key)


def _apply_within_caps(
    store: LeadStore, change: LeadChange, decision: Decision | None, assigner: Assigner | None
) -> tuple[Decision | None, LeadChange]:
    """Apply the change; when its rep reached a cap meanwhile, decide again from the same slot
    without them (each round passes one more rep over, so this ends)."""
    while True:
        try:
            _apply(store, change)
            return decision, change
        except AtCapError as exc:
            if decision is None:
                raise
            decision = decision.without(exc.rep)
            change = replace(change, assignment=decision.assignment, load=decision.claim)
            if change.clock is not None and assigner is not None:
                # Nobody left means the manager is alerted at once: the clock's first step moves.
                at = change.touchpoint.at
                change = replace(change, clock=assigner.clock_for(change.capture, decision, at))
            if assigner is not None:
                change = assigner.fact_for(change, decision)  # the owner it now names


def _schedule_first_step(assigner: Assigner, change: LeadChange) -> None:
    clock = change.clock
    if assigner.timers is None or clock is None or clock.next_step is None:
        return
    assert clock.next_step_at is not None
    try:
        assigner.timers.schedule(change.lead_id, clock.next_step, clock.next_step_at)
    except Exception:
        # The step is stored on the lead with its time: the sweeper fires it within a minute.
        log.exception("timer not scheduled", extra={"fields": {"lead_id": change.lead_id}})


def _apply(store: LeadStore, change: LeadChange) -> None:
    try:
        store.apply(change)
    except StaleTouchError:
        # The timeline gets the touch; last touch stays with the newer one already there.
        store.apply(replace(change, moves_last_touch=False))


def replay_pending(
    *,
    store: LeadStore,
    clock: Clock,
    older_than: timedelta = timedelta(seconds=30),
    limit: int = 100,
    assigner: Assigner | None = None,
) -> int:
    """Land events that were recorded but not landed (a crash or an outage mid-request)."""
    before: datetime = clock.now() - older_than
    landed = 0
    for event in store.pending_events(received_before=before, limit=limit):
        try:
            land(event, store=store, assigner=assigner)
            landed += 1
        except Exception:
            log.exception("replay failed", extra={"fields": {"event": event.event_key}})
    return landed


def _touchpoint(event: InboundEvent, lead_id: str) -> Touchpoint:
    capture = event.capture
    return Touchpoint(
        event_key=capture.event_key,
        lead_id=lead_id,
        at=event.received_at,
        channel=capture.channel,
        kind=capture.kind,
        attribution=capture.attribution,
        detail=capture.detail,
    )
