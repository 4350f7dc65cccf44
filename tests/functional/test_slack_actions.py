"""Slack buttons through the app: a click signed as Slack signs it is answered with an empty 200
at once and queued; the alert worker then claims, marks contacted or gives the number to call,
and answers through the click's response_url. A bad signature, a stale timestamp or an unknown
user changes nothing."""

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
from chalicelib.ports import DeliveryError
from chalicelib.services import jobs
from chalicelib.services.slack_actions import ACTIONS
from tests.fakes import (
    DictSecrets,
    FakeJobs,
    FakeSlackResponder,
    RecordingSender,
    SlackAnswer,
)
from tests.functional.conftest import FORM, SECRETS, Stack, body_of

PATH = "/webhooks/slack/actions"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ANA, ANA_SLACK = "ana", "U012ABCDEF"  # reps of the demo team file
BEN_SLACK = "U034GHIJKL"
RESPONSE_URL = "https://hooks.slack.com/actions/T0001/1/abc"
ANA_PHONE = "+14155550131"
ALERTS_FROM = "+14155550190"  # the demo's alerts number: a form lead has no tracking number


class SlackStack:
    """The functional Stack, with the Slack signing secret among its secrets, a fake job queue
    and response_url, and a client that posts button clicks the way Slack does."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.client = Client(app)
        self.jobs = FakeJobs()
        self.answers = FakeSlackResponder()
        secrets = DictSecrets({**SECRETS, "env:SLACK_SIGNING_SECRET": SIGNING_SECRET})
        wiring.use(
            dataclasses.replace(
                wiring.container(), secrets=secrets, jobs=self.jobs, slack_responder=self.answers
            )
        )

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

    def run_jobs(self) -> int:
        """What the alert worker does next: the queued jobs, through the SQS-triggered Lambda."""
        bodies = self.jobs.take()
        if bodies:
            event = self.client.events.generate_sqs_event(
                message_bodies=bodies, queue_name="leadclock-timers"
            )
            self.client.lambda_.invoke("timer", event)
        return len(bodies)

    def clicked(self, action_id: str, lead_id: str, **kwargs: Any) -> SlackAnswer:
        """Click, check Slack got its empty 200, run the queued job: the one answer it posted."""
        before = len(self.answers.answers)
        reply = self.click(action_id, lead_id, **kwargs)
        assert (reply.status_code, reply.body) == (200, b""), reply.body
        assert self.run_jobs() == 1
        [answer] = self.answers.answers[before:]
        return answer

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
        "response_url": RESPONSE_URL,
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


class Refusing:
    """Stands in for every provider (SMS, Slack, Twilio voice, response_url): counts the calls,
    then fails, as a provider that hangs past Slack's 3 seconds would."""

    def __init__(self) -> None:
        self.calls = 0

    def _fail(self, *args: object, **kwargs: object) -> Any:
        self.calls += 1
        raise DeliveryError("a provider was called", permanent=False, code="slow")

    send = update = respond = _fail


@pytest.fixture
def slack_stack(stack: Stack) -> SlackStack:
    return SlackStack(stack)


def fire_due_steps(stack: Stack) -> None:
    """Run the timers that are due, as SQS delivers them (bodies from before job kinds)."""
    due = [t for t in stack.timers.scheduled if t[2] <= stack.clock.now()]
    event = stack.client.events.generate_sqs_event(
        message_bodies=[TimerMessage(*t).to_json() for t in due], queue_name="leadclock-timers"
    )
    stack.client.lambda_.invoke("timer", event)


# --- the request: verify, queue, answer at once --------------------------------------------


def test_a_click_is_answered_with_an_empty_200_and_queued_without_acting(
    slack_stack: SlackStack,
) -> None:
    lead_id = slack_stack.new_lead()
    before = slack_stack.snapshot(lead_id)

    reply = slack_stack.click("claim_lead", lead_id)

    assert (reply.status_code, reply.body) == (200, b"")
    assert slack_stack.snapshot(lead_id) == before
    [body] = slack_stack.jobs.bodies
    job = json.loads(body)
    assert job["kind"] == "slack_click"
    assert (job["user_id"], job["action_id"], job["lead_id"]) == (ANA_SLACK, "claim_lead", lead_id)
    assert job["response_url"] == RESPONSE_URL
    assert slack_stack.answers.answers == []


