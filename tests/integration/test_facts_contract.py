"""The metrics facts contract: every claim holds for MemoryLeadStore and for DynamoLeadStore.

A fact is written in the same write as the change it records (chalicelib/domain/facts.py); here
each store is driven with the LeadChange / ClockStop / ClaimChange / OwnerChange values the
services build, and read back with `facts(day)`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest

from chalicelib.adapters.dynamo.models import FactModel, bind
from chalicelib.adapters.dynamo.store import DynamoLeadStore
from chalicelib.domain.facts import LeadFact
from chalicelib.domain.routing import Assignment
from chalicelib.domain.sla import Speed
from chalicelib.ports import DuplicateTouchError, IdentityTakenError, LeadChange, LeadStore
from tests.bench.item_size import item_bytes
from tests.fakes import T0, FakeClock
from tests.integration.builders import call_status, change, form, record
from tests.integration.conftest import REGION, fresh_tables
from tests.integration.test_store_contract import (
    _claim,
    _owner_change,
    _stage,
    _stop,
    clock_start,
    dynamodb_calls,
    lead_of,
)

DAY = date(2026, 11, 2)  # T0's day in New York (T0 is 09:00 there)
NEXT_DAY = DAY + timedelta(days=1)
NEW_YORK = ZoneInfo("America/New_York")
# Awkward microseconds, given on a wall clock other than UTC: both must survive the store.
ARRIVED = datetime(2026, 11, 2, 9, 0, 0, 999_999, tzinfo=NEW_YORK)


def a_fact(lead_id: str = "ld_a", **changes: Any) -> LeadFact:
    """A new lead's fact as Assigner.fact_for builds it: every field a capture knows."""
    fields: dict[str, Any] = {
        "lead_id": lead_id,
        "created_at": ARRIVED,
        "source": "google-ads",
        "campaign": "Brand_Search",
        "queue": "inbound",
        "owner": "ana",
        "due_at": ARRIVED + timedelta(minutes=5, microseconds=1),
    }
    return LeadFact(**(fields | changes))


def landing(
    store: LeadStore,
    lead_id: str = "ld_a",
    *,
    fact: LeadFact | None = None,
    day: date | None = DAY,
    at: datetime = T0,
    owner: str | None = "ana",
) -> LeadChange:
    """A new form lead's change (owner, clock, and its fact unless `fact`/`day` is None), its
    event recorded: apply it to land the lead."""
    capture = form(f"evt-{lead_id}", phone=None, email=f"{lead_id}@example.com")
    record(store, capture, at)
    assignment = Assignment(queue="inbound", rule=None, owner=owner, how="rotation")
    return replace(
        change(capture, lead_id, at),
        is_new=True,
        assignment=assignment,
        clock=clock_start(),
        fact=fact,
        fact_day=day if fact is not None else None,
    )


def land_with_fact(store: LeadStore, lead_id: str = "ld_a", **fields: Any) -> LeadFact:
    """Land a new lead with its fact on DAY; the fact as it should read back."""
    fact = a_fact(lead_id, **fields)
    store.apply(landing(store, lead_id, fact=fact))
    return fact


def fact_of(store: LeadStore, lead_id: str = "ld_a", day: date = DAY) -> LeadFact:
    [found] = [f for f in store.facts(day) if f.lead_id == lead_id]
    return found


@pytest.fixture(scope="module")
def wired_dynamo(module_dynamo: DynamoLeadStore, module_clock: FakeClock) -> DynamoLeadStore:
    """DynamoLeadStore on the same moto tables, built as chalicelib/wiring.py builds it: with
    the connection `bind` returns (a test at the end reads through one built without)."""
    connection = bind(table_prefix="contract-", region=REGION, host=None)
    return DynamoLeadStore(region=REGION, host=None, clock=module_clock, connection=connection)


@pytest.fixture
def dynamo(wired_dynamo: DynamoLeadStore, clock: FakeClock) -> DynamoLeadStore:
    """An empty wired DynamoLeadStore on moto (overrides conftest's, for `store` too)."""
    fresh_tables()
    return wired_dynamo


# --- a new lead ---------------------------------------------------------------------------


