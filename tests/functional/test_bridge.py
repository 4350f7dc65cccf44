"""Click-to-call through the app: a tap rings the rep's phone, the rep hears who is waiting and
presses 1, Twilio dials the lead from the tracking number, and the lead leg's signed status
callbacks record the first attempt (placed, the clock stops) and the first connect (answered).
Every Twilio request is checked against Twilio's signature and the bridge token in its path."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from chalice.test import HTTPResponse
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from chalicelib.domain.links import grant, sign
from chalicelib.domain.model import Lead, Touchpoint
from chalicelib.domain.team import TeamConfig
from chalicelib.ports import Delivery, DeliveryError
from tests.fakes import T0, RecordingSender
from tests.functional.conftest import (
    ACCOUNT_SID,
    ADMIN_KEY,
    CALLER,
    DIAL_DONE_PREFIX,
    FORM,
    JSON,
    PUBLIC_BASE_URL,
    SETTINGS,
    TEAM,
    TRACKING_NUMBER,
    TWILIO_TOKEN,
    VOICE,
    Stack,
    body_of,
    call,
)

LINK_SECRET = "link-secret-for-tests"
ALERTS_FROM = "+14155550190"  # the demo team's alerts SMS number: the caller id without tracking
ANA_PHONE = "+14155550131"
NY_PHONE = "+12125550165"  # a web lead in New York (09:00 there at T0)
REP_LEG = "CA" + "1" * 32  # the call to the rep
LEAD_LEG = "CA" + "2" * 32  # the dial from it to the lead
TAILS = ("answer", "connect", "done", "lead-status", "rep-status")
LEG_EVENTS = "initiated ringing answered completed"


# --- the stack, leads and requests ----------------------------------------------------------


@pytest.fixture
def calls(stack: Stack) -> RecordingSender:
    """The "voice" sender: it records each call Twilio would place."""
    return _with_voice(stack)


def _with_voice(stack: Stack) -> RecordingSender:
    sender = RecordingSender()
    stack.senders["voice"] = sender
    return sender


def _without_phone(rep_id: str) -> TeamConfig:
    reps = tuple(dataclasses.replace(r, phone=None) if r.id == rep_id else r for r in TEAM.reps)
    return dataclasses.replace(TEAM, reps=reps)


def _tracked_lead(stack: Stack) -> str:
    """Kai Moss: called the Google Ads tracking number, then filled the website form, so the
    lead has a name and came through a tracking number (its first touch)."""
    assert stack.twilio(VOICE, call("CA" + "9" * 32)).status_code == 200
    reply = stack.website({"name": "Kai Moss", "phone": CALLER})
    assert reply.status_code in (200, 201), reply.body
    lead_id: str = body_of(reply)["lead_id"]
    assert stack.lead(lead_id).first_touch.tracking_number == TRACKING_NUMBER
    return lead_id


def _web_lead(stack: Stack, phone: str | None = NY_PHONE, name: str = "Ada Stone") -> str:
    fields = {"name": name, "email": f"{name.split()[0].lower()}@example.com"}
    reply = stack.website(fields | ({"phone": phone} if phone else {}))
    assert reply.status_code == 201, reply.body
    lead_id: str = body_of(reply)["lead_id"]
    return lead_id


def _tap(
    stack: Stack, lead_id: str, by: Any = "ana", *, key: str | None = ADMIN_KEY
) -> HTTPResponse:
    headers = {"Content-Type": JSON} | ({"x-api-key": key} if key is not None else {})
    body = json.dumps({"by": by} if by is not None else {})
    return stack.client.http.post(f"/leads/{lead_id}/call", headers=headers, body=body)


def _base(delivery: Delivery) -> str:
    """The path (after PUBLIC_BASE_URL) of a call's Twilio URLs: /bridge/<token>."""
    assert delivery.answer_url is not None
    assert delivery.answer_url.startswith(PUBLIC_BASE_URL + "/bridge/")
    return delivery.answer_url.removeprefix(PUBLIC_BASE_URL).removesuffix("/answer")


def _ring(stack: Stack, calls: RecordingSender, lead_id: str, by: str = "ana") -> str:
    """Tap Call and return the base path of the call's Twilio URLs."""
    reply = _tap(stack, lead_id, by)
    assert reply.status_code == 200, reply.body
    return _base(calls.sent[-1])


def _rep_leg(status: str = "in-progress", **params: str) -> dict[str, str]:
    """What Twilio posts about the call to the rep (answer URL, gather action, rep status)."""
    base = {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": REP_LEG,
        "CallStatus": status,
        "Direction": "outbound-api",
        "From": TRACKING_NUMBER,
        "To": ANA_PHONE,
    }
    return base | params