def test_the_request_calls_no_provider_even_when_they_would_hang(
    slack_stack: SlackStack,
) -> None:
    stack = slack_stack.stack
    lead_id = slack_stack.new_lead()
    stack.clock.advance(seconds=20)
    fire_due_steps(stack)  # a Slack alert went out: acting on the click would chat.update it
    assert stack.senders["slack"].sent
    refusing = Refusing()
    stack.senders = {"sms": refusing, "slack": refusing, "email": refusing, "voice": refusing}  # type: ignore[dict-item]
    slack_stack.answers.fail_next(DeliveryError("hangs", permanent=False), times=10)
    before = slack_stack.snapshot(lead_id)

    replies = [slack_stack.click(action, lead_id) for action in ACTIONS]

    assert [(r.status_code, r.body) for r in replies] == [(200, b"")] * 3
    assert refusing.calls == 0
    assert slack_stack.answers.answers == []
    assert slack_stack.snapshot(lead_id) == before
    assert len(slack_stack.jobs.bodies) == 3


def test_a_click_that_cannot_be_queued_is_503_so_slack_retries_and_the_retry_lands(
    slack_stack: SlackStack,
) -> None:
    lead_id = slack_stack.new_lead()
    slack_stack.jobs.fail_next = ConnectionError("SQS unreachable")

    failed = slack_stack.click("claim_lead", lead_id)

    assert failed.status_code == 503
    assert slack_stack.jobs.bodies == []
    retry = slack_stack.clicked("claim_lead", lead_id, headers={"X-Slack-Retry-Num": "1"})
    assert slack_stack.stack.lead(lead_id).claimed_by == ANA
    assert retry.replace_original


# --- the worker: act, then answer through response_url -------------------------------------


def test_the_claim_button_claims_for_the_rep_mapped_from_the_slack_user(
    slack_stack: SlackStack,
) -> None:
    lead_id = slack_stack.new_lead()

    answer = slack_stack.clicked("claim_lead", lead_id)

    lead = slack_stack.stack.lead(lead_id)
    assert lead.claimed_by == ANA
    assert lead.paused_until is not None
    # The clicked message loses its buttons and says who claimed and when (the team's zone).
    assert answer.url == RESPONSE_URL
    assert answer.replace_original is True
    assert "Claimed by Ana Ruiz at " in answer.text
    assert [b["type"] for b in answer.blocks] == ["section", "context"]
    note = answer.blocks[-1]["elements"][0]["text"]  # type: ignore[index]
    assert note.startswith("Claimed by Ana Ruiz at ")


def test_a_claim_updates_the_slack_alerts_already_sent_for_the_lead(
    slack_stack: SlackStack,
) -> None:
    stack = slack_stack.stack
    lead_id = slack_stack.new_lead()
    stack.clock.advance(seconds=20)  # the demo policy's warning: SMS and Slack to the owner
    fire_due_steps(stack)
    assert stack.senders["slack"].sent
    updates = stack.senders["slack"].updates  # type: ignore[attr-defined]

    assert slack_stack.click("claim_lead", lead_id).status_code == 200
    assert updates == []  # not in the request: chat.update may wait out a rate limit

    slack_stack.run_jobs()
    assert updates and all("Claimed by Ana Ruiz" in content.text for _, content in updates)


def test_a_slack_retry_of_a_claim_is_queued_again_and_changes_nothing_more(
    slack_stack: SlackStack,
) -> None:
    lead_id = slack_stack.new_lead()
    slack_stack.clicked("claim_lead", lead_id)
    after_first = slack_stack.snapshot(lead_id)
    slack_stack.stack.clock.advance(seconds=2)

    retry = slack_stack.clicked(
        "claim_lead",
        lead_id,
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )

    assert slack_stack.snapshot(lead_id) == after_first
    assert "Claimed by Ana Ruiz" in retry.text


def test_a_double_tap_queued_twice_lands_once(slack_stack: SlackStack) -> None:
    lead_id = slack_stack.new_lead()
    for _ in range(2):
        assert slack_stack.click("claim_lead", lead_id).status_code == 200

    assert slack_stack.run_jobs() == 2

    claims = [t for t in slack_stack.stack.touchpoints(lead_id) if t.kind == "claimed"]
    assert len(claims) == 1
    assert [a.replace_original for a in slack_stack.answers.answers] == [True, True]


