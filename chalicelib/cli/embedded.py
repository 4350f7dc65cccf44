"""The embedded AWS stack: moto's server in a thread (DynamoDB, SQS, SES, SSM on one endpoint),
no Docker, no AWS."""

from __future__ import annotations

import copy
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

    While it serves, two of moto's costs that grow with the data held are taken away, with the
    same answers (see `_MotoSpeedups`)."""

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
        _MOTO_SPEEDUPS.install()
        self._sped_up = True
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        if self._sped_up:
            self._sped_up = False
            _MOTO_SPEEDUPS.uninstall()

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


class _MotoSpeedups:
    """Two costs of moto's that grow with what the stack holds, taken away while an embedded
    server runs, so that `make run` and the bench measure leadclock rather than moto. Neither
    changes an answer; both are installed by the first server to start and removed by the last
    to stop (moto's state, like this module, is per process, not per server).

    SQS: moto reads the time with moto.core.utils.unix_time / unix_time_millis for every
    message a queue holds, on every request (is it visible yet? still delayed? plus the queue's
    counts). unix_time() builds two datetimes and subtracts them (~6 us): with 1,000 delayed
    timers queued each ReceiveMessage cost tens of ms under the server's one lock, and alerts
    came seconds late. moto.sqs.models (that module's names only) gets `_unix_time` instead
    (~0.4 us), which returns moto's value bit for bit (see `unix_seconds`).

    DynamoDB: before a TransactWriteItems moto deep-copies every table the transaction names,
    to put them back if it fails: ~65 ms for a table of 1,000 leads, for every landing and
    every fired step. Transactions instead keep a copy of just the items they name and put
    those back when they fail (see `_undoable`): the tables end as they began (only a table's
    stream, which leadclock does not use, keeps records of the writes undone)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._servers = 0
        self._saved: list[tuple[Any, str, Any]] = []

    def install(self) -> None:
        """Take the costs away (counted: one install per server started)."""
        with self._lock:
            if self._servers == 0:
                for target, name, replacement in _speedups():
                    self._saved.append((target, name, getattr(target, name)))
                    setattr(target, name, replacement)
            self._servers += 1

    def uninstall(self) -> None:
        """Give moto its own functions back once no server runs."""
        with self._lock:
            self._servers -= 1
            if self._servers == 0:
                for target, name, original in reversed(self._saved):
                    setattr(target, name, original)
                self._saved = []


def _speedups() -> list[tuple[Any, str, Any]]:
    """(where, name, replacement) for each function of moto's that `_MotoSpeedups` replaces."""
    import moto.dynamodb.models as dynamodb_models
    import moto.sqs.models as sqs_models

    backend = dynamodb_models.DynamoDBBackend
    return [
        (sqs_models, "unix_time", _unix_time),
        (sqs_models, "unix_time_millis", _unix_time_millis),
        (backend, "transact_write_items", _undoable(backend.transact_write_items)),
        (dynamodb_models, "copy", _NoTableBackup()),
    ]


_MOTO_SPEEDUPS = _MotoSpeedups()
_transaction = threading.local()  # .undoable: a transaction runs through `_undoable` here


def _unix_time(dt: datetime | None = None) -> float:
    """moto.core.utils.unix_time, the same value without building datetimes for "now"."""
    if dt is not None:
        from moto.core.utils import unix_time

        return unix_time(dt)
    return unix_seconds(time.time_ns())


def _unix_time_millis(dt: datetime | None = None) -> float:
    """moto.core.utils.unix_time_millis, likewise."""
    return _unix_time(dt) * 1000.0


def _undoable(transact: Callable[..., Any]) -> Callable[..., Any]:
    """moto's TransactWriteItems, rolled back item by item: a copy of each item the transaction
    puts, updates or deletes (None if absent) is kept first, and when moto refuses the
    transaction (a condition failed, a duplicate key, an invalid request) each one is put back,
    or deleted if it did not exist. Items it does not name are never written by it."""

    def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> Any:
        before = _items_named(backend, transact_items)
        _transaction.undoable = True
        try:
            return transact(backend, transact_items)
        except BaseException:
            _transaction.undoable = False
            for table, key, item in reversed(before):
                if item is not None:
                    backend.put_item(table, item.to_json()["Attributes"])
                elif backend.get_item(table, key) is not None:
                    backend.delete_item(table, key)
            raise
        finally:
            _transaction.undoable = False

    return transact_write_items


def _items_named(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[str, Any, Any]]:
    """(table, key, a copy of the item or None) for each write in the transaction; a write moto
    cannot look up (no such table, no key) is one it will not make either."""
    named = []
    for entry in transact_items:
        for kind, op in entry.items():
            if kind not in ("Put", "Update", "Delete") or not isinstance(op, dict):
                continue
            try:
                table = backend.get_table(op["TableName"])
                if kind == "Put":
                    attrs = (table.hash_key_attr, table.range_key_attr)
                    key = {a: op["Item"][a] for a in attrs if a is not None}
                else:
                    key = op["Key"]
                item = backend.get_item(op["TableName"], key)
            except Exception:
                continue  # moto answers the request with the error and writes nothing for it
            named.append((op["TableName"], key, copy.deepcopy(item)))
    return named


class _NoTableBackup:
    """moto.dynamodb.models' `copy` module, except that inside `_undoable` a deep copy of a
    whole table (moto's backup before a transaction) returns the table itself: moto's own
    rollback then puts back the table it already has, and `_undoable` restores the items."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, x: Any, memo: dict[int, Any] | None = None) -> Any:
        """copy.deepcopy, but a table during a transaction is its own backup."""
        from moto.dynamodb.models.table import Table

        if getattr(_transaction, "undoable", False) and isinstance(x, Table):
            return x
        return copy.deepcopy(x, memo)


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
