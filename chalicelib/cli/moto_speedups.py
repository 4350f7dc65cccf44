"""Speedups for moto, installed while an embedded server runs, so that `make run` and the bench
measure leadclock rather than moto.

Two of moto's costs grow with the data it holds, and under the embedded server's single lock
(see chalicelib.cli.embedded) they came to dominate local latency:

- SQS: moto reads the time with moto.core.utils.unix_time / unix_time_millis for every message a
  queue holds, on every request (is it visible yet? still delayed? plus the queue's counts).
  unix_time() builds two datetimes and subtracts them (~6 us): with 1,000 delayed timers queued
  each ReceiveMessage cost tens of ms, and alerts came seconds late. moto.sqs.models (that
  module's names only) gets `_unix_time` instead (~0.4 us), which returns moto's value bit for
  bit (see `unix_seconds`).
- DynamoDB: before a TransactWriteItems moto deep-copies every table the transaction names, to
  put them back if it fails: ~65 ms for a table of 1,000 leads, for every landing and every
  fired step. Transactions instead keep a copy of just the items they name and put those back
  when they fail (see `_undoable`).

The answers are identical: the tables end as they began after a refused transaction (only a
table's stream, which leadclock does not use, keeps records of the writes undone).

`install()` and `uninstall()` are counted, one pair per server: the first install takes the
costs away and the last uninstall gives moto its own functions back (moto's state, like this
module's, is per process, not per server).
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any


class Speedups:
    """A reference-counted installation of the speedups over moto's functions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved: list[tuple[Any, str, Any]] = []

    def install(self) -> None:
        """Take the costs away (counted: one install per user, e.g. per server started)."""
        with self._lock:
            if self._users == 0:
                for target, name, replacement in _replacements():
                    self._saved.append((target, name, getattr(target, name)))
                    setattr(target, name, replacement)
            self._users += 1

    def uninstall(self) -> None:
        """Give moto its own functions back once the last user has gone."""
        with self._lock:
            self._users -= 1
            if self._users == 0:
                for target, name, original in reversed(self._saved):
                    setattr(target, name, original)
                self._saved = []


_SPEEDUPS = Speedups()  # the process's one installation, shared by every embedded server


def install() -> None:
    """Install the speedups for one more user (a no-op past the first)."""
    _SPEEDUPS.install()


def uninstall() -> None:
    """Release one user's install; the last one out restores moto."""
    _SPEEDUPS.uninstall()


def unix_seconds(ns: int) -> float:
    """What moto's unix_time() returns when the system clock reads `ns` nanoseconds since the
    epoch: datetime.now() keeps whole microseconds (rounding down), and moto adds up the
    difference from the epoch as (days * 86400) + (seconds + microseconds / 1e6)."""
    days, rest = divmod(ns // 1000, 86_400_000_000)
    seconds, micros = divmod(rest, 1_000_000)
    return (days * 86400) + (seconds + (micros / 1e6))


def _replacements() -> list[tuple[Any, str, Any]]:
    """(where, name, replacement) for each function of moto's that the speedups replace."""
    import moto.dynamodb.models as dynamodb_models
    import moto.sqs.models as sqs_models

    backend = dynamodb_models.DynamoDBBackend
    return [
        (sqs_models, "unix_time", _unix_time),
        (sqs_models, "unix_time_millis", _unix_time_millis),
        (backend, "transact_write_items", _undoable(backend.transact_write_items)),
        (dynamodb_models, "copy", _NoTableBackup()),
    ]


def _unix_time(dt: datetime | None = None) -> float:
    """moto.core.utils.unix_time, the same value without building datetimes for "now"."""
    if dt is not None:
        from moto.core.utils import unix_time

        return unix_time(dt)
    return unix_seconds(time.time_ns())


def _unix_time_millis(dt: datetime | None = None) -> float:
    """moto.core.utils.unix_time_millis, likewise."""
    return _unix_time(dt) * 1000.0


_transaction = threading.local()  # .undoable: a transaction runs through `_undoable` here


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
