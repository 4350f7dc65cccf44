"""The embedded AWS stack: moto's server in a thread (DynamoDB, SQS, SES, SSM on one endpoint),
no Docker, no AWS."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

RECEIVE = "AmazonSQS.ReceiveMessage"
POLL_EVERY_S = 0.05  # how often a long poll looks again; bounds the lateness it adds


class EmbeddedAws:
    """moto's server on 127.0.0.1. Requests are handled one at a time: moto's backends have no
    locks, and DynamoDB's conditional writes and transactions must stay atomic under load.

    An SQS long poll (ReceiveMessage with WaitTimeSeconds) would hold that lock for its whole
    wait and stall every other request, so it is served as repeated short polls, each taking
    the lock briefly, until a message arrives or the wait is over.

    While it serves, moto's SQS reads the time through a cheaper function giving the same
    values (see `_CheapSqsClock`)."""

    def __init__(self, port: int = 0) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self._lock = threading.Lock()
        moto_app = DomainDispatcherApplication(create_backend_app)
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", port, self._serialised(moto_app), threaded=True, request_handler=_Quiet
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._cheap_clock = False

    @property
    def url(self) -> str:
        """The endpoint to give boto3 and PynamoDB."""
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> EmbeddedAws:
        """Serve in a background thread."""
        _CHEAP_SQS_CLOCK.install()
        self._cheap_clock = True
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        if self._cheap_clock:
            self._cheap_clock = False
            _CHEAP_SQS_CLOCK.uninstall()

    def _serialised(self, app: WSGIApp) -> WSGIApp:
        def once(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
            with self._lock:
                # Read the whole reply inside the lock so no other request interleaves with it.
                return list(app(environ, start_response))

        def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if environ.get("HTTP_X_AMZ_TARGET") != RECEIVE:
                return once(environ, start_response)
            body, wait_s = _short_poll(environ)
            deadline = time.monotonic() + wait_s
            reply: list[Any] = []  # the poll's start_response arguments
            while True:
                reply.clear()
                chunks = once(_with_body(environ, body), lambda *args: reply.append(args))
                if time.monotonic() >= deadline or _has_messages(reply, chunks):
                    start_response(*reply[-1])
                    return chunks
                time.sleep(POLL_EVERY_S)

        return serve


class _CheapSqsClock:
    """moto's SQS reads the time with moto.core.utils.unix_time / unix_time_millis, for every
    message a queue holds, on every request (is it visible yet? still delayed? plus the queue's
    counts). unix_time() builds two datetimes and subtracts them (~6 us): with 1,000 delayed
    timers queued, each ReceiveMessage cost tens of ms under the server's one lock, and alerts
    in `make run` and the bench came seconds late because of moto, not of leadclock or SQS.

    So while an embedded server runs, moto.sqs.models (only that module's names; the rest of
    moto is untouched) uses `_unix_time` (~0.4 us), which returns what moto's would, bit for
    bit: datetime.now() floors the system clock's nanoseconds to whole microseconds, so
    unix_time() is moto's own arithmetic on that floor, done here on integers; a call with a
    datetime goes to moto's function. Installed by the first server to start and restored by
    the last to stop: moto's state (and this module) is per process, not per server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._servers = 0
        self._saved: dict[str, Any] = {}

    def install(self) -> None:
        """Use the cheap clock in moto's SQS (counted: one install per server started)."""
        import moto.sqs.models as sqs_models

        with self._lock:
            if self._servers == 0:
                cheap = {"unix_time": _unix_time, "unix_time_millis": _unix_time_millis}
                self._saved = {name: getattr(sqs_models, name) for name in cheap}
                for name, function in cheap.items():
                    setattr(sqs_models, name, function)
            self._servers += 1

    def uninstall(self) -> None:
        """Give moto's SQS its own clock back once no server uses the cheap one."""
        import moto.sqs.models as sqs_models

        with self._lock:
            self._servers -= 1
            if self._servers == 0:
                for name, function in self._saved.items():
                    setattr(sqs_models, name, function)
                self._saved = {}


_CHEAP_SQS_CLOCK = _CheapSqsClock()


def _unix_time(dt: datetime | None = None) -> float:
    """moto.core.utils.unix_time, the same value without building datetimes for "now"."""
    if dt is not None:
        from moto.core.utils import unix_time

        return unix_time(dt)
    return unix_seconds(time.time_ns())


def _unix_time_millis(dt: datetime | None = None) -> float:
    """moto.core.utils.unix_time_millis, likewise."""
    return _unix_time(dt) * 1000.0


def unix_seconds(ns: int) -> float:
    """What moto's unix_time() returns when the system clock reads `ns` nanoseconds since the
    epoch: datetime.now() keeps whole microseconds (rounding down), and moto adds up the
    difference from the epoch as (days * 86400) + (seconds + microseconds / 1e6)."""
    days, rest = divmod(ns // 1000, 86_400_000_000)
    seconds, micros = divmod(rest, 1_000_000)
    return (days * 86400) + (seconds + (micros / 1e6))


def create_timer_queues(
    sqs: Any,
    *,
    queue: str,
    dead_letter_queue: str | None,
    max_receives: int = 5,
    visibility_timeout_s: int = 60,
) -> str:
    """Create the timers queue (and its dead-letter queue) as infra/resources.json does in AWS;
    returns the timers queue's URL."""
    attributes = {"VisibilityTimeout": str(visibility_timeout_s)}
    if dead_letter_queue is not None:
        dlq_url = sqs.create_queue(QueueName=dead_letter_queue)["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
        policy = {
            "deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"],
            "maxReceiveCount": max_receives,
        }
        attributes["RedrivePolicy"] = json.dumps(policy)
    url: str = sqs.create_queue(QueueName=queue, Attributes=attributes)["QueueUrl"]
    return url


def _short_poll(environ: dict[str, Any]) -> tuple[bytes, float]:
    """The request body asking moto not to wait (explicitly, so a queue's default wait is not
    used either), and how long the caller asked to wait."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    try:
        request = json.loads(body)
    except ValueError:
        return body, 0.0  # not one we understand: moto answers it (with an error) as it is
    if not isinstance(request, dict):
        return body, 0.0
    wait_s = float(request.get("WaitTimeSeconds") or 0)
    request["WaitTimeSeconds"] = 0
    return json.dumps(request).encode(), wait_s


def _with_body(environ: dict[str, Any], body: bytes) -> dict[str, Any]:
    return {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}


def _has_messages(reply: list[Any], chunks: list[bytes]) -> bool:
    """True unless the reply is a successful, empty receive (errors go back at once)."""
    if not reply or not str(reply[-1][0]).startswith("200"):
        return True
    try:
        answer = json.loads(b"".join(chunks) or b"{}")
    except ValueError:
        return True
    return bool(answer.get("Messages")) if isinstance(answer, dict) else True


class _Quiet(WSGIRequestHandler):
    """No access log: every DynamoDB call would otherwise print a line."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None
