"""A Slack button click on `make run`'s stack over real HTTP and real (embedded) SQS: Slack gets
an empty 200 at once, the local worker claims the lead, and, with no Slack credentials, the
answer meant for the click's response_url lands in the outbox.

Polls GET /outbox, as a person watching it would; the deadline only bounds a broken run."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from slack_sdk.signature import SignatureVerifier

from tests.e2e.conftest import LocalStack

ANA_SLACK = "U012ABCDEF"  # rep "ana" of the demo team
DEADLINE_S = 30.0

pytestmark = pytest.mark.e2e


def _signing_secret(stack: LocalStack) -> str:
    """The Slack signing secret `make run` generated and printed in its banner."""
    for line in stack.output:
        name, _, value = line.strip().partition("=")
        if name == "SLACK_SIGNING_SECRET" and value:
            return value
    raise AssertionError("the banner printed no SLACK_SIGNING_SECRET")


def _click(stack: LocalStack, lead_id: str, response_url: str) -> requests.Response:
    payload = {
        "type": "block_actions",
        "user": {"id": ANA_SLACK},
        "message": {"text": "leadclock: a new lead", "blocks": []},
        "response_url": response_url,
        "actions": [{"type": "button", "action_id": "claim_lead", "value": lead_id}],
    }
    body = urlencode({"payload": json.dumps(payload)})
    ts = str(int(time.time()))
    signature = SignatureVerifier(_signing_secret(stack)).generate_signature(
        timestamp=ts, body=body
    )
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature or "",
    }
    return requests.post(
        stack.base_url + "/webhooks/slack/actions", data=body, headers=headers, timeout=10
    )


def _answers(stack: LocalStack, response_url: str) -> list[dict[str, Any]]:
    reply = requests.get(
        stack.base_url + "/outbox", headers={"x-api-key": stack.admin_key}, timeout=10
    )
    assert reply.status_code == 200, reply.text
    return [i for i in reply.json()["items"] if i["to"] == response_url]


def test_a_slack_claim_is_acknowledged_at_once_and_answered_through_the_worker(
    stack: LocalStack,
) -> None:
    tag = secrets.token_hex(4)
    lead = requests.post(
        stack.base_url + "/webhooks/forms/website",
        json={"name": f"Noor Haddad {tag}", "email": f"noor.{tag}@example.com"},
        headers={"X-Leadclock-Token": stack.secrets["LEADCLOCK_SECRET_WEBSITE"]},
        timeout=10,
    )
    assert lead.status_code in (200, 201), lead.text
    lead_id = lead.json()["lead_id"]
    response_url = f"https://hooks.slack.com/actions/T0001/{tag}/abc"

    reply = _click(stack, lead_id, response_url)

    assert (reply.status_code, reply.text) == (200, "")
    deadline = time.monotonic() + DEADLINE_S
    while not (answers := _answers(stack, response_url)) and time.monotonic() < deadline:
        time.sleep(0.2)
    [answer] = answers
    assert answer["kind"] == "update"  # the clicked message is replaced
    assert "Claimed by Ana Ruiz" in answer["text"]
    got = requests.get(
        f"{stack.base_url}/leads/{lead_id}", headers={"x-api-key": stack.admin_key}, timeout=10
    )
    assert got.json()["claimed_by"] == "ana"
