"""Owner assignment inside landing, on fakes: who gets a lead, why, and what it costs the counters.

Every test lands real captures through `accept` with an `Assigner` over the in-memory stores, so
the claims are about the whole path a webhook takes: sticky first (no counter position), else one
rotation position, caps checked by the load counter, the fallback owner, and the load given back
whenever a lead change does not land.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain.capture import Capture
from chalicelib.domain.inbound import call_capture, form_capture, status_capture
from chalicelib.domain.model import Contact, FormSubmission, Lead
from chalicelib.domain.routing import NOBODY
from chalicelib.domain.team import (
    Member,
    QueueConfig,
    RepConfig,
    RuleConfig,
    SourceConfig,
    TeamConfig,
)
from chalicelib.ports import LeadChange
from chalicelib.services.assignment import Assigner
from chalicelib.services.landing import Landed, accept, replay_pending
from tests.fakes import T0, FakeClock, MemoryLeadStore, StaticTeamStore

# T0 is Monday 2026-11-02 14:00 UTC.
EMAIL = "pat@example.com"
ANA, BEN, CAT = (RepConfig(id=i, name=i.title()) for i in ("ana", "ben", "cat"))
BOSS = RepConfig(id="boss", name="Boss")
WEBSITE = SourceConfig(name="website", auth_scheme="token", secret_ref="env:X")


def team_of(
    *members: Member, reps: tuple[RepConfig, ...] = (ANA, BEN, CAT), **queue: Any
) -> TeamConfig:
    """One queue, "sales", the default, with `members` (all of ana, ben, cat by default)."""
    members = members or tuple(Member(r.id) for r in reps)
    sales = QueueConfig(name="sales", members=members, **queue)
    return TeamConfig(name="acme", reps=reps, queues=(sales,), default_queue="sales")


def form(event: str, email: str = EMAIL, **fields: str) -> Capture:
    """A website form from `email`, with the provider's own event id."""
    sub = FormSubmission(contact=Contact(email=email), fields=fields)
    capture, _ = form_capture(WEBSITE, sub, provider_id=event, default_region="US")
    return capture


class World:
    """The stores, the clock and the team one test lands captures into."""

    def __init__(self, team: TeamConfig, store: MemoryLeadStore | None = None) -> None:
        self.store = store or MemoryLeadStore()
        # The load is claimed in the lead store's atomic apply, from the same counters.
        self.routing = self.store.routing
        self.clock = FakeClock()
        self.team = StaticTeamStore(team)
        self.assigner = Assigner(team=self.team, routing=self.routing, clock=self.clock)

    def take(self, capture: Capture) -> Landed:
        return accept(capture, store=self.store, clock=self.clock, assigner=self.assigner)

    def lead(self, landed: Landed) -> Lead:
        assert landed.lead_id is not None
        return self.store.leads[landed.lead_id]

    def open_loads(self) -> dict[str, int]:
        """Open leads counted per rep, leaving out reps whose count is back at zero."""
        return {rep: n for rep, n in self.routing.open.items() if n}


# -- a new lead ----------------------------------------------------------------------------------


def test_new_lead_gets_the_rotation_owner_at_the_first_position() -> None:
    world = World(team_of())

    landed = world.take(form("e1"))

    lead = world.lead(landed)
    assert (landed.status, landed.owner) == ("created", "ana")
    assert (lead.owner, lead.queue, lead.owner_assigned_at) == ("ana", "sales", T0)
    assert world.routing.positions == {"sales": 1}
    assert world.open_loads() == {"ana": 1}


def test_new_lead_explains_queue_rule_eligible_skipped_weights_and_position() -> None:
    paused = replace(ANA, status="paused")
    away = replace(BEN, status="out_of_office", out_of_office_until=T0 + timedelta(days=3))
    team = replace(
        team_of(Member("ana", 2), Member("ben"), Member("cat"), reps=(paused, away, CAT)),
        rules=(RuleConfig(name="web-leads", queue="sales", source="website"),),
    )
    world = World(team)

    lead = world.lead(world.take(form("e1")))

    # The cycle for 2:1:1 is ana, ben, ana, cat: position 0 walks past ana and ben to cat.
    assert lead.owner == "cat"
    assert lead.assignment == {
        "queue": "sales",
        "rule": "web-leads",
        "owner": "cat",
        "how": "rotation",
        "reason": None,
        "eligible": ["cat"],
        "skipped": [
            {"rep": "ana", "reason": "paused"},
            {"rep": "ben", "reason": "out_of_office"},
        ],
        "weights": {"ana": 2, "ben": 1, "cat": 1},
        "position": 0,
        "slot": 0,
    }


