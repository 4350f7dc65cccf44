"""One queue, two kinds of message, over the embedded stack's SQS: a ladder-step timer (as sent
now, and as sent before messages had a kind) and a queued Slack click both reach their service
through the dispatcher, here by `make run`'s consumer."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.adapters.sqs_timers import SqsTimers
from chalicelib.cli.embedded import EmbeddedAws, create_timer_queues
from chalicelib.cli.local import TimerConsumer, _on_timer
from chalicelib.domain.inbound import form_capture
from chalicelib.domain.model import Contact, FormSubmission, Lead
from chalicelib.domain.sla import TimerMessage
from chalicelib.services.assignment import Assigner
from chalicelib.services.landing import accept
from chalicelib.services.slack_actions import CLAIM_ACTION, SlackClick, submit
from chalicelib.services.worker import Worker
from chalicelib.team_file import load_team_file
from tests.fakes import (
    T0,
    FakeClock,
    FakeSlackResponder,
    FakeSleep,
    FakeTimers,
    MemoryLeadStore,
    RecordingSender,
    RecordingUpdatingSender,
    StaticTeamStore,
)

REGION = "us-east-1"
TEAM = load_team_file(Path(__file__).resolve().parents[2] / "infra" / "team.demo.yaml")
ANA_SLACK = "U012ABCDEF"  # rep "ana" of the demo team
RESPONSE_URL = "https://hooks.slack.com/actions/T0001/1/abc"


@pytest.fixture(scope="module")
def sqs(embedded_aws: EmbeddedAws) -> Any:
    return boto3.client("sqs", region_name=REGION, endpoint_url=embedded_aws.url)


class Rig:
    """The alert worker on fakes, its timers and jobs on a fresh SQS queue."""

    def __init__(self, sqs: Any) -> None:
        queue = f"jobs-{secrets.token_hex(4)}"
        self.sqs = sqs
        self.queue_url = create_timer_queues(sqs, queue=queue, dead_letter_queue=None)
        self.clock = FakeClock()
        self.store = MemoryLeadStore()
        self.queue = SqsTimers(lambda: sqs, queue=queue, dead_letter_queue=None, clock=self.clock)
        self.sms, self.slack = RecordingSender(), RecordingUpdatingSender()
        self.answers = FakeSlackResponder()
        senders: dict[str, Any] = {"sms": self.sms, "slack": self.slack, "email": self.sms}
        self.team = StaticTeamStore(TEAM)
        self.worker = Worker(
            store=self.store,
            team=self.team,
            routing=self.store.routing,
            timers=self.queue,
            alerts=self.store.alert_log,
            senders=lambda _: senders,
            clock=self.clock,
            sleep=FakeSleep(self.clock),
        )

    def new_lead(self, email: str) -> Lead:
        """A website lead on the demo team; its first timer is kept off the queue."""
        source = next(s for s in TEAM.sources if s.name == "website")
        sub = FormSubmission(contact=Contact(name="Kai Moss", email=email))
        capture, _ = form_capture(source, sub, provider_id=email, default_region="US")
        assigner = Assigner(
            team=self.team, routing=self.store.routing, clock=self.clock, timers=FakeTimers()
        )
        landed = accept(capture, store=self.store, clock=self.clock, assigner=assigner)
        assert landed.lead_id is not None
        return self.lead(landed.lead_id)

    def lead(self, lead_id: str) -> Lead:
        found = self.store.get_lead(lead_id)
        assert found is not None
        return found

    def consume_until(self, done: Callable[[], bool]) -> None:
        """Run `make run`'s consumer with its dispatcher until `done()` (20 s at most)."""
        consumer = TimerConsumer(self.sqs, self.queue_url, _on_timer(self.worker, self.answers))
        stop = threading.Event()
        thread = threading.Thread(target=consumer.run, args=(stop,))
        thread.start()
        try:
            for _ in range(200):
                if done() or stop.wait(0.1):
                    break
        finally:
            stop.set()
            thread.join(timeout=10)

    def visible(self) -> int:
        reply = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
        attributes = reply["Attributes"]
        return sum(int(v) for v in attributes.values())


@pytest.fixture
def rig(sqs: Any) -> Iterator[Rig]:
    yield Rig(sqs)


def test_timers_old_and_new_and_a_slack_click_each_reach_their_service(rig: Rig) -> None:
    timed, old_timed, clicked = (rig.new_lead(f"{n}@example.com") for n in ("a", "b", "c"))
    assert timed.next_step == 0 and timed.next_step_at is not None
    rig.clock.current = timed.next_step_at  # the warning is due: the timers go without delay
    rig.queue.schedule(timed.lead_id, 0, timed.next_step_at)
    # A message from before timers named their kind.
    rig.sqs.send_message(
        QueueUrl=rig.queue_url,
        MessageBody=TimerMessage(old_timed.lead_id, 0, timed.next_step_at).to_json(),
    )
    click = SlackClick(ANA_SLACK, CLAIM_ACTION, clicked.lead_id, response_url=RESPONSE_URL)
    submit(click, jobs=rig.queue)

    def all_done() -> bool:
        fired = [rig.lead(x.lead_id).next_step for x in (timed, old_timed)]
        return fired == [1, 1] and len(rig.answers.answers) == 1

    rig.consume_until(all_done)

    assert all_done()
    owners = [TEAM.rep(rig.lead(x.lead_id).owner or "") for x in (timed, old_timed)]
    assert all(owners)
    # Both owners' warnings went out.
    assert {o.slack_user_id for o in owners if o} <= {d.to for d in rig.slack.sent}
    assert rig.lead(clicked.lead_id).claimed_by == "ana"
    [answer] = rig.answers.answers
    assert (answer.url, answer.replace_original) == (RESPONSE_URL, True)
    assert "Claimed by Ana Ruiz" in answer.text
    # All three were handled and deleted; the next steps' timers wait, delayed, behind them.
    assert rig.visible() == 0


def test_a_job_goes_on_the_queue_at_once_with_its_kind(rig: Rig) -> None:
    click = SlackClick(ANA_SLACK, CLAIM_ACTION, "ld_1", response_url=RESPONSE_URL)

    submit(click, jobs=rig.queue)

    [message] = rig.sqs.receive_message(QueueUrl=rig.queue_url, WaitTimeSeconds=0)["Messages"]
    body = json.loads(message["Body"])
    assert body == {"kind": "slack_click", **click.to_job()}
    assert SlackClick.from_job(body) == click


def test_a_timer_names_its_kind_and_still_reads_as_a_timer(rig: Rig) -> None:
    due = T0 - timedelta(seconds=1)

    rig.queue.schedule("ld_2", 3, due)

    [message] = rig.sqs.receive_message(QueueUrl=rig.queue_url, WaitTimeSeconds=0)["Messages"]
    assert json.loads(message["Body"])["kind"] == "timer"
    assert TimerMessage.from_json(message["Body"]) == TimerMessage("ld_2", 3, due)


def test_a_job_payload_may_not_name_its_own_kind(rig: Rig) -> None:
    with pytest.raises(ValueError, match="kind"):
        rig.queue.enqueue("slack_click", {"kind": "timer"})
