"""Timers as SQS delayed messages: one message per pending ladder step. The same queue carries
jobs (e.g. a Slack click to act on), sent without delay: the alert worker consumes both, and a
message's "kind" says which it is (chalicelib/services/jobs.py).

SQS delays a message by at most 900 s; a step due later is re-sent by the worker with the
remaining delay when the message arrives early. The delay is rounded down, so a message arrives
at or a little before its due time and the worker waits out the sub-second rest, rather than
arriving up to a second late.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from chalicelib.domain.sla import TimerMessage
from chalicelib.ports import Clock

MAX_DELAY_S = 900  # SQS's limit on DelaySeconds
TIMER_KIND = "timer"


def delay_seconds(due: datetime, now: datetime) -> int:
    """Whole seconds from `now` to `due`, rounded down, within what SQS accepts."""
    return max(0, min(MAX_DELAY_S, math.floor((due - now).total_seconds())))


class SqsTimers:
    """Schedules a lead's step as a message on the timers queue, delayed until (about) due, and
    queues jobs for the worker on the same queue."""

    def __init__(
        self,
        client_factory: Callable[[], Any],
        *,
        queue: str,
        dead_letter_queue: str | None,
        clock: Clock,
    ) -> None:
        # The client is built on first use (boto3 is slow to import and to build a client, and
        # moto must start first in tests); queue URLs are looked up once per process.
        self._client_factory = client_factory
        self._queue = queue
        self._dead_letter_queue = dead_letter_queue
        self._clock = clock
        self._urls: dict[str, str] = {}
        self._lock = threading.Lock()

    def schedule(self, lead_id: str, step: int, due: datetime) -> None:
        """Send (lead_id, step, due) to the timers queue, delayed until due (at most 900 s)."""
        fields = json.loads(TimerMessage(lead_id, step, due).to_json())
        self._client_factory().send_message(
            QueueUrl=self.queue_url(),
            MessageBody=_body(TIMER_KIND, fields),
            DelaySeconds=delay_seconds(due, self._clock.now()),
        )

    def enqueue(self, kind: str, payload: Mapping[str, object]) -> None:
        """Send the job `{"kind": kind, **payload}` to the queue, to be received at once."""
        self._client_factory().send_message(
            QueueUrl=self.queue_url(), MessageBody=_body(kind, payload), DelaySeconds=0
        )

    def dead_letters(self) -> int | None:
        """The dead-letter queue's approximate depth; None without one."""
        if self._dead_letter_queue is None:
            return None
        reply = self._client_factory().get_queue_attributes(
            QueueUrl=self._url(self._dead_letter_queue),
            AttributeNames=["ApproximateNumberOfMessages"],
        )
        return int(reply["Attributes"]["ApproximateNumberOfMessages"])

    def queue_url(self) -> str:
        """The timers queue's URL (what a consumer receives from)."""
        return self._url(self._queue)

    def _url(self, name: str) -> str:
        with self._lock:
            url = self._urls.get(name)
        if url is None:
            # Two threads may both look it up the first time; they get the same answer.
            url = str(self._client_factory().get_queue_url(QueueName=name)["QueueUrl"])
            with self._lock:
                self._urls[name] = url
        return url


def _body(kind: str, payload: Mapping[str, object]) -> str:
    if "kind" in payload:
        raise ValueError("a job's payload may not name its own kind")
    return json.dumps({"kind": kind, **payload}, separators=(",", ":"))