def _lead_leg(
    status: str, *, sid: str = LEAD_LEG, to: str = CALLER, **params: str
) -> dict[str, str]:
    """What Twilio posts to the <Number>'s statusCallback about the dial to the lead."""
    base = {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": sid,
        "ParentCallSid": REP_LEG,
        "CallStatus": status,
        "Direction": "outbound-dial",
        "From": TRACKING_NUMBER,
        "To": to,
        "CallbackSource": "call-progress-events",
        "SequenceNumber": "0",
    }
    return base | params


def _twiml(reply: HTTPResponse) -> ET.Element:
    assert reply.status_code == 200, reply.body
    assert reply.headers["Content-Type"] == "text/xml"
    root = ET.fromstring(reply.body)
    assert root.tag == "Response"
    return root


def _reply_body(stack: Stack, path: str, params: Mapping[str, str] | None = None) -> str:
    reply = stack.twilio(path, params or _rep_leg())
    assert reply.status_code == 200, reply.body
    return reply.body.decode()


def _api_lead(stack: Stack, lead_id: str) -> dict[str, Any]:
    reply = stack.api(f"/leads/{lead_id}")
    assert reply.status_code == 200, reply.body
    body: dict[str, Any] = body_of(reply)
    return body


def _kinds(stack: Stack, lead_id: str, kind: str) -> list[Touchpoint]:
    return [t for t in stack.touchpoints(lead_id) if t.kind == kind]


def _snapshot(stack: Stack, lead_id: str) -> tuple[Lead, list[Touchpoint]]:
    return stack.lead(lead_id), stack.touchpoints(lead_id)


def _iso(at: datetime) -> str:
    return at.isoformat()


# --- POST /leads/{id}/call ------------------------------------------------------------------


def test_a_tap_on_call_rings_the_reps_phone_from_the_leads_tracking_number(
    stack: Stack, calls: RecordingSender
) -> None:
    lead_id = _tracked_lead(stack)
    stack.clock.advance(seconds=5)

    reply = _tap(stack, lead_id)

    assert reply.status_code == 200, reply.body
    assert body_of(reply) == {
        "lead_id": lead_id,
        "status": "calling",
        "call_sid": "voice-1",
        "rep": "ana",
        "caller_id": TRACKING_NUMBER,
        "at": _iso(T0 + timedelta(seconds=5)),
    }
    [delivery] = calls.sent
    assert (delivery.channel, delivery.to, delivery.sender) == ("voice", ANA_PHONE, TRACKING_NUMBER)
    base = _base(delivery)
    assert delivery.answer_url == f"{PUBLIC_BASE_URL}{base}/answer"
    assert delivery.status_callback == f"{PUBLIC_BASE_URL}{base}/rep-status"
    [started] = _kinds(stack, lead_id, "bridge_started")
    assert started.detail == {"by": "ana", "sid": "voice-1", "caller_id": TRACKING_NUMBER}
    assert started.at == T0 + timedelta(seconds=5)
    assert stack.lead(lead_id).first_response_at is None  # ringing the rep is no response yet


def test_a_web_lead_without_a_tracking_number_is_called_from_the_alerts_number(
    stack: Stack, calls: RecordingSender
) -> None:
    lead_id = _web_lead(stack)

    reply = _tap(stack, lead_id)

    assert body_of(reply)["caller_id"] == ALERTS_FROM
    assert calls.sent[0].sender == ALERTS_FROM


def test_a_double_tap_within_a_minute_places_one_call_and_a_minute_later_another(
    stack: Stack, calls: RecordingSender
) -> None:
    lead_id = _tracked_lead(stack)
    first = _tap(stack, lead_id)
    stack.clock.advance(seconds=30)

    again = _tap(stack, lead_id)

    assert again.status_code == 200
    assert body_of(again)["status"] == "duplicate"
    assert body_of(again)["call_sid"] == body_of(first)["call_sid"]
    assert len(calls.attempts) == 1
    assert len(_kinds(stack, lead_id, "bridge_started")) == 1

    stack.clock.advance(seconds=31)
    later = _tap(stack, lead_id)

    assert body_of(later)["status"] == "calling"
    assert body_of(later)["call_sid"] == "voice-2"
    assert len(calls.sent) == 2
    assert len(_kinds(stack, lead_id, "bridge_started")) == 2


def test_another_rep_tapping_at_once_gets_their_own_call(
    stack: Stack, calls: RecordingSender
) -> None:
    lead_id = _tracked_lead(stack)
    _tap(stack, lead_id, "ana")

    reply = _tap(stack, lead_id, "ben")

    assert body_of(reply)["status"] == "calling"
    assert [d.to for d in calls.sent] == [ANA_PHONE, "+14155550132"]
    assert [t.detail["by"] for t in _kinds(stack, lead_id, "bridge_started")] == ["ana", "ben"]


def test_calling_an_unknown_lead_is_404(stack: Stack, calls: RecordingSender) -> None:
    reply = _tap(stack, "ld_0000000000000000")

    assert reply.status_code == 404
    assert calls.attempts == []