def test_a_new_leads_fact_reads_back_on_its_day_every_field_to_the_microsecond(
    store: LeadStore,
) -> None:
    fact = land_with_fact(store)

    [read] = store.facts(DAY)

    assert read == fact
    assert read.created_at == datetime(2026, 11, 2, 14, 0, 0, 999_999, tzinfo=UTC)
    assert read.due_at == datetime(2026, 11, 2, 14, 5, 1, 0, tzinfo=UTC)
    assert read.created_at.utcoffset() == timedelta(0)  # times come back in UTC
    assert (read.responded_at, read.claimed_by) == (None, None)
    assert (read.stage, read.lost) == ("lead", False)
    assert lead_of(store, "ld_a").fact_day == DAY


@pytest.mark.parametrize(
    "micros", [0, 1, 499_999, 500_000, 500_001, 654_321, 999_998, 999_999], ids=str
)
def test_arrival_and_due_times_round_trip_to_the_exact_microsecond(
    store: LeadStore, micros: int
) -> None:
    arrived = datetime(2026, 11, 2, 14, 0, 7, micros, tzinfo=UTC)
    due = datetime(2038, 1, 19, 3, 14, 8, (micros * 7) % 1_000_000, tzinfo=UTC)
    fact = land_with_fact(store, created_at=arrived, due_at=due)

    read = fact_of(store)

    assert (read.created_at, read.due_at) == (fact.created_at, fact.due_at)


def test_a_fact_with_only_a_source_reads_back_with_nothing_else(store: LeadStore) -> None:
    fact = LeadFact(lead_id="ld_a", created_at=ARRIVED, source="website")
    store.apply(replace(landing(store, fact=fact), assignment=None, clock=None))

    assert store.facts(DAY) == [fact]


def test_facts_of_two_days_do_not_mix(store: LeadStore) -> None:
    first = land_with_fact(store, "ld_a")
    late = a_fact("ld_b", created_at=ARRIVED + timedelta(hours=15), source="website")
    store.apply(replace(landing(store, "ld_b", fact=late), fact_day=NEXT_DAY))

    assert store.facts(DAY) == [first]
    assert store.facts(NEXT_DAY) == [late]
    assert store.facts(DAY - timedelta(days=1)) == []
    assert lead_of(store, "ld_b").fact_day == NEXT_DAY


def test_a_change_without_a_fact_writes_none_and_still_lands(store: LeadStore) -> None:
    store.apply(landing(store, fact=None))

    lead = lead_of(store, "ld_a")
    assert (lead.owner, lead.fact_day) == ("ana", None)
    assert store.facts(DAY) == []


def test_a_fact_without_its_day_is_not_written(store: LeadStore) -> None:
    store.apply(replace(landing(store, fact=a_fact()), fact_day=None))

    assert lead_of(store, "ld_a").fact_day is None
    assert store.facts(DAY) == []


def test_a_repeated_apply_writes_no_second_fact(store: LeadStore) -> None:
    first = landing(store, fact=a_fact())
    store.apply(first)
    again = replace(first, fact=a_fact(source="typeform", owner="ben"))

    with pytest.raises(DuplicateTouchError):
        store.apply(again)

    assert store.facts(DAY) == [a_fact()]


def test_a_landing_refused_writes_no_fact(store: LeadStore) -> None:
    first = landing(store, fact=a_fact())
    store.apply(first)
    rival = replace(landing(store, "ld_b", fact=a_fact("ld_b")), claims=first.claims)

    with pytest.raises(IdentityTakenError):
        store.apply(rival)

    assert store.facts(DAY) == [a_fact()]


# --- the first response -------------------------------------------------------------------

RESPONDED = T0 + timedelta(minutes=4, microseconds=123_457)


