"""Owner assignment inside the capture request: stickiness, weighted rotation, caps, fallback.

Capture draws a rotation position (one atomic counter update) and decides; the rep's load is
claimed inside the same transaction that lands the lead, so a lead never holds load it did not
get, and a rep who filled up meanwhile is passed over from the same slot (AtCapError)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from chalicelib.domain.capture import Capture
from chalicelib.domain.errors import ConflictError, NotFoundError
from chalicelib.domain.facts import LeadFact, bucket_day
from chalicelib.domain.hours import RepLoad, local_day
from chalicelib.domain.model import Attribution, Lead, Touchpoint
from chalicelib.domain.routing import Assignment, decide, match_queue, sticky_assignment
from chalicelib.domain.sla import ClockStart
from chalicelib.domain.team import TeamConfig
from chalicelib.ports import (
    Clock,
    DuplicateTouchError,
    LeadChange,
    LeadStore,
    LoadClaim,
    OwnerChange,
    OwnerChangedError,
    RoutingStore,
    TeamStore,
    Timers,
)
from chalicelib.services import sla_clock

# Owner -> backup -> … : five moves is a long ladder already; after it a manager decides.
MAX_REASSIGNMENTS = 5


@dataclass(frozen=True)
class Decision:
    """An assignment, the load it claims, and what it takes to decide again without a rep."""

    assignment: Assignment
    claim: LoadClaim | None
    team: TeamConfig = field(repr=False)
    position: int
    at: datetime
    loads: dict[str, RepLoad] = field(default_factory=dict)
    holder: str | None = None  # the rep who already holds this lead open (no second claim)
    tried: frozenset[str] = frozenset()
    current: str | None = None

    def without(self, rep: str) -> Decision:
        """Decide again from the same slot, `rep` now at a cap. Each call removes one rep."""
        config = self.team.rep(rep)
        full = RepLoad(
            open=(config.max_open or 0) if config else 0,
            today=(config.max_per_day or 0) if config else 0,
        )
        return _decide(replace(self, loads={**self.loads, rep: full}))


class Assigner:
    """What landing needs to assign owners: the team, the counters and the clock."""

    def __init__(
        self,
        *,
        team: TeamStore,
        routing: RoutingStore,
        clock: Clock,
        timers: Timers | None = None,
    ) -> None:
        self._team, self._routing, self._clock = team, routing, clock
        self.timers = timers  # where a new lead's first ladder step is scheduled

    def clock_for(self, capture: Capture, decision: Decision, at: datetime) -> ClockStart | None:
        """The SLA clock of a new lead captured at `at` with `decision` as its owner."""
        return sla_clock.start(
            decision.team,
            queue=decision.assignment.queue,
            source=capture.attribution.source,
            at=at,
            assigned=decision.assignment.owner is not None,
        )

    def fact_for(self, change: LeadChange, decision: Decision | None) -> LeadChange:
        """`change` with a new lead's metrics fact, bucketed on the team's local day (a known
        lead keeps its fact, whose owner follows the assignment)."""
        if not change.is_new:
            return change
        at = change.touchpoint.at
        attribution = change.capture.attribution
        assignment = decision.assignment if decision else None
        fact = LeadFact(
            lead_id=change.lead_id,
            created_at=at,
            source=attribution.source,
            campaign=attribution.campaign,
            queue=assignment.queue if assignment else None,
            owner=assignment.owner if assignment else None,
            due_at=change.clock.due_at if change.clock else None,
        )
        return replace(change, fact=fact, fact_day=bucket_day(at, self._team.load().timezone))

    def assign(self, capture: Capture, previous: Lead | None) -> Decision | None:
        """See `assign` below."""
        team = self._team.load()
        return assign(
            capture, team=team, routing=self._routing, at=self._clock.now(), previous=previous
        )

    def landed(self, decision: Decision | None, previous: Lead | None) -> None:
        """After the change landed: a lead that moved from an owner who had not answered it
        gives that owner's open count back."""
        old = previous.owner if previous else None
        if decision is None or old is None or old == decision.assignment.owner:
            return
        if previous is not None and previous.first_response_at is None:
            self._routing.release_load(old)


def assign(
    capture: Capture,
    *,
    team: TeamConfig,
    routing: RoutingStore,
    at: datetime,
    previous: Lead | None,
) -> Decision | None:
    """The decision for a lead that needs an owner, or None when its owner stays (a returning
    person whose owner is still eligible and recent: nothing is written)."""
    queue, rule = match_queue(team, capture)
    owner = previous.owner if previous else None
    if previous is not None and owner:
        kept = sticky_assignment(team, queue, rule, at, {}, owner, previous.owner_assigned_at)
        if kept is not None:
            return None
    # The counter is taken only for a rotation, so sticky leads do not spend positions and the
    # weights stay exact over any window of consecutive rotations. A returning person's owner is
    # not excluded: rotation may land on them again, and they stay the queue's fallback owner if
    # they are it (only reassignment moves a lead away from its owner on purpose).
    position = routing.next_position(queue or "")
    unset = Assignment(queue=queue, rule=rule, owner=None, how="unassigned")
    return _decide(Decision(unset, None, team, position, at, holder=owner))


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
    unset = Assignment(queue=queue, rule=rule, owner=None, how="unassigned")
    decision = _decide(
        Decision(
            unset,
            None,
            config,
            routing.next_position(queue or ""),
            at,
            tried=frozenset(lead.previous_owners),
            current=lead.owner,
        )
    )
    # Not the capture path: the load is claimed on its own, before the move.
    while decision.claim is not None and not routing.take_load(
        decision.claim.rep,
        decision.claim.day,
        max_open=decision.claim.max_open,
        max_per_day=decision.claim.max_per_day,
    ):
        decision = decision.without(decision.claim.rep)
    assignment = decision.assignment
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
        store.reassign(OwnerChange(lead_id, assignment, lead.owner, touch, fact_day=lead.fact_day))
    except (OwnerChangedError, DuplicateTouchError):
        # Someone moved it first: give the load back and answer with the lead as it is.
        claim = decision.claim
        if claim is not None:
            routing.release_load(claim.rep, day=claim.day)
    else:
        if lead.owner:
            routing.release_load(lead.owner)
    moved = store.get_lead(lead_id)
    assert moved is not None
    return moved


def _decide(d: Decision) -> Decision:
    assignment = decide(
        d.team,
        d.assignment.queue,
        d.assignment.rule,
        d.position,
        d.at,
        d.loads,
        None,
        None,
        exclude=d.tried,
        current_owner=d.current,
    )
    return replace(d, assignment=assignment, claim=_claim(d, assignment))


def _claim(d: Decision, assignment: Assignment) -> LoadClaim | None:
    rep = d.team.rep(assignment.owner) if assignment.owner else None
    if rep is None or rep.id == d.holder:
        return None  # nobody, or the rep already holds this lead open
    # The fallback owner is the queue's explicit catch-all: counted, never refused.
    capped = assignment.how == "rotation"
    return LoadClaim(
        rep=rep.id,
        day=local_day(rep, d.at),
        max_open=rep.max_open if capped else None,
        max_per_day=rep.max_per_day if capped else None,
    )