def test_weights_two_one_one_over_four_thousand_new_leads_give_exactly_2000_1000_1000() -> None:
    world = World(team_of(Member("ana", 2), Member("ben"), Member("cat")))

    owners = Counter(world.take(form(f"e{i}", f"p{i}@example.com")).owner for i in range(4000))

    assert owners == {"ana": 2000, "ben": 1000, "cat": 1000}
    assert world.routing.positions == {"sales": 4000}
    assert world.open_loads() == {"ana": 2000, "ben": 1000, "cat": 1000}


# -- stickiness ----------------------------------------------------------------------------------


def test_returning_person_keeps_an_eligible_owner_and_takes_no_counter_position() -> None:
    world = World(team_of(sticky_days=30))
    first = world.take(form("e1"))
    world.clock.advance(days=29)

    again = world.take(form("e2"))

    assert again == Landed("updated", first.lead_id, "ana")
    lead = world.lead(again)
    assert (lead.owner, lead.owner_assigned_at) == ("ana", T0)
    assert lead.assignment is not None and lead.assignment["position"] == 0
    assert world.routing.positions == {"sales": 1}  # the second touch drew no position
    assert world.open_loads() == {"ana": 1}  # and counted no second lead for ana


def _paused(team: TeamConfig) -> TeamConfig:
    return replace(team, reps=(replace(ANA, status="paused"), BEN, CAT))


def _out_of_office(team: TeamConfig) -> TeamConfig:
    back = T0 + timedelta(days=10)
    return replace(
        team, reps=(replace(ANA, status="out_of_office", out_of_office_until=back), BEN, CAT)
    )


def _outside_hours(team: TeamConfig) -> TeamConfig:
    # Mondays 09:00-15:00 UTC only; the second touch comes on Tuesday.
    return replace(team, reps=(replace(ANA, hours={"mon": ((540, 900),)}), BEN, CAT))


def _sticky_off(team: TeamConfig) -> TeamConfig:
    return replace(team, queues=(replace(team.queues[0], sticky=False),))


@pytest.mark.parametrize(
    ("change", "later"),
    [
        (_paused, timedelta(days=1)),
        (_out_of_office, timedelta(days=1)),
        (_outside_hours, timedelta(days=1)),
        (lambda team: team, timedelta(days=7, seconds=1)),  # past sticky_days=7
        (_sticky_off, timedelta(days=1)),
    ],
    ids=["paused", "out_of_office", "outside_hours", "past_the_window", "sticky_off"],
)
def test_returning_person_loses_the_owner_and_rotates_when_stickiness_does_not_hold(
    change: Callable[[TeamConfig], TeamConfig], later: timedelta
) -> None:
    world = World(team_of(sticky_days=7))
    first = world.take(form("e1"))
    assert first.owner == "ana"
    world.team.save(change(world.team.load()))
    world.clock.advance(seconds=later.total_seconds())

    again = world.take(form("e2"))

    lead = world.lead(again)
    assert (again.status, again.lead_id, again.owner) == ("updated", first.lead_id, "ben")
    assert (lead.owner, lead.owner_assigned_at) == ("ben", T0 + later)
    assert lead.assignment is not None
    assert (lead.assignment["how"], lead.assignment["position"]) == ("rotation", 1)
    assert world.routing.positions == {"sales": 2}


def test_returning_person_whose_away_fallback_owner_holds_the_lead_is_not_left_unassigned() -> None:
    paused = replace(ANA, status="paused")
    away_boss = replace(BOSS, status="out_of_office", out_of_office_until=T0 + timedelta(days=9))
    world = World(team_of(Member("ana"), reps=(paused, away_boss), fallback_owner="boss"))
    assert world.take(form("e1")).owner == "boss"
    world.clock.advance(hours=1)

    again = world.take(form("e2"))

    assert world.lead(again).owner == "boss"


def test_returning_person_moved_to_a_new_owner_gives_the_old_owners_open_load_back() -> None:
    world = World(team_of())
    world.take(form("e1"))
    world.team.save(_paused(world.team.load()))
    world.clock.advance(hours=1)

    assert world.take(form("e2")).owner == "ben"

    assert world.open_loads() == {"ben": 1}


