"""The RoutingStore contract, on the fake and on DynamoDB: positions are distinct and caps hold,
also under concurrent requests to the embedded server over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date

import pytest

from chalicelib.adapters.dynamo.routing import DynamoRoutingStore
from chalicelib.adapters.dynamo.store import DynamoLeadStore
from chalicelib.ports import RoutingStore
from tests.fakes import MemoryRoutingStore

DAY = date(2026, 11, 2)


@pytest.fixture(params=["memory", "dynamo"])
def routing(request: pytest.FixtureRequest) -> RoutingStore:
    if request.param == "memory":
        return MemoryRoutingStore()
    request.getfixturevalue("dynamo")  # fresh tables on moto, models bound to them
    return DynamoRoutingStore()


def test_positions_count_from_zero_per_queue(routing: RoutingStore) -> None:
    assert [routing.next_position("inbound") for _ in range(3)] == [0, 1, 2]
    assert routing.next_position("espanol") == 0


def test_daily_cap_refuses_the_lead_past_it_and_a_new_day_starts_fresh(
    routing: RoutingStore,
) -> None:
    taken = [routing.take_load("ana", DAY, max_open=None, max_per_day=2) for _ in range(3)]
    assert taken == [True, True, False]
    assert routing.take_load("ana", date(2026, 11, 3), max_open=None, max_per_day=2)


def test_open_cap_holds_until_a_lead_is_released(routing: RoutingStore) -> None:
    assert routing.take_load("ben", DAY, max_open=1, max_per_day=None)
    assert not routing.take_load("ben", DAY, max_open=1, max_per_day=None)
    routing.release_load("ben")
    assert routing.take_load("ben", DAY, max_open=1, max_per_day=None)


def test_a_refused_take_counts_nothing(routing: RoutingStore) -> None:
    assert routing.take_load("cy", DAY, max_open=1, max_per_day=5)
    assert not routing.take_load("cy", DAY, max_open=1, max_per_day=5)
    routing.release_load("cy")
    # Had the refused take counted toward the day, this would be the 3rd of 2.
    assert routing.take_load("cy", DAY, max_open=5, max_per_day=2)
    assert not routing.take_load("cy", DAY, max_open=5, max_per_day=2)


def test_release_never_goes_below_zero(routing: RoutingStore) -> None:
    routing.release_load("dee")
    assert routing.take_load("dee", DAY, max_open=1, max_per_day=None)
    assert not routing.take_load("dee", DAY, max_open=1, max_per_day=None)


def _together(n: int, work: Callable[[], object]) -> list[object]:
    barrier, results, lock = threading.Barrier(n), [], threading.Lock()

    def run() -> None:
        barrier.wait()
        value = work()
        with lock:
            results.append(value)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_callers_over_http_get_distinct_positions(http_dynamo: DynamoLeadStore) -> None:
    routing = DynamoRoutingStore()
    positions = _together(100, lambda: routing.next_position("inbound"))
    assert sorted(positions) == list(range(100))  # type: ignore[type-var]


def test_concurrent_takes_over_http_never_pass_a_cap(http_dynamo: DynamoLeadStore) -> None:
    routing = DynamoRoutingStore()
    taken = _together(40, lambda: routing.take_load("ana", DAY, max_open=7, max_per_day=None))
    assert taken.count(True) == 7
