"""The reassignment service on fakes: two requests decided against the same owner move the
lead once, and the load counters stay right."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.model import Lead
from chalicelib.domain.team import Member, QueueConfig, RepConfig, TeamConfig
from chalicelib.ports import LeadChange
from chalicelib.services.assignment import reassign
from tests.fakes import T0, FakeClock, MemoryLeadStore, MemoryRoutingStore, StaticTeamStore
from tests.integration.builders import change, form, record

TEAM = TeamConfig(
    name="t",
    reps=tuple(RepConfig(id=r, name=r.title(), phone=None) for r in ("ana", "ben", "cy")),
    queues=(QueueConfig(name="q", members=tuple(Member(r) for r in ("ana", "ben", "cy"))),),
    default_queue="q",
)


class SnapshotStore(MemoryLeadStore):
    """Answers get_lead with what it held when `freeze` was called, like a request that read
    the lead just before another request moved it."""

    frozen: Lead | None = None

    def get_lead(self, lead_id: str) -> Lead | None:
        return self.frozen if self.frozen is not None else super().get_lead(lead_id)


def _store_with_lead(owner: str) -> SnapshotStore:
    store = SnapshotStore()
    capture = form("evt-1")
    record(store, capture, T0)
    landed: LeadChange = change(capture, "ld_a", T0)
    store.apply(landed)
    store.leads["ld_a"] = replace(store.leads["ld_a"], owner=owner, queue="q")
    return store


def test_two_requests_against_the_same_owner_move_the_lead_once() -> None:
    store, routing = _store_with_lead("ana"), MemoryRoutingStore()
    routing.take_load("ana", T0.date(), max_open=None, max_per_day=None)
    ports = {
        "team": StaticTeamStore(TEAM),
        "routing": routing,
        "store": store,
        "clock": FakeClock(),
    }

    store.frozen = store.get_lead("ld_a")
    reassign("ld_a", reason="r", by="a", **ports)  # type: ignore[arg-type]
    reassign("ld_a", reason="r", by="b", **ports)  # type: ignore[arg-type]
    store.frozen = None

    lead = store.get_lead("ld_a")
    assert lead is not None and lead.previous_owners == ("ana",)
    assert [t.kind for t in store.touchpoints("ld_a")].count("reassigned") == 1
    # The loser gave its rep's load back; the winner's rep holds one, ana none.
    assert routing.open.get("ana") == 0
    assert sum(routing.open.values()) == 1


def test_reassign_releases_the_old_owners_open_lead() -> None:
    store, routing = _store_with_lead("ana"), MemoryRoutingStore()
    routing.take_load("ana", T0.date(), max_open=None, max_per_day=None)
    moved = reassign(
        "ld_a",
        reason="r",
        by="a",
        team=StaticTeamStore(TEAM),
        routing=routing,
        store=store,
        clock=FakeClock(),
    )
    assert moved.owner in ("ben", "cy")
    assert routing.open == {"ana": 0, moved.owner: 1}