# -- caps ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cap", "reason"),
    [({"max_per_day": 1}, "at_cap_daily"), ({"max_open": 1}, "at_cap_open")],
    ids=["max_per_day", "max_open"],
)
def test_rep_at_a_cap_is_skipped_with_the_cap_as_reason_and_the_lead_goes_to_the_next(
    cap: dict[str, Any], reason: str
) -> None:
    capped = replace(ANA, **cap)
    world = World(team_of(reps=(capped, BEN)))
    owners = [world.take(form(f"e{i}", f"p{i}@example.com")).owner for i in range(2)]
    assert owners == ["ana", "ben"]

    third = world.take(form("e2", "p2@example.com"))

    # Position 2 is ana's slot again; her counter refused, so the same slot went on to ben.
    lead = world.lead(third)
    assert third.owner == "ben"
    assert lead.assignment is not None
    assert lead.assignment["skipped"] == [{"rep": "ana", "reason": reason}]
    assert lead.assignment["eligible"] == ["ben"]
    assert (lead.assignment["position"], lead.assignment["slot"]) == (2, 0)
    assert world.routing.positions == {"sales": 3}  # one position per lead, retry included
    assert world.open_loads() == {"ana": 1, "ben": 2}


def test_daily_cap_is_counted_in_the_reps_own_day() -> None:
    # 14:00 UTC on Monday is 06:00 in Los Angeles; Tuesday starts there at 08:00 UTC.
    ana = replace(ANA, timezone="America/Los_Angeles", max_per_day=1)
    world = World(team_of(Member("ana"), reps=(ana, BOSS), fallback_owner="boss"))
    assert world.take(form("e0", "p0@example.com")).owner == "ana"

    world.clock.advance(hours=17, minutes=59)  # 23:59 on Monday in Los Angeles
    late = world.take(form("e1", "p1@example.com"))
    world.clock.advance(minutes=1)  # midnight: Tuesday for ana
    next_day = world.take(form("e2", "p2@example.com"))

    assert (late.owner, next_day.owner) == ("boss", "ana")
    assert world.lead(late).assignment == {
        "queue": "sales",
        "rule": None,
        "owner": "boss",
        "how": "fallback_owner",
        "reason": "no eligible member",
        "eligible": [],
        "skipped": [{"rep": "ana", "reason": "at_cap_daily"}],
        "weights": {"ana": 1},
        "position": 1,
        "slot": 0,
    }


# -- nobody eligible -----------------------------------------------------------------------------


def test_nobody_eligible_gives_the_fallback_owner_even_if_away_and_counts_them_past_caps() -> None:
    away_boss = replace(
        BOSS, status="out_of_office", out_of_office_until=T0 + timedelta(days=2), max_open=0
    )
    reps = (replace(ANA, status="paused"), replace(BEN, hours={}), away_boss)
    world = World(team_of(Member("ana"), Member("ben"), reps=reps, fallback_owner="boss"))

    landed = world.take(form("e1"))

    lead = world.lead(landed)
    assert (landed.owner, lead.owner) == ("boss", "boss")
    assert lead.assignment is not None
    assert lead.assignment["how"] == "fallback_owner"
    assert lead.assignment["reason"] == "no eligible member; fallback owner is out_of_office"
    assert lead.assignment["skipped"] == [
        {"rep": "ana", "reason": "paused"},
        {"rep": "ben", "reason": "outside_hours"},
    ]
    assert world.open_loads() == {"boss": 1}  # counted, though boss's max_open is 0


def test_nobody_eligible_and_no_fallback_leaves_the_lead_unassigned_with_the_reason() -> None:
    world = World(team_of(reps=(replace(ANA, status="paused"),)))

    landed = world.take(form("e1"))

    lead = world.lead(landed)
    assert (landed.status, landed.owner, lead.owner) == ("created", None, None)
    assert lead.assignment is not None
    assert (lead.assignment["how"], lead.assignment["reason"]) == ("unassigned", NOBODY)
    assert lead.assignment["skipped"] == [{"rep": "ana", "reason": "paused"}]
    assert world.open_loads() == {}


# -- rules, status callbacks ---------------------------------------------------------------------


def test_a_rule_routes_the_lead_to_another_queues_rotation() -> None:
    espanol = QueueConfig(name="espanol", members=(Member("cat"),))
    team = team_of()
    team = replace(
        team,
        queues=(*team.queues, espanol),
        rules=(RuleConfig(name="spanish", queue="espanol", fields={"language": "es"}),),
    )
    world = World(team)

    landed = world.take(form("e1", Language="ES"))

    lead = world.lead(landed)
    assert (landed.owner, lead.queue) == ("cat", "espanol")
    assert lead.assignment is not None
    assert (lead.assignment["queue"], lead.assignment["rule"]) == ("espanol", "spanish")
    assert world.routing.positions == {"espanol": 1}  # the default queue's counter untouched


