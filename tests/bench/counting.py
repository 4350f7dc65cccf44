"""Count the DynamoDB requests a botocore client sends, by operation, with its event hooks."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})
READS = frozenset({"GetItem", "BatchGetItem", "Query", "TransactGetItems"})
SCANS = frozenset({"Scan"})


class RequestCounter:
    """Hooks `before-call` (once per API call) and `before-send` (once per HTTP attempt, so a
    retry shows up as an extra send) on every client attached, and tallies both."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.sends = 0
        # Per call: operation and the number of items it touches (transactions, batches).
        self.log: list[tuple[str, int]] = []
        # Per call, in the same order: operation and the tables it names (sorted).
        self.tables: list[tuple[str, tuple[str, ...]]] = []
        self._clients: list[Any] = []

    def attach(self, client: Any) -> None:
        """Count `client`'s DynamoDB requests from now on (attaching twice is harmless)."""
        if any(known is client for known in self._clients):
            return
        self._clients.append(client)
        events = client.meta.events
        events.register("before-call.dynamodb.*", self._on_call, unique_id="bench-count-call")
        events.register("before-send.dynamodb.*", self._on_send, unique_id="bench-count-send")

    def attached(self, client: Any) -> bool:
        """Whether `client` is one this counter hooks (a rebuilt client would not be)."""
        return any(known is client for known in self._clients)

    def reset(self) -> None:
        """Start a new count."""
        self.calls.clear()
        self.sends = 0
        self.log.clear()
        self.tables.clear()

    def snapshot(self) -> dict[str, Any]:
        """Writes, reads and scans so far, with the operations behind them."""
        return {
            "writes": sum(n for op, n in self.calls.items() if op in WRITES),
            "reads": sum(n for op, n in self.calls.items() if op in READS),
            "scans": sum(n for op, n in self.calls.items() if op in SCANS),
            "other": sum(n for op, n in self.calls.items() if op not in WRITES | READS | SCANS),
            "sends": self.sends,
            "calls": list(self.log),
            "tables": list(self.tables),
        }

    def _on_call(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        self.calls[operation] += 1
        self.log.append((operation, _items(params)))
        self.tables.append((operation, _tables(params)))

    def _on_send(self, **_: Any) -> None:
        self.sends += 1


class ProcessTally:
    """A cross-check: counts DynamoDB API calls from every botocore session created while it is
    installed (botocore registers its built-in handlers on each new session). If this count and
    RequestCounter's differ, some client the benchmark does not hook sent requests."""

    def __init__(self) -> None:
        self.calls = 0
        self._spec = ("before-call.dynamodb.*", self._on_call)

    def install(self) -> None:
        """Count calls from sessions created from now on."""
        from botocore import handlers

        handlers.BUILTIN_HANDLERS.append(self._spec)

    def uninstall(self) -> None:
        """Stop adding the hook to new sessions."""
        from botocore import handlers

        if self._spec in handlers.BUILTIN_HANDLERS:
            handlers.BUILTIN_HANDLERS.remove(self._spec)

    def _on_call(self, **_: Any) -> None:
        self.calls += 1


def describe(calls: list[tuple[str, int]]) -> str:
    """'PutItem, BatchGetItem(2 keys), TransactWriteItems(5 items)'."""
    parts = []
    for operation, items in calls:
        if operation == "BatchGetItem":
            parts.append(f"{operation}({items} key{'s' * (items != 1)})")
        elif operation.startswith(("Transact", "BatchWrite")):
            parts.append(f"{operation}({items} item{'s' * (items != 1)})")
        else:
            parts.append(operation)
    return ", ".join(parts) or "none"


def share(
    tables: list[tuple[str, tuple[str, ...]]], wanted: dict[str, frozenset[str]]
) -> dict[str, int]:
    """Writes and reads among `tables` (a snapshot's "tables") that are one of `wanted`'s
    operations on its table: {"routing": frozenset({"UpdateItem"})} counts the routing table's
    UpdateItems. A call naming several tables (a transaction) is never part of a share."""
    picked = [
        op for op, names in tables if len(names) == 1 and op in wanted.get(names[0], frozenset())
    ]
    return {
        "writes": sum(op in WRITES for op in picked),
        "reads": sum(op in READS for op in picked),
        "scans": sum(op in SCANS for op in picked),
    }


def _tables(request: dict[str, Any]) -> tuple[str, ...]:
    """The tables a request names, read from its serialised JSON body."""
    try:
        body = json.loads(request.get("body") or b"{}")
    except (TypeError, ValueError):
        return ()
    names: set[str] = set()
    if isinstance(body.get("TableName"), str):
        names.add(body["TableName"])
    names.update(body.get("RequestItems", {}))
    for item in body.get("TransactItems", ()):
        names.update(op["TableName"] for op in item.values() if "TableName" in op)
    return tuple(sorted(names))


def _items(request: dict[str, Any]) -> int:
    """How many items a request touches, read from its serialised JSON body."""
    try:
        body = json.loads(request.get("body") or b"{}")
    except (TypeError, ValueError):
        return 1
    if "TransactItems" in body:
        return len(body["TransactItems"])
    if "RequestItems" in body:
        tables = body["RequestItems"].values()
        return sum(len(t.get("Keys", t) if isinstance(t, dict) else t) for t in tables)
    return 1
