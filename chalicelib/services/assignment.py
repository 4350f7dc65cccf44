"""Owner assignment inside the capture request: stickiness, weighted rotation, caps, fallback."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain.capture import Capture
from chalicelib.domain.errors import ConflictError, NotFoundError
from chalicelib.domain.hours import RepLoad, local_day
from chalicelib.domain.model import Attribution, Lead, Touchpoint
from chalicelib.domain.routing import Assignment, decide, match_queue, sticky_assignment
from chalicelib.domain.team import TeamConfig
from chalicelib.ports import (
    Clock,
    DuplicateTouchError,
    LeadStore,
    OwnerChange,
    OwnerChangedError,
    RoutingStore,
    TeamStore,
)

# Owner -> backup -> … : five moves is a long ladder already; after it a manager decides.
MAX_REASSIGNMENTS = 5


class Assigner:
    """What landing needs to assign owners: the team, the counters and the clock."""

    def __init__(self, *, team: TeamStore, routing: RoutingStore, clock: Clock) -> None:
        self._team, self._routing, self._clock = team, routing, clock

    def assign(self, capture: Capture, previous: Lead | None) -> Assignment | None:
        """See `assign` below."""
        team = self._team.load()
        return assign(
            capture, team=team, routing=self._routing, at=self._clock.now(), previous=previous
        )

    def undo(self, assignment: Assignment | None) -> None:
        """Give back the load an assignment took (open and today's count) when its lead change
        did not land."""
        if assignment is None or not assignment.owner:
            return
        rep = self._team.load().rep(assignment.owner)
        day = local_day(rep, self._clock.now()) if rep else None
        self._routing.release_load(assignment.owner, day=day)

    def landed(self, assignment: Assignment | None, previous: Lead | None) -> None:
        """Settle the load counts once a change landed on a returning person's lead."""
        if assignment is None or previous is None or previous.owner is None:
            return
        if previous.owner == assignment.owner:
            # Rotation landed on the same owner: they hold this lead open once, not twice.
            self.undo(assignment)
        elif previous.first_response_at is None:
            # The lead moved from an owner who had not answered it: their open count goes back.
            self._routing.release_load(previous.owner)


def assign(
    capture: Capture,
    *,
    team: TeamConfig,
    routing: RoutingStore,
    at: datetime,
    previous: Lead | None,
) -> Assignment | None:
    """The assignment for a lead that needs an owner, or None when its owner stays (a returning
    person whose owner is still eligible and recent: nothing is written)."""
    queue, rule = match_queue(team, capture)
    if previous is not None and previous.owner:
        kept = sticky_assignment(
            team, queue, rule, at, {}, previous.owner, previous.owner_assigned_at
        )
        if kept is not None:
            return None
    # The counter is taken only for a rotation, so sticky leads do not spend positions and the
    # weights stay exact over any window of consecutive rotations. A returning person's owner is
    # not excluded: rotation may land on them again, and they stay the queue's fallback owner if
    # they are it (only reassignment moves a lead away from its owner on purpose).
    return _rotate(team, queue, rule, routing=routing, at=at, current=None)


def reassign(
    lead_id: str,
    *,
    reason: str,
    by: str,
    team: TeamStore,
    routing: RoutingStore,
    store: LeadStore,
    clock: Clock,
) -> Lead:
    """Move a lead to the next eligible rep of its queue other than its owner and everyone who
    owned it before, recording who asked and why. A lead is reassigned at most
    MAX_REASSIGNMENTS times, so an escalation ladder can never loop; a repeated request (same
    lead, same owner) moves it once."""
    lead = store.get_lead(lead_id)
    if lead is None:
        raise NotFoundError("no such lead", field="lead_id")
    if len(lead.previous_owners) >= MAX_REASSIGNMENTS:
        raise ConflictError(f"reassigned {MAX_REASSIGNMENTS} times already; a manager decides now")
    config, at = team.load(), clock.now()
    queue = lead.queue or config.default_queue
    rule = (lead.assignment or {}).get("rule")
    tried = frozenset(lead.previous_owners)
    assignment = _rotate(
        config, queue, rule, routing=routing, at=at, current=lead.owner, tried=tried
    )
    if assignment.owner is None:
        raise ConflictError(f"nobody else can take this lead: {assignment.reason}")
    touch = Touchpoint(
        # Keyed by how many owners the lead had: a double click lands once.
        event_key=f"reassign:{lead_id}:{len(lead.previous_owners)}",
        lead_id=lead_id,
        at=at,
        channel="owner",
        kind="reassigned",
        attribution=Attribution(source="leadclock", channel="owner"),
        detail={"from": lead.owner, "to": assignment.owner, "by": by, "reason": reason},
    )
    try:
        store.reassign(OwnerChange(lead_id, assignment, lead.owner, touch))
    except (OwnerChangedError, DuplicateTouchError):
        # Someone moved it first: give the load back and answer with the lead as it is.
        routing.release_load(assignment.owner)
    else:
        if lead.owner:
            routing.release_load(lead.owner)
    moved = store.get_lead(lead_id)
    assert moved is not None
    return moved


def _rotate(
    team: TeamConfig,
    queue: str | None,
    rule: str | None,
    *,
    routing: RoutingStore,
    at: datetime,
    current: str | None,
    tried: frozenset[str] = frozenset(),
) -> Assignment:
    position = routing.next_position(queue or "")
    loads: dict[str, RepLoad] = {}
    while True:
        assignment = decide(
            team, queue, rule, position, at, loads, None, None, exclude=tried, current_owner=current
        )
        rep = team.rep(assignment.owner) if assignment.owner else None
        if rep is None:
            return assignment  # unassigned, with its reason
        # The fallback owner is the queue's explicit catch-all: counted, never refused.
        capped = assignment.how == "rotation"
        if routing.take_load(
            rep.id,
            local_day(rep, at),
            max_open=rep.max_open if capped else None,
            max_per_day=rep.max_per_day if capped else None,
        ):
            return assignment
        # At a cap the counter said no: look again from the same slot without them. Each round
        # removes one rep, so this ends.
        loads[rep.id] = RepLoad(open=rep.max_open or 0, today=rep.max_per_day or 0)