def test_stop_clock_records_the_response_once_and_a_second_stop_changes_nothing(
    store: LeadStore,
) -> None:
    land_with_fact(store)
    speed = Speed(wall_s=240.123457, business_s=61.5, met=True)
    assert store.stop_clock(replace(_stop(at=RESPONDED, speed=speed), fact_day=DAY))

    slower = Speed(wall_s=540.0, business_s=540.0, met=False)
    later = replace(_stop(at=RESPONDED + timedelta(minutes=5), speed=slower), by="ben")
    assert not store.stop_clock(replace(later, touchpoint=None, fact_day=DAY))
    retried = _stop(at=RESPONDED + timedelta(minutes=6), speed=slower, key="contacted:ld_a:2")
    assert not store.stop_clock(replace(retried, by="ben", fact_day=DAY))

    read = fact_of(store)
    assert (read.responded_at, read.responded_by) == (RESPONDED, "ana")
    assert (read.speed_wall_s, read.speed_business_s, read.sla_met) == (240.123457, 61.5, True)
    assert replace(read, responded_at=None, responded_by=None) == replace(
        a_fact(), speed_wall_s=240.123457, speed_business_s=61.5, sla_met=True
    )


def test_a_late_response_is_recorded_as_missed(store: LeadStore) -> None:
    land_with_fact(store)
    late = Speed(wall_s=600.0, business_s=600.0, met=False)
    store.stop_clock(replace(_stop(at=T0 + timedelta(minutes=10), speed=late), fact_day=DAY))

    read = fact_of(store)
    assert (read.sla_met, read.breached(T0 + timedelta(days=1))) == (False, True)


def test_a_response_without_a_speed_records_when_and_who_but_no_speed(store: LeadStore) -> None:
    fact = LeadFact(lead_id="ld_a", created_at=ARRIVED, source="website")
    store.apply(replace(landing(store, fact=fact), clock=None))
    stop = replace(_stop(at=RESPONDED), speed=None, fact_day=DAY)

    assert store.stop_clock(stop)

    read = fact_of(store)
    assert (read.responded_at, read.responded_by) == (RESPONDED, "ana")
    assert (read.speed_wall_s, read.speed_business_s, read.sla_met) == (None, None, None)


def test_stop_clock_without_a_responder_leaves_the_responder_empty(store: LeadStore) -> None:
    land_with_fact(store)
    store.stop_clock(replace(_stop(at=RESPONDED), by=None, fact_day=DAY))

    read = fact_of(store)
    assert (read.responded_at, read.responded_by, read.sla_met) == (RESPONDED, None, True)


def test_a_fact_on_the_next_day_is_not_touched_by_another_leads_stop(store: LeadStore) -> None:
    land_with_fact(store, "ld_a")
    other = a_fact("ld_b")
    store.apply(replace(landing(store, "ld_b", fact=other), fact_day=NEXT_DAY))

    stop = _stop("ld_b", at=RESPONDED, key="contacted:ld_b:1")
    store.stop_clock(replace(stop, fact_day=NEXT_DAY))

    assert fact_of(store, "ld_a") == a_fact("ld_a")
    assert fact_of(store, "ld_b", NEXT_DAY).responded_at == RESPONDED


def test_a_lead_without_a_clock_answered_on_a_landed_call_gets_the_response_on_its_fact(
    store: LeadStore,
) -> None:
    # The landed callback sets the lead's first response; the stop that follows finds the
    # clock stopped (a lead without one stops at its first response) and still tells the fact.
    fact = LeadFact(lead_id="ld_a", created_at=ARRIVED, source="website")
    store.apply(replace(landing(store, fact=fact), clock=None))
    connected = T0 + timedelta(minutes=3)
    answered = replace(
        call_status("CA1", "completed"), first_response={"at": connected.isoformat(), "by": "ben"}
    )
    record(store, answered, connected)
    store.apply(replace(change(answered, "ld_a", connected, claims=()), fact_day=DAY))
    stop = replace(_stop(at=connected, key="dial:ld_a:1"), by="ben", speed=None, fact_day=DAY)

    assert not store.stop_clock(stop)

    read = fact_of(store)
    assert (read.responded_at, read.responded_by) == (connected, "ben")
    assert (read.speed_wall_s, read.sla_met) == (None, None)
    assert lead_of(store, "ld_a").first_response_at == connected


def test_a_later_response_does_not_name_the_responder_of_a_first_response_without_one(
    store: LeadStore,
) -> None:
    land_with_fact(store)
    store.stop_clock(replace(_stop(at=RESPONDED), by=None, fact_day=DAY))
    later = _stop(at=RESPONDED + timedelta(minutes=5), key="contacted:ld_a:2")

    assert not store.stop_clock(replace(later, by="ben", fact_day=DAY))

    read = fact_of(store)
    assert (read.responded_at, read.responded_by) == (RESPONDED, None)
    assert lead_of(store, "ld_a").first_response_by is None  # as the lead has it