def test_the_contacted_button_stops_the_clock_once(slack_stack: SlackStack) -> None:
    lead_id = slack_stack.new_lead()
    slack_stack.stack.clock.advance(seconds=12)

    answer = slack_stack.clicked("contacted_lead", lead_id)

    lead = slack_stack.stack.lead(lead_id)
    assert (lead.first_response_by, lead.speed_wall_s, lead.sla_met) == (ANA, 12, True)
    assert lead.next_step is None
    assert answer.replace_original and "Contacted by Ana Ruiz at " in answer.text
    stopped = slack_stack.snapshot(lead_id)

    slack_stack.clicked("contacted_lead", lead_id, headers={"X-Slack-Retry-Num": "2"})

    assert slack_stack.snapshot(lead_id) == stopped


def test_a_claim_after_contact_says_who_contacted_and_changes_nothing(
    slack_stack: SlackStack,
) -> None:
    lead_id = slack_stack.new_lead()
    slack_stack.clicked("contacted_lead", lead_id)
    stopped = slack_stack.snapshot(lead_id)

    answer = slack_stack.clicked("claim_lead", lead_id, user=BEN_SLACK)

    assert "Contacted by Ana Ruiz" in answer.text
    assert slack_stack.snapshot(lead_id) == stopped


def test_the_call_button_rings_the_reps_phone_and_answers_the_rep_alone(
    slack_stack: SlackStack,
) -> None:
    calls = slack_stack.stack.senders["voice"] = RecordingSender()
    lead_id = slack_stack.new_lead()

    answer = slack_stack.clicked("call_lead", lead_id)

    [call] = calls.sent
    assert (call.channel, call.to, call.sender) == ("voice", ANA_PHONE, ALERTS_FROM)
    assert answer == SlackAnswer(
        RESPONSE_URL,
        f"Calling your phone ({ANA_PHONE}); answer and press 1 to connect to Kai Moss.",
        (),
        False,
    )
    lead = slack_stack.stack.lead(lead_id)
    assert (lead.claimed_by, lead.first_response_at) == (None, None)  # not until the lead leg


def test_a_second_tap_on_call_places_no_second_call(slack_stack: SlackStack) -> None:
    calls = slack_stack.stack.senders["voice"] = RecordingSender()
    lead_id = slack_stack.new_lead()
    slack_stack.clicked("call_lead", lead_id)
    slack_stack.stack.clock.advance(seconds=3)

    again = slack_stack.clicked("call_lead", lead_id, headers={"X-Slack-Retry-Num": "1"})

    assert len(calls.sent) == 1
    assert again.replace_original is False
    assert again.text.startswith(f"Already calling your phone ({ANA_PHONE})")


def test_a_call_twilio_refuses_says_why(slack_stack: SlackStack) -> None:
    calls = slack_stack.stack.senders["voice"] = RecordingSender()
    calls.fail_next(DeliveryError("number blocked", permanent=True, code="21215"))
    lead_id = slack_stack.new_lead()

    answer = slack_stack.clicked("call_lead", lead_id)

    assert calls.sent == []
    assert answer.replace_original is False
    assert answer.text.startswith("Can't place the call: Twilio refused the call (21215)")


def test_a_call_twilio_fails_for_now_asks_for_another_tap_which_places_it(
    slack_stack: SlackStack,
) -> None:
    calls = slack_stack.stack.senders["voice"] = RecordingSender()
    calls.fail_next(DeliveryError("timeout", permanent=False, code="503"))
    lead_id = slack_stack.new_lead()

    answer = slack_stack.clicked("call_lead", lead_id)

    assert answer.text == "Twilio could not place the call just now; press Call again."
    assert slack_stack.clicked("call_lead", lead_id).text.startswith("Calling your phone")
    assert len(calls.sent) == 1


def test_the_call_button_on_a_lead_without_a_phone_says_so(slack_stack: SlackStack) -> None:
    calls = slack_stack.stack.senders["voice"] = RecordingSender()
    reply = slack_stack.stack.website({"name": "Pat Doe", "email": "pat@example.com"})
    lead_id = body_of(reply)["lead_id"]

    answer = slack_stack.clicked("call_lead", lead_id)

    assert calls.sent == []
    assert answer.text == "Can't place the call: the lead has no phone number. Nothing changed."


def test_an_unknown_slack_user_gets_an_ephemeral_answer_and_nothing_changes(
    slack_stack: SlackStack,
) -> None:
    lead_id = slack_stack.new_lead()
    before = slack_stack.snapshot(lead_id)

    answer = slack_stack.clicked("claim_lead", lead_id, user="U999NOBODY")

    assert answer.replace_original is False
    assert "not a leadclock rep" in answer.text
    assert slack_stack.snapshot(lead_id) == before


