"""CRM activity through the app: a signed "call logged / email sent" for a lead is a response."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chalice.test import Client, HTTPResponse
from standardwebhooks.webhooks import Webhook

from app import app
from tests.fakes import T0
from tests.functional.conftest import (
    EVENTS,
    JSON,
    PARTNER_SECRET,
    WEBSITE_TOKEN,
    Stack,
    body_of,
)

ROUTE = "/webhooks/activity/{source}"
PHONE = "+14155550165"
EMAIL = "kai.moss@example.com"


@pytest.fixture(scope="module")
def crm() -> Client:
    return Client(app)


def _post(
    crm: Client,
    stack: Stack,
    body: bytes | Mapping[str, Any],
    *,
    msg_id: str = "msg_1",
    source: str = "partner",
    secret: str = PARTNER_SECRET,
    headers: Mapping[str, str] | None = None,
) -> HTTPResponse:
    """An activity signed as a Standard Webhooks sender signs it (as Stack.partner does)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    now = stack.clock.now()
    signed = {
        "Content-Type": JSON,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, raw.decode()),
    }
    return crm.http.post(
        f"/webhooks/activity/{source}", headers=signed | dict(headers or {}), body=raw
    )


def _new_lead(stack: Stack) -> str:
    reply = stack.website({"name": "Kai Moss", "phone": PHONE, "email": EMAIL})
    assert reply.status_code == 201, reply.body
    lead_id: str = body_of(reply)["lead_id"]
    return lead_id


def _crm_touches(stack: Stack, lead_id: str) -> list[dict[str, Any]]:
    timeline = body_of(stack.api(f"/leads/{lead_id}"))["touchpoints"]
    return [t for t in timeline if t["kind"] == "crm_activity"]


def test_a_signed_call_logged_by_phone_stops_the_clock_with_its_speed(
    stack: Stack, crm: Client
) -> None:
    lead_id = _new_lead(stack)
    stack.clock.advance(seconds=12)

    reply = _post(crm, stack, {"type": "call_logged", "phone": "(415) 555-0165", "by": "ben"})

    assert reply.status_code == 200, reply.body
    assert body_of(reply) == {"lead_id": lead_id, "status": "recorded", "first_response": True}
    lead = stack.lead(lead_id)
    assert (lead.speed_wall_s, lead.sla_met, lead.next_step) == (12.0, True, None)
    assert (lead.first_response_at, lead.first_response_by) == (T0 + timedelta(seconds=12), "ben")
    [touch] = _crm_touches(stack, lead_id)
    assert (touch["channel"], touch["attribution"]["source"]) == ("crm", "partner")
    assert touch["detail"] == {"type": "call_logged", "by": "ben"}
    assert touch["event_key"] == "activity:partner:msg_1"


def test_the_same_webhook_id_again_lands_once_even_without_an_at(stack: Stack, crm: Client) -> None:
    lead_id = _new_lead(stack)
    first = _post(crm, stack, {"type": "email_sent", "email": EMAIL})
    stack.clock.advance(seconds=30)  # a sender's retry comes later, freshly signed

    again = _post(crm, stack, {"type": "email_sent", "email": EMAIL})

    assert body_of(first)["status"] == "recorded"
    assert again.status_code == 200, again.body
    assert body_of(again) == {"lead_id": lead_id, "status": "duplicate", "first_response": True}
    assert len(_crm_touches(stack, lead_id)) == 1
    assert stack.lead(lead_id).first_response_at == T0


def test_a_lead_is_found_by_id_and_by_email_and_a_rep_by_email(stack: Stack, crm: Client) -> None:
    lead_id = _new_lead(stack)

    by_id = _post(crm, stack, {"type": "sms_sent", "lead_id": lead_id}, msg_id="m1")
    by_email = _post(
        crm,
        stack,
        {"type": "meeting_booked", "email": " Kai.Moss@Example.COM ", "by": "Ana@example.com"},
        msg_id="m2",
    )

    assert body_of(by_id) == {"lead_id": lead_id, "status": "recorded", "first_response": True}
    assert body_of(by_email) == {"lead_id": lead_id, "status": "recorded", "first_response": False}
    touches = _crm_touches(stack, lead_id)
    assert [t["detail"] for t in touches] == [
        {"type": "sms_sent"},
        {"type": "meeting_booked", "by": "ana"},
    ]


def test_activity_after_the_clock_stopped_is_on_the_timeline_but_not_the_first_response(
    stack: Stack, crm: Client
) -> None:
    lead_id = _new_lead(stack)
    stack.clock.advance(seconds=40)
    assert (
        _post(crm, stack, {"type": "call_logged", "phone": PHONE}, msg_id="m1").status_code == 200
    )
    stack.clock.advance(seconds=40)

    later = _post(crm, stack, {"type": "email_sent", "phone": PHONE}, msg_id="m2")

    assert body_of(later)["first_response"] is False
    assert stack.lead(lead_id).speed_wall_s == 40.0
    assert len(_crm_touches(stack, lead_id)) == 2


