"""The LeadStore contract: every claim here holds for MemoryLeadStore and for DynamoLeadStore."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.adapters.dynamo.models import LeadModel
from chalicelib.adapters.dynamo.store import DynamoLeadStore
from chalicelib.domain.errors import InvalidPayloadError
from chalicelib.domain.identity import email_key, phone_key, sid_key
from chalicelib.domain.model import Attribution, Lead, Touchpoint
from chalicelib.domain.routing import Assignment
from chalicelib.domain.sla import ClockStart, Speed
from chalicelib.ports import (
    AlertRecord,
    ClaimChange,
    ClockStop,
    DueStep,
    DuplicateTouchError,
    IdentityTakenError,
    InboundEvent,
    LeadQuery,
    LeadStore,
    OwnerChange,
    OwnerChangedError,
    StageChange,
    StaleTouchError,
)
from tests.fakes import T0, FakeClock
from tests.integration.builders import (
    PHONE,
    call,
    call_status,
    change,
    form,
    land,
    record,
    sms,
)

LATER = T0 + timedelta(minutes=5)


def lead_of(store: LeadStore, lead_id: str) -> Lead:
    lead = store.get_lead(lead_id)
    assert lead is not None, f"no lead {lead_id}"
    return lead


def event_status(store: LeadStore, key: str) -> tuple[str, str | None]:
    """The status and lead id the store holds for an event key (asked by re-recording it)."""
    again = store.record_event(InboundEvent(key, LATER, form(key)), replace_before=None)
    assert not again.is_new
    return again.status, again.lead_id


# --- the inbox ----------------------------------------------------------------------------


def test_recording_an_event_twice_returns_the_first_time_and_status(store: LeadStore) -> None:
    capture = form("evt-1")
    first = store.record_event(InboundEvent("evt-1", T0, capture), replace_before=None)
    again = store.record_event(InboundEvent("evt-1", LATER, capture), replace_before=None)
    assert first.is_new and first.received_at == T0
    assert (again.is_new, again.received_at, again.status, again.lead_id) == (
        False,
        T0,
        "pending",
        None,
    )


def test_recording_a_landed_event_again_reports_it_processed_with_its_lead(
    store: LeadStore,
) -> None:
    capture = form("evt-1")
    land(store, capture, "ld_a", T0)
    assert event_status(store, capture.event_key) == ("processed", "ld_a")


def test_replace_before_replaces_only_events_older_than_it(store: LeadStore) -> None:
    capture = form("evt-1")
    key = capture.event_key
    record(store, capture, T0)
    kept = store.record_event(InboundEvent(key, LATER, capture), replace_before=T0)
    assert (kept.is_new, kept.received_at) == (False, T0)
    replaced = store.record_event(
        InboundEvent(key, LATER, capture), replace_before=T0 + timedelta(seconds=1)
    )
    assert (replaced.is_new, replaced.received_at) == (True, LATER)
    pending = store.pending_events(received_before=LATER + timedelta(hours=1), limit=10)
    assert [(e.event_key, e.received_at) for e in pending] == [(key, LATER)]


def test_replacing_a_processed_event_makes_it_pending_again(store: LeadStore) -> None:
    capture = form("evt-1")
    land(store, capture, "ld_a", T0)
    replaced = store.record_event(
        InboundEvent(capture.event_key, LATER, capture), replace_before=LATER
    )
    assert replaced.is_new
    assert event_status(store, capture.event_key) == ("pending", None)


def test_a_recorded_event_comes_back_whole_for_replay(store: LeadStore) -> None:
    capture = form("evt-1", email="Ana@Example.com", name="Ana", utm_source="Google", message="hi")
    event = InboundEvent(capture.event_key, T0, capture, '{"raw": 1}', "application/json")
    store.record_event(event, replace_before=None)
    assert store.pending_events(received_before=LATER, limit=10) == [event]


def test_pending_events_are_unlanded_events_older_than_the_cutoff_oldest_first(
    store: LeadStore,
) -> None:
    captures = [form(f"evt-{i}", phone=None, email=f"p{i}@example.com") for i in range(5)]
    # Recorded out of order: evt-3 is the oldest.
    for i in (2, 0, 3, 1, 4):
        record(store, captures[i], T0 + timedelta(seconds=10 * i - (40 if i == 3 else 0)))
    cutoff = T0 + timedelta(seconds=25)
    pending = store.pending_events(received_before=cutoff, limit=10)
    assert [e.event_key for e in pending] == [captures[i].event_key for i in (3, 0, 1, 2)]
    assert [e.event_key for e in store.pending_events(received_before=cutoff, limit=2)] == [
        captures[3].event_key,
        captures[0].event_key,
    ]


def test_applying_or_marking_an_event_takes_it_out_of_pending(store: LeadStore) -> None:
    landed, unmatched, waiting = form("evt-1"), call_status("CA9", "completed"), form("evt-3")
    for capture in (landed, unmatched, waiting):
        record(store, capture, T0)
    store.apply(change(landed, "ld_a", T0))
    store.mark_event(unmatched.event_key, "unmatched")
    pending = store.pending_events(received_before=LATER, limit=10)
    assert [e.event_key for e in pending] == [waiting.event_key]
    assert event_status(store, unmatched.event_key) == ("unmatched", None)


def test_marking_an_unknown_event_raises_lookup_error(store: LeadStore) -> None:
    with pytest.raises(LookupError):
        store.mark_event("form:website:never", "unmatched")


# --- landing a change ---------------------------------------------------------------------


def test_first_apply_creates_the_lead_with_first_touch_equal_to_last_touch(
    store: LeadStore,
) -> None:
    capture = form(
        "evt-1",
        email="ana@example.com",
        name="Ana Diaz",
        company="Acme",
        utm_source="Google",
        utm_campaign="Spring Sale",
        gclid="Cj0KCQ",
        landing_page="https://example.com/pricing?utm_medium=cpc",
    )
    land(store, capture, "ld_a", T0)
    lead = lead_of(store, "ld_a")
    assert lead.first_touch == lead.last_touch == capture.attribution.for_lead()
    assert (lead.created_at, lead.updated_at, lead.status, lead.touch_count) == (T0, T0, "new", 1)
    assert (lead.phone, lead.email, lead.name, lead.company) == (
        PHONE,
        "ana@example.com",
        "Ana Diaz",
        "Acme",
    )
    assert (lead.sms_opt_out, lead.linked_lead_ids) == (False, frozenset())


def test_a_second_event_moves_last_touch_but_never_first_touch(store: LeadStore) -> None:
    first, second = form("evt-1", utm_source="google"), call("CA1")
    land(store, first, "ld_a", T0)
    land(store, second, "ld_a", LATER, claims=())
    lead = lead_of(store, "ld_a")
    assert lead.first_touch == first.attribution.for_lead()
    assert lead.last_touch == second.attribution.for_lead()
    assert (lead.created_at, lead.updated_at) == (T0, LATER)


def test_an_older_touch_landing_late_cannot_move_last_touch_back(store: LeadStore) -> None:
    late, newer = form("evt-late", utm_source="late"), call("CA1")
    record(store, late, T0)  # recorded first, landed last (a replay)
    land(store, newer, "ld_a", LATER)
    with pytest.raises(StaleTouchError):
        store.apply(change(late, "ld_a", T0, claims=()))
    assert [t.event_key for t in store.touchpoints("ld_a")] == [newer.event_key]  # nothing written
    store.apply(replace(change(late, "ld_a", T0, claims=()), moves_last_touch=False))
    lead = lead_of(store, "ld_a")
    assert (lead.last_touch, lead.last_touch_at) == (newer.attribution.for_lead(), LATER)
    assert [t.event_key for t in store.touchpoints("ld_a")] == [late.event_key, newer.event_key]


def test_a_superseded_delivery_closes_nothing_and_its_successor_lands(store: LeadStore) -> None:
    capture = form("evt-1")
    record(store, capture, T0)
    store.record_event(InboundEvent(capture.event_key, LATER, capture), replace_before=LATER)
    with pytest.raises(DuplicateTouchError):
        store.apply(change(capture, "ld_a", T0))
    assert store.get_lead("ld_a") is None
    store.apply(change(capture, "ld_a", LATER))
    assert [t.at for t in store.touchpoints("ld_a")] == [LATER]


def test_first_contact_details_stay_and_names_take_the_latest(store: LeadStore) -> None:
    land(store, form("evt-1", email="ana@example.com", name="Ana"), "ld_a", T0)
    later = form("evt-2", phone="+14155550135", email="other@example.com", name="Ana Diaz")
    land(store, later, "ld_a", LATER, claims=())
    lead = lead_of(store, "ld_a")
    assert (lead.phone, lead.email, lead.name) == (PHONE, "ana@example.com", "Ana Diaz")


def test_touch_count_counts_every_touchpoint(store: LeadStore) -> None:
    land(store, form("evt-1"), "ld_a", T0)
    for i in range(4):
        land(store, call(f"CA{i}"), "ld_a", T0 + timedelta(minutes=i + 1), claims=())
    assert lead_of(store, "ld_a").touch_count == 5
    assert len(store.touchpoints("ld_a")) == 5


def test_duplicate_touchpoint_raises_and_writes_nothing(store: LeadStore) -> None:
    capture = form("evt-1")
    land(store, capture, "ld_a", T0)
    before = lead_of(store, "ld_a")
    # The same touchpoint again, this time also trying to claim a new key.
    with pytest.raises(DuplicateTouchError):
        store.apply(change(capture, "ld_a", T0, claims=(email_key("new@example.com"),)))
    assert lead_of(store, "ld_a") == before
    assert len(store.touchpoints("ld_a")) == 1
    assert store.find_leads((email_key("new@example.com"),)) == {}


def test_taken_identity_writes_nothing(store: LeadStore) -> None:
    land(store, form("evt-1"), "ld_a", T0)
    rival = form("evt-2", email="bea@example.com")
    record(store, rival, LATER)
    with pytest.raises(IdentityTakenError):
        store.apply(change(rival, "ld_b", LATER))
    # Neither the lead, nor its touchpoint, nor the free email claim, nor the event's closing.
    assert store.get_lead("ld_b") is None
    assert store.touchpoints("ld_b") == []
    assert store.find_leads(rival.identities) == {phone_key(PHONE): "ld_a"}
    assert event_status(store, rival.event_key) == ("pending", None)
    assert lead_of(store, "ld_a").touch_count == 1


def test_links_are_recorded_both_ways(store: LeadStore) -> None:
    land(store, form("evt-1"), "ld_a", T0)
    land(store, form("evt-2", phone=None, email="ana@example.com"), "ld_b", T0)
    both = form("evt-3", email="ana@example.com")
    land(store, both, "ld_a", LATER, claims=(), links=("ld_b",))
    assert lead_of(store, "ld_a").linked_lead_ids == {"ld_b"}
    assert lead_of(store, "ld_b").linked_lead_ids == {"ld_a"}


def test_a_link_to_an_unknown_lead_raises_and_writes_nothing(store: LeadStore) -> None:
    land(store, form("evt-1"), "ld_a", T0)
    capture = call("CA1")
    record(store, capture, LATER)
    with pytest.raises(LookupError):
        store.apply(change(capture, "ld_a", LATER, claims=(sid_key("CA1"),), links=("ld_x",)))
    assert lead_of(store, "ld_a").touch_count == 1
    assert len(store.touchpoints("ld_a")) == 1
    assert store.find_leads((sid_key("CA1"),)) == {}
    assert store.get_lead("ld_x") is None


def test_applying_an_event_that_was_never_recorded_raises_and_writes_nothing(
    store: LeadStore,
) -> None:
    capture = form("evt-1")
    with pytest.raises(LookupError):
        store.apply(change(capture, "ld_a", T0))
    assert store.get_lead("ld_a") is None
    assert store.touchpoints("ld_a") == []
    assert store.find_leads(capture.identities) == {}


def test_sms_opt_out_is_set_by_stop_cleared_by_start_and_left_otherwise(
    store: LeadStore,
) -> None:
    land(store, form("evt-1"), "ld_a", T0)
    steps = [("STOP", True), ("thanks", True), ("start", False), ("ok", False)]
    for i, (body, expected) in enumerate(steps):
        land(store, sms(f"SM{i}", body), "ld_a", T0 + timedelta(minutes=i + 1), claims=())
        assert lead_of(store, "ld_a").sms_opt_out is expected, body


def test_a_status_callback_does_not_move_last_touch(store: LeadStore) -> None:
    first = call("CA1")
    land(store, first, "ld_a", T0)
    status = call_status("CA1", "completed")
    assert not status.creates_lead
    land(store, status, "ld_a", LATER, claims=())
    lead = lead_of(store, "ld_a")
    assert lead.last_touch == first.attribution.for_lead()
    assert (lead.touch_count, lead.updated_at) == (2, LATER)
    assert [t.kind for t in store.touchpoints("ld_a")] == ["call_received", "call_status"]


# --- reading ------------------------------------------------------------------------------


def test_find_leads_returns_only_known_keys(store: LeadStore) -> None:
    land(store, call("CA1"), "ld_a", T0)
    unknown = email_key("nobody@example.com")
    keys = (sid_key("CA1"), unknown, phone_key(PHONE), sid_key("CA1"))
    assert store.find_leads(keys) == {sid_key("CA1"): "ld_a", phone_key(PHONE): "ld_a"}
    assert store.find_leads((unknown,)) == {}
    assert store.find_leads(()) == {}


def test_an_unknown_lead_is_none_and_has_no_touchpoints(store: LeadStore) -> None:
    assert store.get_lead("ld_nobody") is None
    assert store.touchpoints("ld_nobody") == []


def test_touchpoints_come_back_in_time_order(store: LeadStore) -> None:
    times = {"evt-c": T0 + timedelta(minutes=2), "evt-a": T0, "evt-b": T0 + timedelta(seconds=1)}
    for i, (event_id, at) in enumerate(times.items()):
        capture = form(event_id)
        record(store, capture, at)
        landing = change(capture, "ld_a", at, claims=None if i == 0 else ())
        # Arriving out of order, the older touches may not move last touch (see above).
        store.apply(replace(landing, moves_last_touch=i == 0))
    touches = store.touchpoints("ld_a")
    assert [t.at for t in touches] == sorted(times.values())
    assert [t.event_key for t in touches] == [
        form(e).event_key for e in ("evt-a", "evt-b", "evt-c")
    ]
    assert touches[0].detail == form("evt-a").detail


# --- listing ------------------------------------------------------------------------------

# 25 leads an hour apart from 20:00 on 31 October: they span two calendar months.
START = datetime.fromisoformat("2026-10-31T20:00:00+00:00")


def make_leads(store: LeadStore, clock: FakeClock, count: int = 25) -> list[str]:
    """`count` leads an hour apart, every third from the partner source; ids oldest first."""
    ids = []
    for i in range(count):
        at = START + timedelta(hours=i)
        name = "partner" if i % 3 == 0 else "website"
        capture = form(f"evt-{i}", phone=None, email=f"p{i}@example.com", source_name=name)
        land(store, capture, f"ld_{i:02d}", at)
        ids.append(f"ld_{i:02d}")
    clock.current = START + timedelta(hours=count)
    return ids


def all_pages(store: LeadStore, query: LeadQuery) -> list[list[str]]:
    """The lead ids of every page, following cursors until there is none."""
    pages: list[list[str]] = []
    cursor = None
    while True:
        page = store.list_leads(replace(query, cursor=cursor))
        pages.append([x.lead_id for x in page.leads])
        if page.cursor is None:
            return pages
        cursor = page.cursor
        assert len(pages) < 50, "pagination does not end"


def listed(store: LeadStore, query: LeadQuery) -> list[str]:
    """Every lead id the query lists, across all its pages."""
    return [lead_id for page in all_pages(store, query) for lead_id in page]


def test_list_leads_is_newest_first(store: LeadStore, clock: FakeClock) -> None:
    ids = make_leads(store, clock)
    page = store.list_leads(LeadQuery(limit=100))
    assert [x.lead_id for x in page.leads] == ids[::-1]
    assert page.cursor is None
    assert page.leads[0] == lead_of(store, ids[-1])


def test_cursor_pagination_returns_every_lead_exactly_once_across_months(
    store: LeadStore, clock: FakeClock
) -> None:
    ids = make_leads(store, clock)
    months = {lead_of(store, x).created_at.strftime("%Y-%m") for x in ids}
    assert months == {"2026-10", "2026-11"}
    pages = all_pages(store, LeadQuery(limit=7))
    assert [len(p) for p in pages] == [7, 7, 7, 4]
    assert [lead_id for page in pages for lead_id in page] == ids[::-1]


def test_a_full_last_page_is_followed_by_an_empty_one(store: LeadStore, clock: FakeClock) -> None:
    ids = make_leads(store, clock, count=14)
    pages = all_pages(store, LeadQuery(limit=7))
    assert pages == [ids[::-1][:7], ids[::-1][7:], []]


def test_a_lead_created_between_pages_neither_repeats_nor_shifts_the_others(
    store: LeadStore, clock: FakeClock
) -> None:
    ids = make_leads(store, clock)
    first = store.list_leads(LeadQuery(limit=10))
    land(store, form("evt-new", phone=None, email="new@example.com"), "ld_new", clock.now())
    second = store.list_leads(LeadQuery(limit=10, cursor=first.cursor))
    assert [x.lead_id for x in second.leads] == ids[::-1][10:20]


def test_list_leads_filters_by_since_source_and_status(store: LeadStore, clock: FakeClock) -> None:
    ids = make_leads(store, clock)
    since = START + timedelta(hours=3, minutes=30)  # still October: both months are read
    assert listed(store, LeadQuery(since=since, limit=5)) == ids[:3:-1]
    assert listed(store, LeadQuery(source="partner", limit=4)) == ids[::-3]
    both = store.list_leads(LeadQuery(source="partner", since=since, limit=100))
    assert [x.lead_id for x in both.leads] == [ids[i] for i in range(24, 3, -3)]
    assert len(store.list_leads(LeadQuery(status="new", limit=100)).leads) == 25
    assert store.list_leads(LeadQuery(status="contacted", limit=100)).leads == []
    assert store.list_leads(LeadQuery(source="nowhere", limit=100)).leads == []


def test_since_is_inclusive(store: LeadStore, clock: FakeClock) -> None:
    ids = make_leads(store, clock, count=3)
    page = store.list_leads(LeadQuery(since=START + timedelta(hours=1), limit=100))
    assert [x.lead_id for x in page.leads] == [ids[2], ids[1]]


def _b64(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "éé",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        _b64([1, 2]),
        _b64({"m": "2026-13"}),
        _b64({"m": "garbage", "k": {}}),
        _b64({"m": "2026-11", "k": {"lead_id": {"S": "ld_1"}}}),
        _b64({"after": 3}),
    ],
)
def test_a_malformed_cursor_raises_invalid_payload(store: LeadStore, cursor: str) -> None:
    with pytest.raises(InvalidPayloadError) as caught:
        store.list_leads(LeadQuery(cursor=cursor))
    assert caught.value.field == "cursor"


# --- owners -------------------------------------------------------------------------------


def _owner_change(lead_id: str, to: str | None, expected: str | None, n: int) -> OwnerChange:
    assignment = Assignment(queue="q", rule=None, owner=to, how="rotation")
    touch = Touchpoint(
        event_key=f"reassign:{lead_id}:{n}",
        lead_id=lead_id,
        at=LATER + timedelta(seconds=n),
        channel="owner",
        kind="reassigned",
        attribution=Attribution(source="leadclock", channel="owner"),
        detail={"from": expected, "to": to},
    )
    return OwnerChange(lead_id, assignment, expected, touch)


def test_assignment_sets_the_owner_once_and_a_second_is_refused(store: LeadStore) -> None:
    first = Assignment(queue="q", rule=None, owner="ana", how="rotation", position=0)
    capture = form("evt-1")
    record(store, capture, T0)
    store.apply(replace(change(capture, "ld_a", T0), assignment=first, is_new=True))
    lead = lead_of(store, "ld_a")
    assert (lead.owner, lead.queue, lead.owner_assigned_at) == ("ana", "q", T0)
    assert lead.assignment == first.to_dict()

    other = form("evt-2")
    record(store, other, LATER)
    rival = replace(first, owner="ben")
    with pytest.raises(OwnerChangedError):
        store.apply(replace(change(other, "ld_a", LATER, claims=()), assignment=rival))
    assert lead_of(store, "ld_a").owner == "ana"


def test_reassign_moves_the_owner_keeps_history_and_refuses_a_stale_request(
    store: LeadStore,
) -> None:
    land(store, form("evt-1"), "ld_a", T0)
    store.reassign(_owner_change("ld_a", "ana", None, 0))
    store.reassign(_owner_change("ld_a", "ben", "ana", 1))
    lead = lead_of(store, "ld_a")
    assert (lead.owner, lead.previous_owners) == ("ben", ("ana",))
    with pytest.raises(OwnerChangedError):
        store.reassign(_owner_change("ld_a", "cy", "ana", 2))
    assert [t.kind for t in store.touchpoints("ld_a")].count("reassigned") == 2


def test_a_first_response_is_kept_and_never_moved(store: LeadStore) -> None:
    land(store, call("CA1"), "ld_a", T0)
    answered = replace(
        call_status("CA1", "completed"), first_response={"at": LATER.isoformat(), "by": "ana"}
    )
    land(store, answered, "ld_a", LATER, claims=())
    later = replace(
        call_status("CA2", "completed"),
        first_response={"at": (LATER + timedelta(minutes=1)).isoformat(), "by": "ben"},
    )
    land(store, later, "ld_a", LATER + timedelta(minutes=1), claims=())
    lead = lead_of(store, "ld_a")
    assert (lead.first_response_at, lead.first_response_by) == (LATER, "ana")


# --- the SLA clock ------------------------------------------------------------------------

DUE = T0 + timedelta(minutes=5)
WARN = DUE - timedelta(minutes=2)  # step 0 fires two minutes before the due time
LEASE = timedelta(seconds=60)


def clock_start(
    *, started: datetime = T0, step: int | None = 0, step_at: datetime | None = WARN
) -> ClockStart:
    return ClockStart(
        policy="five-minutes",
        started_at=started,
        due_at=DUE,
        next_step=step,
        next_step_at=step_at if step is not None else None,
    )


def land_new(
    store: LeadStore,
    lead_id: str = "ld_a",
    *,
    clock: ClockStart | None = None,
    at: datetime = T0,
    event_id: str | None = None,
) -> None:
    """A new form lead, its clock started in the same change."""
    capture = form(event_id or f"evt-{lead_id}", phone=None, email=f"{lead_id}@example.com")
    record(store, capture, at)
    landing = change(capture, lead_id, at)
    store.apply(replace(landing, is_new=True, clock=clock or clock_start()))


def _touch(lead_id: str, key: str, kind: str, at: datetime) -> Touchpoint:
    return Touchpoint(
        event_key=key,
        lead_id=lead_id,
        at=at,
        channel="rep",
        kind=kind,
        attribution=Attribution(source="leadclock", channel="rep"),
        detail={"by": "ana"},
    )


def _claim(
    lead_id: str = "ld_a",
    *,
    at: datetime = T0 + timedelta(minutes=1),
    expected_step: int | None = 0,
    key: str = "claim:ld_a:1",
) -> ClaimChange:
    until = at + timedelta(minutes=10)
    return ClaimChange(
        lead_id=lead_id,
        by="ana",
        at=at,
        until=until,
        expected_step=expected_step,
        step_at=max(WARN, until) if expected_step is not None else None,
        touchpoint=_touch(lead_id, key, "claimed", at),
    )


def _stop(
    lead_id: str = "ld_a",
    *,
    at: datetime = T0 + timedelta(minutes=4),
    speed: Speed | None = None,
    key: str | None = "contacted:ld_a:1",
) -> ClockStop:
    return ClockStop(
        lead_id=lead_id,
        at=at,
        by="ana",
        speed=speed if speed is not None else Speed(wall_s=240.0, business_s=240.0, met=True),
        touchpoint=_touch(lead_id, key, "contacted", at) if key else None,
    )


def test_a_new_lead_with_a_clock_reads_it_back(store: LeadStore) -> None:
    land_new(store)
    lead = lead_of(store, "ld_a")
    assert (lead.sla_policy, lead.clock_started_at, lead.sla_due_at) == ("five-minutes", T0, DUE)
    assert (lead.next_step, lead.next_step_at, lead.step_attempts) == (0, WARN, 0)
    assert (lead.claimed_by, lead.speed_wall_s, lead.sla_met) == (None, None, None)
    assert (lead.updated_at, lead.sms_opt_out, lead.status) == (T0, False, "new")


def test_a_clock_starting_at_the_next_opening_keeps_its_own_start(store: LeadStore) -> None:
    opening = T0 + timedelta(hours=15, microseconds=7)
    land_new(store, clock=clock_start(started=opening, step=-1, step_at=opening))
    lead = lead_of(store, "ld_a")
    assert (lead.created_at, lead.clock_started_at) == (T0, opening)
    assert (lead.next_step, lead.next_step_at) == (-1, opening)


def test_a_lead_without_a_clock_has_none(store: LeadStore) -> None:
    land(store, form("evt-1"), "ld_a", T0)
    lead = lead_of(store, "ld_a")
    assert (lead.sla_policy, lead.clock_started_at, lead.sla_due_at, lead.next_step) == (
        None,
        None,
        None,
        None,
    )
    assert store.due_steps(before=T0 + timedelta(days=1), limit=10) == []


def test_a_clock_with_nothing_to_fire_is_not_a_due_step(store: LeadStore) -> None:
    land_new(store, clock=clock_start(step=None))
    assert lead_of(store, "ld_a").sla_due_at == DUE
    assert store.due_steps(before=DUE + timedelta(days=1), limit=10) == []


def test_due_steps_lists_a_step_once_due_and_not_before(store: LeadStore) -> None:
    land_new(store)
    assert store.due_steps(before=WARN - timedelta(microseconds=1), limit=10) == []
    assert store.due_steps(before=WARN, limit=10) == [DueStep("ld_a", 0, WARN)]


def test_due_steps_are_earliest_first_and_limited(store: LeadStore) -> None:
    for i, minutes in enumerate((3, 1, 2)):
        at = T0 + timedelta(minutes=minutes)
        land_new(store, f"ld_{i}", clock=clock_start(step=i, step_at=at))
    due = store.due_steps(before=T0 + timedelta(hours=1), limit=10)
    assert [(d.lead_id, d.step) for d in due] == [("ld_1", 1), ("ld_2", 2), ("ld_0", 0)]
    assert [d.lead_id for d in store.due_steps(before=T0 + timedelta(hours=1), limit=2)] == [
        "ld_1",
        "ld_2",
    ]


def test_begin_step_takes_a_due_step_once(store: LeadStore) -> None:
    land_new(store)
    begun = store.begin_step("ld_a", 0, now=WARN, lease_until=WARN + LEASE)
    assert begun is not None
    assert (begun.next_step, begun.next_step_at, begun.step_attempts) == (0, WARN + LEASE, 1)
    assert begun == lead_of(store, "ld_a")
    assert store.begin_step("ld_a", 0, now=WARN, lease_until=WARN + LEASE) is None
    assert store.due_steps(before=WARN, limit=10) == []


def test_begin_step_refuses_a_step_not_due_not_pending_or_of_no_lead(store: LeadStore) -> None:
    land_new(store)
    early = WARN - timedelta(seconds=1)
    assert store.begin_step("ld_a", 0, now=early, lease_until=early + LEASE) is None
    assert store.begin_step("ld_a", 1, now=DUE, lease_until=DUE + LEASE) is None
    assert store.begin_step("ld_nobody", 0, now=DUE, lease_until=DUE + LEASE) is None
    assert store.get_lead("ld_nobody") is None
    assert lead_of(store, "ld_a").step_attempts == 0


def test_begin_step_refuses_a_lead_with_a_response(store: LeadStore) -> None:
    land_new(store)
    answered = replace(
        call_status("CA1", "completed"),
        first_response={"at": (T0 + timedelta(minutes=2)).isoformat(), "by": "ana"},
    )
    land(store, answered, "ld_a", T0 + timedelta(minutes=2), claims=())
    assert store.begin_step("ld_a", 0, now=WARN, lease_until=WARN + LEASE) is None


def test_after_the_lease_a_step_is_due_again_and_attempts_count(store: LeadStore) -> None:
    land_new(store)
    assert store.begin_step("ld_a", 0, now=WARN, lease_until=WARN + LEASE) is not None
    expired = WARN + LEASE
    assert store.due_steps(before=expired, limit=10) == [DueStep("ld_a", 0, expired)]
    again = store.begin_step("ld_a", 0, now=expired, lease_until=expired + LEASE)
    assert again is not None and again.step_attempts == 2


def test_finish_step_moves_on_and_due_steps_follows(store: LeadStore) -> None:
    land_new(store)
    store.begin_step("ld_a", 0, now=WARN, lease_until=WARN + LEASE)
    assert store.finish_step("ld_a", 0, next_step=1, next_at=DUE)
    lead = lead_of(store, "ld_a")
    assert (lead.next_step, lead.next_step_at, lead.step_attempts) == (1, DUE, 0)
    assert store.due_steps(before=DUE, limit=10) == [DueStep("ld_a", 1, DUE)]
    assert not store.finish_step("ld_a", 0, next_step=2, next_at=DUE)  # step 0 is done
    assert lead_of(store, "ld_a").next_step == 1


def test_finishing_the_last_step_takes_the_lead_off_due_steps(store: LeadStore) -> None:
    land_new(store)
    assert store.finish_step("ld_a", 0, next_step=None, next_at=None)
    lead = lead_of(store, "ld_a")
    assert (lead.next_step, lead.next_step_at) == (None, None)
    assert store.due_steps(before=DUE + timedelta(days=1), limit=10) == []
    assert store.begin_step("ld_a", 0, now=DUE, lease_until=DUE + LEASE) is None
    assert not store.finish_step("ld_a", 0, next_step=None, next_at=None)


def test_defer_step_keeps_the_step_pending_later(store: LeadStore) -> None:
    land_new(store)
    later = WARN + timedelta(minutes=10)
    assert store.defer_step("ld_a", 0, until=later)
    assert store.due_steps(before=WARN, limit=10) == []
    assert store.due_steps(before=later, limit=10) == [DueStep("ld_a", 0, later)]
    assert not store.defer_step("ld_a", 1, until=later)
    assert not store.defer_step("ld_nobody", 0, until=later)
    assert store.get_lead("ld_nobody") is None


def test_a_claim_pauses_escalation_and_moves_the_pending_step(store: LeadStore) -> None:
    land_new(store)
    claim = _claim()
    lead = store.claim(claim)
    assert (lead.claimed_by, lead.claimed_at, lead.paused_until) == ("ana", claim.at, claim.until)
    assert (lead.next_step, lead.next_step_at) == (0, claim.until)
    assert lead.clock_started_at == T0 and lead.first_response_at is None  # the clock runs on
    assert lead == lead_of(store, "ld_a")
    assert store.due_steps(before=claim.until - timedelta(seconds=1), limit=10) == []
    assert [t.kind for t in store.touchpoints("ld_a")] == ["form_submitted", "claimed"]


def test_a_repeated_claim_is_a_duplicate_and_changes_nothing(store: LeadStore) -> None:
    land_new(store)
    store.claim(_claim())
    before = lead_of(store, "ld_a")
    # A repeat is the same touchpoint: the same key at the same time (its timeline sort key).
    with pytest.raises(DuplicateTouchError):
        store.claim(replace(_claim(), until=T0 + timedelta(hours=1)))
    assert lead_of(store, "ld_a") == before
    assert len(store.touchpoints("ld_a")) == 2


def test_a_claim_decided_on_a_step_that_moved_is_refused(store: LeadStore) -> None:
    land_new(store)
    store.finish_step("ld_a", 0, next_step=1, next_at=DUE)
    with pytest.raises(OwnerChangedError):
        store.claim(_claim(expected_step=0))
    with pytest.raises(OwnerChangedError):
        store.claim(_claim(expected_step=None, key="claim:ld_a:2"))
    lead = lead_of(store, "ld_a")
    assert (lead.claimed_by, lead.next_step_at) == (None, DUE)
    assert len(store.touchpoints("ld_a")) == 1


def test_a_lead_with_no_pending_step_can_be_claimed(store: LeadStore) -> None:
    land_new(store, clock=clock_start(step=None))
    lead = store.claim(_claim(expected_step=None))
    assert (lead.claimed_by, lead.next_step, lead.next_step_at) == ("ana", None, None)


def test_claiming_an_unknown_lead_raises_lookup_error(store: LeadStore) -> None:
    with pytest.raises(LookupError):
        store.claim(_claim("ld_nobody", expected_step=None, key="claim:ld_nobody:1"))
    assert store.get_lead("ld_nobody") is None


def test_stop_clock_records_speed_once_and_its_touchpoint_once(store: LeadStore) -> None:
    land_new(store)
    stop = _stop()
    assert store.stop_clock(stop)
    lead = lead_of(store, "ld_a")
    assert (lead.first_response_at, lead.first_response_by, lead.status) == (
        stop.at,
        "ana",
        "contacted",
    )
    assert (lead.speed_wall_s, lead.speed_business_s, lead.sla_met) == (240.0, 240.0, True)
    assert (lead.next_step, lead.next_step_at) == (None, None)
    assert store.due_steps(before=DUE + timedelta(days=1), limit=10) == []

    later = T0 + timedelta(minutes=9)
    slower = Speed(wall_s=540.0, business_s=540.0, met=False)
    assert not store.stop_clock(replace(stop, speed=slower))  # the same request again
    assert not store.stop_clock(_stop(at=later, speed=slower, key="contacted:ld_a:2"))
    lead = lead_of(store, "ld_a")
    assert (lead.first_response_at, lead.speed_wall_s, lead.sla_met) == (stop.at, 240.0, True)
    kinds = [t.kind for t in store.touchpoints("ld_a")]
    assert kinds == ["form_submitted", "contacted", "contacted"]


def test_stop_clock_without_a_touchpoint_stops_once(store: LeadStore) -> None:
    land_new(store)
    assert store.stop_clock(_stop(key=None))
    assert not store.stop_clock(_stop(key=None, at=DUE))
    assert lead_of(store, "ld_a").first_response_at == T0 + timedelta(minutes=4)
    assert len(store.touchpoints("ld_a")) == 1


def test_stop_clock_after_a_connected_call_landed_still_records_speed(store: LeadStore) -> None:
    land_new(store)
    connected = T0 + timedelta(minutes=3)
    answered = replace(
        call_status("CA1", "completed"),
        first_response={"at": connected.isoformat(), "by": "ben"},
    )
    land(store, answered, "ld_a", connected, claims=())
    speed = Speed(wall_s=180.0, business_s=180.0, met=True)
    assert store.stop_clock(_stop(at=connected, speed=speed, key=None))
    lead = lead_of(store, "ld_a")
    assert (lead.first_response_at, lead.first_response_by) == (connected, "ben")
    assert (lead.speed_wall_s, lead.status, lead.next_step) == (180.0, "contacted", None)
    assert not store.stop_clock(_stop(at=DUE, key=None))


def test_a_lead_without_a_clock_stops_at_its_first_response(store: LeadStore) -> None:
    land(store, form("evt-1"), "ld_a", T0)
    stop = replace(_stop(key="contacted:ld_a:1"), speed=None)
    assert store.stop_clock(stop)
    lead = lead_of(store, "ld_a")
    assert (lead.first_response_at, lead.status, lead.speed_wall_s) == (stop.at, "contacted", None)
    assert not store.stop_clock(replace(stop, touchpoint=None, at=DUE))
    assert lead_of(store, "ld_a").first_response_at == stop.at


def test_stopping_the_clock_of_an_unknown_lead_raises_lookup_error(store: LeadStore) -> None:
    with pytest.raises(LookupError):
        store.stop_clock(_stop("ld_nobody", key=None))
    with pytest.raises(LookupError):
        store.stop_clock(_stop("ld_nobody", key="contacted:ld_nobody:1"))
    assert store.get_lead("ld_nobody") is None
    assert store.touchpoints("ld_nobody") == []


def test_a_stopped_clock_fires_nothing(store: LeadStore) -> None:
    land_new(store)
    store.stop_clock(_stop())
    assert store.begin_step("ld_a", 0, now=DUE, lease_until=DUE + LEASE) is None
    assert not store.finish_step("ld_a", 0, next_step=1, next_at=DUE)
    assert not store.defer_step("ld_a", 0, until=DUE)


# --- DynamoDB only: what the clock costs in requests ---------------------------------------


@contextmanager
def dynamodb_calls(store: DynamoLeadStore) -> Iterator[list[str]]:
    """The DynamoDB operations `store` sends inside the block, in order."""
    operations: list[str] = []

    def on_call(event_name: str, **_: Any) -> None:
        operations.append(event_name.rsplit(".", 1)[-1])

    # The models' shared client (single-item requests) and the store's (transactions).
    clients = [LeadModel._get_connection().connection.client, store._conn().client]
    clients = list({id(c): c for c in clients}.values())
    for client in clients:
        client.meta.events.register("before-call.dynamodb.*", on_call)
    try:
        yield operations
    finally:
        for client in clients:
            client.meta.events.unregister("before-call.dynamodb.*", on_call)


def test_a_new_leads_clock_is_written_in_its_landing_transaction(dynamo: DynamoLeadStore) -> None:
    capture = form("evt-1")
    record(dynamo, capture, T0)
    landing = replace(change(capture, "ld_a", T0), is_new=True, clock=clock_start())
    with dynamodb_calls(dynamo) as calls:
        dynamo.apply(landing)
    assert calls == ["TransactWriteItems"]


def test_the_sweeper_queries_the_index_and_never_scans(dynamo: DynamoLeadStore) -> None:
    land_new(dynamo)
    with dynamodb_calls(dynamo) as calls:
        dynamo.due_steps(before=DUE, limit=100)
    assert calls == ["Query"]


def test_each_step_operation_is_one_update_with_no_read(dynamo: DynamoLeadStore) -> None:
    land_new(dynamo)
    with dynamodb_calls(dynamo) as calls:
        assert dynamo.begin_step("ld_a", 0, now=WARN, lease_until=WARN + LEASE) is not None
        assert dynamo.begin_step("ld_a", 0, now=WARN, lease_until=WARN + LEASE) is None
        assert dynamo.defer_step("ld_a", 0, until=DUE)
        assert dynamo.finish_step("ld_a", 0, next_step=1, next_at=DUE)
    assert calls == ["UpdateItem"] * 4


def test_stopping_the_clock_with_its_touchpoint_is_one_transaction(
    dynamo: DynamoLeadStore,
) -> None:
    land_new(dynamo)
    with dynamodb_calls(dynamo) as calls:
        assert dynamo.stop_clock(_stop())
    assert calls == ["TransactWriteItems"]


# -- a step's alert log rides with its finish; a response frees the owner's load --------------


def _alert_log(store: LeadStore) -> Any:
    """Where finish_step logs alerts: the fake's own log, or the alerts table."""
    from chalicelib.adapters.dynamo.alerts import DynamoAlertLog

    return getattr(store, "alert_log", None) or DynamoAlertLog()