@pytest.mark.parametrize("by", ["nobody", None, 7, ""])
def test_calling_as_an_unknown_rep_is_400_naming_by(
    stack: Stack, calls: RecordingSender, by: Any
) -> None:
    lead_id = _tracked_lead(stack)
    before = _snapshot(stack, lead_id)

    reply = _tap(stack, lead_id, by)

    assert reply.status_code == 400
    assert body_of(reply)["Field"] == "by"
    assert calls.attempts == []
    assert _snapshot(stack, lead_id) == before


def test_a_rep_without_a_phone_is_409_saying_so(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(_without_phone("ana"))
    calls = _with_voice(stack)
    lead_id = _tracked_lead(stack)
    before = _snapshot(stack, lead_id)

    reply = _tap(stack, lead_id, "ana")

    assert reply.status_code == 409
    assert "ana has no phone number" in body_of(reply)["Message"]
    assert calls.attempts == []
    assert _snapshot(stack, lead_id) == before


def test_a_lead_without_a_phone_is_409_saying_so(stack: Stack, calls: RecordingSender) -> None:
    lead_id = _web_lead(stack, phone=None)
    before = _snapshot(stack, lead_id)

    reply = _tap(stack, lead_id)

    assert reply.status_code == 409
    assert "the lead has no phone number" in body_of(reply)["Message"]
    assert calls.attempts == []
    assert _snapshot(stack, lead_id) == before


def test_a_provider_failing_for_now_is_502_marks_nothing_and_a_retry_rings(
    stack: Stack, calls: RecordingSender
) -> None:
    lead_id = _tracked_lead(stack)
    before = _snapshot(stack, lead_id)
    calls.fail_next(DeliveryError("Twilio 503: unavailable", permanent=False, code="20503"))

    failed = _tap(stack, lead_id)

    assert failed.status_code == 502
    assert body_of(failed)["Code"] == "provider_unavailable"
    assert body_of(failed)["ProviderCode"] == "20503"
    assert "try again" in body_of(failed)["Message"]
    assert _snapshot(stack, lead_id) == before  # no bridge mark, nothing on the timeline

    retry = _tap(stack, lead_id)  # at once: not taken for a double tap

    assert body_of(retry)["status"] == "calling"
    assert len(calls.attempts) == 2 and len(calls.sent) == 1
    assert len(_kinds(stack, lead_id, "bridge_started")) == 1


def test_a_provider_refusal_is_409_with_its_code_and_marks_nothing(
    stack: Stack, calls: RecordingSender
) -> None:
    lead_id = _tracked_lead(stack)
    before = _snapshot(stack, lead_id)
    calls.fail_next(DeliveryError("Twilio 400: invalid To", permanent=True, code="21211"))

    reply = _tap(stack, lead_id)

    assert reply.status_code == 409
    assert "21211" in body_of(reply)["Message"]
    assert _snapshot(stack, lead_id) == before
    assert body_of(_tap(stack, lead_id))["status"] == "calling"


def test_with_no_voice_sender_a_tap_is_409_not_configured(stack: Stack) -> None:
    lead_id = _tracked_lead(stack)

    reply = _tap(stack, lead_id)

    assert reply.status_code == 409
    assert "not configured" in body_of(reply)["Message"]
    assert _kinds(stack, lead_id, "bridge_started") == []


def test_without_a_public_url_no_call_is_placed(make_stack: Callable[..., Stack]) -> None:
    env = {k: v for k, v in SETTINGS.items() if k != "PUBLIC_BASE_URL"}
    stack = make_stack(TEAM, env)
    calls = _with_voice(stack)
    lead_id = _web_lead(stack)
    before = _snapshot(stack, lead_id)

    reply = _tap(stack, lead_id)

    assert reply.status_code == 503  # Twilio would have no URL to fetch the whisper from
    assert calls.attempts == []
    assert _snapshot(stack, lead_id) == before


@pytest.mark.parametrize("key", [None, "not-the-admin-key"])
def test_without_the_admin_key_nothing_rings(
    stack: Stack, calls: RecordingSender, key: str | None
) -> None:
    lead_id = _tracked_lead(stack)
    before = _snapshot(stack, lead_id)

    reply = _tap(stack, lead_id, key=key)

    assert reply.status_code == 401
    assert calls.attempts == []
    assert _snapshot(stack, lead_id) == before


# --- the TwiML: whisper, connect, done -------------------------------------------------------


def test_answering_whispers_who_waits_from_where_and_asks_for_1(
    stack: Stack, calls: RecordingSender
) -> None:
    lead_id = _web_lead(stack, name="Ada Stone")
    base = _ring(stack, calls, lead_id)
    stack.clock.advance(minutes=3)

    root = _twiml(stack.twilio(f"{base}/answer", _rep_leg()))

    assert [child.tag for child in root] == ["Gather", "Say", "Hangup"]
    gather = root[0]
    assert gather.attrib["numDigits"] == "1"
    assert gather.attrib["action"] == f"{PUBLIC_BASE_URL}{base}/connect"
    assert gather.attrib["method"] == "POST"
    [say] = list(gather)
    text = say.text or ""
    assert say.tag == "Say"
    assert "Ada Stone" in text and "website" in text and "press 1" in text.lower()
    assert "waiting 3 minutes" in text
    expected = VoiceResponse()
    asked = expected.gather(num_digits=1, action=gather.attrib["action"], method="POST", timeout=8)
    asked.say(text)  # its words are checked above; here, the document around them
    expected.say("No key pressed. Goodbye.")
    expected.hangup()
    assert _reply_body(stack, f"{base}/answer") == str(expected)


def test_the_whisper_names_the_tracking_numbers_source(
    stack: Stack, calls: RecordingSender
) -> None:
    lead_id = _tracked_lead(stack)  # google-ads, campaign Brand_Search
    base = _ring(stack, calls, lead_id)

    text = _twiml(stack.twilio(f"{base}/answer", _rep_leg())).findtext("Gather/Say") or ""

    assert "Kai Moss" in text
    assert "google ads" in text.lower()


def test_pressing_1_dials_the_lead_from_the_tracking_number_with_a_leg_status_callback(
    stack: Stack, calls: RecordingSender
) -> None:
    lead_id = _tracked_lead(stack)
    base = _ring(stack, calls, lead_id)

    root = _twiml(stack.twilio(f"{base}/connect", _rep_leg(Digits="1")))

    [dial] = list(root)
    assert dial.tag == "Dial"
    assert dial.attrib["callerId"] == TRACKING_NUMBER
    assert dial.attrib["action"] == f"{PUBLIC_BASE_URL}{base}/done"
    [number] = list(dial)
    assert (number.tag, number.text) == ("Number", CALLER)
    assert number.attrib["statusCallback"] == f"{PUBLIC_BASE_URL}{base}/lead-status"
    assert number.attrib["statusCallbackEvent"] == LEG_EVENTS
    expected = VoiceResponse()
    dialled = expected.dial(
        action=f"{PUBLIC_BASE_URL}{base}/done",
        method="POST",
        timeout=30,
        caller_id=TRACKING_NUMBER,
    )
    dialled.number(
        CALLER,
        status_callback=f"{PUBLIC_BASE_URL}{base}/lead-status",
        status_callback_method="POST",
        status_callback_event=LEG_EVENTS,
    )
    assert _reply_body(stack, f"{base}/connect", _rep_leg(Digits="1")) == str(expected)
    # Dialling is not the response: the lead leg's own "initiated" is.
    assert stack.lead(lead_id).first_response_at is None


@pytest.mark.parametrize("digits", [{"Digits": "9"}, {"Digits": "#"}, {}])
def test_any_other_key_says_so_and_hangs_up_without_dialling(
    stack: Stack, calls: RecordingSender, digits: dict[str, str]
) -> None:
    lead_id = _tracked_lead(stack)
    base = _ring(stack, calls, lead_id)
    before = _snapshot(stack, lead_id)

    root = _twiml(stack.twilio(f"{base}/connect", _rep_leg(**digits)))

    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert root.find("Dial") is None
    assert _snapshot(stack, lead_id) == before


@pytest.mark.parametrize(
    ("outcome", "said"),
    [
        ("busy", "busy"),
        ("no-answer", "did not answer"),
        ("completed", "ended"),
        ("failed", "could not connect"),
    ],
)
def test_the_end_of_the_dial_tells_the_rep_how_it_went_and_hangs_up(
    stack: Stack, calls: RecordingSender, outcome: str, said: str
) -> None:
    lead_id = _tracked_lead(stack)
    base = _ring(stack, calls, lead_id)
    before = _snapshot(stack, lead_id)

    root = _twiml(stack.twilio(f"{base}/done", _rep_leg(DialCallStatus=outcome)))

    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert said in (root.findtext("Say") or "")
    assert _snapshot(stack, lead_id) == before


# --- the lead leg: first attempt, first connect ------------------------------------------------


def test_the_lead_leg_placed_stops_the_clock_as_the_first_attempt(
    stack: Stack, calls: RecordingSender
) -> None:
    lead_id = _tracked_lead(stack)
    assert stack.lead(lead_id).next_step is not None  # an alert is pending
    base = _ring(stack, calls, lead_id)
    stack.clock.advance(seconds=20)

    reply = stack.twilio(f"{base}/lead-status", _lead_leg("initiated"))

    assert reply.status_code == 200, reply.body
    assert body_of(reply) == {"status": "initiated"}
    lead = _api_lead(stack, lead_id)
    placed = _iso(T0 + timedelta(seconds=20))
    assert (lead["first_response_at"], lead["first_response_by"]) == (placed, "ana")
    assert (lead["speed_wall_s"], lead["sla_met"]) == (20.0, True)
    assert (lead["first_attempt_at"], lead["first_connect_at"]) == (placed, None)
    assert (lead["next_step"], lead["next_step_at"], lead["status"]) == (None, None, "contacted")
    [leg] = [t for t in lead["touchpoints"] if t["kind"] == "bridge_lead_leg"]
    assert leg["detail"] == {"by": "ana", "sid": LEAD_LEG, "status": "initiated"}


def test_the_lead_answering_is_the_first_connect_and_moves_no_first_response(
    stack: Stack, calls: RecordingSender
) -> None:
    lead_id = _tracked_lead(stack)
    base = _ring(stack, calls, lead_id)
    stack.clock.advance(seconds=20)
    stack.twilio(f"{base}/lead-status", _lead_leg("initiated"))
    stack.clock.advance(seconds=4)
    stack.twilio(f"{base}/lead-status", _lead_leg("ringing"))
    stack.clock.advance(seconds=8)

    reply = stack.twilio(f"{base}/lead-status", _lead_leg("in-progress"))
    stack.clock.advance(seconds=90)
    stack.twilio(f"{base}/lead-status", _lead_leg("completed", CallDuration="90"))

    assert body_of(reply) == {"status": "in-progress"}
    lead = _api_lead(stack, lead_id)
    assert lead["first_response_at"] == _iso(T0 + timedelta(seconds=20))
    assert lead["speed_wall_s"] == 20.0
    assert lead["first_attempt_at"] == _iso(T0 + timedelta(seconds=20))
    assert lead["first_connect_at"] == _iso(T0 + timedelta(seconds=32))
    legs = [t["detail"]["status"] for t in lead["touchpoints"] if t["kind"] == "bridge_lead_leg"]
    assert legs == ["initiated", "ringing", "in-progress", "completed"]


def test_a_repeated_leg_callback_adds_nothing(stack: Stack, calls: RecordingSender) -> None:
    lead_id = _tracked_lead(stack)
    base = _ring(stack, calls, lead_id)
    stack.clock.advance(seconds=20)
    stack.twilio(f"{base}/lead-status", _lead_leg("initiated"))
    stack.clock.advance(seconds=10)
    stack.twilio(f"{base}/lead-status", _lead_leg("in-progress"))
    before = _snapshot(stack, lead_id)
    stack.clock.advance(seconds=30)

    for status in ("initiated", "in-progress", "initiated"):
        reply = stack.twilio(f"{base}/lead-status", _lead_leg(status))
        assert reply.status_code == 200
        assert body_of(reply) == {"status": status}

    assert _snapshot(stack, lead_id) == before


def test_twilios_timestamp_is_the_time_of_the_attempt(stack: Stack, calls: RecordingSender) -> None:
    lead_id = _tracked_lead(stack)
    base = _ring(stack, calls, lead_id)
    placed = T0 + timedelta(seconds=40)
    stack.clock.advance(seconds=100)  # the callback came late (a retry)

    stack.twilio(f"{base}/lead-status", _lead_leg("initiated", Timestamp=format_datetime(placed)))

    lead = _api_lead(stack, lead_id)
    assert lead["first_attempt_at"] == lead["first_response_at"] == _iso(placed)
    assert lead["speed_wall_s"] == 40.0
    [leg] = _kinds(stack, lead_id, "bridge_lead_leg")
    assert leg.at == placed


@pytest.mark.parametrize(
    "stamp",
    [
        format_datetime(T0 - timedelta(days=2)),  # too old to be this call's
        format_datetime(T0 + timedelta(hours=1)),  # in the future
        "not a date",
    ],
)
def test_an_implausible_timestamp_gives_way_to_the_arrival_time(
    stack: Stack, calls: RecordingSender, stamp: str
) -> None:
    lead_id = _tracked_lead(stack)
    base = _ring(stack, calls, lead_id)
    stack.clock.advance(seconds=15)

    stack.twilio(f"{base}/lead-status", _lead_leg("initiated", Timestamp=stamp))

    assert stack.lead(lead_id).first_attempt_at == T0 + timedelta(seconds=15)


def test_a_failed_lead_leg_is_on_the_timeline_but_no_attempt(
    stack: Stack, calls: RecordingSender
) -> None:
    lead_id = _tracked_lead(stack)
    base = _ring(stack, calls, lead_id)

    reply = stack.twilio(f"{base}/lead-status", _lead_leg("failed"))

    assert body_of(reply) == {"status": "failed"}
    lead = stack.lead(lead_id)
    assert (lead.first_attempt_at, lead.first_response_at) == (None, None)
    [leg] = _kinds(stack, lead_id, "bridge_lead_leg")
    assert leg.detail["status"] == "failed"


def test_a_leg_callback_without_a_status_or_sid_is_ignored(
    stack: Stack, calls: RecordingSender
) -> None:
    lead_id = _tracked_lead(stack)
    base = _ring(stack, calls, lead_id)
    before = _snapshot(stack, lead_id)

    no_status = stack.twilio(f"{base}/lead-status", _lead_leg("") | {"CallStatus": ""})
    no_sid = stack.twilio(f"{base}/lead-status", _lead_leg("initiated", sid=""))

    assert body_of(no_status) == body_of(no_sid) == {"status": "ignored"}
    assert _snapshot(stack, lead_id) == before


def test_the_rep_legs_reports_only_go_on_the_timeline(stack: Stack, calls: RecordingSender) -> None:
    lead_id = _tracked_lead(stack)
    base = _ring(stack, calls, lead_id)
    pending = stack.lead(lead_id).next_step

    for status in ("initiated", "ringing", "in-progress", "completed", "completed"):
        stack.clock.advance(seconds=3)
        reply = stack.twilio(f"{base}/rep-status", _rep_leg(status))
        assert body_of(reply) == {"status": status}

    lead = stack.lead(lead_id)
    assert (lead.first_response_at, lead.first_attempt_at, lead.first_connect_at) == (
        None,
        None,
        None,
    )
    assert lead.next_step == pending  # the clock keeps running
    legs = _kinds(stack, lead_id, "bridge_rep_leg")
    statuses = [t.detail["status"] for t in legs]
    assert statuses == ["initiated", "ringing", "in-progress", "completed"]
    assert {t.detail["by"] for t in legs} == {"ana"}


# --- security --------------------------------------------------------------------------------


def _params_for(tail: str) -> dict[str, str]:
    return {
        "answer": _rep_leg(),
        "connect": _rep_leg(Digits="1"),
        "done": _rep_leg(DialCallStatus="completed"),
        "lead-status": _lead_leg("initiated"),
        "rep-status": _rep_leg("ringing"),
    }[tail]


def _refused(stack: Stack, reply: HTTPResponse, before: tuple[Lead, list[Touchpoint]]) -> None:
    assert reply.status_code == 403, reply.body
    assert body_of(reply)["Code"] == "forbidden"
    assert _snapshot(stack, before[0].lead_id) == before


@pytest.mark.parametrize("tail", TAILS)
def test_a_request_signed_with_another_token_is_403_and_changes_nothing(
    stack: Stack, calls: RecordingSender, tail: str
) -> None:
    lead_id = _tracked_lead(stack)
    base = _ring(stack, calls, lead_id)
    before = _snapshot(stack, lead_id)

    reply = stack.twilio(f"{base}/{tail}", _params_for(tail), token="not-our-auth-token")

    _refused(stack, reply, before)


@pytest.mark.parametrize("tail", TAILS)
def test_a_request_without_a_signature_is_403_and_changes_nothing(
    stack: Stack, calls: RecordingSender, tail: str
) -> None:
    lead_id = _tracked_lead(stack)
    base = _ring(stack, calls, lead_id)
    before = _snapshot(stack, lead_id)

    empty = stack.twilio(f"{base}/{tail}", _params_for(tail), signature="")
    absent = stack.post(
        f"{base}/{tail}", urlencode(_params_for(tail)).encode(), {"Content-Type": FORM}
    )

    _refused(stack, empty, before)
    _refused(stack, absent, before)


def test_a_signature_for_lead_as_call_cannot_be_replayed_on_lead_bs(
    stack: Stack, calls: RecordingSender
) -> None:
    lead_a = _tracked_lead(stack)
    lead_b = _web_lead(stack)
    base_a = _ring(stack, calls, lead_a)
    base_b = _ring(stack, calls, lead_b)
    before = _snapshot(stack, lead_b)
    params = _lead_leg("initiated", to=NY_PHONE)
    signed_for_a = RequestValidator(TWILIO_TOKEN).compute_signature(
        f"{PUBLIC_BASE_URL}{base_a}/lead-status", params
    )

    reply = stack.twilio(f"{base_b}/lead-status", params, signature=signed_for_a)

    _refused(stack, reply, before)


def test_lead_as_callbacks_leave_lead_b_untouched(stack: Stack, calls: RecordingSender) -> None:
    lead_a = _tracked_lead(stack)
    lead_b = _web_lead(stack)
    base_a = _ring(stack, calls, lead_a)
    _ring(stack, calls, lead_b)
    before_b = _snapshot(stack, lead_b)
    stack.clock.advance(seconds=10)

    # Even naming lead B's number, A's token acts on A alone.
    for tail in TAILS:
        params = _params_for(tail) | ({"To": NY_PHONE} if tail == "lead-status" else {})
        assert stack.twilio(f"{base_a}/{tail}", params).status_code == 200

    assert stack.lead(lead_a).first_attempt_at == T0 + timedelta(seconds=10)
    assert _snapshot(stack, lead_b) == before_b


def test_a_tampered_bridge_token_is_403(stack: Stack, calls: RecordingSender) -> None:
    lead_id = _tracked_lead(stack)
    base = _ring(stack, calls, lead_id)
    before = _snapshot(stack, lead_id)
    token = base.removeprefix("/bridge/")
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")

    for tail in TAILS:
        reply = stack.twilio(f"/bridge/{tampered}/{tail}", _params_for(tail))  # Twilio-signed
        _refused(stack, reply, before)


def test_lead_as_bridge_token_rewritten_for_lead_b_is_403(
    stack: Stack, calls: RecordingSender
) -> None:
    lead_a = _tracked_lead(stack)
    lead_b = _web_lead(stack)
    mac_a = _ring(stack, calls, lead_a).split(".")[1]
    # Lead B's payload (signed with a guess: only the payload part is kept) under A's MAC.
    payload_b = sign(grant(lead_b, "ana", "bridge", now=stack.clock.now()), "a-guess")
    before = _snapshot(stack, lead_b)

    forged = f"/bridge/{payload_b.split('.')[0]}.{mac_a}"
    reply = stack.twilio(f"{forged}/lead-status", _lead_leg("initiated"))

    _refused(stack, reply, before)


def test_a_bridge_token_outlives_a_long_call_and_expires_the_same_day(
    stack: Stack, calls: RecordingSender
) -> None:
    lead_id = _tracked_lead(stack)
    base = _ring(stack, calls, lead_id)
    stack.clock.advance(hours=7, minutes=59)  # a call's last callbacks come when it ends
    assert stack.twilio(f"{base}/rep-status", _rep_leg("ringing")).status_code == 200
    before = _snapshot(stack, lead_id)
    stack.clock.advance(minutes=1, seconds=1)

    for tail in TAILS:
        _refused(stack, stack.twilio(f"{base}/{tail}", _params_for(tail)), before)


@pytest.mark.parametrize("purpose", ["open", "call", "claim"])
def test_a_page_link_token_cannot_be_used_as_a_bridge_url(
    stack: Stack, calls: RecordingSender, purpose: str
) -> None:
    lead_id = _tracked_lead(stack)
    before = _snapshot(stack, lead_id)
    page_token = sign(grant(lead_id, "ana", purpose, now=stack.clock.now()), LINK_SECRET)

    for tail in TAILS:
        reply = stack.twilio(f"/bridge/{page_token}/{tail}", _params_for(tail))
        _refused(stack, reply, before)


def test_a_bridge_token_opens_no_lead_page(stack: Stack, calls: RecordingSender) -> None:
    lead_id = _tracked_lead(stack)
    token = _ring(stack, calls, lead_id).removeprefix("/bridge/")
    before = _snapshot(stack, lead_id)

    shown = stack.client.http.get(f"/r/{token}")
    acted = stack.client.http.post(
        f"/r/{token}",
        headers={"Content-Type": FORM},
        body=urlencode({"action": "call"}).encode(),
    )

    for reply in (shown, acted):
        assert reply.status_code == 403
        assert "Not allowed with this link" in reply.body.decode()
        assert "Kai Moss" not in reply.body.decode()
    assert len(calls.attempts) == 1
    assert _snapshot(stack, lead_id) == before


# --- the lead page's Call now ------------------------------------------------------------------


def _page_post(stack: Stack, token: str, action: str) -> HTTPResponse:
    body = urlencode({"action": action}).encode()
    return stack.client.http.post(f"/r/{token}", headers={"Content-Type": FORM}, body=body)


def test_call_now_on_the_lead_page_rings_the_rep_and_says_so(
    stack: Stack, calls: RecordingSender
) -> None:
    lead_id = _tracked_lead(stack)
    token = sign(grant(lead_id, "ana", "open", now=stack.clock.now()), LINK_SECRET)
    page = stack.client.http.get(f"/r/{token}").body.decode()
    assert 'name="action" value="call"' in page

    reply = _page_post(stack, token, "call")

    assert reply.status_code == 200
    assert "Calling your phone now" in reply.body.decode()
    [delivery] = calls.sent
    assert (delivery.to, delivery.sender) == (ANA_PHONE, TRACKING_NUMBER)
    [started] = _kinds(stack, lead_id, "bridge_started")
    assert started.detail["by"] == "ana"

    again = _page_post(stack, token, "call")  # the button twice

    assert "already being called" in again.body.decode()
    assert len(calls.attempts) == 1


def test_a_call_link_can_call_but_not_mark_contacted(stack: Stack, calls: RecordingSender) -> None:
    lead_id = _tracked_lead(stack)
    token = sign(grant(lead_id, "ana", "call", now=stack.clock.now()), LINK_SECRET)

    assert _page_post(stack, token, "contacted").status_code == 403
    assert _page_post(stack, token, "call").status_code == 200
    assert len(calls.sent) == 1
    assert stack.lead(lead_id).first_response_at is None


def test_the_page_of_a_lead_without_a_phone_offers_no_call(
    stack: Stack, calls: RecordingSender
) -> None:
    lead_id = _web_lead(stack, phone=None)
    token = sign(grant(lead_id, "ana", "open", now=stack.clock.now()), LINK_SECRET)

    page = stack.client.http.get(f"/r/{token}").body.decode()

    assert 'value="call"' not in page and "tel:" not in page
    assert 'value="claim"' in page


def test_call_now_for_a_rep_without_a_phone_shows_why_and_calls_nobody(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(_without_phone("ana"))
    calls = _with_voice(stack)
    lead_id = _tracked_lead(stack)
    token = sign(grant(lead_id, "ana", "open", now=stack.clock.now()), LINK_SECRET)
    before = _snapshot(stack, lead_id)

    reply = _page_post(stack, token, "call")

    assert reply.status_code == 200
    html = reply.body.decode()
    assert "Could not start the call" in html and "no phone number" in html
    assert calls.attempts == []
    assert _snapshot(stack, lead_id) == before


# --- first attempt and first connect from the other channels ----------------------------------

LEAD_SMS_STATUS = "/webhooks/twilio/lead-sms-status"


def test_a_text_sent_to_the_lead_is_the_first_attempt_and_no_connect(stack: Stack) -> None:
    lead_id = _web_lead(stack)
    stack.clock.advance(seconds=40)
    sent = stack.client.http.post(
        f"/leads/{lead_id}/sms",
        headers={"Content-Type": JSON, "x-api-key": ADMIN_KEY},
        body=json.dumps({"body": "Hi, Ana here", "by": "ana"}),
    )
    assert sent.status_code == 200, sent.body
    sid = body_of(sent)["provider_id"]
    assert stack.lead(lead_id).first_attempt_at is None  # Twilio has not sent it yet
    stack.clock.advance(seconds=2)

    stack.twilio(
        f"{LEAD_SMS_STATUS}/{lead_id}",
        {
            "AccountSid": ACCOUNT_SID,
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": "sent",
            "SmsStatus": "sent",
            "To": NY_PHONE,
            "From": ALERTS_FROM,
            "ApiVersion": "2010-04-01",
        },
    )

    lead = _api_lead(stack, lead_id)
    assert lead["first_attempt_at"] == lead["first_response_at"] == _iso(T0 + timedelta(seconds=42))
    assert lead["first_connect_at"] is None


def _answered_forward(stack: Stack, lead_id: str, sid: str, talked_s: int) -> None:
    """The owner answered the forwarded call `sid` and talked `talked_s` seconds."""
    done = call(
        sid, CallStatus="in-progress", DialCallStatus="completed", DialCallDuration=str(talked_s)
    )
    reply = stack.twilio(f"{DIAL_DONE_PREFIX}/{stack.lead(lead_id).owner}", done)
    assert reply.status_code == 200, reply.body


def test_an_answered_inbound_call_is_the_first_connect(stack: Stack) -> None:
    sid = "CA" + "3" * 32
    assert stack.twilio(VOICE, call(sid)).status_code == 200
    stack.clock.advance(seconds=120)  # 25 s ringing, then 95 s of conversation

    [lead] = stack.leads()
    _answered_forward(stack, lead.lead_id, sid, 95)

    body = _api_lead(stack, lead.lead_id)
    answered = _iso(T0 + timedelta(seconds=25))
    assert body["first_connect_at"] == body["first_response_at"] == answered
    assert body["speed_wall_s"] == 25.0


def test_an_inbound_call_answered_after_another_response_is_connected_at_the_answer(
    stack: Stack,
) -> None:
    sid = "CA" + "4" * 32
    stack.twilio(VOICE, call(sid))
    [lead] = stack.leads()
    stack.clock.advance(seconds=10)
    contacted = stack.client.http.post(
        f"/leads/{lead.lead_id}/events",
        headers={"Content-Type": JSON, "x-api-key": ADMIN_KEY},
        body=json.dumps({"type": "contacted", "by": "ana"}),
    )
    assert contacted.status_code in (200, 201), contacted.body
    assert stack.lead(lead.lead_id).first_response_at == T0 + timedelta(seconds=10)
    stack.clock.advance(seconds=50)  # answered at T0 + 30 s, then 30 s of conversation

    _answered_forward(stack, lead.lead_id, sid, 30)

    assert stack.lead(lead.lead_id).first_connect_at == T0 + timedelta(seconds=30)