# --- claims and owners --------------------------------------------------------------------


def test_a_claim_records_the_first_claimer_and_keeps_it(store: LeadStore) -> None:
    land_with_fact(store)
    store.claim(replace(_claim(), fact_day=DAY))
    second = _claim(at=T0 + timedelta(minutes=2), key="claim:ld_a:2")
    claimed = store.claim(replace(second, by="ben", fact_day=DAY))

    assert claimed.claimed_by == "ben"  # the lead shows the latest claim...
    assert fact_of(store).claimed_by == "ana"  # ...the fact, who claimed it first


def test_reassign_moves_the_facts_owner(store: LeadStore) -> None:
    land_with_fact(store)
    store.reassign(replace(_owner_change("ld_a", "ben", "ana", 1), fact_day=DAY))
    assert fact_of(store).owner == "ben"

    store.reassign(replace(_owner_change("ld_a", None, "ben", 2), fact_day=DAY))
    assert fact_of(store).owner is None
    assert fact_of(store) == a_fact(owner=None)


def test_a_returning_leads_new_assignment_moves_the_facts_owner(store: LeadStore) -> None:
    land_with_fact(store)
    back = form("evt-back", phone=None, email="ld_a@example.com")
    later = T0 + timedelta(days=3)
    record(store, back, later)
    to_ben = Assignment(queue="inbound", rule=None, owner="ben", how="rotation")
    returning = replace(
        change(back, "ld_a", later, claims=()),
        assignment=to_ben,
        expected_owner="ana",
        fact_day=DAY,
    )

    store.apply(returning)

    assert lead_of(store, "ld_a").owner == "ben"
    assert store.facts(DAY) == [a_fact(owner="ben")]  # still counted on its arrival day
    assert store.facts(later.date()) == []


def test_a_returning_lead_without_a_new_assignment_keeps_its_fact(store: LeadStore) -> None:
    land_with_fact(store)
    back = form("evt-back", phone=None, email="ld_a@example.com")
    record(store, back, T0 + timedelta(hours=1))
    store.apply(replace(change(back, "ld_a", T0 + timedelta(hours=1), claims=()), fact_day=DAY))

    assert store.facts(DAY) == [a_fact()]


def test_a_lead_from_before_facts_is_stopped_claimed_and_reassigned_without_error(
    store: LeadStore,
) -> None:
    store.apply(landing(store, fact=None))
    other = land_with_fact(store, "ld_b")  # a fact on the same day must stay as it is

    store.claim(_claim())
    store.reassign(_owner_change("ld_a", "ben", "ana", 1))
    assert store.stop_clock(_stop(at=RESPONDED))
    back = form("evt-back", phone=None, email="ld_a@example.com")
    record(store, back, T0 + timedelta(days=1))
    to_cy = Assignment(queue="inbound", rule=None, owner="cy", how="rotation")
    store.apply(
        replace(
            change(back, "ld_a", T0 + timedelta(days=1), claims=()),
            assignment=to_cy,
            expected_owner="ben",
        )
    )

    lead = lead_of(store, "ld_a")
    assert (lead.owner, lead.claimed_by, lead.first_response_at) == ("cy", "ana", RESPONDED)
    assert store.facts(DAY) == [other]


# --- the sales funnel -----------------------------------------------------------------------

WON_AT = T0 + timedelta(days=9)


def test_a_win_records_the_furthest_stage_and_the_exact_amount_currency_and_last_source(
    store: LeadStore,
) -> None:
    land_with_fact(store)
    assert store.change_stage(replace(_stage("mql"), fact_day=DAY))
    won = _stage(
        "won",
        expected="mql",
        at=WON_AT,
        amount=Decimal("1200.50"),
        currency="USD",
        last_source="facebook",
    )

    assert store.change_stage(replace(won, fact_day=DAY))

    read = fact_of(store)
    assert (read.stage, read.lost) == ("won", False)
    assert (read.won_amount, read.currency, read.last_source) == (
        Decimal("1200.50"),
        "USD",
        "facebook",
    )
    assert str(read.won_amount) == "1200.50"  # the cents as given, trailing zero and all
    assert replace(read, stage="lead", won_amount=None, currency=None, last_source=None) == a_fact()


