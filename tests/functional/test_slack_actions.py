"""Slack buttons through the app: a click signed as Slack signs it claims, marks contacted or
gives the number to call; a bad signature, a stale timestamp or an unknown user changes nothing."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from chalice.test import Client, HTTPResponse
from slack_sdk.signature import SignatureVerifier

from app import app
from chalicelib import wiring
from chalicelib.domain.sla import TimerMessage
from tests.fakes import DictSecrets
from tests.functional.conftest import FORM, SECRETS, Stack, body_of

PATH = "/webhooks/slack/actions"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ANA, ANA_SLACK = "ana", "U012ABCDEF"  # reps of the demo team file
BEN_SLACK = "U034GHIJKL"


class SlackStack:
    """The functional Stack, with the Slack signing secret among its secrets and a client that
    posts button clicks the way Slack does."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.client = Client(app)
        secrets = DictSecrets({**SECRETS, "env:SLACK_SIGNING_SECRET": SIGNING_SECRET})
        wiring.use(dataclasses.replace(wiring.container(), secrets=secrets))

    def new_lead(self) -> str:
        reply = self.stack.website({"name": "Kai Moss", "phone": "+14155550165"})
        assert reply.status_code == 201, reply.body
        lead_id: str = body_of(reply)["lead_id"]
        return lead_id

    def click(
        self,
        action_id: str,
        lead_id: str,
        *,
        user: str = ANA_SLACK,
        headers: Mapping[str, str] | None = None,
        sent_at: float | None = None,
        secret: str = SIGNING_SECRET,
        payload: Any = None,
    ) -> HTTPResponse:
        """POST a block_actions click, signed v0:{ts}:{body} with `secret` at `sent_at`."""
        if payload is None:
            payload = block_actions(action_id, lead_id, user)
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.post(body, headers=headers, sent_at=sent_at, secret=secret)

    def post(
        self,
        body: bytes,
        *,
        headers: Mapping[str, str] | None = None,
        sent_at: float | None = None,
        secret: str = SIGNING_SECRET,
    ) -> HTTPResponse:
        ts = str(int(sent_at if sent_at is not None else self.stack.clock.now().timestamp()))
        signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
        assert signature is not None
        sent = {
            "Content-Type": FORM,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature,
            **(headers or {}),
        }
        return self.client.http.post(PATH, headers=sent, body=body)

    def snapshot(self, lead_id: str) -> tuple[Any, ...]:
        """Everything a click could change about a lead."""
        return (self.stack.lead(lead_id), len(self.stack.touchpoints(lead_id)))


