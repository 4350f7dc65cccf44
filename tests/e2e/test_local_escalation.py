"""`make run`'s alert worker over real HTTP and real (embedded) SQS: a demo lead nobody answers
escalates through the ladder into the local outbox, each step once and in order.

The demo policy (infra/team.demo.yaml, queue inbound) is measured in seconds: warn at 20 s,
breach at 30 s, reassign at 40 s, manager at 50 s. Waiting for them is the point of this test,
so it polls GET /outbox until the manager step shows up, with a deadline that only bounds a
broken run; it asserts order and uniqueness, never how late anything was.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest
import requests

from chalicelib.team_file import load_team_file
from tests.e2e.conftest import ROOT, LocalStack

DEMO = load_team_file(ROOT / "infra" / "team.demo.yaml")
INBOUND = DEMO.queue("inbound")
LADDER = ("warn", "breach", "reassign", "manager")
DEADLINE_S = 90.0

pytestmark = pytest.mark.e2e


def _post_lead(stack: LocalStack, name: str, email: str) -> str:
    reply = requests.post(
        stack.base_url + "/webhooks/forms/website",
        json={"name": name, "email": email, "message": "Please call me back"},
        headers={"X-Leadclock-Token": stack.secrets["LEADCLOCK_SECRET_WEBSITE"]},
        timeout=10,
    )
    assert reply.status_code in (200, 201), reply.text
    lead_id: str = reply.json()["lead_id"]
    return lead_id


def _outbox(stack: LocalStack) -> list[dict[str, Any]]:
    """Every message in the outbox, oldest first."""
    reply = requests.get(
        stack.base_url + "/outbox",
        headers={"x-api-key": stack.admin_key},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    items: list[dict[str, Any]] = reply.json()["items"]
    return list(reversed(items))  # the endpoint lists newest first


def _step(subject: str) -> str:
    """The ladder step an alert's subject announces ("[leadclock] Breach: Ann is still …")."""
    headline = subject.removeprefix("[leadclock] ")
    if headline.startswith("SLA about to be missed"):
        return "warn"
    return headline.split(":", 1)[0].lower()


def _alerts_for(stack: LocalStack, name: str) -> list[dict[str, Any]]:
    return [
        item
        for item in _outbox(stack)
        if name in item["subject"] and item.get("kind", "send") == "send"
    ]


def test_unanswered_demo_lead_escalates_through_the_ladder_once_in_order(
    stack: LocalStack,
) -> None:
    assert INBOUND is not None and INBOUND.sla_policy == "demo", "the demo queue changed"
    tag = secrets.token_hex(4)
    name = f"Esme Calder {tag}"
    lead_id = _post_lead(stack, name, f"esme.{tag}@example.com")

    # Polling an endpoint is how a person would watch it; the deadline bounds a broken run.
    deadline = time.monotonic() + DEADLINE_S
    alerts = _alerts_for(stack, name)
    while "manager" not in {_step(a["subject"]) for a in alerts}:
        assert time.monotonic() < deadline, (
            f"lead {lead_id} did not reach the manager step; outbox had "
            f"{[a['subject'] for a in alerts]}\n" + "".join(stack.output[-40:])
        )
        time.sleep(0.5)
        alerts = _alerts_for(stack, name)

    steps = [_step(a["subject"]) for a in alerts]
    first_seen = list(dict.fromkeys(steps))
    assert first_seen[: len(LADDER)] == list(LADDER)
    # Each step's messages arrive together, before the next step's: never interleaved.
    assert steps == sorted(steps, key=first_seen.index)
    sent = [(_step(a["subject"]), a["channel"], a["to"]) for a in alerts]
    assert len(sent) == len(set(sent)), f"an alert went out twice: {sent}"
    assert all(a.get("lead_id", lead_id) == lead_id for a in alerts)
    # The breach step tells the queue's Slack channel, whoever owns the lead.
    assert ("breach", "slack", INBOUND.slack_channel) in sent
