"""The Twilio webhooks: voice, dial-done, voicemail, SMS and status callbacks, signed by the
twilio library's RequestValidator over PUBLIC_BASE_URL + path and every parameter."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from chalice.test import HTTPResponse
from twilio.request_validator import RequestValidator

from chalicelib.domain.team import QueueConfig
from tests.fakes import T0
from tests.functional.conftest import (
    ACCOUNT_SID,
    ALERTS_SMS,
    CALLER,
    DIAL_DONE,
    DIAL_DONE_PREFIX,
    FALLBACK_NUMBER,
    PUBLIC_BASE_URL,
    SMS,
    STATUS,
    TEAM,
    TRACKING_NUMBER,
    TWILIO_ROUTES,
    TWILIO_TOKEN,
    VOICE,
    VOICEMAIL,
    Stack,
    body_of,
    call,
    sms,
)

CALL_SID = "CA" + "a" * 32
OTHER_CALL_SID = "CA" + "b" * 32
MESSAGE_SID = "SM" + "c" * 32
RECORDING_SID = "RE" + "d" * 32


def twiml(response: HTTPResponse) -> ET.Element:
    """The TwiML document of a response, after checking it is served as XML."""
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"] == "text/xml"
    root = ET.fromstring(response.body)
    assert root.tag == "Response"
    return root


def dial_done(call_sid: str, status: str, **params: str) -> dict[str, str]:
    return call(call_sid, CallStatus="in-progress", DialCallStatus=status, **params)


def voicemail(call_sid: str, recording_sid: str = RECORDING_SID) -> dict[str, str]:
    return call(
        call_sid,
        CallStatus="completed",
        RecordingSid=recording_sid,
        RecordingUrl=f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{recording_sid}",
        RecordingDuration="14",
    )


def status(call_sid: str, call_status: str, **params: str) -> dict[str, str]:
    return call(call_sid, CallStatus=call_status, CallDuration="31", SequenceNumber="0", **params)


def message_status(message_sid: str, state: str, to: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "MessageSid": message_sid,
        "SmsSid": message_sid,
        "MessageStatus": state,
        "SmsStatus": state,
        "From": TRACKING_NUMBER,
        "To": to,
        "ErrorCode": "",
    }


def only_lead(stack: Stack) -> Any:
    [lead] = stack.leads()
    return lead


# --- voice -------------------------------------------------------------------------------


def test_incoming_call_dials_the_owner_it_assigns_from_the_tracking_number(
    stack: Stack,
) -> None:
    root = twiml(stack.twilio(VOICE, call(CALL_SID)))

    [dial] = list(root)
    assert dial.tag == "Dial"
    owner = stack.team.rep(only_lead(stack).owner or "")
    assert owner is not None and owner.phone
    assert dial.attrib == {
        "action": f"{PUBLIC_BASE_URL}{DIAL_DONE_PREFIX}/{owner.id}",
        "callerId": TRACKING_NUMBER,
        "answerOnBridge": "true",
        "timeout": "20",
    }
    [number] = list(dial)
    assert (number.tag, number.text) == ("Number", owner.phone)


def test_with_no_rep_to_take_it_a_call_dials_the_queues_fallback_number(
    make_stack: Callable[..., Stack],
) -> None:
    nobody = dataclasses.replace(
        TEAM,
        queues=tuple(dataclasses.replace(q, members=(), fallback_owner=None) for q in TEAM.queues),
    )
    stack = make_stack(nobody)
    root = twiml(stack.twilio(VOICE, call(CALL_SID)))

    dial = root.find("Dial")
    assert dial is not None
    [number] = list(dial)
    assert (number.tag, number.text) == ("Number", FALLBACK_NUMBER)
    assert only_lead(stack).owner is None


def test_incoming_call_records_a_call_touchpoint_with_the_numbers_source_and_campaign(
    stack: Stack,
) -> None:
    stack.twilio(VOICE, call(CALL_SID))

    lead = only_lead(stack)
    assert lead.phone == CALLER
    touch = lead.first_touch
    assert (touch.source, touch.channel, touch.tracking_number) == (
        "google-ads",
        "call",
        TRACKING_NUMBER,
    )
    assert touch.campaign == "brand-search"
    assert touch.utm_raw == {"utm_campaign": "Brand_Search"}
    [point] = stack.touchpoints(lead.lead_id)
    assert (point.kind, point.event_key) == ("call_received", f"twilio:call:{CALL_SID}")
    assert point.detail["call_sid"] == CALL_SID


def test_call_to_an_unconfigured_number_is_a_phone_lead_routed_to_the_default_queue(
    stack: Stack,
) -> None:
    root = twiml(stack.twilio(VOICE, call(CALL_SID, To="+14155550999", Called="+14155550999")))

    lead = only_lead(stack)
    assert lead.queue == TEAM.default_queue
    owner = stack.team.rep(lead.owner or "")
    assert owner is not None
    assert root.find("Dial/Number").text == owner.phone  # type: ignore[union-attr]
    assert root.find("Dial").attrib["callerId"] == "+14155550999"  # type: ignore[union-attr]
    touch = lead.first_touch
    assert (touch.source, touch.tracking_number) == ("phone", "+14155550999")


def test_duplicate_call_sid_adds_one_touchpoint_and_still_answers_twiml(stack: Stack) -> None:
    first = twiml(stack.twilio(VOICE, call(CALL_SID)))
    stack.clock.advance(seconds=15)  # Twilio's fallback URL retry after a timeout
    again = twiml(stack.twilio(VOICE, call(CALL_SID)))

    assert ET.tostring(first) == ET.tostring(again)
    assert len(stack.leads()) == 1
    assert len(stack.all_touchpoints()) == 1


@pytest.mark.parametrize("caller", ["+266696687", "anonymous", "+7378742833", ""])
def test_anonymous_caller_still_records_a_lead(stack: Stack, caller: str) -> None:
    root = twiml(stack.twilio(VOICE, call(CALL_SID, From=caller, Caller=caller)))

    assert root.find("Dial") is not None
    lead = only_lead(stack)
    assert lead.phone is None
    assert [t.kind for t in stack.touchpoints(lead.lead_id)] == ["call_received"]


def test_two_anonymous_calls_are_two_leads_not_one(stack: Stack) -> None:
    stack.twilio(VOICE, call(CALL_SID, From="anonymous"))
    stack.twilio(VOICE, call(OTHER_CALL_SID, From="anonymous"))

    assert len(stack.leads()) == 2


def test_second_call_from_the_same_number_lands_on_the_same_lead(stack: Stack) -> None:
    stack.twilio(VOICE, call(CALL_SID))
    stack.clock.advance(days=1)
    stack.twilio(VOICE, call(OTHER_CALL_SID, To="+14155550122", Called="+14155550122"))

    lead = only_lead(stack)
    assert lead.first_touch.source == "google-ads"
    assert lead.last_touch.source == "yard-signs"
    assert lead.touch_count == 2


def test_queue_without_a_fallback_number_goes_straight_to_voicemail(
    make_stack: Callable[..., Stack],
) -> None:
    team = dataclasses.replace(TEAM, queues=(QueueConfig(name="inbound"),))
    stack = make_stack(team)

    root = twiml(stack.twilio(VOICE, call(CALL_SID)))

    assert root.find("Dial") is None
    assert root.find("Record").attrib["action"] == PUBLIC_BASE_URL + VOICEMAIL  # type: ignore[union-attr]
    assert len(stack.leads()) == 1


def test_queue_without_fallback_or_voicemail_hangs_up_after_recording_the_call(
    make_stack: Callable[..., Stack],
) -> None:
    team = dataclasses.replace(TEAM, queues=(QueueConfig(name="inbound", voicemail=False),))
    stack = make_stack(team)

    root = twiml(stack.twilio(VOICE, call(CALL_SID)))

    assert [child.tag for child in root] == ["Hangup"]
    assert len(stack.leads()) == 1


# --- the end of the forwarded call, voicemail --------------------------------------------


@pytest.mark.parametrize("outcome", ["no-answer", "busy", "failed", "canceled"])
def test_unanswered_forward_offers_voicemail_once_every_rep_was_rung(
    stack: Stack, outcome: str
) -> None:
    stack.twilio(VOICE, call(CALL_SID))
    everyone = ".".join(rep.id for rep in TEAM.reps)

    root = twiml(stack.twilio(f"{DIAL_DONE_PREFIX}/{everyone}", dial_done(CALL_SID, outcome)))

    record = root.find("Record")
    assert record is not None
    assert record.attrib["action"] == PUBLIC_BASE_URL + VOICEMAIL
    assert root.find("Say") is not None


def test_answered_forward_hangs_up_and_is_the_leads_first_response(stack: Stack) -> None:
    stack.twilio(VOICE, call(CALL_SID))
    owner = only_lead(stack).owner
    stack.clock.advance(seconds=120)  # 25 s ringing, then 95 s of conversation

    done = f"{DIAL_DONE_PREFIX}/{owner}"
    root = twiml(stack.twilio(done, dial_done(CALL_SID, "completed", DialCallDuration="95")))

    assert [child.tag for child in root] == ["Hangup"]
    lead = only_lead(stack)
    assert lead.first_response_by == owner
    assert lead.first_response_at == T0 + timedelta(seconds=25)  # answered, not hung up


def test_no_answer_rings_the_next_eligible_rep_then_the_one_after(
    make_stack: Callable[..., Stack],
) -> None:
    # Everyone on duty, so there is a next rep whatever the clock says.
    on_duty = tuple(
        dataclasses.replace(r, hours=None, status="active", out_of_office_until=None)
        for r in TEAM.reps
    )
    stack = make_stack(dataclasses.replace(TEAM, reps=on_duty))
    stack.twilio(VOICE, call(CALL_SID))
    owner = only_lead(stack).owner

    first = twiml(stack.twilio(f"{DIAL_DONE_PREFIX}/{owner}", dial_done(CALL_SID, "no-answer")))
    dial = first.find("Dial")
    assert dial is not None
    rung = dial.attrib["action"].rsplit("/", 1)[1].split(".")
    assert rung[0] == owner and len(rung) == 2 and rung[1] != owner
    nxt = stack.team.rep(rung[1])
    assert nxt is not None and dial.findtext("Number") == nxt.phone
    assert dial.attrib["callerId"] == TRACKING_NUMBER
    # The owner does not change: ringing someone else is not reassigning.
    assert only_lead(stack).owner == owner
    kinds = [p.kind for p in stack.touchpoints(only_lead(stack).lead_id)]
    assert kinds == ["call_received", "call_forwarded"]


def test_no_answer_with_voicemail_off_hangs_up(make_stack: Callable[..., Stack]) -> None:
    queue = QueueConfig(name="inbound", fallback_number=FALLBACK_NUMBER, voicemail=False)
    stack = make_stack(dataclasses.replace(TEAM, queues=(queue,)))
    stack.twilio(VOICE, call(CALL_SID))

    root = twiml(stack.twilio(DIAL_DONE, dial_done(CALL_SID, "no-answer")))

    assert [child.tag for child in root] == ["Hangup"]


def test_dial_outcome_is_recorded_on_the_callers_lead(stack: Stack) -> None:
    stack.twilio(VOICE, call(CALL_SID))
    stack.clock.advance(seconds=25)

    stack.twilio(DIAL_DONE, dial_done(CALL_SID, "no-answer"))

    lead = only_lead(stack)
    points = stack.touchpoints(lead.lead_id)
    assert [p.kind for p in points] == ["call_received", "call_forwarded"]
    assert points[1].detail["status"] == "no-answer"
    # An outcome is not a new touch: the lead's last touch is still the call.
    assert lead.last_touch.channel == "call"


def test_voicemail_records_a_touchpoint_on_the_callers_lead_and_hangs_up(stack: Stack) -> None:
    stack.twilio(VOICE, call(CALL_SID))
    stack.twilio(DIAL_DONE, dial_done(CALL_SID, "no-answer"))
    stack.clock.advance(seconds=40)

    root = twiml(stack.twilio(VOICEMAIL, voicemail(CALL_SID)))

    assert [child.tag for child in root] == ["Hangup"]
    lead = only_lead(stack)
    points = stack.touchpoints(lead.lead_id)
    assert [p.kind for p in points] == ["call_received", "call_forwarded", "voicemail_left"]
    assert points[-1].detail["recording_sid"] == RECORDING_SID
    assert points[-1].detail["RecordingUrl"].endswith(RECORDING_SID)


def test_voicemail_delivered_twice_adds_one_touchpoint(stack: Stack) -> None:
    stack.twilio(VOICE, call(CALL_SID))
    stack.twilio(VOICEMAIL, voicemail(CALL_SID))
    stack.twilio(VOICEMAIL, voicemail(CALL_SID))

    assert len(stack.all_touchpoints()) == 2


# --- SMS ---------------------------------------------------------------------------------


def test_incoming_sms_answers_an_empty_response_as_text_xml(stack: Stack) -> None:
    root = twiml(stack.twilio(SMS, sms(MESSAGE_SID, "Hi, can you quote a new roof?")))

    assert list(root) == []


def test_incoming_sms_records_an_sms_touchpoint_with_its_body(stack: Stack) -> None:
    stack.twilio(SMS, sms(MESSAGE_SID, "Hi, can you quote a new roof?"))

    lead = only_lead(stack)
    assert (lead.phone, lead.first_touch.channel, lead.first_touch.source) == (
        CALLER,
        "sms",
        "google-ads",
    )
    [point] = stack.touchpoints(lead.lead_id)
    assert point.kind == "sms_received"
    assert point.detail == {"message_sid": MESSAGE_SID, "body": "Hi, can you quote a new roof?"}


def test_mms_keeps_its_media_urls(stack: Stack) -> None:
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    stack.twilio(
        SMS, sms(MESSAGE_SID, "", NumMedia="1", MediaUrl0=url, MediaContentType0="image/jpeg")
    )

    [point] = stack.all_touchpoints()
    assert point.detail["media_urls"] == [url]


def test_sms_delivered_twice_adds_one_touchpoint(stack: Stack) -> None:
    stack.twilio(SMS, sms(MESSAGE_SID, "hello"))
    stack.twilio(SMS, sms(MESSAGE_SID, "hello"))

    assert len(stack.all_touchpoints()) == 1


def test_sms_and_call_from_the_same_phone_are_one_lead(stack: Stack) -> None:
    stack.twilio(SMS, sms(MESSAGE_SID, "hello"))
    stack.clock.advance(minutes=1)
    stack.twilio(VOICE, call(CALL_SID))

    lead = only_lead(stack)
    assert [p.channel for p in stack.touchpoints(lead.lead_id)] == ["sms", "call"]


@pytest.mark.parametrize("word", ["STOP", "stop", " Stop ", "UNSUBSCRIBE", "cancel", "STOPALL"])
def test_stop_word_sets_sms_opt_out(stack: Stack, word: str) -> None:
    stack.twilio(SMS, sms(MESSAGE_SID, word))

    assert only_lead(stack).sms_opt_out is True


@pytest.mark.parametrize("word", ["START", "start", "UNSTOP", "yes"])
def test_start_word_clears_sms_opt_out(stack: Stack, word: str) -> None:
    stack.twilio(SMS, sms(MESSAGE_SID, "STOP"))
    stack.twilio(SMS, sms("SM" + "e" * 32, word))

    assert only_lead(stack).sms_opt_out is False


def test_help_leaves_sms_opt_out_as_it_was(stack: Stack) -> None:
    stack.twilio(SMS, sms(MESSAGE_SID, "STOP"))
    stack.twilio(SMS, sms("SM" + "e" * 32, "HELP"))

    assert only_lead(stack).sms_opt_out is True


def test_stop_inside_a_sentence_is_not_an_opt_out(stack: Stack) -> None:
    stack.twilio(SMS, sms(MESSAGE_SID, "Stop by tomorrow?"))

    assert only_lead(stack).sms_opt_out is False


def test_opt_out_type_stop_sets_opt_out_whatever_the_body(stack: Stack) -> None:
    stack.twilio(SMS, sms(MESSAGE_SID, "arrêter", OptOutType="STOP"))

    assert only_lead(stack).sms_opt_out is True


def test_opt_out_type_start_clears_opt_out(stack: Stack) -> None:
    stack.twilio(SMS, sms(MESSAGE_SID, "stop"))
    stack.twilio(SMS, sms("SM" + "e" * 32, "reprendre", OptOutType="START"))

    assert only_lead(stack).sms_opt_out is False


def test_opt_out_type_help_leaves_opt_out_unchanged(stack: Stack) -> None:
    stack.twilio(SMS, sms(MESSAGE_SID, "stop"))
    stack.twilio(SMS, sms("SM" + "e" * 32, "aide", OptOutType="HELP"))

    assert only_lead(stack).sms_opt_out is True


def test_sms_from_a_withheld_number_still_records_a_lead(stack: Stack) -> None:
    stack.twilio(SMS, sms(MESSAGE_SID, "hi", From="anonymous"))

    lead = only_lead(stack)
    assert lead.phone is None
    assert len(stack.touchpoints(lead.lead_id)) == 1


# --- status callbacks --------------------------------------------------------------------


def test_status_callback_is_recorded_on_the_calls_lead(stack: Stack) -> None:
    stack.twilio(VOICE, call(CALL_SID))

    response = stack.twilio(STATUS, status(CALL_SID, "completed"))

    assert response.status_code == 200
    lead = only_lead(stack)
    assert body_of(response) == {"lead_id": lead.lead_id, "status": "updated"}
    point = stack.touchpoints(lead.lead_id)[-1]
    assert (point.kind, point.detail["status"], point.detail["sid"]) == (
        "call_status",
        "completed",
        CALL_SID,
    )


def test_status_callback_delivered_twice_is_recorded_once(stack: Stack) -> None:
    stack.twilio(VOICE, call(CALL_SID))

    first = stack.twilio(STATUS, status(CALL_SID, "completed"))
    stack.clock.advance(seconds=5)
    again = stack.twilio(STATUS, status(CALL_SID, "completed"))

    assert (first.status_code, again.status_code) == (200, 200)
    assert body_of(again)["status"] == "duplicate"
    statuses = [p for p in stack.all_touchpoints() if p.kind == "call_status"]
    assert len(statuses) == 1


def test_each_status_of_one_call_is_its_own_touchpoint(stack: Stack) -> None:
    stack.twilio(VOICE, call(CALL_SID))
    for state in ("ringing", "in-progress", "completed"):
        stack.clock.advance(seconds=1)
        stack.twilio(STATUS, status(CALL_SID, state))

    statuses = [p.detail["status"] for p in stack.all_touchpoints() if p.kind == "call_status"]
    assert statuses == ["ringing", "in-progress", "completed"]


def test_status_for_an_unknown_call_is_200_and_creates_no_lead(stack: Stack) -> None:
    response = stack.twilio(STATUS, status(CALL_SID, "completed", From="anonymous"))

    assert response.status_code == 200
    assert body_of(response) == {"lead_id": None, "status": "unmatched"}
    assert stack.leads() == []
    assert stack.all_touchpoints() == []


def test_status_for_an_unknown_call_delivered_twice_is_still_200(stack: Stack) -> None:
    stack.twilio(STATUS, status(CALL_SID, "completed", From="anonymous"))
    again = stack.twilio(STATUS, status(CALL_SID, "completed", From="anonymous"))

    assert again.status_code == 200
    assert stack.leads() == []


def test_message_status_lands_on_the_recipients_lead(stack: Stack) -> None:
    stack.twilio(VOICE, call(CALL_SID))

    response = stack.twilio(STATUS, message_status(MESSAGE_SID, "delivered", to=CALLER))

    assert response.status_code == 200
    lead = only_lead(stack)
    assert body_of(response)["lead_id"] == lead.lead_id
    point = stack.touchpoints(lead.lead_id)[-1]
    assert (point.kind, point.detail["status"]) == ("message_status", "delivered")


def test_status_callback_without_a_sid_is_400_naming_the_field(stack: Stack) -> None:
    response = stack.twilio(STATUS, {"AccountSid": ACCOUNT_SID, "CallStatus": "completed"})

    assert response.status_code == 400
    assert body_of(response)["Field"] == "CallSid"
    assert stack.is_empty()


# --- signatures --------------------------------------------------------------------------

PARAMS_FOR = {
    VOICE: call(CALL_SID),
    DIAL_DONE: dial_done(CALL_SID, "no-answer"),
    VOICEMAIL: voicemail(CALL_SID),
    SMS: sms(MESSAGE_SID, "STOP"),
    STATUS: status(CALL_SID, "completed"),
    ALERTS_SMS: sms(MESSAGE_SID, "1"),
}


def assert_forbidden(stack: Stack, response: HTTPResponse) -> None:
    assert response.status_code == 403
    assert body_of(response)["Code"] == "forbidden"
    assert stack.is_empty()


@pytest.mark.parametrize("path", TWILIO_ROUTES)
def test_signature_with_another_token_is_403_and_nothing_stored(stack: Stack, path: str) -> None:
    response = stack.twilio(path, PARAMS_FOR[path], token="not-our-auth-token")

    assert_forbidden(stack, response)


@pytest.mark.parametrize("path", TWILIO_ROUTES)
def test_missing_signature_is_403_and_nothing_stored(stack: Stack, path: str) -> None:
    assert_forbidden(stack, stack.twilio(path, PARAMS_FOR[path], signature=""))


@pytest.mark.parametrize("path", TWILIO_ROUTES)
def test_signature_for_another_route_is_403_and_nothing_stored(stack: Stack, path: str) -> None:
    other = STATUS if path != STATUS else VOICE
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        PUBLIC_BASE_URL + other, PARAMS_FOR[path]
    )

    assert_forbidden(stack, stack.twilio(path, PARAMS_FOR[path], signature=signature))


def test_signature_over_the_url_without_the_stage_is_403(stack: Stack) -> None:
    url = PUBLIC_BASE_URL.removesuffix("/api") + VOICE
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, call(CALL_SID))

    assert_forbidden(stack, stack.twilio(VOICE, call(CALL_SID), signature=signature))


def test_blank_parameters_are_part_of_the_signed_string(stack: Stack) -> None:
    params = call(CALL_SID)
    assert params["FromCity"] == ""
    # Twilio appends "FromCity" + "" for a blank: a signature over the params without the
    # blanks is a different signature, and a server that dropped blanks would refuse Twilio.
    without_blanks = {k: v for k, v in params.items() if v}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        PUBLIC_BASE_URL + VOICE, without_blanks
    )

    assert stack.twilio(VOICE, params).status_code == 200
    stack.reset()
    assert_forbidden(stack, stack.twilio(VOICE, params, signature=signature))


def test_a_parameter_changed_after_signing_is_403(stack: Stack) -> None:
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        PUBLIC_BASE_URL + VOICE, call(CALL_SID)
    )

    response = stack.twilio(VOICE, call(CALL_SID, From="+14155550177"), signature=signature)

    assert_forbidden(stack, response)


def test_without_public_base_url_the_host_is_signed_and_twiml_urls_follow_it(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(env={"LEADCLOCK_ADMIN_KEY_REF": "env:LEADCLOCK_ADMIN_KEY"})
    host = {"Host": "abc123.execute-api.us-east-1.amazonaws.com"}
    url = f"https://{host['Host']}{VOICE}"

    root = twiml(stack.twilio(VOICE, call(CALL_SID), url=url, headers=host))

    # Built from the URL Twilio just fetched, so a stage prefix such as /api/ is kept.
    owner = only_lead(stack).owner
    action = root.find("Dial").attrib["action"]  # type: ignore[union-attr]
    assert action == f"https://{host['Host']}{DIAL_DONE_PREFIX}/{owner}"
    stack.reset()
    everyone = f"{DIAL_DONE_PREFIX}/" + ".".join(rep.id for rep in TEAM.reps)
    dial = stack.twilio(
        everyone,
        dial_done(CALL_SID, "no-answer"),
        url=f"https://{host['Host']}{everyone}",
        headers=host,
    )
    record = twiml(dial).find("Record")
    assert record is not None and record.attrib["action"] == f"https://{host['Host']}{VOICEMAIL}"


def test_twilio_json_body_is_refused_as_an_unsupported_media_type(stack: Stack) -> None:
    response = stack.post(VOICE, b'{"CallSid": "CA1"}', {"Content-Type": "application/json"})

    assert response.status_code == 415
    assert stack.is_empty()