def _open_leads(store: LeadStore, rep: str) -> int:
    from chalicelib.adapters.dynamo.models import RoutingModel

    if hasattr(store, "routing"):
        return int(store.routing.open.get(rep, 0))
    try:
        return int(RoutingModel.get(f"load#{rep}", consistent_read=True).open or 0)
    except RoutingModel.DoesNotExist:
        return 0


def _take_load(store: LeadStore, rep: str) -> None:
    from chalicelib.adapters.dynamo.routing import DynamoRoutingStore

    routing = getattr(store, "routing", None) or DynamoRoutingStore()
    assert routing.take_load(rep, T0.date(), max_open=None, max_per_day=None)


def _sent(key: str, status: str = "sent") -> AlertRecord:
    return AlertRecord(
        lead_id="ld_a",
        key=key,
        step=0,
        step_name="warn",
        recipient="ana",
        channel=key.rsplit(":", 1)[-1],
        to="+14155550131",
        status=status,
        due_at=WARN,
        created_at=WARN,
        called_at=WARN,
        lateness_s=0.0,
        provider_id="SM1",
        attempts=1,
    )


def test_finish_step_logs_the_steps_alerts_in_the_same_write(store: LeadStore) -> None:
    land_new(store)
    store.begin_step("ld_a", 0, now=WARN, lease_until=WARN + LEASE)
    alerts = [_sent("0:ana:sms"), _sent("0:ana:slack")]

    assert store.finish_step("ld_a", 0, next_step=1, next_at=DUE, alerts=alerts)

    logged = _alert_log(store).for_lead("ld_a")
    assert sorted((a.key, a.status, a.provider_id) for a in logged) == [
        ("0:ana:slack", "sent", "SM1"),
        ("0:ana:sms", "sent", "SM1"),
    ]
    assert lead_of(store, "ld_a").next_step == 1