def test_a_back_dated_activity_counts_from_when_it_happened(stack: Stack, crm: Client) -> None:
    lead_id = _new_lead(stack)
    stack.clock.advance(minutes=5)
    at = (T0 + timedelta(seconds=20)).isoformat()

    reply = _post(crm, stack, {"type": "call_logged", "lead_id": lead_id, "at": at})

    assert body_of(reply)["first_response"] is True
    assert stack.lead(lead_id).speed_wall_s == 20.0


def test_an_unknown_lead_is_404_and_nothing_is_stored(stack: Stack, crm: Client) -> None:
    lead_id = _new_lead(stack)
    before = (stack.lead(lead_id), stack.touchpoints(lead_id))

    for body in (
        {"type": "call_logged", "phone": "+14155550199"},
        {"type": "call_logged", "email": "someone@else.example"},
        {"type": "call_logged", "lead_id": "no-such-lead"},
    ):
        reply = _post(crm, stack, body)
        assert reply.status_code == 404, body

    assert (stack.lead(lead_id), stack.touchpoints(lead_id)) == before


def test_a_bad_signature_is_401_and_nothing_is_stored(stack: Stack, crm: Client) -> None:
    lead_id = _new_lead(stack)
    before = (stack.lead(lead_id), stack.touchpoints(lead_id))
    body = {"type": "call_logged", "phone": PHONE}
    other = "whsec_" + "A" * 43 + "="

    wrong_key = _post(crm, stack, body, secret=other)
    tampered = _post(crm, stack, body, headers={"webhook-id": "msg_2"})
    unsigned = crm.http.post(
        "/webhooks/activity/partner", headers={"Content-Type": JSON}, body=json.dumps(body)
    )

    assert [r.status_code for r in (wrong_key, tampered, unsigned)] == [401, 401, 401]
    assert (stack.lead(lead_id), stack.touchpoints(lead_id)) == before


def test_a_source_without_signatures_or_an_unknown_source_is_401(stack: Stack, crm: Client) -> None:
    lead_id = _new_lead(stack)
    before = (stack.lead(lead_id), stack.touchpoints(lead_id))
    body = json.dumps({"type": "call_logged", "phone": PHONE})

    # The website source's token is right, but a token source may not report responses.
    token = crm.http.post(
        "/webhooks/activity/website",
        headers={"Content-Type": JSON, "X-Leadclock-Token": WEBSITE_TOKEN},
        body=body,
    )
    unknown = _post(crm, stack, {"type": "call_logged", "phone": PHONE}, source="nobody")

    assert (token.status_code, unknown.status_code) == (401, 401)
    assert (stack.lead(lead_id), stack.touchpoints(lead_id)) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[1]", "body"),
        ({"phone": PHONE}, "type"),
        ({"type": "contacted", "phone": PHONE}, "type"),
        ({"type": "call_logged"}, "lead_id"),
        ({"type": "call_logged", "phone": "12"}, "phone"),
        ({"type": "call_logged", "phone": 4155550165}, "phone"),
        ({"type": "call_logged", "email": "not-an-address"}, "email"),
        ({"type": "call_logged", "phone": PHONE, "at": "yesterday"}, "at"),
        ({"type": "call_logged", "phone": PHONE, "at": "2026-11-02T13:59:00"}, "at"),
        ({"type": "call_logged", "phone": PHONE, "at": "2026-11-02T14:01:00+00:00"}, "at"),
        ({"type": "call_logged", "phone": PHONE, "at": "2026-10-20T14:00:00Z"}, "at"),
        ({"type": "call_logged", "phone": PHONE, "by": "zed"}, "by"),
    ],
)
def test_bad_json_or_fields_are_400_naming_the_field_and_store_nothing(
    stack: Stack, crm: Client, body: bytes | dict[str, Any], field: str
) -> None:
    lead_id = _new_lead(stack)
    before = (stack.lead(lead_id), stack.touchpoints(lead_id))

    reply = _post(crm, stack, body)

    assert reply.status_code == 400, reply.body
    assert body_of(reply)["Field"] == field
    assert (stack.lead(lead_id), stack.touchpoints(lead_id)) == before


def test_the_example_payload_is_recorded(stack: Stack, crm: Client) -> None:
    lead_id = _new_lead(stack)
    example = (EVENTS / "crm_activity.json").read_bytes()
    # UTC: the standardwebhooks library reads a signing time's wall clock as UTC.
    at = datetime.fromisoformat(json.loads(example)["at"]).astimezone(UTC)
    stack.clock.current = at + timedelta(minutes=1)

    reply = _post(crm, stack, example)

    assert reply.status_code == 200, reply.body
    assert body_of(reply) == {"lead_id": lead_id, "status": "recorded", "first_response": True}
    assert stack.lead(lead_id).speed_wall_s == 180.0
    assert stack.lead(lead_id).first_response_by == "ben"
