"""Nothing lost: an authenticated request is recorded before it lands, so a failure while
landing is finished later, by the provider's retry or by the scheduled replayer."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from tests.functional.conftest import VOICE, Stack, body_of, call

CALL_SID = "CA" + "a" * 32
LEAD = {"name": "Ann Lee", "email": "ann@example.com", "phone": "415 555 0134"}


def run_replayer(stack: Stack) -> Any:
    event = stack.client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    return stack.client.lambda_.invoke("replay", event)


def test_form_whose_landing_fails_is_202_and_the_replayer_lands_it(stack: Stack) -> None:
    stack.store.fail_next_apply = RuntimeError("DynamoDB is having a bad day")

    response = stack.website(LEAD)

    assert response.status_code == 202
    assert body_of(response) == {"lead_id": None, "status": "accepted"}
    assert stack.leads() == []
    [(_, state, _)] = stack.store.events.values()
    assert state == "pending"

    stack.clock.advance(seconds=31)
    run_replayer(stack)

    [lead] = stack.leads()
    assert (lead.email, lead.phone) == ("ann@example.com", "+14155550134")
    assert len(stack.touchpoints(lead.lead_id)) == 1
    assert stack.partial_records() == []


def test_replayer_leaves_events_younger_than_thirty_seconds_to_the_request(stack: Stack) -> None:
    stack.store.fail_next_apply = RuntimeError("outage")
    stack.website(LEAD)

    stack.clock.advance(seconds=10)
    run_replayer(stack)

    assert stack.leads() == []


def test_call_whose_landing_fails_still_gets_its_twiml(stack: Stack) -> None:
    stack.store.fail_next_apply = RuntimeError("outage")

    response = stack.twilio(VOICE, call(CALL_SID))

    assert response.status_code == 200
    assert ET.fromstring(response.body).find("Dial") is not None


def test_call_whose_landing_failed_lands_on_twilios_retry_once(stack: Stack) -> None:
    stack.store.fail_next_apply = RuntimeError("outage")
    stack.twilio(VOICE, call(CALL_SID))
    stack.clock.advance(seconds=15)

    stack.twilio(VOICE, call(CALL_SID))
    stack.clock.advance(minutes=5)
    run_replayer(stack)

    [lead] = stack.leads()
    assert len(stack.touchpoints(lead.lead_id)) == 1
    assert stack.partial_records() == []