def test_alerts_of_a_step_no_longer_pending_are_logged_all_the_same(store: LeadStore) -> None:
    land_new(store)
    store.begin_step("ld_a", 0, now=WARN, lease_until=WARN + LEASE)
    assert store.stop_clock(_stop(key=None))  # answered while the step was sending

    finished = store.finish_step("ld_a", 0, next_step=1, next_at=DUE, alerts=[_sent("0:ana:sms")])

    assert not finished
    assert [a.key for a in _alert_log(store).for_lead("ld_a")] == ["0:ana:sms"]
    assert lead_of(store, "ld_a").next_step is None


def test_stop_clock_releases_the_owners_open_count_once(store: LeadStore) -> None:
    land_new(store)
    _take_load(store, "ana")
    before = _open_leads(store, "ana")

    assert store.stop_clock(replace(_stop(), release="ana"))
    assert not store.stop_clock(replace(_stop(key="contacted:ld_a:2"), release="ana"))

    assert _open_leads(store, "ana") == before - 1
    assert [t.kind for t in store.touchpoints("ld_a")].count("contacted") == 2


def test_stop_clock_stops_when_the_owners_count_is_already_zero(store: LeadStore) -> None:
    land_new(store)

    assert store.stop_clock(replace(_stop(), release="nobody-counted"))

    assert lead_of(store, "ld_a").speed_wall_s == 240.0
    assert _open_leads(store, "nobody-counted") == 0