def block_actions(action_id: str, lead_id: str, user: str) -> dict[str, Any]:
    """A button click as Slack posts it (the fields leadclock reads, and a few it does not)."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "ana", "team_id": "T0001"},
        "api_app_id": "A0001",
        "container": {"type": "message", "message_ts": "1700000000.000100"},
        "trigger_id": "1.2.3",
        "channel": {"id": "D0001", "name": "directmessage"},
        "message": {
            "type": "message",
            "ts": "1700000000.000100",
            "text": "leadclock: SLA about to be missed for Kai Moss.",
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": "*SLA about to be missed*"}},
                {
                    "type": "actions",
                    "block_id": f"lead:{lead_id}",
                    "elements": [{"type": "button", "action_id": action_id, "value": lead_id}],
                },
            ],
        },
        "response_url": "https://hooks.slack.com/actions/T0001/1/abc",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": f"lead:{lead_id}",
                "value": lead_id,
                "action_ts": "1700000001.000200",
            }
        ],
    }


@pytest.fixture
def slack_stack(stack: Stack) -> SlackStack:
    return SlackStack(stack)


def test_the_claim_button_claims_for_the_rep_mapped_from_the_slack_user(
    slack_stack: SlackStack,
) -> None:
    lead_id = slack_stack.new_lead()

    reply = slack_stack.click("claim_lead", lead_id)

    assert reply.status_code == 200, reply.body
    lead = slack_stack.stack.lead(lead_id)
    assert lead.claimed_by == ANA
    assert lead.paused_until is not None
    body = body_of(reply)
    # The clicked message loses its buttons and says who claimed and when (the team's zone).
    assert body["replace_original"] is True
    assert "Claimed by Ana Ruiz at " in body["text"]
    assert [b["type"] for b in body["blocks"]] == ["section", "context"]
    assert body["blocks"][-1]["elements"][0]["text"].startswith("Claimed by Ana Ruiz at ")


def test_a_claim_updates_the_slack_alerts_already_sent_for_the_lead(
    slack_stack: SlackStack,
) -> None:
    stack = slack_stack.stack
    lead_id = slack_stack.new_lead()
    stack.clock.advance(seconds=20)  # the demo policy's warning: SMS and Slack to the owner
    due = [t for t in stack.timers.scheduled if t[2] <= stack.clock.now()]
    event = stack.client.events.generate_sqs_event(
        message_bodies=[TimerMessage(*t).to_json() for t in due], queue_name="leadclock-timers"
    )
    stack.client.lambda_.invoke("timer", event)
    assert stack.senders["slack"].sent

    assert slack_stack.click("claim_lead", lead_id).status_code == 200

    updates = stack.senders["slack"].updates  # type: ignore[attr-defined]
    assert updates and all("Claimed by Ana Ruiz" in content.text for _, content in updates)


def test_a_slack_retry_of_a_claim_changes_nothing_more(slack_stack: SlackStack) -> None:
    lead_id = slack_stack.new_lead()
    assert slack_stack.click("claim_lead", lead_id).status_code == 200
    after_first = slack_stack.snapshot(lead_id)
    slack_stack.stack.clock.advance(seconds=2)

    retry = slack_stack.click(
        "claim_lead",
        lead_id,
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )

    assert retry.status_code == 200, retry.body
    assert slack_stack.snapshot(lead_id) == after_first
    assert "Claimed by Ana Ruiz" in body_of(retry)["text"]


def test_the_contacted_button_stops_the_clock_once(slack_stack: SlackStack) -> None:
    lead_id = slack_stack.new_lead()
    slack_stack.stack.clock.advance(seconds=12)

    reply = slack_stack.click("contacted_lead", lead_id)

    assert reply.status_code == 200, reply.body
    lead = slack_stack.stack.lead(lead_id)
    assert (lead.first_response_by, lead.speed_wall_s, lead.sla_met) == (ANA, 12, True)
    assert lead.next_step is None
    assert "Contacted by Ana Ruiz at " in body_of(reply)["text"]
    stopped = slack_stack.snapshot(lead_id)

    retry = slack_stack.click("contacted_lead", lead_id, headers={"X-Slack-Retry-Num": "2"})

    assert retry.status_code == 200
    assert slack_stack.snapshot(lead_id) == stopped


def test_a_claim_after_contact_says_who_contacted_and_changes_nothing(
    slack_stack: SlackStack,
) -> None:
    lead_id = slack_stack.new_lead()
    slack_stack.click("contacted_lead", lead_id)
    stopped = slack_stack.snapshot(lead_id)

    reply = slack_stack.click("claim_lead", lead_id, user=BEN_SLACK)

    assert reply.status_code == 200
    assert "Contacted by Ana Ruiz" in body_of(reply)["text"]
    assert slack_stack.snapshot(lead_id) == stopped


def test_the_call_button_gives_the_number_and_changes_nothing(slack_stack: SlackStack) -> None:
    lead_id = slack_stack.new_lead()
    before = slack_stack.snapshot(lead_id)

    reply = slack_stack.click("call_lead", lead_id)

    assert reply.status_code == 200
    assert body_of(reply) == {
        "response_type": "ephemeral",
        "text": "Calling from Slack is coming; for now call +14155550165.",
    }
    assert slack_stack.snapshot(lead_id) == before


def test_a_bad_signature_is_403_and_stores_nothing(slack_stack: SlackStack) -> None:
    lead_id = slack_stack.new_lead()
    before = slack_stack.snapshot(lead_id)

    reply = slack_stack.click("claim_lead", lead_id, secret="not-the-signing-secret")

    assert reply.status_code == 403
    assert body_of(reply)["Message"] == "invalid X-Slack-Signature"
    assert slack_stack.snapshot(lead_id) == before


def test_a_body_changed_after_signing_is_403(slack_stack: SlackStack) -> None:
    lead_id = slack_stack.new_lead()
    body = urlencode({"payload": json.dumps(block_actions("claim_lead", lead_id, ANA_SLACK))})
    ts = str(int(slack_stack.stack.clock.now().timestamp()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=ts, body=body)
    tampered = body.replace(ANA_SLACK, BEN_SLACK).encode()
    headers = {
        "Content-Type": FORM,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature or "",
    }

    reply = slack_stack.client.http.post(PATH, headers=headers, body=tampered)

    assert reply.status_code == 403
    assert slack_stack.stack.lead(lead_id).claimed_by is None


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Slack-Signature": ""},
        {"X-Slack-Request-Timestamp": ""},
        {"X-Slack-Request-Timestamp": "+1700000000"},
        {"X-Slack-Signature": "v0=ünïcode"},
    ],
)
def test_missing_or_malformed_signature_headers_are_403(
    slack_stack: SlackStack, headers: dict[str, str]
) -> None:
    lead_id = slack_stack.new_lead()

    reply = slack_stack.click("claim_lead", lead_id, headers=headers)

    assert reply.status_code == 403
    assert slack_stack.stack.lead(lead_id).claimed_by is None


def test_a_request_signed_six_minutes_ago_is_403_and_stores_nothing(
    slack_stack: SlackStack,
) -> None:
    lead_id = slack_stack.new_lead()
    before = slack_stack.snapshot(lead_id)
    stale = (slack_stack.stack.clock.now() - timedelta(minutes=6)).timestamp()

    reply = slack_stack.click("claim_lead", lead_id, sent_at=stale)

    assert reply.status_code == 403
    assert "5-minute window" in body_of(reply)["Message"]
    assert slack_stack.snapshot(lead_id) == before


def test_a_replay_of_a_valid_click_is_refused_once_the_window_has_passed(
    slack_stack: SlackStack,
) -> None:
    lead_id = slack_stack.new_lead()
    sent_at = slack_stack.stack.clock.now().timestamp()
    slack_stack.stack.clock.advance(minutes=5, seconds=1)

    reply = slack_stack.click("claim_lead", lead_id, sent_at=sent_at)

    assert reply.status_code == 403
    assert slack_stack.stack.lead(lead_id).claimed_by is None


def test_an_unknown_slack_user_gets_an_ephemeral_answer_and_nothing_changes(
    slack_stack: SlackStack,
) -> None:
    lead_id = slack_stack.new_lead()
    before = slack_stack.snapshot(lead_id)

    reply = slack_stack.click("claim_lead", lead_id, user="U999NOBODY")

    assert reply.status_code == 200
    body = body_of(reply)
    assert body["response_type"] == "ephemeral"
    assert "not a leadclock rep" in body["text"]
    assert slack_stack.snapshot(lead_id) == before


@pytest.mark.parametrize("action_id", ["claim_lead", "contacted_lead", "call_lead"])
def test_an_unknown_lead_gets_an_ephemeral_no_such_lead(
    slack_stack: SlackStack, action_id: str
) -> None:
    # 200 with an explanation rather than 404: Slack shows a failed request as a bare warning.
    reply = slack_stack.click(action_id, "ld_0000000000000000")

    assert reply.status_code == 200
    body = body_of(reply)
    assert body["response_type"] == "ephemeral"
    assert body["text"].startswith("No such lead ld_0000000000000000")
    assert slack_stack.stack.leads() == []


def test_an_unknown_button_gets_an_ephemeral_answer(slack_stack: SlackStack) -> None:
    lead_id = slack_stack.new_lead()
    before = slack_stack.snapshot(lead_id)

    reply = slack_stack.click("snooze_lead", lead_id)

    assert reply.status_code == 200
    assert body_of(reply)["response_type"] == "ephemeral"
    assert slack_stack.snapshot(lead_id) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"", "payload"),
        (b"payload=", "payload"),
        (urlencode({"payload": "{not json"}).encode(), "payload"),
        (urlencode({"payload": "[1]"}).encode(), "payload"),
        (urlencode({"payload": json.dumps({"type": "view_submission"})}).encode(), "payload.type"),
        (
            urlencode({"payload": json.dumps({"type": "block_actions", "actions": []})}).encode(),
            "payload.actions",
        ),
        (
            urlencode(
                {
                    "payload": json.dumps(
                        {"type": "block_actions", "actions": [{"action_id": "claim_lead"}]}
                    )
                }
            ).encode(),
            "payload.user.id",
        ),
        (
            urlencode(
                {
                    "payload": json.dumps(
                        {
                            "type": "block_actions",
                            "user": {"id": ANA_SLACK},
                            "actions": [{"action_id": "claim_lead", "value": 7}],
                        }
                    )
                }
            ).encode(),
            "payload.actions[0].value",
        ),
    ],
)
def test_a_malformed_payload_is_400_naming_the_field(
    slack_stack: SlackStack, body: bytes, field: str
) -> None:
    lead_id = slack_stack.new_lead()
    before = slack_stack.snapshot(lead_id)

    reply = slack_stack.post(body)

    assert reply.status_code == 400, reply.body
    assert body_of(reply)["Field"] == field
    assert slack_stack.snapshot(lead_id) == before


def test_without_a_signing_secret_in_the_team_file_clicks_are_refused_503(
    make_stack: Any,
) -> None:
    from tests.functional.conftest import TEAM

    alerts = dataclasses.replace(TEAM.alerts, slack_signing_secret_ref=None)
    slack_stack = SlackStack(make_stack(team=dataclasses.replace(TEAM, alerts=alerts)))
    lead_id = slack_stack.new_lead()

    reply = slack_stack.click("claim_lead", lead_id)

    assert reply.status_code == 503
    assert slack_stack.stack.lead(lead_id).claimed_by is None


def test_importing_the_app_does_not_import_slack_sdk() -> None:
    # A webhook's cold start: the verifier imports slack_sdk on the first Slack request only.
    import subprocess

    code = "import app, functions.slack, sys; print('slack_sdk' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
