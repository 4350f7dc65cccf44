"""SqsTimers against the embedded stack's SQS, over HTTP: delays, bodies, the dead-letter queue,
and long polls that leave the rest of the stack free. The embedded stack's speedups to moto are
tested in test_moto_speedups.py."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import pytest

from chalicelib.adapters.sqs_timers import SqsTimers
from chalicelib.cli.embedded import EmbeddedAws, create_timer_queues
from chalicelib.domain.sla import TimerMessage
from tests.fakes import T0, FakeClock

REGION = "us-east-1"


class RecordingSqs:
    """The real client, with a record of every call made through it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.client, name)

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return method(**kwargs)

        return call

    def sent(self) -> list[dict[str, Any]]:
        """The arguments of every send_message, in order."""
        return [kwargs for name, kwargs in self.calls if name == "send_message"]


@pytest.fixture(scope="module")
def sqs(embedded_aws: EmbeddedAws) -> Any:
    """One SQS client for the module (building clients is slow)."""
    return boto3.client("sqs", region_name=REGION, endpoint_url=embedded_aws.url)


@pytest.fixture
def names() -> tuple[str, str]:
    """Fresh queue names for each test, so no message carries over."""
    suffix = secrets.token_hex(4)
    return f"timers-{suffix}", f"timers-{suffix}-dlq"


@pytest.fixture
def recorder(sqs: Any) -> RecordingSqs:
    return RecordingSqs(sqs)


@pytest.fixture
def timers(sqs: Any, names: tuple[str, str], recorder: RecordingSqs, clock: FakeClock) -> SqsTimers:
    queue, dlq = names
    create_timer_queues(sqs, queue=queue, dead_letter_queue=dlq)
    return SqsTimers(lambda: recorder, queue=queue, dead_letter_queue=dlq, clock=clock)


def _attribute(sqs: Any, queue: str, name: str) -> int:
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    reply = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[name])
    return int(reply["Attributes"][name])


def _receive(sqs: Any, queue: str, **kwargs: Any) -> list[dict[str, Any]]:
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    messages: list[dict[str, Any]] = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, **kwargs
    ).get("Messages", [])
    return messages


@pytest.mark.parametrize(
    ("due_in", "delay"),
    [
        (timedelta(seconds=-30), 0),  # overdue: deliver at once
        (timedelta(0), 0),
        (timedelta(seconds=2.7), 2),  # rounded down: arrives at or before due, never after
        (timedelta(seconds=5), 5),
        (timedelta(seconds=900), 900),
        (timedelta(hours=3), 900),  # SQS's cap; the worker re-sends the rest on arrival
    ],
)
def test_schedule_delays_the_message_by_whole_seconds_until_due_at_most_900(
    timers: SqsTimers, recorder: RecordingSqs, due_in: timedelta, delay: int
) -> None:
    timers.schedule("lead-1", 0, T0 + due_in)
    [sent] = recorder.sent()
    assert sent["DelaySeconds"] == delay


def test_scheduled_message_body_round_trips_to_the_timer(
    timers: SqsTimers, sqs: Any, names: tuple[str, str]
) -> None:
    due = T0 - timedelta(seconds=1)
    timers.schedule("lead-7", 3, due)
    [message] = _receive(sqs, names[0])
    assert TimerMessage.from_json(message["Body"]) == TimerMessage("lead-7", 3, due)


def test_delayed_timer_is_not_receivable_before_its_delay(
    timers: SqsTimers, sqs: Any, names: tuple[str, str]
) -> None:
    timers.schedule("lead-2", 1, T0 + timedelta(seconds=30))
    assert _receive(sqs, names[0]) == []
    assert _attribute(sqs, names[0], "ApproximateNumberOfMessagesDelayed") == 1


def test_queue_url_is_looked_up_once_and_no_client_is_built_before_use(
    sqs: Any, names: tuple[str, str], clock: FakeClock
) -> None:
    queue, dlq = names
    create_timer_queues(sqs, queue=queue, dead_letter_queue=dlq)
    recorder = RecordingSqs(sqs)
    built: list[RecordingSqs] = []

    def factory() -> RecordingSqs:
        built.append(recorder)
        return recorder

    timers = SqsTimers(factory, queue=queue, dead_letter_queue=dlq, clock=clock)
    assert built == []
    timers.schedule("lead-3", 0, T0)
    timers.schedule("lead-4", 0, T0)
    lookups = [kwargs for name, kwargs in recorder.calls if name == "get_queue_url"]
    assert lookups == [{"QueueName": queue}]


def test_dead_letters_counts_a_message_moved_to_the_dead_letter_queue(
    sqs: Any, names: tuple[str, str], clock: FakeClock
) -> None:
    queue, dlq = names
    # One receive without a delete is enough to dead-letter here (5 in the real setup).
    create_timer_queues(sqs, queue=queue, dead_letter_queue=dlq, max_receives=1)
    timers = SqsTimers(lambda: sqs, queue=queue, dead_letter_queue=dlq, clock=clock)
    timers.schedule("lead-5", 0, T0)
    assert timers.dead_letters() == 0

    [failed] = _receive(sqs, queue, VisibilityTimeout=0)  # the worker raised: no delete
    assert TimerMessage.from_json(failed["Body"]).lead_id == "lead-5"
    assert _receive(sqs, queue, VisibilityTimeout=0) == []  # redrive, not redelivery

    assert timers.dead_letters() == 1


def test_dead_letters_is_none_without_a_dead_letter_queue(
    sqs: Any, names: tuple[str, str], clock: FakeClock
) -> None:
    create_timer_queues(sqs, queue=names[0], dead_letter_queue=None)
    timers = SqsTimers(lambda: sqs, queue=names[0], dead_letter_queue=None, clock=clock)
    assert timers.dead_letters() is None


def test_long_poll_lets_other_requests_through_and_returns_what_they_sent(
    timers: SqsTimers, sqs: Any, names: tuple[str, str]
) -> None:
    # If the long poll held the embedded server's lock for its wait, the send below would
    # queue behind it and the poll would come back empty.
    url = sqs.get_queue_url(QueueName=names[0])["QueueUrl"]
    got: list[dict[str, Any]] = []

    def poll() -> None:
        reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=10)
        got.extend(reply.get("Messages", []))

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.2)  # a head start for the poll; nothing is timed
    timers.schedule("lead-6", 0, T0)
    poller.join(timeout=20)
    assert [TimerMessage.from_json(m["Body"]).lead_id for m in got] == ["lead-6"]
