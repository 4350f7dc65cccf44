"""The SLA clock and the ladder through the app: a lead's clock on capture, the SQS and sweeper
handlers, claim, "contacted", the alert log, and Twilio's delivery reports for alert SMS."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from chalice.test import HTTPResponse

from chalicelib.domain.sla import TimerMessage
from chalicelib.ports import DeliveryError
from tests.fakes import T0
from tests.functional.conftest import ADMIN_KEY, JSON, PUBLIC_BASE_URL, Stack, body_of


def _new_lead(stack: Stack) -> str:
    reply = stack.website({"name": "Kai Moss", "phone": "+14155550165"})
    assert reply.status_code == 201, reply.body
    lead_id: str = body_of(reply)["lead_id"]
    return lead_id


def _post(stack: Stack, path: str, body: Any, key: str | None = ADMIN_KEY) -> HTTPResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": JSON, **({"x-api-key": key} if key else {})}
    return stack.client.http.post(path, headers=headers, body=raw)


def _deliver_due_timers(stack: Stack) -> None:
    """What Lambda does with the timers queue: the due messages, as one SQS batch."""
    due = [t for t in stack.timers.scheduled if t[2] <= stack.clock.now()]
    stack.timers.scheduled = [t for t in stack.timers.scheduled if t not in due]
    bodies = [TimerMessage(*t).to_json() for t in due]
    event = stack.client.events.generate_sqs_event(
        message_bodies=bodies, queue_name="leadclock-timers"
    )
    stack.client.lambda_.invoke("timer", event)


def test_a_captured_lead_carries_its_clock_and_its_first_step_is_scheduled(stack: Stack) -> None:
    lead_id = _new_lead(stack)

    body = body_of(stack.api(f"/leads/{lead_id}"))

    # The demo queue's policy: 30 s, counted 24/7; the warning fires 10 s before due.
    assert body["sla_policy"] == "demo"
    assert body["sla_due_at"] == (T0 + timedelta(seconds=30)).isoformat()
    assert (body["next_step"], body["next_step_at"]) == (
        0,
        (T0 + timedelta(seconds=20)).isoformat(),
    )
    assert stack.timers.scheduled == [(lead_id, 0, T0 + timedelta(seconds=20))]


def test_the_sqs_handler_fires_the_due_step_and_the_log_lists_its_alerts(stack: Stack) -> None:
    lead_id = _new_lead(stack)
    owner = stack.lead(lead_id).owner
    stack.clock.advance(seconds=20)

    _deliver_due_timers(stack)

    reply = stack.api(f"/alerts?lead_id={lead_id}")
    alerts = body_of(reply)["alerts"]
    assert {(a["channel"], a["recipient"], a["status"]) for a in alerts} == {
        ("sms", owner, "sent"),
        ("slack", owner, "sent"),
    }
    assert all(a["lateness_s"] == 0.0 for a in alerts)
    assert len(stack.senders["sms"].sent) == 1
    assert stack.lead(lead_id).next_step == 1


def test_the_sweeper_schedule_fires_a_step_whose_message_was_lost(stack: Stack) -> None:
    lead_id = _new_lead(stack)
    stack.timers.scheduled.clear()  # the message never made it
    stack.clock.advance(seconds=25)

    stack.client.lambda_.invoke(
        "sweeper",
        stack.client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        ),
    )

    assert stack.lead(lead_id).next_step == 1
    assert len(stack.senders["sms"].sent) == 1


def test_claim_pauses_escalation_and_a_bad_claim_changes_nothing(stack: Stack) -> None:
    lead_id = _new_lead(stack)
    owner = stack.lead(lead_id).owner

    assert _post(stack, f"/leads/{lead_id}/claim", {"by": "nobody"}).status_code == 400
    assert _post(stack, f"/leads/{lead_id}/claim", {}).status_code == 400
    assert _post(stack, f"/leads/{lead_id}/claim", {"by": owner}, key=None).status_code == 401
    assert _post(stack, "/leads/ld_missing/claim", {"by": owner}).status_code == 404
    assert stack.lead(lead_id).claimed_by is None

    reply = _post(stack, f"/leads/{lead_id}/claim", {"by": owner})

    assert reply.status_code == 200, reply.body
    claimed = body_of(reply)
    assert claimed["claimed_by"] == owner
    # The demo policy's grace is a minute: the warning waits for it; the due time does not move.
    assert claimed["next_step_at"] == (T0 + timedelta(minutes=1)).isoformat()
    assert claimed["sla_due_at"] == (T0 + timedelta(seconds=30)).isoformat()
    stack.clock.advance(seconds=20)
    _deliver_due_timers(stack)
    assert stack.senders["sms"].sent == []


def test_contacted_stops_the_clock_with_speed_and_cancels_the_ladder(stack: Stack) -> None:
    lead_id = _new_lead(stack)
    owner = stack.lead(lead_id).owner
    stack.clock.advance(seconds=12)

    reply = _post(stack, f"/leads/{lead_id}/events", {"type": "contacted", "by": owner})

    assert reply.status_code == 200, reply.body
    body = body_of(reply)
    assert (body["speed_wall_s"], body["sla_met"], body["next_step"]) == (12.0, True, None)
    assert body["first_response_by"] == owner
    stack.clock.advance(seconds=60)
    _deliver_due_timers(stack)
    assert stack.senders["sms"].sent == []


def test_a_contacted_event_repeated_lands_once_on_the_timeline(stack: Stack) -> None:
    lead_id = _new_lead(stack)
    owner = stack.lead(lead_id).owner
    for _ in range(2):
        reply = _post(stack, f"/leads/{lead_id}/events", {"type": "contacted", "by": owner})
        assert reply.status_code == 200

    kinds = [t.kind for t in stack.touchpoints(lead_id)]
    assert kinds.count("contacted") == 1


def test_bad_events_get_a_4xx_naming_the_field_and_store_nothing(stack: Stack) -> None:
    lead_id = _new_lead(stack)
    before = stack.lead(lead_id)
    cases = [
        ({"type": "called"}, "type"),
        ({}, "type"),
        ({"type": "contacted", "by": "zed"}, "by"),
        ({"type": "contacted", "at": "yesterday"}, "at"),
        ({"type": "contacted", "at": "2026-11-02T14:00:00"}, "at"),
        ({"type": "contacted", "at": "2027-01-01T00:00:00Z"}, "at"),
    ]
    for body, field in cases:
        reply = _post(stack, f"/leads/{lead_id}/events", body)
        assert reply.status_code == 400, body
        assert body_of(reply)["Field"] == field
    assert _post(stack, f"/leads/{lead_id}/events", b"[1]").status_code == 400
    assert stack.lead(lead_id) == before


def test_failed_alerts_and_the_dead_letter_depth_are_listed(stack: Stack) -> None:
    lead_id = _new_lead(stack)
    stack.timers.dead = 2
    for sender in stack.senders.values():
        sender.fail_next(DeliveryError("down", permanent=True, code="21211"), times=3)
    stack.clock.advance(seconds=20)
    _deliver_due_timers(stack)

    body = body_of(stack.api("/alerts?status=failed"))

    assert body["dead_letters"] == 2
    failed = {(a["lead_id"], a["channel"]) for a in body["alerts"]}
    assert (lead_id, "sms") in failed and (lead_id, "slack") in failed
    assert stack.api("/alerts?status=lost").status_code == 400
    assert stack.api("/alerts?status=sent").status_code == 400  # across leads: attention only
    assert stack.api(f"/alerts?status=sent&lead_id={lead_id}").status_code == 200
    assert stack.api("/alerts?limit=0").status_code == 400
    assert stack.api("/alerts", key=None).status_code == 401


def test_twilio_reports_an_alert_sms_delivered(stack: Stack) -> None:
    lead_id = _new_lead(stack)
    owner = stack.lead(lead_id).owner
    stack.clock.advance(seconds=20)
    _deliver_due_timers(stack)
    sms = stack.senders["sms"].sent[0]
    assert sms.status_callback == (
        f"{PUBLIC_BASE_URL}/webhooks/twilio/alert-status/{lead_id}/0:{owner}:sms"
    )
    path = sms.status_callback.removeprefix(PUBLIC_BASE_URL)
    params = {"MessageSid": "SM1", "MessageStatus": "delivered", "AccountSid": "AC1"}

    forged = stack.twilio(path, params, signature="bad")
    assert forged.status_code == 403
    assert stack.alerts.get(lead_id, f"0:{owner}:sms").status == "sent"  # type: ignore[union-attr]

    reply = stack.twilio(path, params)

    assert reply.status_code == 200, reply.body
    assert stack.alerts.get(lead_id, f"0:{owner}:sms").status == "delivered"  # type: ignore[union-attr]


def test_the_outbox_exists_in_local_mode_only(stack: Stack) -> None:
    reply = stack.api("/outbox")
    assert reply.status_code == 404


def test_a_connected_call_stops_the_clock_with_its_speed(make_stack: Any) -> None:
    from tests.functional.conftest import DIAL_DONE_PREFIX, VOICE, call
    from tests.functional.test_call_forwarding_twiml import CALL_SID, ON_DUTY

    stack = make_stack(ON_DUTY)
    assert stack.twilio(VOICE, call(CALL_SID)).status_code == 200
    lead = stack.leads()[0]
    assert lead.sla_due_at is not None and lead.speed_wall_s is None
    stack.clock.advance(seconds=8)

    answered = call(CALL_SID, CallStatus="in-progress", DialCallStatus="completed")
    reply = stack.twilio(f"{DIAL_DONE_PREFIX}/{lead.owner}", answered)

    assert reply.status_code == 200, reply.body
    stopped = stack.lead(lead.lead_id)
    assert (stopped.first_response_by, stopped.speed_wall_s) == (lead.owner, 8.0)
    assert (stopped.sla_met, stopped.next_step) == (True, None)


def test_each_alert_carries_a_link_to_the_lead_page_signed_for_its_rep(stack: Stack) -> None:
    lead_id = _new_lead(stack)
    owner = stack.team.rep(stack.lead(lead_id).owner or "")
    assert owner is not None
    stack.clock.advance(seconds=20)
    _deliver_due_timers(stack)

    sms = stack.senders["sms"].sent[0]
    link = sms.content.links["open"]
    assert link.startswith(f"{PUBLIC_BASE_URL}/r/") and link in sms.content.text
    page = stack.client.http.get(link.removeprefix(PUBLIC_BASE_URL))

    assert page.status_code == 200
    assert "Kai Moss" in page.body.decode() and f"For {owner.name}" in page.body.decode()