# -- click-to-call: the bridge mark, timeline-only touches, first attempt and first connect ---


def _bridge_touch(lead_id: str, key: str, at: datetime) -> Touchpoint:
    return replace(_touch(lead_id, key, "bridge_rep_leg", at), channel="call")


def test_start_bridge_refuses_the_same_reps_second_tap_inside_the_window(
    store: LeadStore,
) -> None:
    land_new(store)
    tap = T0 + timedelta(minutes=1)
    window = timedelta(seconds=60)

    assert store.start_bridge("ld_a", by="ana", at=tap, not_since=tap - window)
    again = tap + timedelta(seconds=30)
    assert not store.start_bridge("ld_a", by="ana", at=again, not_since=again - window)
    lead = lead_of(store, "ld_a")
    assert (lead.bridge_by, lead.bridge_at) == ("ana", tap)  # the refused tap wrote nothing

    later = tap + timedelta(seconds=61)
    assert store.start_bridge("ld_a", by="ana", at=later, not_since=later - window)
    assert lead_of(store, "ld_a").bridge_at == later


def test_start_bridge_lets_another_rep_call_at_once(store: LeadStore) -> None:
    land_new(store)
    tap = T0 + timedelta(minutes=1)
    store.start_bridge("ld_a", by="ana", at=tap, not_since=tap - timedelta(seconds=60))

    assert store.start_bridge("ld_a", by="ben", at=tap, not_since=tap - timedelta(seconds=60))
    assert lead_of(store, "ld_a").bridge_by == "ben"