def test_status_callbacks_never_assign_even_an_ownerless_lead() -> None:
    world = World(team_of())
    params = {"CallSid": "CA" + "1" * 32, "From": "+14155550134", "To": "+14155550111"}
    # The call lands without an assigner: its lead has no owner.
    call = accept(
        call_capture(params, None, default_region="US"), store=world.store, clock=world.clock
    )
    assert world.lead(call).owner is None

    status = world.take(status_capture(params | {"CallStatus": "completed"}, default_region="US"))

    assert (status.status, status.lead_id) == ("updated", call.lead_id)
    assert world.lead(status).owner is None
    assert world.routing.positions == {}
    assert world.open_loads() == {}


# -- failures, races and retries -----------------------------------------------------------------


def test_a_landing_that_fails_after_assignment_gives_the_load_back() -> None:
    world = World(team_of())
    world.store.fail_next_apply = ConnectionError("DynamoDB is unavailable")

    assert world.take(form("e1")) == Landed("accepted")
    assert world.store.leads == {}
    assert world.open_loads() == {}  # ana's count was given back

    world.clock.advance(minutes=5)
    assert replay_pending(store=world.store, clock=world.clock, assigner=world.assigner) == 1
    (lead,) = world.store.leads.values()
    assert lead.owner == "ben"  # the replay drew the next position
    assert world.open_loads() == {"ben": 1}


class RacingStore(MemoryLeadStore):
    """The in-memory store, where `cut_in` (once) runs just before the next apply: another
    delivery landing between this one's reads and its write. Refused applies are recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.cut_in: Callable[[], object] | None = None
        self.refused: list[str] = []

    def apply(self, change: LeadChange) -> None:
        cut_in, self.cut_in = self.cut_in, None
        if cut_in is not None:
            cut_in()
        try:
            super().apply(change)
        except Exception as exc:
            self.refused.append(type(exc).__name__)
            raise


def test_two_deliveries_racing_for_a_new_person_end_with_one_lead_and_one_owner() -> None:
    store = RacingStore()
    world = World(team_of(), store)
    store.cut_in = lambda: world.take(form("second"))

    first = world.take(form("first"))

    # The second delivery won (ben); the first lost the identity, gave ana's load back, and
    # landed on the winner's lead, keeping its owner.
    assert store.refused == ["IdentityTakenError"]
    (lead,) = store.leads.values()
    assert first == Landed("updated", lead.lead_id, "ben")
    assert lead.owner == "ben" and lead.touch_count == 2
    assert world.open_loads() == {"ben": 1}


def test_a_delivery_that_loses_a_race_gives_back_the_daily_count_too() -> None:
    store = RacingStore()
    world = World(team_of(reps=(replace(ANA, max_per_day=1), BEN)), store)
    store.cut_in = lambda: world.take(form("second"))
    assert world.take(form("first")).owner == "ben"  # ana's take was undone

    # Position 2 is ana's slot, and she has no lead today.
    assert world.take(form("e2", "other@example.com")).owner == "ana"


def test_two_deliveries_racing_to_assign_an_ownerless_lead_end_with_one_owner() -> None:
    store = RacingStore()
    world = World(
        team_of(reps=(replace(ANA, status="paused"), replace(BEN, status="paused"))), store
    )
    unassigned = world.take(form("e0"))
    assert world.lead(unassigned).owner is None
    world.team.save(team_of(reps=(ANA, BEN)))
    world.clock.advance(minutes=1)
    store.cut_in = lambda: world.take(form("second"))

    first = world.take(form("first"))

    # Both read "no owner" and both assigned (first: ben at position 1, second: ana at 2); the
    # second wrote first, so the first's write was refused (OwnerChangedError): ben's load went
    # back and the first re-read the lead and kept its new owner.
    assert store.refused == ["OwnerChangedError"]
    lead = world.lead(unassigned)
    assert first == Landed("updated", lead.lead_id, "ana")
    assert (lead.owner, lead.touch_count) == ("ana", 3)
    assert lead.assignment is not None and lead.assignment["position"] == 2
    assert world.open_loads() == {"ana": 1}


def test_a_retried_delivery_of_the_same_event_never_assigns_twice() -> None:
    world = World(team_of())
    first = world.take(form("e1"))
    world.clock.advance(minutes=2)

    again = world.take(form("e1"))

    assert again == Landed("duplicate", first.lead_id)
    assert world.routing.positions == {"sales": 1}
    assert world.open_loads() == {"ana": 1}
    assert world.lead(first).owner_assigned_at == T0


def test_a_retried_delivery_racing_the_first_counts_the_owners_load_once() -> None:
    store = RacingStore()
    world = World(team_of(), store)
    store.cut_in = lambda: world.take(form("e1"))

    first = world.take(form("e1"))

    (lead,) = store.leads.values()
    assert first == Landed("duplicate", lead.lead_id)
    assert lead.owner == "ben" and lead.touch_count == 1
    assert world.open_loads() == {"ben": 1}
