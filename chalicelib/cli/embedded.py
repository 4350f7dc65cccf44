"""The embedded AWS stack: moto's server in a thread (DynamoDB, SQS, SES, SSM on one endpoint),
no Docker, no AWS."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from chalicelib.cli import moto_speedups

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

RECEIVE = "AmazonSQS.ReceiveMessage"
POLL_EVERY_S = 0.05  # how often a long poll looks again; bounds the lateness it adds


class EmbeddedAws:
    """moto's server on 127.0.0.1. Requests are handled one at a time: moto's backends have no
    locks, and DynamoDB's conditional writes and transactions must stay atomic under load.

    An SQS long poll (ReceiveMessage with WaitTimeSeconds) would hold that lock for its whole
    wait and stall every other request, so it is served as repeated short polls, each taking
    the lock briefly, until a message arrives or the wait is over.

    While it serves, two of moto's costs that grow with the data held are taken away, with the
    same answers (see chalicelib.cli.moto_speedups)."""

    def __init__(self, port: int = 0) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self._lock = threading.Lock()
        moto_app = DomainDispatcherApplication(create_backend_app)
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", port, self._serialised(moto_app), threaded=True, request_handler=_Quiet
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._sped_up = False

    @property
    def url(self) -> str:
        """The endpoint to give boto3 and PynamoDB."""
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> EmbeddedAws:
        """Serve in a background thread."""
        moto_speedups.install()
        self._sped_up = True
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        if self._sped_up:
            self._sped_up = False
            moto_speedups.uninstall()

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
