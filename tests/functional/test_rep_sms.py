"""Replies to SMS alerts through the app: a rep texts 1/CLAIM, CALL or DONE (and maybe a ref)
back to the alerts number and it acts on the right lead; anyone else's text lands as a lead's
SMS; a bad signature changes nothing."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from chalice.test import HTTPResponse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain.sla import TimerMessage
from chalicelib.ports import AlertRecord, DeliveryError
from chalicelib.services.alert_text import lead_ref
from tests.fakes import RecordingSender
from tests.functional.conftest import CALLER, PUBLIC_BASE_URL, Stack, body_of, sms

PATH = "/webhooks/twilio/alerts-sms"
ALERTS_FROM = "+14155550190"  # the demo team's alerts.sms from
BEN, BEN_PHONE = "ben", "+14155550132"  # the demo team's rep who is working at T0
ANA, ANA_PHONE = "ana", "+14155550131"


def text(
    stack: Stack, body: str, *, sid: str = "SM" + "1" * 32, sender: str = BEN_PHONE, **kwargs: Any
) -> HTTPResponse:
    """A text to the alerts number, signed as Twilio signs it."""
    params = sms(sid, body, From=sender, To=ALERTS_FROM)
    return stack.twilio(PATH, params, **kwargs)


def answer_of(response: HTTPResponse) -> str | None:
    """The SMS the TwiML answer sends back, or None for an empty <Response/>."""
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"] == "text/xml"
    root = ET.fromstring(response.body)
    assert root.tag == "Response"
    messages = root.findall("Message")
    assert len(messages) <= 1 and len(root) == len(messages)
    return messages[0].text if messages else None


def new_lead(stack: Stack, name: str = "Kai Moss", phone: str = "+14155550165") -> str:
    reply = stack.website({"name": name, "phone": phone})
    assert reply.status_code == 201, reply.body
    lead_id: str = body_of(reply)["lead_id"]
    # At T0 only Ben is inside his hours: every lead is his, which the tests rely on.
    assert stack.lead(lead_id).owner == BEN
    return lead_id


def alerted(
    stack: Stack,
    lead_id: str,
    *,
    rep: str = BEN,
    phone: str = BEN_PHONE,
    status: str = "sent",
    step: int = 0,
) -> None:
    """An SMS alert about the lead went to `rep` now, as the worker logs it."""
    now = stack.clock.now()
    stack.alerts.finish(
        AlertRecord(
            lead_id=lead_id,
            key=f"{step}:{rep}:sms",
            step=step,
            step_name="warn",
            recipient=rep,
            channel="sms",
            to=phone,
            status=status,
            due_at=now,
            created_at=now,
            called_at=now if status != "held" else None,
            provider_id="SM" + lead_id[-8:],
            attempts=1,
        )
    )


def deliver_due_timers(stack: Stack) -> None:
    """What Lambda does with the timers queue: the due messages, as one SQS batch."""
    due = [t for t in stack.timers.scheduled if t[2] <= stack.clock.now()]
    stack.timers.scheduled = [t for t in stack.timers.scheduled if t not in due]
    event = stack.client.events.generate_sqs_event(
        message_bodies=[TimerMessage(*t).to_json() for t in due], queue_name="leadclock-timers"
    )
    stack.client.lambda_.invoke("timer", event)


def snapshot(stack: Stack) -> tuple[Any, ...]:
    """Everything a text could change: leads, timelines, alerts, messages and calls."""
    return (
        sorted((lead.lead_id, repr(lead)) for lead in stack.leads()),
        sorted(repr(t) for t in stack.all_touchpoints()),
        sorted(repr(a) for a in stack.alerts.records.values()),
        {name: len(sender.sent) for name, sender in stack.senders.items()},
        sorted(stack.store.events),
    )


def test_an_sms_alert_tells_the_rep_what_to_reply_and_names_the_leads_ref(stack: Stack) -> None:
    lead_id = new_lead(stack)
    stack.clock.advance(seconds=20)  # the demo policy's warning: SMS and Slack to the owner

    deliver_due_timers(stack)

    [alert] = stack.senders["sms"].sent
    assert alert.to == BEN_PHONE
    hint = f"Reply 1 to claim, CALL to call, DONE when contacted (ref {lead_ref(lead_id)})."
    assert hint in alert.content.sms_body
    # The lead page link stays last, where a phone turns it into a link cleanly.
    assert alert.content.sms_body.endswith(alert.content.links["open"])
    # Slack and email cannot be answered by text: their text carries no hint.
    [slack] = stack.senders["slack"].sent
    assert "Reply 1" not in slack.content.text and "Reply 1" not in slack.content.html


def test_a_reply_of_1_claims_the_reps_latest_alerted_lead(stack: Stack) -> None:
    lead_id = new_lead(stack)
    stack.clock.advance(seconds=20)
    deliver_due_timers(stack)
    stack.clock.advance(seconds=3)

    reply = answer_of(text(stack, "1"))

    lead = stack.lead(lead_id)
    assert (lead.claimed_by, lead.claimed_at) == (BEN, stack.clock.now())
    assert lead.paused_until is not None and lead.paused_until > stack.clock.now()
    assert reply == (
        f"Claimed Kai Moss (website, ref {lead_ref(lead_id)}). "
        "Reply CALL to call them, DONE when you've reached them."
    )


@pytest.mark.parametrize("body", ["CLAIM", " claim ", "Claim!", "1.", "claim ref {ref}"])
def test_claim_is_read_in_any_case_and_with_or_without_the_ref(stack: Stack, body: str) -> None:
    lead_id = new_lead(stack)
    alerted(stack, lead_id)

    reply = answer_of(text(stack, body.format(ref=lead_ref(lead_id).lower())))

    assert stack.lead(lead_id).claimed_by == BEN
    assert reply is not None and reply.startswith("Claimed Kai Moss")


def test_done_stops_the_clock_of_the_latest_alerted_lead(stack: Stack) -> None:
    lead_id = new_lead(stack)
    stack.clock.advance(seconds=20)
    deliver_due_timers(stack)
    stack.clock.advance(seconds=4)

    reply = answer_of(text(stack, "DONE"))

    lead = stack.lead(lead_id)
    assert (lead.first_response_by, lead.speed_wall_s, lead.sla_met) == (BEN, 24.0, True)
    assert lead.next_step is None  # the ladder stops with the clock
    assert [t.kind for t in stack.touchpoints(lead_id)].count("contacted") == 1
    assert (
        reply == f"Marked Kai Moss (website, ref {lead_ref(lead_id)}) contacted after 24s, "
        "SLA met. Thanks!"
    )


def test_a_ref_picks_an_older_alerted_lead(stack: Stack) -> None:
    older = new_lead(stack, "Ada Older", "+14155550166")
    alerted(stack, older)
    stack.clock.advance(seconds=5)
    newer = new_lead(stack, "Nia Newer", "+14155550167")
    alerted(stack, newer)

    reply = answer_of(text(stack, f"claim {lead_ref(older)}"))

    assert stack.lead(older).claimed_by == BEN
    assert stack.lead(newer).claimed_by is None
    assert reply is not None and reply.startswith(
        f"Claimed Ada Older (website, ref {lead_ref(older)})"
    )


def test_without_a_ref_a_claim_takes_the_most_recent_alert(stack: Stack) -> None:
    older = new_lead(stack, "Ada Older", "+14155550166")
    alerted(stack, older)
    stack.clock.advance(seconds=5)
    newer = new_lead(stack, "Nia Newer", "+14155550167")
    alerted(stack, newer)

    reply = answer_of(text(stack, "1"))

    assert (stack.lead(newer).claimed_by, stack.lead(older).claimed_by) == (BEN, None)
    assert reply is not None and reply.startswith("Claimed Nia Newer")


def test_done_without_a_ref_asks_which_lead_when_several_are_open(stack: Stack) -> None:
    older = new_lead(stack, "Ada Older", "+14155550166")
    alerted(stack, older)
    stack.clock.advance(seconds=5)
    newer = new_lead(stack, "Nia Newer", "+14155550167")
    alerted(stack, newer)
    before = snapshot(stack)

    reply = answer_of(text(stack, "done"))

    assert snapshot(stack) == before
    assert reply == (
        f"Which lead? Your alerts: {lead_ref(newer)} Nia Newer, {lead_ref(older)} Ada Older. "
        "Reply DONE and its ref."
    )
    answer_of(text(stack, f"done {lead_ref(older)}", sid="SM" + "2" * 32))
    assert stack.lead(older).first_response_by == BEN
    assert stack.lead(newer).first_response_at is None


def test_done_without_a_ref_acts_when_the_latest_alerts_lead_is_the_only_open_one(
    stack: Stack,
) -> None:
    older = new_lead(stack, "Ada Older", "+14155550166")
    alerted(stack, older)
    answer_of(text(stack, f"DONE {lead_ref(older)}"))
    stack.clock.advance(seconds=5)
    newer = new_lead(stack, "Nia Newer", "+14155550167")
    alerted(stack, newer)

    reply = answer_of(text(stack, "DONE", sid="SM" + "2" * 32))

    assert stack.lead(newer).first_response_by == BEN
    assert reply is not None and reply.startswith("Marked Nia Newer")


def test_an_unknown_ref_changes_nothing_and_lists_the_reps_alerts(stack: Stack) -> None:
    lead_id = new_lead(stack)
    alerted(stack, lead_id)
    before = snapshot(stack)
    wrong = next(r for r in ("ZZZZ", "YYYY") if r != lead_ref(lead_id))

    reply = answer_of(text(stack, f"CLAIM {wrong}"))

    assert snapshot(stack) == before
    assert reply == (
        f"No recent alert to you has ref {wrong}. Your alerts: {lead_ref(lead_id)} Kai Moss."
    )


@pytest.mark.parametrize("body", ["hello?", "call me later", "", "HELP", "claim it now"])
def test_an_unknown_word_gets_the_help_text_and_changes_nothing(stack: Stack, body: str) -> None:
    lead_id = new_lead(stack)
    alerted(stack, lead_id)
    before = snapshot(stack)

    reply = answer_of(text(stack, body))

    assert snapshot(stack) == before
    assert reply == (
        "leadclock: reply 1 (claim), CALL or DONE to act on your latest alert; "
        "add its ref for another lead, e.g. DONE K7Q2."
    )


def test_stop_gets_no_reply_from_leadclock_twilio_answers_it(stack: Stack) -> None:
    lead_id = new_lead(stack)
    alerted(stack, lead_id)
    before = snapshot(stack)

    assert answer_of(text(stack, "STOP")) is None
    assert snapshot(stack) == before


def test_a_rep_with_no_alerts_is_told_how_replies_work(stack: Stack) -> None:
    lead_id = new_lead(stack)
    alerted(stack, lead_id)  # Ben's alert: none of Ana's business
    before = snapshot(stack)

    reply = answer_of(text(stack, "1", sender=ANA_PHONE))

    assert snapshot(stack) == before
    assert reply == (
        "leadclock: you have no recent alerts to act on. Replies work on the leads of alerts "
        "texted to you."
    )


def test_alerts_that_never_reached_the_phone_are_not_the_latest(stack: Stack) -> None:
    reached = new_lead(stack, "Ada Older", "+14155550166")
    alerted(stack, reached)
    stack.clock.advance(seconds=5)
    failed = new_lead(stack, "Nia Newer", "+14155550167")
    alerted(stack, failed, status="failed")

    answer_of(text(stack, "1"))

    assert (stack.lead(reached).claimed_by, stack.lead(failed).claimed_by) == (BEN, None)


def test_a_text_from_someone_who_is_not_a_rep_lands_as_a_lead_sms_without_reply(
    stack: Stack,
) -> None:
    lead_id = new_lead(stack)  # Kai Moss, who texts back to the number our texts came from
    lead_phone = stack.lead(lead_id).phone
    assert lead_phone is not None

    reply = answer_of(text(stack, "1", sender=lead_phone, sid="SM" + "9" * 32))

    assert reply is None
    [touch] = [t for t in stack.touchpoints(lead_id) if t.kind == "sms_received"]
    assert touch.detail["body"] == "1"
    assert touch.attribution.tracking_number == ALERTS_FROM
    assert stack.lead(lead_id).claimed_by is None


def test_a_stranger_texting_the_alerts_number_becomes_a_lead(stack: Stack) -> None:
    reply = answer_of(text(stack, "Do you fix skylights?", sender=CALLER))

    assert reply is None
    [lead] = stack.leads()
    assert lead.phone == CALLER
    assert [t.kind for t in stack.touchpoints(lead.lead_id)] == ["sms_received"]


@pytest.mark.parametrize("sender", [BEN_PHONE, CALLER])
def test_a_bad_signature_is_403_and_changes_nothing(stack: Stack, sender: str) -> None:
    lead_id = new_lead(stack)
    alerted(stack, lead_id)
    before = snapshot(stack)

    reply = text(stack, "DONE", sender=sender, token="not-the-auth-token")

    assert reply.status_code == 403
    assert snapshot(stack) == before


def test_a_signature_for_another_url_is_403(stack: Stack) -> None:
    lead_id = new_lead(stack)
    alerted(stack, lead_id)
    before = snapshot(stack)

    reply = text(stack, "1", url=PUBLIC_BASE_URL + "/webhooks/twilio/sms")

    assert reply.status_code == 403
    assert snapshot(stack) == before


@pytest.mark.parametrize("body", ["1", "DONE"])
def test_a_repeated_delivery_acts_once(stack: Stack, body: str) -> None:
    lead_id = new_lead(stack)
    alerted(stack, lead_id)
    stack.clock.advance(seconds=2)
    first = answer_of(text(stack, body))
    after_first = snapshot(stack)
    stack.clock.advance(seconds=2)

    again = answer_of(text(stack, body))  # Twilio retrying: the same MessageSid

    assert snapshot(stack) == after_first
    assert again == first


def test_call_rings_the_rep_through_the_bridge_once(stack: Stack) -> None:
    calls = stack.senders["voice"] = RecordingSender()
    lead_id = new_lead(stack)
    alerted(stack, lead_id)

    reply = answer_of(text(stack, "CALL"))

    [call] = calls.sent
    assert call.to == BEN_PHONE
    assert call.sender == ALERTS_FROM  # a form lead has no tracking number: the alerts number
    assert reply == (
        f"Calling you now: pick up and press 1 to be connected to Kai Moss (website, "
        f"ref {lead_ref(lead_id)})."
    )
    stack.clock.advance(seconds=3)

    again = answer_of(text(stack, "call"))  # a retry, or a second tap

    assert len(calls.sent) == 1
    assert again == (
        f"Already calling you for Kai Moss (website, ref {lead_ref(lead_id)}); "
        "pick up to be connected."
    )


def test_call_says_why_when_the_provider_refuses(stack: Stack) -> None:
    calls = stack.senders["voice"] = RecordingSender()
    calls.fail_next(DeliveryError("number blocked", permanent=True, code="21215"))
    lead_id = new_lead(stack)
    alerted(stack, lead_id)

    reply = answer_of(text(stack, "CALL"))

    assert calls.sent == []
    assert reply is not None and reply.startswith(
        f"Can't call Kai Moss (website, ref {lead_ref(lead_id)}): Twilio refused the call (21215)"
    )


def test_call_failing_for_now_asks_to_try_again(stack: Stack) -> None:
    calls = stack.senders["voice"] = RecordingSender()
    calls.fail_next(DeliveryError("timeout", permanent=False, code="503"))
    lead_id = new_lead(stack)
    alerted(stack, lead_id)

    reply = answer_of(text(stack, "CALL"))

    assert reply == (
        f"Couldn't place the call to Kai Moss (website, ref {lead_ref(lead_id)}) just now; "
        "reply CALL again in a minute."
    )
    stack.clock.advance(seconds=1)
    answer_of(text(stack, "CALL", sid="SM" + "2" * 32))
    assert len(calls.sent) == 1  # the failed try did not block the next


def test_the_reply_escapes_what_twiml_would_read_as_markup(stack: Stack) -> None:
    lead_id = new_lead(stack, "Tom & <Jerry>", "+14155550168")
    alerted(stack, lead_id)

    reply = answer_of(text(stack, "1"))

    assert reply is not None and reply.startswith("Claimed Tom & <Jerry> (website")


def test_a_command_from_someone_who_is_not_a_rep_acts_on_no_alert(stack: Stack) -> None:
    lead_id = new_lead(stack)
    alerted(stack, lead_id)

    assert answer_of(text(stack, "DONE", sender="+14155550199")) is None

    assert stack.lead(lead_id).first_response_at is None
    assert len(stack.leads()) == 2  # the stranger's text is a lead of its own


SENDERS = st.sampled_from([BEN_PHONE, ANA_PHONE, CALLER, "", "anonymous", "+1415555"])
BODIES = st.sampled_from(["1", "CLAIM", "CALL", "DONE", "STOP", "done ZZZZ"]) | st.text(max_size=40)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    texts=st.lists(
        st.tuples(SENDERS, BODIES, st.booleans(), st.sampled_from(["1", "2", "3"])),
        min_size=1,
        max_size=4,
    )
)
def test_random_texts_never_5xx_and_a_refused_one_changes_nothing(
    stack: Stack, texts: list[tuple[str, str, bool, str]]
) -> None:
    stack.reset()
    stack.senders["voice"] = RecordingSender()
    alerted(stack, new_lead(stack))
    for sender, body, with_sid, sid in texts:
        params = sms("SM" + sid * 32, body, From=sender, To=ALERTS_FROM)
        if not with_sid:
            params.pop("MessageSid")
        before = snapshot(stack)

        response = stack.twilio(PATH, params)
        stack.clock.advance(seconds=1)

        assert response.status_code in (200, 400), (response.status_code, response.body)
        if response.status_code == 200:
            answer_of(response)  # well-formed TwiML: one <Message> at most
        else:
            assert snapshot(stack) == before
        assert stack.partial_records() == []