def test_start_bridge_on_an_unknown_lead_raises_and_creates_nothing(store: LeadStore) -> None:
    with pytest.raises(LookupError):
        store.start_bridge("ld_nobody", by="ana", at=T0, not_since=T0 - timedelta(minutes=1))
    assert store.get_lead("ld_nobody") is None


def test_end_bridge_clears_its_own_mark_so_a_retry_is_not_a_double_tap(store: LeadStore) -> None:
    land_new(store)
    tap = T0 + timedelta(minutes=1)
    window = timedelta(seconds=60)
    store.start_bridge("ld_a", by="ana", at=tap, not_since=tap - window)

    store.end_bridge("ld_a", at=tap)

    lead = lead_of(store, "ld_a")
    assert (lead.bridge_by, lead.bridge_at) == (None, None)
    assert store.start_bridge("ld_a", by="ana", at=tap, not_since=tap - window)


def test_end_bridge_of_an_older_call_leaves_a_later_calls_mark(store: LeadStore) -> None:
    land_new(store)
    first, second = T0 + timedelta(minutes=1), T0 + timedelta(minutes=3)
    store.start_bridge("ld_a", by="ana", at=first, not_since=first - timedelta(seconds=60))
    store.start_bridge("ld_a", by="ben", at=second, not_since=second - timedelta(seconds=60))

    store.end_bridge("ld_a", at=first)
    store.end_bridge("ld_nobody", at=first)  # no lead: nothing to clear, and no error

    assert (lead_of(store, "ld_a").bridge_by, lead_of(store, "ld_a").bridge_at) == ("ben", second)
    assert store.get_lead("ld_nobody") is None