@pytest.mark.parametrize("action_id", ["claim_lead", "contacted_lead", "call_lead"])
def test_an_unknown_lead_gets_an_ephemeral_no_such_lead(
    slack_stack: SlackStack, action_id: str
) -> None:
    # An answer rather than an error: Slack shows a failure as a bare warning on the button.
    answer = slack_stack.clicked(action_id, "ld_0000000000000000")

    assert answer.replace_original is False
    assert answer.text.startswith("No such lead ld_0000000000000000")
    assert slack_stack.stack.leads() == []


def test_an_unknown_button_gets_an_ephemeral_answer(slack_stack: SlackStack) -> None:
    lead_id = slack_stack.new_lead()
    before = slack_stack.snapshot(lead_id)

    answer = slack_stack.clicked("snooze_lead", lead_id)

    assert answer.replace_original is False
    assert "does not know this button" in answer.text
    assert slack_stack.snapshot(lead_id) == before


def test_an_answer_slack_could_not_take_for_now_fails_the_job_and_its_redelivery_answers(
    slack_stack: SlackStack,
) -> None:
    lead_id = slack_stack.new_lead()
    assert slack_stack.click("claim_lead", lead_id).status_code == 200
    [body] = slack_stack.jobs.take()
    slack_stack.answers.fail_next(DeliveryError("Slack 503", permanent=False, code="503"))
    worker = wiring.container().worker()

    with pytest.raises(DeliveryError):
        jobs.handle(body, worker, slack=slack_stack.answers)
    claimed = slack_stack.snapshot(lead_id)
    assert claimed[0].claimed_by == ANA

    jobs.handle(body, worker, slack=slack_stack.answers)  # SQS delivers it again

    assert slack_stack.snapshot(lead_id) == claimed
    [answer] = slack_stack.answers.answers
    assert "Claimed by Ana Ruiz" in answer.text


def test_a_failing_message_does_not_hold_back_the_rest_of_its_batch(
    slack_stack: SlackStack,
) -> None:
    first = slack_stack.new_lead()
    second = body_of(slack_stack.stack.website({"name": "Lu Ode", "phone": "+14155550166"}))
    second_id = second["lead_id"]
    for lead_id in (first, second_id):
        assert slack_stack.click("claim_lead", lead_id).status_code == 200
    slack_stack.answers.fail_next(DeliveryError("Slack 503", permanent=False, code="503"))

    with pytest.raises(DeliveryError):  # the batch goes back to SQS, to be delivered again
        slack_stack.run_jobs()

    assert [slack_stack.stack.lead(x).claimed_by for x in (first, second_id)] == [ANA, ANA]
    assert len(slack_stack.answers.answers) == 1


def test_an_expired_response_url_leaves_the_action_done_and_the_job_finished(
    slack_stack: SlackStack,
) -> None:
    lead_id = slack_stack.new_lead()
    assert slack_stack.click("contacted_lead", lead_id).status_code == 200
    slack_stack.answers.fail_next(
        DeliveryError("Slack 404: expired_url", permanent=True, code="expired_url")
    )

    assert slack_stack.run_jobs() == 1  # no exception: SQS deletes the job

    assert slack_stack.stack.lead(lead_id).first_response_by == ANA
    assert slack_stack.answers.answers == []


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"kind": "slack_click", "user_id": ANA_SLACK}),
        json.dumps({"kind": "slack_click", **{k: 7 for k in ("user_id", "action_id")}}),
        json.dumps({"kind": "coffee", "lead_id": "ld_1"}),
    ],
)
def test_an_unreadable_or_unknown_job_is_dropped_without_acting(
    slack_stack: SlackStack, body: str
) -> None:
    lead_id = slack_stack.new_lead()
    before = slack_stack.snapshot(lead_id)

    jobs.handle(body, wiring.container().worker(), slack=slack_stack.answers)

    assert slack_stack.snapshot(lead_id) == before
    assert slack_stack.answers.answers == []


# --- refused requests: nothing queued ------------------------------------------------------


def test_a_bad_signature_is_403_and_queues_nothing(slack_stack: SlackStack) -> None:
    lead_id = slack_stack.new_lead()
    before = slack_stack.snapshot(lead_id)

    reply = slack_stack.click("claim_lead", lead_id, secret="not-the-signing-secret")

    assert reply.status_code == 403
    assert body_of(reply)["Message"] == "invalid X-Slack-Signature"
    assert slack_stack.jobs.bodies == []
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
    assert slack_stack.jobs.bodies == []


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
    assert slack_stack.jobs.bodies == []


