"""Owner assignment inside the capture request: stickiness, weighted rotation, caps, fallback."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain.capture import Capture
from chalicelib.domain.hours import RepLoad, local_day
from chalicelib.domain.model import Lead
from chalicelib.domain.routing import Assignment, decide, match_queue, sticky_assignment
from chalicelib.domain.team import TeamConfig
from chalicelib.ports import Clock, RoutingStore, TeamStore


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
        """Give back the load an assignment took when its lead change did not land."""
        if assignment is not None and assignment.owner:
            self._routing.release_load(assignment.owner)


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
    # weights stay exact over any window of consecutive rotations.
    position = routing.next_position(queue or "")
    loads: dict[str, RepLoad] = {}
    current = previous.owner if previous else None
    while True:
        assignment = decide(
            team, queue, rule, position, at, loads, None, None, current_owner=current
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