def test_add_touch_adds_once_and_touches_nothing_else(store: LeadStore) -> None:
    land_new(store)
    before = lead_of(store, "ld_a")
    touch = _bridge_touch("ld_a", "bridge-rep:CA1:ringing", T0 + timedelta(seconds=5))

    assert store.add_touch(touch)
    assert not store.add_touch(touch)

    assert [t.event_key for t in store.touchpoints("ld_a")].count(touch.event_key) == 1
    after = lead_of(store, "ld_a")
    assert (after.first_response_at, after.next_step, after.last_touch) == (
        None,
        before.next_step,
        before.last_touch,
    )


def test_stop_clock_records_first_attempt_and_connect_from_their_first_report(
    store: LeadStore,
) -> None:
    land_new(store)
    placed = T0 + timedelta(minutes=1)
    answered = placed + timedelta(seconds=12)

    assert store.stop_clock(replace(_stop(at=placed, key="lead-leg:initiated"), attempt_at=placed))
    lead = lead_of(store, "ld_a")
    assert (lead.first_attempt_at, lead.first_connect_at) == (placed, None)

    # Answered after the clock stopped: recorded all the same; the attempt stays the first.
    answer = replace(
        _stop(at=answered, key="lead-leg:answered"), attempt_at=answered, connect_at=answered
    )
    assert not store.stop_clock(answer)
    lead = lead_of(store, "ld_a")
    assert (lead.first_attempt_at, lead.first_connect_at) == (placed, answered)
    assert (lead.first_response_at, lead.speed_wall_s) == (placed, 240.0)

    # A second call later: the firsts stay.
    again = T0 + timedelta(minutes=9)
    assert not store.stop_clock(
        replace(_stop(at=again, key="lead-leg:2:answered"), attempt_at=again, connect_at=again)
    )
    lead = lead_of(store, "ld_a")
    assert (lead.first_attempt_at, lead.first_connect_at) == (placed, answered)


