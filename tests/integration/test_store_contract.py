"""The LeadStore contract: every claim here holds for MemoryLeadStore and for DynamoLeadStore."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from chalicelib.domain.errors import InvalidPayloadError
from chalicelib.domain.identity import email_key, phone_key, sid_key
from chalicelib.domain.model import Attribution, Lead, Touchpoint
from chalicelib.domain.routing import Assignment
from chalicelib.ports import (
    DuplicateTouchError,
    IdentityTakenError,
    InboundEvent,
    LeadQuery,
    LeadStore,
    OwnerChange,
    OwnerChangedError,
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
