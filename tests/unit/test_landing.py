"""The landing service on fakes: one person is one lead, each event one touchpoint, first touch
kept, and two leads that prove to be one person linked, never silently duplicated."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.capture import Capture
from chalicelib.domain.inbound import form_capture, sms_capture, status_capture
from chalicelib.domain.model import Contact, FormSubmission
from chalicelib.domain.team import SourceConfig
from chalicelib.services.landing import (
    Landed,
    LandingConflictError,
    accept,
    land,
    replay_pending,
)
from tests.fakes import T0, FakeClock, MemoryLeadStore

PHONE_A, EMAIL_B = "+14155550134", "bob@example.com"


def form(
    source: str = "website",
    *,
    phone: str | None = None,
    email: str | None = None,
    event: str | None = None,
    campaign: str | None = None,
) -> Capture:
    sub = FormSubmission(
        contact=Contact(phone=phone, email=email),
        utm={"utm_campaign": campaign} if campaign else {},
    )
    config = SourceConfig(name=source, auth_scheme="token", secret_ref="env:X")
    capture, _ = form_capture(config, sub, provider_id=event, default_region="US")
    return capture


def sms(body: str, sid: str = "SM" + "1" * 32) -> Capture:
    params = {"MessageSid": sid, "From": PHONE_A, "To": "+14155550111", "Body": body}
    return sms_capture(params, None, default_region="US")


def call_status(sid: str, state: str = "completed", phone: str = PHONE_A) -> Capture:
    params = {"CallSid": sid, "CallStatus": state, "From": phone, "Direction": "inbound"}
    return status_capture(params, default_region="US")


@pytest.fixture
def store() -> MemoryLeadStore:
    return MemoryLeadStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def take(
    capture: Capture,
    store: MemoryLeadStore,
    clock: FakeClock,
    *,
    dedup_window: timedelta | None = None,
) -> Landed:
    return accept(capture, store=store, clock=clock, dedup_window=dedup_window)


# --- one person, one lead ----------------------------------------------------------------


def test_first_contact_creates_a_lead_that_owns_its_identities(
    store: MemoryLeadStore, clock: FakeClock
) -> None:
    landed = take(form(phone=PHONE_A, email="ann@example.com", event="e1"), store, clock)

    assert landed.status == "created"
    assert landed.lead_id is not None and landed.lead_id.startswith("ld_")
    assert store.identities == {
        f"phone:{PHONE_A}": landed.lead_id,
        "email:ann@example.com": landed.lead_id,
    }
    lead = store.leads[landed.lead_id]
    assert (lead.created_at, lead.touch_count) == (T0, 1)
    [touch] = store.touchpoints(landed.lead_id)
    assert (touch.at, touch.event_key) == (T0, "form:website:e1")
    assert store.events["form:website:e1"][1:] == ("processed", landed.lead_id)


def test_same_event_twice_is_one_touchpoint(store: MemoryLeadStore, clock: FakeClock) -> None:
    first = take(form(phone=PHONE_A, event="e1"), store, clock)
    clock.advance(hours=1)
    again = take(form(phone=PHONE_A, event="e1"), store, clock)

    assert again == Landed("duplicate", first.lead_id)
    assert len(store.touchpoints(first.lead_id or "")) == 1


def test_returning_person_is_updated_not_duplicated(
    store: MemoryLeadStore, clock: FakeClock
) -> None:
    first = take(form(phone=PHONE_A, event="e1"), store, clock)
    clock.advance(days=2)
    again = take(sms("hello"), store, clock)

    assert again == Landed("updated", first.lead_id)
    assert len(store.leads) == 1
    assert [t.channel for t in store.touchpoints(first.lead_id or "")] == ["form", "sms"]


def test_first_touch_is_never_overwritten_and_last_touch_moves(
    store: MemoryLeadStore, clock: FakeClock
) -> None:
    landed = take(form("website", phone=PHONE_A, event="e1", campaign="spring"), store, clock)
    for n, source in enumerate(["unbounce", "typeform"]):
        clock.advance(days=1)
        take(form(source, phone=PHONE_A, event=f"e{n + 2}", campaign=source), store, clock)

    lead = store.leads[landed.lead_id or ""]
    assert (lead.first_touch.source, lead.first_touch.campaign) == ("website", "spring")
    assert (lead.last_touch.source, lead.last_touch.campaign) == ("typeform", "typeform")
    assert lead.created_at == T0
    assert lead.updated_at == T0 + timedelta(days=2)


def test_a_new_email_on_a_known_phone_is_claimed_by_that_lead(
    store: MemoryLeadStore, clock: FakeClock
) -> None:
    first = take(form(phone=PHONE_A, event="e1"), store, clock)
    take(form(phone=PHONE_A, email="ann@example.com", event="e2"), store, clock)

    later = take(form(email="ANN@example.com", event="e3"), store, clock)

    assert later == Landed("updated", first.lead_id)
    assert store.identities["email:ann@example.com"] == first.lead_id
    assert store.leads[first.lead_id or ""].email == "ann@example.com"


# --- two leads that prove to be one person -----------------------------------------------


def test_phone_of_a_and_email_of_b_lands_on_a_and_links_both(
    store: MemoryLeadStore, clock: FakeClock
) -> None:
    a = take(form(phone=PHONE_A, event="a"), store, clock).lead_id or ""
    b = take(form(email=EMAIL_B, event="b"), store, clock).lead_id or ""
    clock.advance(minutes=5)

    landed = take(form(phone=PHONE_A, email=EMAIL_B, event="both"), store, clock)

    assert landed == Landed("updated", a)
    assert set(store.leads) == {a, b}
    assert store.leads[a].linked_lead_ids == frozenset({b})
    assert store.leads[b].linked_lead_ids == frozenset({a})
    # Identities stay with the lead that first owned them: nothing is moved or copied.
    assert store.identities == {f"phone:{PHONE_A}": a, f"email:{EMAIL_B}": b}
    assert [t.event_key for t in store.touchpoints(a)] == ["form:website:a", "form:website:both"]
    assert [t.event_key for t in store.touchpoints(b)] == ["form:website:b"]


def test_linking_again_adds_no_duplicate_link_or_lead(
    store: MemoryLeadStore, clock: FakeClock
) -> None:
    a = take(form(phone=PHONE_A, event="a"), store, clock).lead_id or ""
    b = take(form(email=EMAIL_B, event="b"), store, clock).lead_id or ""
    take(form(phone=PHONE_A, email=EMAIL_B, event="both-1"), store, clock)
    take(form(phone=PHONE_A, email=EMAIL_B, event="both-2"), store, clock)

    assert len(store.leads) == 2
    assert store.leads[a].linked_lead_ids == frozenset({b})
    assert store.leads[b].linked_lead_ids == frozenset({a})


def test_linking_keeps_the_first_touch_of_both_leads(
    store: MemoryLeadStore, clock: FakeClock
) -> None:
    a = take(form("website", phone=PHONE_A, event="a"), store, clock).lead_id or ""
    b = take(form("unbounce", email=EMAIL_B, event="b"), store, clock).lead_id or ""
    clock.advance(days=1)

    take(form("typeform", phone=PHONE_A, email=EMAIL_B, event="both"), store, clock)

    assert store.leads[a].first_touch.source == "website"
    assert store.leads[b].first_touch.source == "unbounce"


def test_email_of_b_alone_still_lands_on_b_after_linking(
    store: MemoryLeadStore, clock: FakeClock
) -> None:
    take(form(phone=PHONE_A, event="a"), store, clock)
    b = take(form(email=EMAIL_B, event="b"), store, clock).lead_id
    take(form(phone=PHONE_A, email=EMAIL_B, event="both"), store, clock)

    assert take(form(email=EMAIL_B, event="later"), store, clock) == Landed("updated", b)


# --- events that only attach -------------------------------------------------------------


def test_status_for_an_unknown_call_creates_no_lead_and_is_closed_unmatched(
    store: MemoryLeadStore, clock: FakeClock
) -> None:
    landed = take(call_status("CA" + "9" * 32, phone="anonymous"), store, clock)

    assert landed == Landed("unmatched")
    assert store.leads == {}
    assert store.events[f"twilio:status:{'CA' + '9' * 32}:completed"][1] == "unmatched"


def test_status_attaches_without_moving_last_touch(
    store: MemoryLeadStore, clock: FakeClock
) -> None:
    lead_id = take(form(phone=PHONE_A, event="e1"), store, clock).lead_id or ""
    clock.advance(minutes=1)

    landed = take(call_status("CA" + "9" * 32), store, clock)

    assert landed == Landed("updated", lead_id)
    lead = store.leads[lead_id]
    assert lead.last_touch.channel == "form"
    assert store.identities.get(f"sid:{'CA' + '9' * 32}") is None


def test_stop_then_start_sets_then_clears_opt_out(store: MemoryLeadStore, clock: FakeClock) -> None:
    lead_id = take(sms("STOP", "SM" + "1" * 32), store, clock).lead_id or ""
    assert store.leads[lead_id].sms_opt_out is True

    take(sms("hello", "SM" + "2" * 32), store, clock)
    assert store.leads[lead_id].sms_opt_out is True

    take(sms("START", "SM" + "3" * 32), store, clock)
    assert store.leads[lead_id].sms_opt_out is False


# --- the de-duplication window -----------------------------------------------------------


def test_same_content_inside_the_window_is_a_duplicate(
    store: MemoryLeadStore, clock: FakeClock
) -> None:
    window = timedelta(minutes=10)
    first = take(form(phone=PHONE_A), store, clock, dedup_window=window)
    clock.advance(minutes=9)

    assert take(form(phone=PHONE_A), store, clock, dedup_window=window).status == "duplicate"
    assert len(store.touchpoints(first.lead_id or "")) == 1


def test_same_content_after_the_window_is_a_new_touchpoint(
    store: MemoryLeadStore, clock: FakeClock
) -> None:
    window = timedelta(minutes=10)
    first = take(form(phone=PHONE_A), store, clock, dedup_window=window)
    clock.advance(minutes=11)

    again = take(form(phone=PHONE_A), store, clock, dedup_window=window)

    assert again == Landed("updated", first.lead_id)
    assert len(store.touchpoints(first.lead_id or "")) == 2


# --- failures ----------------------------------------------------------------------------


def test_failure_after_recording_is_accepted_and_the_replayer_lands_it(
    store: MemoryLeadStore, clock: FakeClock
) -> None:
    store.fail_next_apply = RuntimeError("outage")

    assert take(form(phone=PHONE_A, event="e1"), store, clock) == Landed("accepted")
    assert store.leads == {}
    assert store.events["form:website:e1"][1] == "pending"

    clock.advance(seconds=31)
    assert replay_pending(store=store, clock=clock) == 1

    [lead] = store.leads.values()
    [touch] = store.touchpoints(lead.lead_id)
    assert touch.at == T0  # when it arrived, not when it was replayed
    assert store.events["form:website:e1"][1] == "processed"


def test_a_replayed_older_touch_joins_the_timeline_without_moving_last_touch_back(
    store: MemoryLeadStore, clock: FakeClock
) -> None:
    store.fail_next_apply = RuntimeError("outage")
    take(form(phone=PHONE_A, event="old", campaign="old-campaign"), store, clock)
    clock.advance(seconds=10)
    newer = take(form(phone=PHONE_A, event="new", campaign="new-campaign"), store, clock)
    assert newer.status == "created"

    clock.advance(seconds=31)
    assert replay_pending(store=store, clock=clock) == 1

    lead = store.leads[newer.lead_id or ""]
    assert lead.last_touch.campaign == "new-campaign"
    assert [t.event_key for t in store.touchpoints(lead.lead_id)] == [
        "form:website:old",
        "form:website:new",
    ]


def test_replayer_skips_events_younger_than_its_threshold(
    store: MemoryLeadStore, clock: FakeClock
) -> None:
    store.fail_next_apply = RuntimeError("outage")
    take(form(phone=PHONE_A, event="e1"), store, clock)
    clock.advance(seconds=29)

    assert replay_pending(store=store, clock=clock) == 0
    assert store.leads == {}


def test_redelivery_of_a_pending_event_lands_it_at_its_first_arrival(
    store: MemoryLeadStore, clock: FakeClock
) -> None:
    store.fail_next_apply = RuntimeError("outage")
    take(form(phone=PHONE_A, event="e1"), store, clock)
    clock.advance(seconds=15)

    landed = take(form(phone=PHONE_A, event="e1"), store, clock)

    assert landed.status == "created"
    [touch] = store.touchpoints(landed.lead_id or "")
    assert touch.at == T0
    clock.advance(minutes=5)
    assert replay_pending(store=store, clock=clock) == 0


def test_failure_to_record_propagates_so_the_provider_retries(clock: FakeClock) -> None:
    class DownStore(MemoryLeadStore):
        def record_event(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
            raise ConnectionError("DynamoDB is unreachable")

    with pytest.raises(ConnectionError):
        take(form(phone=PHONE_A, event="e1"), DownStore(), clock)


class StaleReadStore(MemoryLeadStore):
    """A store whose first lookups miss: another request claimed the identity in between."""

    def __init__(self, stale_reads: int) -> None:
        super().__init__()
        self.stale_reads = stale_reads

    def find_leads(self, keys: tuple[str, ...]) -> dict[str, str]:
        if self.stale_reads:
            self.stale_reads -= 1
            return {}
        return super().find_leads(keys)


def test_losing_an_identity_race_lands_on_the_winners_lead(clock: FakeClock) -> None:
    store = StaleReadStore(stale_reads=0)
    winner = take(form(phone=PHONE_A, event="first"), store, clock).lead_id
    store.stale_reads = 1

    landed = take(form(phone=PHONE_A, event="second"), store, clock)

    assert landed == Landed("updated", winner)
    assert len(store.leads) == 1
    assert len(store.touchpoints(winner or "")) == 2


def test_identity_races_lost_every_round_leave_the_event_pending(clock: FakeClock) -> None:
    store = StaleReadStore(stale_reads=0)
    take(form(phone=PHONE_A, event="first"), store, clock)
    store.stale_reads = 99

    assert take(form(phone=PHONE_A, event="second"), store, clock) == Landed("accepted")
    assert store.events["form:website:second"][1] == "pending"
    assert len(store.leads) == 1
    with pytest.raises(LandingConflictError):
        land(store.events["form:website:second"][0], store=store)
