"""Racing deliveries: many threads land events for one person at the same instant.

The Dynamo store here talks HTTP to the embedded server, so the races are real requests
interleaving at the server; the in-memory store runs the same races under its lock.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from chalicelib.adapters.dynamo.models import EventModel, IdentityModel, LeadModel
from chalicelib.domain.identity import phone_key, sid_key
from chalicelib.ports import LeadQuery, LeadStore
from chalicelib.services.landing import Landed, accept, replay_pending
from tests.fakes import FakeClock, MemoryLeadStore
from tests.integration.builders import PHONE, call, form

N = 50
T = TypeVar("T")


@pytest.fixture(params=["memory", "http_dynamo"])
def racing_store(request: pytest.FixtureRequest) -> LeadStore:
    """The in-memory store, then DynamoLeadStore over HTTP to the embedded server."""
    made: LeadStore = request.getfixturevalue(request.param)
    return made


def race(n: int, work: Callable[[int], T]) -> list[T]:
    """Run work(0) … work(n-1) in n threads released together by a barrier."""
    barrier = threading.Barrier(n)

    def run(i: int) -> T:
        # The timeout only stops a broken test from hanging; it times nothing.
        barrier.wait(timeout=60)
        return work(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def only_lead(results: list[Landed]) -> str:
    """The one lead every delivery landed on."""
    (lead_id,) = {r.lead_id for r in results}
    assert lead_id is not None
    return lead_id


def all_leads(store: LeadStore) -> list[str]:
    return [x.lead_id for x in store.list_leads(LeadQuery(limit=100)).leads]


def stored_counts(store: LeadStore) -> dict[str, int]:
    """How many leads, identities and events are stored, counted the store's own way."""
    if isinstance(store, MemoryLeadStore):
        return {
            "leads": len(store.leads),
            "identities": len(store.identities),
            "events": len(store.events),
        }
    # A Scan is fine here: it is the test looking, not the application.
    return {
        "leads": sum(1 for _ in LeadModel.scan()),
        "identities": sum(1 for _ in IdentityModel.scan()),
        "events": sum(1 for _ in EventModel.scan()),
    }


def test_fifty_concurrent_forms_from_one_new_person_make_exactly_one_lead(
    racing_store: LeadStore, clock: FakeClock
) -> None:
    captures = [form(f"sub-{i}") for i in range(N)]
    results = race(N, lambda i: accept(captures[i], store=racing_store, clock=clock))
    assert Counter(r.status for r in results) == {"created": 1, "updated": N - 1}
    lead_id = only_lead(results)
    assert all_leads(racing_store) == [lead_id]
    assert stored_counts(racing_store) == {"leads": 1, "identities": 1, "events": N}
    assert racing_store.find_leads((phone_key(PHONE),)) == {phone_key(PHONE): lead_id}
    touches = racing_store.touchpoints(lead_id)
    assert sorted(t.event_key for t in touches) == sorted(c.event_key for c in captures)
    lead = racing_store.get_lead(lead_id)
    assert lead is not None and lead.touch_count == N
    assert racing_store.pending_events(received_before=clock.now(), limit=100) == []


def test_fifty_concurrent_calls_from_one_new_caller_make_one_lead_every_sid_finds(
    racing_store: LeadStore, clock: FakeClock
) -> None:
    captures = [call(f"CA{i:032d}") for i in range(N)]
    results = race(N, lambda i: accept(captures[i], store=racing_store, clock=clock))
    assert Counter(r.status for r in results) == {"created": 1, "updated": N - 1}
    lead_id = only_lead(results)
    assert all_leads(racing_store) == [lead_id]
    keys = (*(sid_key(f"CA{i:032d}") for i in range(N)), phone_key(PHONE))
    assert racing_store.find_leads(keys) == dict.fromkeys(keys, lead_id)
    assert len(racing_store.touchpoints(lead_id)) == N


def test_fifty_concurrent_deliveries_of_one_event_make_one_lead_and_one_touchpoint(
    racing_store: LeadStore, clock: FakeClock
) -> None:
    capture = form("sub-1")
    results = race(N, lambda _: accept(capture, store=racing_store, clock=clock))
    statuses = Counter(r.status for r in results)
    assert statuses == {"created": 1, "duplicate": N - 1}
    lead_id = only_lead(results)
    assert all_leads(racing_store) == [lead_id]
    assert stored_counts(racing_store) == {"leads": 1, "identities": 1, "events": 1}
    assert [t.event_key for t in racing_store.touchpoints(lead_id)] == [capture.event_key]


def test_two_replayers_racing_land_a_pending_event_once(
    racing_store: LeadStore, clock: FakeClock
) -> None:
    captures = [form(f"sub-{i}") for i in range(3)]
    for capture in captures:
        outcome = accept(capture, store=_Unavailable(racing_store), clock=clock)
        assert outcome == Landed("accepted")
    clock.advance(minutes=5)
    race(2, lambda _: replay_pending(store=racing_store, clock=clock))
    (lead_id,) = all_leads(racing_store)
    assert len(racing_store.touchpoints(lead_id)) == 3
    assert racing_store.pending_events(received_before=clock.now(), limit=100) == []


class _Unavailable:
    """Records events but cannot land them: every find_leads fails, as in an outage."""

    def __init__(self, inner: LeadStore) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def find_leads(self, keys: tuple[str, ...]) -> dict[str, str]:
        raise ConnectionError("DynamoDB is unavailable")
