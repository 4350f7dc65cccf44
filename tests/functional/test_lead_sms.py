"""A rep texts a lead through the app: refused when the lead opted out or it is night where
they live; Twilio's signed "sent"/"delivered" callback stops the clock."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import pytest
from chalice.test import Client, HTTPResponse
from twilio.request_validator import RequestValidator

from app import app
from chalicelib.ports import DeliveryError
from tests.fakes import T0
from tests.functional.conftest import (
    ACCOUNT_SID,
    ADMIN_KEY,
    CALLER,
    FORM,
    JSON,
    PUBLIC_BASE_URL,
    SMS,
    TEAM,
    TRACKING_NUMBER,
    TWILIO_TOKEN,
    Stack,
    body_of,
    sms,
)

ROUTE = "/leads/{lead_id}/sms"
STATUS = "/webhooks/twilio/lead-sms-status"
NY_PHONE = "+12125550165"  # 09:00 in New York at T0 (14:00 UTC)
LA_PHONE = "+14155550165"  # 06:00 in California at T0
ALERTS_FROM = "+14155550190"  # the demo team's alerts.sms from


@pytest.fixture(scope="module")
def texting() -> Client:
    return Client(app)


def _send(
    texting: Client,
    lead_id: str,
    body: Mapping[str, Any] | bytes | None = None,
    *,
    key: str | None = None,
) -> HTTPResponse:
    raw = (
        body
        if isinstance(body, bytes)
        else json.dumps(body or {"body": "Hi, Ana here", "by": "ana"})
    )
    headers = {"Content-Type": JSON, "x-api-key": ADMIN_KEY}
    if key is not None:
        headers["Idempotency-Key"] = key
    return texting.http.post(f"/leads/{lead_id}/sms", headers=headers, body=raw)


def _status(
    texting: Client, stack: Stack, lead_id: str, sid: str, status: str, **kwargs: Any
) -> HTTPResponse:
    """Twilio's message status callback, signed with the team's auth token."""

    path = f"{STATUS}/{lead_id}"
    params = {
        "AccountSid": ACCOUNT_SID,
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "To": NY_PHONE,
        "From": ALERTS_FROM,
        "ApiVersion": "2010-04-01",
    }
    token = kwargs.get("token", TWILIO_TOKEN)
    signature = RequestValidator(token).compute_signature(PUBLIC_BASE_URL + path, params)
    headers = {"Content-Type": FORM, "X-Twilio-Signature": signature}
    return texting.http.post(path, headers=headers, body=urlencode(params).encode())


def _lead(stack: Stack, phone: str | None = NY_PHONE) -> str:
    fields = {"name": "Kai Moss", "email": "kai.moss@example.com"}
    reply = stack.website(fields | ({"phone": phone} if phone else {}))
    assert reply.status_code == 201, reply.body
    lead_id: str = body_of(reply)["lead_id"]
    return lead_id


def _kinds(stack: Stack, lead_id: str, kind: str) -> list[Any]:
    return [t for t in stack.touchpoints(lead_id) if t.kind == kind]


def test_a_text_goes_to_the_lead_and_lands_on_the_timeline(texting: Client, stack: Stack) -> None:
    lead_id = _lead(stack)

    reply = _send(texting, lead_id)

    assert reply.status_code == 200, reply.body
    assert body_of(reply) | {"at": None} == {
        "lead_id": lead_id,
        "status": "sent",
        "provider_id": "sms-1",
        "from": ALERTS_FROM,
        "at": None,
    }
    [delivery] = stack.senders["sms"].sent
    assert (delivery.to, delivery.content.text) == (NY_PHONE, "Hi, Ana here")
    assert delivery.sender == ALERTS_FROM
    assert delivery.status_callback == f"{PUBLIC_BASE_URL}{STATUS}/{lead_id}"
    [touch] = _kinds(stack, lead_id, "sms_sent")
    assert touch.channel == "sms"
    assert touch.detail == {"by": "ana", "provider_id": "sms-1", "from": ALERTS_FROM}
    # Sending is not the response yet: Twilio's "sent" callback is.
    assert stack.lead(lead_id).first_response_at is None


def test_a_lead_who_came_through_a_tracking_number_is_texted_from_it(
    texting: Client, stack: Stack
) -> None:
    stack.clock.advance(hours=3)  # 09:00 in California, where the caller's number is
    stack.twilio(SMS, sms("SM" + "1" * 32, "Do you do weekends?"))
    [lead] = stack.leads()
    assert lead.phone == CALLER

    reply = _send(texting, lead.lead_id)

    assert reply.status_code == 200, reply.body
    assert body_of(reply)["from"] == TRACKING_NUMBER
    [touch] = _kinds(stack, lead.lead_id, "sms_sent")
    assert touch.detail["from"] == TRACKING_NUMBER
    assert stack.senders["sms"].sent[-1].sender == TRACKING_NUMBER


def test_a_lead_who_opted_out_is_not_texted(texting: Client, stack: Stack) -> None:
    stack.clock.advance(hours=3)
    stack.twilio(SMS, sms("SM" + "2" * 32, "STOP"))
    [lead] = stack.leads()

    reply = _send(texting, lead.lead_id)

    assert reply.status_code == 409
    assert "opted out" in body_of(reply)["Message"]
    assert stack.senders["sms"].attempts == []


def test_no_text_goes_at_night_in_the_leads_own_zone(texting: Client, stack: Stack) -> None:
    lead_id = _lead(stack, LA_PHONE)  # 06:00 in California

    reply = _send(texting, lead_id)

    assert reply.status_code == 409
    message = body_of(reply)["Message"]
    assert "06:00" in message and "America/Los_Angeles" in message
    assert stack.senders["sms"].attempts == []
    stack.clock.advance(hours=2)  # 08:00 there
    assert _send(texting, lead_id).status_code == 200


def test_no_text_goes_after_nine_in_the_evening(texting: Client, stack: Stack) -> None:
    lead_id = _lead(stack)
    stack.clock.advance(hours=12)  # 21:00 in New York

    reply = _send(texting, lead_id)

    assert reply.status_code == 409
    assert stack.senders["sms"].attempts == []


def test_a_lead_without_a_phone_cannot_be_texted(texting: Client, stack: Stack) -> None:
    lead_id = _lead(stack, phone=None)

    reply = _send(texting, lead_id)

    assert reply.status_code == 409
    assert "no phone" in body_of(reply)["Message"]


def test_an_unknown_lead_is_404(texting: Client, stack: Stack) -> None:
    reply = _send(texting, "ld_0000000000000000")

    assert reply.status_code == 404
    assert stack.senders["sms"].attempts == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        ({"by": "ana"}, "body"),
        ({"body": "", "by": "ana"}, "body"),
        ({"body": "x" * 1001, "by": "ana"}, "body"),
        ({"body": "Hi"}, "by"),
        ({"body": "Hi", "by": "nobody"}, "by"),
    ],
)
def test_a_bad_body_is_400_naming_the_field(
    texting: Client, stack: Stack, body: Any, field: str
) -> None:
    lead_id = _lead(stack)

    reply = _send(texting, lead_id, body if isinstance(body, bytes) else json.dumps(body).encode())

    assert reply.status_code == 400
    assert body_of(reply)["Field"] == field
    assert stack.senders["sms"].attempts == []
    assert _kinds(stack, lead_id, "sms_sent") == []


def test_without_the_admin_key_nothing_is_sent(texting: Client, stack: Stack) -> None:
    lead_id = _lead(stack)

    reply = texting.http.post(
        f"/leads/{lead_id}/sms",
        headers={"Content-Type": JSON},
        body=json.dumps({"body": "Hi", "by": "ana"}),
    )

    assert reply.status_code == 401
    assert stack.senders["sms"].attempts == []


def test_a_provider_refusal_is_409_with_its_code(texting: Client, stack: Stack) -> None:
    lead_id = _lead(stack)
    stack.senders["sms"].fail_next(
        DeliveryError("Twilio 400: unsubscribed recipient", permanent=True, code="21610")
    )

    reply = _send(texting, lead_id)

    assert reply.status_code == 409
    assert "21610" in body_of(reply)["Message"]
    assert _kinds(stack, lead_id, "sms_sent") == []


def test_a_provider_failing_for_now_is_502_and_tried_once(texting: Client, stack: Stack) -> None:
    lead_id = _lead(stack)
    stack.senders["sms"].fail_next(DeliveryError("Twilio 503", permanent=False, code="503"))

    reply = _send(texting, lead_id)

    assert reply.status_code == 502
    assert "try again" in body_of(reply)["Message"]
    assert len(stack.senders["sms"].attempts) == 1
    assert _kinds(stack, lead_id, "sms_sent") == []


def test_the_same_idempotency_key_sends_once(texting: Client, stack: Stack) -> None:
    lead_id = _lead(stack)

    first = _send(texting, lead_id, key="tap-1")
    stack.clock.advance(seconds=5)
    again = _send(texting, lead_id, key="tap-1")
    other = _send(texting, lead_id, key="tap-2")

    assert (first.status_code, again.status_code, other.status_code) == (200, 200, 200)
    assert body_of(again)["status"] == "duplicate"
    assert body_of(again)["provider_id"] == body_of(first)["provider_id"]
    assert len(stack.senders["sms"].sent) == 2
    assert len(_kinds(stack, lead_id, "sms_sent")) == 2


def test_a_signed_delivered_callback_stops_the_clock_with_speed(
    texting: Client, stack: Stack
) -> None:
    lead_id = _lead(stack)
    stack.clock.advance(minutes=2)
    sid = body_of(_send(texting, lead_id))["provider_id"]
    stack.clock.advance(seconds=30)

    reply = _status(texting, stack, lead_id, sid, "delivered")

    assert reply.status_code == 200, reply.body
    assert body_of(reply) == {"status": "delivered"}
    lead = stack.lead(lead_id)
    assert lead.first_response_at == T0.replace(minute=2, second=30)
    assert lead.first_response_by == "ana"
    assert lead.speed_wall_s == 150
    [touch] = _kinds(stack, lead_id, "sms_delivered")
    assert touch.detail == {"sid": sid, "status": "delivered", "by": "ana"}


def test_a_forged_callback_is_403_and_changes_nothing(texting: Client, stack: Stack) -> None:
    lead_id = _lead(stack)
    sid = body_of(_send(texting, lead_id))["provider_id"]

    reply = _status(texting, stack, lead_id, sid, "delivered", token="not-the-token")

    assert reply.status_code == 403
    assert stack.lead(lead_id).first_response_at is None
    assert _kinds(stack, lead_id, "sms_delivered") == []


def test_a_repeated_callback_lands_once(texting: Client, stack: Stack) -> None:
    lead_id = _lead(stack)
    sid = body_of(_send(texting, lead_id))["provider_id"]
    stack.clock.advance(seconds=10)
    _status(texting, stack, lead_id, sid, "sent")
    stopped_at = stack.lead(lead_id).first_response_at
    stack.clock.advance(seconds=10)

    _status(texting, stack, lead_id, sid, "sent")
    _status(texting, stack, lead_id, sid, "delivered")
    _status(texting, stack, lead_id, sid, "delivered")

    assert stack.lead(lead_id).first_response_at == stopped_at
    statuses = [t.detail["status"] for t in _kinds(stack, lead_id, "sms_delivered")]
    assert sorted(statuses) == ["delivered", "sent"]


def test_a_callback_for_a_message_the_lead_was_not_sent_is_ignored(
    texting: Client, stack: Stack
) -> None:
    lead_id = _lead(stack)

    reply = _status(texting, stack, lead_id, "SM" + "9" * 32, "delivered")

    assert body_of(reply) == {"status": "ignored"}
    assert stack.lead(lead_id).first_response_at is None


def test_the_team_file_sets_the_texting_hours(
    texting: Client, make_stack: Callable[..., Stack]
) -> None:
    stack = make_stack(team=replace(TEAM, lead_sms_hours=(10 * 60, 17 * 60)))
    lead_id = _lead(stack)  # 09:00 in New York: inside the default hours, not these

    refused = _send(texting, lead_id)

    assert refused.status_code == 409
    assert "10:00-17:00" in body_of(refused)["Message"]
    assert stack.senders["sms"].attempts == []
    stack.clock.advance(hours=1)  # 10:00 there
    assert _send(texting, lead_id).status_code == 200