def test_a_connect_without_a_touchpoint_is_recorded_after_the_clock_stopped(
    store: LeadStore,
) -> None:
    land_new(store)
    store.stop_clock(_stop())  # "contacted": neither an attempt nor a connect
    assert lead_of(store, "ld_a").first_attempt_at is None

    connected = T0 + timedelta(minutes=6)
    assert not store.stop_clock(replace(_stop(at=connected, key=None), connect_at=connected))

    lead = lead_of(store, "ld_a")
    assert (lead.first_attempt_at, lead.first_connect_at) == (None, connected)
    assert lead.first_response_at == T0 + timedelta(minutes=4)


def test_a_repeated_report_changes_no_first_attempt_or_connect(store: LeadStore) -> None:
    land_new(store)
    store.stop_clock(_stop())
    late = T0 + timedelta(minutes=6)
    report = replace(_stop(at=late, key="lead-leg:initiated"), attempt_at=late)
    assert not store.stop_clock(report)
    n = len(store.touchpoints("ld_a"))

    # The same touchpoint again, even claiming other times: nothing changes.
    other = T0 + timedelta(minutes=2)
    assert not store.stop_clock(replace(report, attempt_at=other, connect_at=other))

    lead = lead_of(store, "ld_a")
    assert (lead.first_attempt_at, lead.first_connect_at) == (late, None)
    assert len(store.touchpoints("ld_a")) == n