def test_a_request_signed_six_minutes_ago_is_403_and_queues_nothing(
    slack_stack: SlackStack,
) -> None:
    lead_id = slack_stack.new_lead()
    stale = (slack_stack.stack.clock.now() - timedelta(minutes=6)).timestamp()

    reply = slack_stack.click("claim_lead", lead_id, sent_at=stale)

    assert reply.status_code == 403
    assert "5-minute window" in body_of(reply)["Message"]
    assert slack_stack.jobs.bodies == []


def test_a_replay_of_a_valid_click_is_refused_once_the_window_has_passed(
    slack_stack: SlackStack,
) -> None:
    lead_id = slack_stack.new_lead()
    sent_at = slack_stack.stack.clock.now().timestamp()
    assert slack_stack.click("claim_lead", lead_id, sent_at=sent_at).status_code == 200
    slack_stack.jobs.take()
    slack_stack.stack.clock.advance(minutes=5, seconds=1)

    reply = slack_stack.click("claim_lead", lead_id, sent_at=sent_at)

    assert reply.status_code == 403
    assert slack_stack.jobs.bodies == []


def _payload(**changes: Any) -> bytes:
    payload = block_actions("claim_lead", "ld_1", ANA_SLACK) | changes
    return urlencode({"payload": json.dumps(payload)}).encode()


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
        (_payload(response_url=None), "payload.response_url"),
        (_payload(response_url=""), "payload.response_url"),
        (_payload(response_url=["https://hooks.slack.com/a"]), "payload.response_url"),
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
    assert slack_stack.jobs.bodies == []
    assert slack_stack.snapshot(lead_id) == before


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.slack.com/actions/T0001/1/abc",  # not https
        "https://hooks.slack.com:8443/actions/T0001/1/abc",
        "https://hooks.slack.com.example.net/actions/T0001/1/abc",
        "https://example.net/actions/T0001/1/abc",
        "https://hooks.slack.com@example.net/actions/T0001/1/abc",
        "https://user:pw@hooks.slack.com/actions/T0001/1/abc",
        "https://hooks.slack.com\\@example.net/",
        "https://hooks.slack.com/actions/T0001/1/abc\n",
        "http://127.0.0.1:9/actions/T0001/1/abc",  # a fake Slack only when one is configured
        "ftp://hooks.slack.com/actions",
        "https://hooks.slack.com/" + "a" * 2100,
    ],
)
def test_a_response_url_not_on_slacks_hooks_host_is_400_and_queues_nothing(
    slack_stack: SlackStack, url: str
) -> None:
    reply = slack_stack.post(_payload(response_url=url))

    assert reply.status_code == 400, reply.body
    assert body_of(reply)["Field"] == "payload.response_url"
    assert slack_stack.jobs.bodies == []


def test_a_response_url_on_the_configured_fake_slack_is_accepted(make_stack: Any) -> None:
    from tests.functional.conftest import SETTINGS

    env = {**SETTINGS, "LEADCLOCK_SLACK_API_BASE": "http://127.0.0.1:9/api/"}
    slack_stack = SlackStack(make_stack(env=env))

    ok = slack_stack.post(_payload(response_url="http://127.0.0.1:9/actions/T0001/1/abc"))
    other_port = slack_stack.post(_payload(response_url="http://127.0.0.1:10/actions/T/1/a"))

    assert ok.status_code == 200, ok.body
    assert other_port.status_code == 400
    assert len(slack_stack.jobs.bodies) == 1


def test_without_a_signing_secret_in_the_team_file_clicks_are_refused_503(
    make_stack: Any,
) -> None:
    from tests.functional.conftest import TEAM

    alerts = dataclasses.replace(TEAM.alerts, slack_signing_secret_ref=None)
    slack_stack = SlackStack(make_stack(team=dataclasses.replace(TEAM, alerts=alerts)))
    lead_id = slack_stack.new_lead()

    reply = slack_stack.click("claim_lead", lead_id)

    assert reply.status_code == 503
    assert slack_stack.jobs.bodies == []
    assert slack_stack.stack.lead(lead_id).claimed_by is None


def test_importing_the_app_does_not_import_slack_sdk() -> None:
    # A webhook's cold start: the verifier imports slack_sdk on the first Slack request only.
    import subprocess

    code = "import app, functions.slack, sys; print('slack_sdk' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