def test_a_lost_lead_keeps_its_furthest_stage_and_counts_as_lost(store: LeadStore) -> None:
    land_with_fact(store)
    store.change_stage(replace(_stage("sql"), fact_day=DAY))
    lost = _stage("lost", expected="sql", furthest="sql", at=WON_AT, reason="price")

    assert store.change_stage(replace(lost, fact_day=DAY))

    read = fact_of(store)
    assert (read.stage, read.lost, read.won_amount, read.currency) == ("sql", True, None, None)


def test_a_refused_stage_change_leaves_the_fact_as_it_was(store: LeadStore) -> None:
    land_with_fact(store)
    assert store.change_stage(replace(_stage("sql"), fact_day=DAY))
    # Decided against "lead", which the lead has left: nothing of it lands.
    stale = _stage("won", at=WON_AT, amount=Decimal("99.00"), currency="USD")

    assert not store.change_stage(replace(stale, fact_day=DAY))

    assert fact_of(store) == replace(a_fact(), stage="sql")


# --- many leads on one day ----------------------------------------------------------------


def _lead_ids(count: int) -> list[str]:
    rng = random.Random(6)
    return [f"ld_{rng.getrandbits(64):016x}" for _ in range(count)]


def land_many(store: LeadStore, count: int) -> dict[str, LeadFact]:
    """Land `count` leads a second apart on DAY, each with its fact; the facts by lead id."""
    written = {}
    for n, lead_id in enumerate(_lead_ids(count)):
        at = T0 + timedelta(seconds=n)
        fact = a_fact(lead_id, created_at=at, owner=("ana", "ben", "cy")[n % 3])
        store.apply(landing(store, lead_id, fact=fact, at=at))
        written[lead_id] = fact
    return written


def test_many_leads_of_one_day_all_come_back_once_each(store: LeadStore) -> None:
    written = land_many(store, 60)

    read = store.facts(DAY)

    assert len(read) == len(written)
    assert {f.lead_id: f for f in read} == written


# --- DynamoDB only: where the facts are and what reading and writing them costs -------------


@pytest.fixture(scope="module")
def raw(module_dynamo: DynamoLeadStore) -> Any:
    """A plain boto3 client on the same moto tables, to read items as DynamoDB stores them."""
    return boto3.client("dynamodb", region_name=REGION)


def _raw_day(raw: Any, day: date) -> list[dict[str, Any]]:
    pages = raw.get_paginator("query").paginate(
        TableName=FactModel.Meta.table_name,
        KeyConditionExpression="#d = :d",
        ExpressionAttributeNames={"#d": "day"},
        ExpressionAttributeValues={":d": {"S": day.isoformat()}},
        ConsistentRead=True,
    )
    return [item for page in pages for item in page["Items"]]


@contextmanager
def queries(*, page_size: int | None = None) -> Iterator[list[dict[str, Any]]]:
    """The parameters of every Query the models send inside the block; with `page_size`, each
    asks for at most that many items, so a page ends early as a full 1 MB page would (about
    8,000 facts: too many to land here one by one)."""
    client = FactModel._get_connection().connection.client
    sent: list[dict[str, Any]] = []

    def on_query(params: dict[str, Any], **_: Any) -> None:
        if page_size is not None:
            params["Limit"] = page_size
        sent.append(dict(params))

    client.meta.events.register("provide-client-params.dynamodb.Query", on_query)
    try:
        yield sent
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.Query", on_query)


def _micros(at: datetime) -> str:
    return str((at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1))