# --- the sales funnel: a stage change and its timeline entry, on condition ------------------

STAGE_AT = T0 + timedelta(hours=2)


def _stage(
    stage: str,
    *,
    expected: str = "lead",
    furthest: str | None = None,
    at: datetime = STAGE_AT,
    lead_id: str = "ld_a",
    **won_or_lost: Any,
) -> StageChange:
    return StageChange(
        lead_id=lead_id,
        expected_stage=expected,
        stage=stage,
        at=at,
        by="ana",
        furthest=furthest or stage,
        touchpoint=_touch(lead_id, f"stage:{stage}", "stage_changed", at),
        **won_or_lost,
    )


def test_change_stage_moves_the_lead_with_its_timeline_entry(store: LeadStore) -> None:
    land_new(store)
    assert lead_of(store, "ld_a").stage == "lead"

    assert store.change_stage(_stage("sql"))

    lead = lead_of(store, "ld_a")
    assert (lead.stage, lead.stage_at, lead.furthest_stage, lead.updated_at) == (
        "sql",
        STAGE_AT,
        "sql",
        STAGE_AT,
    )
    assert (lead.won_amount, lead.currency, lead.lost_reason, lead.won_last_source) == (
        None,
        None,
        None,
        None,
    )
    assert [t.kind for t in store.touchpoints("ld_a")] == ["form_submitted", "stage_changed"]


def test_change_stage_refuses_a_lead_no_longer_at_the_expected_stage(store: LeadStore) -> None:
    land_new(store)
    assert store.change_stage(_stage("opportunity"))
    before = (lead_of(store, "ld_a"), store.touchpoints("ld_a"))

    # Decided against "lead" too, written second: nothing of it lands.
    later = STAGE_AT + timedelta(minutes=1)
    assert not store.change_stage(_stage("mql", at=later))
    assert not store.change_stage(_stage("opportunity"))  # the same change again

    assert (lead_of(store, "ld_a"), store.touchpoints("ld_a")) == before


def test_won_keeps_the_amount_exactly_with_currency_and_last_source(store: LeadStore) -> None:
    land_new(store)
    store.change_stage(_stage("sql"))

    won = _stage(
        "won",
        expected="sql",
        amount=Decimal("1200.50"),
        currency="EUR",
        last_source="google-ads",
    )
    assert store.change_stage(won)

    lead = lead_of(store, "ld_a")
    assert (str(lead.won_amount), lead.currency, lead.won_last_source) == (
        "1200.50",
        "EUR",
        "google-ads",
    )
    assert (lead.stage, lead.furthest_stage, lead.first_touch.source) == ("won", "won", "website")


def test_lost_keeps_the_furthest_stage_and_the_reason(store: LeadStore) -> None:
    land_new(store)
    store.change_stage(_stage("opportunity"))

    assert store.change_stage(
        _stage("lost", expected="opportunity", furthest="opportunity", reason="no budget")
    )

    lead = lead_of(store, "ld_a")
    assert (lead.stage, lead.furthest_stage, lead.lost_reason) == (
        "lost",
        "opportunity",
        "no budget",
    )


def test_change_stage_of_an_unknown_lead_raises_and_creates_nothing(store: LeadStore) -> None:
    with pytest.raises(LookupError):
        store.change_stage(_stage("sql", lead_id="ld_nobody"))
    assert store.get_lead("ld_nobody") is None
    assert store.touchpoints("ld_nobody") == []


def test_a_new_leads_item_carries_no_stage_attributes(dynamo: DynamoLeadStore) -> None:
    land_new(dynamo)
    stage_names = {
        "stage",
        "stage_at",
        "furthest_stage",
        "lost_reason",
        "won_amount",
        "currency",
        "won_last_source",
    }
    stored = set(LeadModel.get("ld_a", consistent_read=True).attribute_values)
    assert stored & stage_names == set()

    dynamo.change_stage(_stage("sql"))

    stored = set(LeadModel.get("ld_a", consistent_read=True).attribute_values)
    assert stored & stage_names == {"stage", "stage_at"}  # furthest equals stage: not stored


def test_a_stage_change_is_one_transaction(dynamo: DynamoLeadStore) -> None:
    land_new(dynamo)
    with dynamodb_calls(dynamo) as calls:
        assert dynamo.change_stage(_stage("sql"))
    assert calls == ["TransactWriteItems"]
