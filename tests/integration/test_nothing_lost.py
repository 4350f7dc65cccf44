"""An event that was recorded is never lost: when landing fails, the replayer lands it later,
exactly once, however many times it runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chalicelib.ports import LeadChange, LeadQuery, LeadStore
from chalicelib.services.landing import Landed, accept, land, replay_pending
from tests.fakes import FakeClock, MemoryLeadStore
from tests.integration.builders import PHONE, form

OLDER_THAN = timedelta(seconds=30)


class ApplyFailsOnce:
    """A LeadStore whose next apply raises (an outage between recording and landing) and
    which otherwise is the store it wraps."""

    def __init__(self, inner: LeadStore) -> None:
        self.inner = inner
        self.failures = 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def apply(self, change: LeadChange) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("DynamoDB is unavailable")
        self.inner.apply(change)


@pytest.fixture(params=["memory", "dynamo"])
def failing_store(request: pytest.FixtureRequest) -> LeadStore:
    """A store whose next apply fails: the fake's own switch, or a wrapper round Dynamo."""
    if request.param == "memory":
        memory: MemoryLeadStore = request.getfixturevalue("memory")
        memory.fail_next_apply = ConnectionError("DynamoDB is unavailable")
        return memory
    wrapped: LeadStore = ApplyFailsOnce(request.getfixturevalue("dynamo"))
    return wrapped


def leads(store: LeadStore) -> list[str]:
    return [x.lead_id for x in store.list_leads(LeadQuery(limit=100)).leads]


def test_a_failure_after_recording_is_accepted_and_lands_no_lead_yet(
    failing_store: LeadStore, clock: FakeClock
) -> None:
    capture = form("sub-1")
    assert accept(capture, store=failing_store, clock=clock) == Landed("accepted")
    assert leads(failing_store) == []
    assert failing_store.find_leads(capture.identities) == {}
    pending = failing_store.pending_events(received_before=clock.now() + OLDER_THAN, limit=10)
    assert [e.event_key for e in pending] == [capture.event_key]


def test_replay_lands_the_event_once_even_when_it_runs_twice(
    failing_store: LeadStore, clock: FakeClock
) -> None:
    capture = form("sub-1", email="ana@example.com")
    accept(capture, store=failing_store, clock=clock)
    # Too fresh: the request that recorded it may still be landing it.
    assert replay_pending(store=failing_store, clock=clock, older_than=OLDER_THAN) == 0
    assert leads(failing_store) == []
    clock.advance(seconds=31)
    assert replay_pending(store=failing_store, clock=clock, older_than=OLDER_THAN) == 1
    assert replay_pending(store=failing_store, clock=clock, older_than=OLDER_THAN) == 0
    (lead_id,) = leads(failing_store)
    lead = failing_store.get_lead(lead_id)
    assert lead is not None
    assert (lead.phone, lead.email, lead.touch_count) == (PHONE, "ana@example.com", 1)
    assert lead.created_at == clock.now() - timedelta(seconds=31)
    assert [t.event_key for t in failing_store.touchpoints(lead_id)] == [capture.event_key]


def test_a_provider_retry_lands_an_event_whose_first_landing_failed(
    failing_store: LeadStore, clock: FakeClock
) -> None:
    capture = form("sub-1")
    accept(capture, store=failing_store, clock=clock)
    clock.advance(seconds=5)
    retried = accept(capture, store=failing_store, clock=clock)
    assert retried.status == "created"
    touches = failing_store.touchpoints(str(retried.lead_id))
    # The touchpoint carries the first delivery's time, whichever delivery landed it.
    assert [t.at for t in touches] == [clock.now() - timedelta(seconds=5)]
    clock.advance(minutes=5)
    assert replay_pending(store=failing_store, clock=clock, older_than=OLDER_THAN) == 0
    assert leads(failing_store) == [retried.lead_id]


def test_replaying_an_event_whose_landing_succeeded_late_adds_nothing(
    store: LeadStore, clock: FakeClock
) -> None:
    # The request landed the event but the replayer read it as pending just before.
    capture = form("sub-1")
    stale = ApplyFailsOnce(store)
    accept(capture, store=stale, clock=clock)
    clock.advance(minutes=1)
    (event,) = store.pending_events(received_before=clock.now(), limit=10)
    first = accept(capture, store=store, clock=clock)
    assert land(event, store=store) == Landed("duplicate", first.lead_id)
    assert len(store.touchpoints(str(first.lead_id))) == 1