def test_each_fact_is_an_item_of_its_own_keyed_by_its_day_and_lead_id(
    dynamo: DynamoLeadStore, raw: Any
) -> None:
    land_with_fact(dynamo, "ld_a")
    land_with_fact(dynamo, "ld_b", campaign=None, queue=None, owner=None, due_at=None)
    late = a_fact("ld_c", created_at=ARRIVED + timedelta(hours=15))
    dynamo.apply(replace(landing(dynamo, "ld_c", fact=late), fact_day=NEXT_DAY))

    items = {item["lead_id"]["S"]: item for item in _raw_day(raw, DAY)}

    assert list(items) == ["ld_a", "ld_b"]  # in lead id order, the next day's lead apart
    assert items["ld_a"] == {
        "day": {"S": "2026-11-02"},
        "lead_id": {"S": "ld_a"},
        "t": {"N": _micros(ARRIVED)},
        "s": {"S": "google-ads"},
        "c": {"S": "Brand_Search"},
        "q": {"S": "inbound"},
        "o": {"S": "ana"},
        "d": {"N": _micros(ARRIVED + timedelta(minutes=5, microseconds=1))},
    }
    assert set(items["ld_b"]) == {"day", "lead_id", "t", "s"}  # absent fields take no bytes
    assert [i["lead_id"]["S"] for i in _raw_day(raw, NEXT_DAY)] == ["ld_c"]


def test_a_fact_item_with_every_field_set_stays_under_300_bytes_so_an_update_costs_2_units(
    dynamo: DynamoLeadStore, raw: Any
) -> None:
    # A real lead id and every field a lead's life can set, with long but ordinary values.
    lead_id = _lead_ids(1)[0]
    fact = a_fact(
        lead_id,
        source="google-ads",
        campaign="roof-replacement-spring",
        queue="after-hours",
        owner="grace-lee",
    )
    dynamo.apply(landing(dynamo, lead_id, fact=fact))
    speed = Speed(wall_s=1234.567891, business_s=617.283945, met=False)
    stop = _stop(lead_id, at=RESPONDED, speed=speed, key=f"contacted:{lead_id}:1")
    dynamo.stop_clock(replace(stop, by="grace-lee", fact_day=DAY))
    claim = _claim(lead_id, expected_step=None, key=f"claim:{lead_id}:1")
    dynamo.claim(replace(claim, by="grace-lee", fact_day=DAY))
    won = _stage(
        "won",
        lead_id=lead_id,
        at=WON_AT,
        amount=Decimal("44999.99"),
        currency="USD",
        last_source="facebook",
    )
    assert dynamo.change_stage(replace(won, fact_day=DAY))

    [item] = _raw_day(raw, DAY)

    short_names = "t s c q o d r rb w b m cl st x a cu ls"
    assert sorted(item) == sorted(["day", "lead_id", *short_names.split()])
    assert item["a"] == {"S": "44999.99"}  # the amount as exact text
    size = item_bytes(item)
    assert size < 300, f"{size} B"
    # A transactional write is billed 2 units per started KB of the larger of the item
    # before and after it (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/
    # transaction-apis.html#transaction-capacity-handling).
    assert 2 * math.ceil(size / 1024) == 2


def test_a_days_facts_come_back_whole_across_query_pages(dynamo: DynamoLeadStore) -> None:
    written = land_many(dynamo, 25)

    with queries(page_size=10) as sent:
        read = dynamo.facts(DAY)

    assert {f.lead_id: f for f in read} == written
    assert [len(f.lead_id) for f in read] == [19] * 25  # each once
    assert len(sent) == 3  # pages of 10, 10 and 5
    assert ["ExclusiveStartKey" in params for params in sent] == [False, True, True]


def test_reading_a_day_is_one_consistent_query_and_a_change_one_transaction(
    dynamo: DynamoLeadStore,
) -> None:
    new = landing(dynamo, fact=a_fact())
    with dynamodb_calls(dynamo) as calls, queries() as sent:
        dynamo.apply(new)
        dynamo.stop_clock(replace(_stop(at=RESPONDED), fact_day=DAY))
        dynamo.facts(DAY)

    assert calls == ["TransactWriteItems", "TransactWriteItems", "Query"]
    assert [params["ConsistentRead"] for params in sent] == [True]


def test_a_store_built_without_a_connection_reads_a_days_facts(
    module_dynamo: DynamoLeadStore, clock: FakeClock
) -> None:
    fresh_tables()
    module_dynamo.apply(landing(module_dynamo, fact=a_fact()))

    assert module_dynamo.facts(DAY) == [a_fact()]
