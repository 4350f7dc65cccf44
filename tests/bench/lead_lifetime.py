"""DynamoDB writes per lead over its whole life: requests, and write units estimated from sizes.

Three lives, each a new lead through the real Chalice handlers (chalice.test.Client), the real
adapters and the embedded server, with the demo team (infra/team.demo.yaml, queue inbound, the
demo ladder in seconds) on a movable clock:
  (a) captured and assigned, then answered (POST /leads/{id}/events) before any step fires;
  (b) captured, its first step (warn) fires, then answered;
  (c) captured, and nobody answers: every step of the ladder fires, repeats included.
A step fires through the deployed SQS handler (`timer`, invoked with an SQS event carrying the
message the capture or the previous step scheduled), the clock moved to its due time. Timers
are recorded, not sent (SQS is not DynamoDB); alerts go to recording senders.

Requests are counted with counting.RequestCounter's botocore hooks (cross-checked against every
botocore session in the process). moto does not model ReturnConsumedCapacity, so write units
are estimated the way DynamoDB bills them: each item a write touches costs ceil(size / 1 KB)
units (at least 1), its size being the larger of the item before and after the write (read raw
around each request); a transaction costs twice that per item; a write whose condition fails
still costs the item's units. Global secondary index writes are billed on top, and reported
apart: an index entry put, changed or removed costs ceil(entry size / 1 KB); an entry whose
index key changes costs a delete and a put. Transactions are assumed not to double index units.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.bench.counting import WRITES, ProcessTally, RequestCounter
from tests.bench.item_size import item_bytes
from tests.bench.report import Figure, at_most, info

ROOT = Path(__file__).resolve().parents[2]
TEAM_FILE = ROOT / "infra" / "team.demo.yaml"
TABLE_PREFIX = "leadclock-bench-life-"
PUBLIC_BASE_URL = "https://bench.leadclock.test/api"
ADMIN_KEY_VAR = "LEADCLOCK_BENCH_ADMIN_KEY"
# A Monday, 13:00 in New York, 12:00 in Chicago, 10:00 in Los Angeles: the demo reps are at
# work and none is in quiet hours, so every alert goes out on the channel its step names.
AT = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)
MAX_WRITES = 6  # design.md: write units per lead over its life
KB = 1024

# The form a typical lead posts (the capture section's typical form, shorter).
FORM = {
    "name": "Maria Gonzalez",
    "email": "maria.gonzalez@example.com",
    "message": "Hi, we'd like a quote to replace the roof on our two-storey house.",
    "utm_source": "google",
    "utm_medium": "cpc",
    "utm_campaign": "Roof_Replacement_Spring",
}

LIVES = (
    ("answered_before_steps", "(a) captured, assigned, answered before any step", 0, True),
    ("warned_then_answered", "(b) captured, warned, then answered", 1, True),
    ("full_demo_ladder", "(c) captured, climbs the whole demo ladder", None, False),
)


_Pending = tuple[str, list[tuple[str, dict[str, Any]]], list[dict[str, Any]]]


@dataclass
class ItemWrite:
    """One item a write request touched: its table, sizes before and after, and units."""

    table: str
    before: int
    after: int
    units: int
    index_units: int


@dataclass
class Write:
    """One write request, its items, and the phase of the lead's life it belongs to."""

    operation: str
    phase: str
    items: list[ItemWrite] = field(default_factory=list)
    failed: bool = False

    @property
    def units(self) -> int:
        """Base-table write units, doubled for a transaction."""
        per_item = sum(i.units for i in self.items)
        return per_item * (2 if self.operation == "TransactWriteItems" else 1)

    @property
    def index_units(self) -> int:
        """Write units of the global secondary indexes the items are in."""
        return sum(i.index_units for i in self.items)


class WriteCost:
    """Estimates each write request's units: hooks `before-call` and `after-call` on every
    client attached and reads the items it names, raw, before and after it is sent."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._schemas: dict[str, dict[str, Any]] = {}
        # Between a write's before-call and after-call: its operation, targets, items before.
        self._pending: _Pending | None = None
        self.phase = ""
        self.writes: list[Write] = []
        self.raw_calls = 0  # calls of the raw client, which the process tally also sees
        raw.meta.events.register("before-call.dynamodb.*", self._on_raw, unique_id="bench-raw")

    def attach(self, client: Any) -> None:
        """Estimate `client`'s writes from now on."""
        events = client.meta.events
        events.register("before-call.dynamodb.*", self._before, unique_id="bench-wcu-before")
        events.register("after-call.dynamodb.*", self._after, unique_id="bench-wcu-after")

    def _before(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        if operation not in WRITES:
            return
        body = json.loads(params.get("body") or b"{}")
        targets = [(table, self._key(table, item)) for table, item in _targets(operation, body)]
        self._pending = (operation, targets, [self._get(t, k) for t, k in targets])

    def _after(self, parsed: dict[str, Any], **_: Any) -> None:
        if self._pending is None:
            return
        operation, targets, before = self._pending
        self._pending = None
        failed = "Error" in parsed
        after = before if failed else [self._get(t, k) for t, k in targets]
        write = Write(operation, self.phase, failed=failed)
        for (table, _), old, new in zip(targets, before, after, strict=True):
            size_old, size_new = item_bytes(old), item_bytes(new)
            write.items.append(
                ItemWrite(
                    table,
                    size_old,
                    size_new,
                    _units(max(size_old, size_new)),
                    self._index_units(table, old, new),
                )
            )
        self.writes.append(write)

    def _index_units(self, table: str, old: dict[str, Any], new: dict[str, Any]) -> int:
        schema = self._schema(table)
        units = 0
        for index in schema.get("GlobalSecondaryIndexes", []):
            keys = [k["AttributeName"] for k in index["KeySchema"]]
            before, after = _entry(schema, index, old), _entry(schema, index, new)
            if before and after:
                if any(old[k] != new[k] for k in keys):
                    units += _units(item_bytes(before)) + _units(item_bytes(after))
                elif before != after:
                    units += _units(max(item_bytes(before), item_bytes(after)))
            elif before or after:
                units += _units(item_bytes(before or after))
        return units

    def _schema(self, table: str) -> dict[str, Any]:
        if table not in self._schemas:
            described: dict[str, Any] = self._raw.describe_table(TableName=table)["Table"]
            self._schemas[table] = described
        return self._schemas[table]

    def _key(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        names = [k["AttributeName"] for k in self._schema(table)["KeySchema"]]
        return {name: item[name] for name in names}

    def _get(self, table: str, key: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self._raw.get_item(
            TableName=table, Key=key, ConsistentRead=True
        ).get("Item", {})
        return found

    def _on_raw(self, **_: Any) -> None:
        self.raw_calls += 1


def run(notes: list[str]) -> list[Figure]:
    """Every lead-lifetime figure; `notes` collects the lines printed under the table."""
    from tests.bench.capture_path import on_embedded_stack

    return on_embedded_stack(_measure, notes)


def _measure(endpoint: str, tally: ProcessTally, notes: list[str]) -> list[Figure]:
    import boto3
    from chalice.test import Client

    from chalicelib import wiring
    from chalicelib.adapters.dynamo.models import MODELS, create_tables
    from chalicelib.settings import load_settings
    from chalicelib.team_file import load_team_file
    from tests.bench.capture_path import _dynamo_clients
    from tests.fakes import FakeClock, FakeSleep, FakeTimers, RecordingSender
    from tests.fakes import RecordingUpdatingSender as SlackSender

    os.environ[ADMIN_KEY_VAR] = secrets.token_hex(16)
    settings = load_settings(
        {
            "AWS_REGION": "us-east-1",
            "LEADCLOCK_TABLE_PREFIX": TABLE_PREFIX,
            "LEADCLOCK_AWS_ENDPOINT": endpoint,
            "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "LEADCLOCK_ADMIN_KEY_REF": f"env:{ADMIN_KEY_VAR}",
        }
    )
    built = wiring.build(settings)
    create_tables()
    team = load_team_file(TEAM_FILE)
    built.team.save(team)
    clock, timers = FakeClock(AT), FakeTimers()
    senders = {"sms": RecordingSender(), "slack": SlackSender(), "email": RecordingSender()}
    container = replace(
        built, clock=clock, timers=timers, senders=lambda _: senders, sleep=FakeSleep(clock)
    )
    counter = RequestCounter()
    # A session of its own, so the process tally sees the raw reads too; they are subtracted.
    raw = boto3.session.Session().client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
    cost = WriteCost(raw)
    for client in _dynamo_clients(MODELS.values(), container.store):
        counter.attach(client)
        cost.attach(client)

    from app import app

    wiring.use(container)
    results = []
    try:
        with Client(app, project_dir=str(ROOT)) as chalice:
            life = _Life(chalice, container, timers, clock, cost)
            for n, (key, title, steps, answer) in enumerate(LIVES):
                counter.reset()
                cost.writes.clear()
                tally_before, raw_before = tally.calls, cost.raw_calls
                lead_id = life.live(n, steps, answer)
                counts = counter.snapshot()
                seen = tally.calls - tally_before - (cost.raw_calls - raw_before)
                if seen != len(counts["calls"]):
                    raise RuntimeError(
                        f"{key}: {seen} DynamoDB calls in the process, "
                        f"{len(counts['calls'])} on the hooked clients"
                    )
                writes = list(cost.writes)
                if len(writes) != counts["writes"]:
                    raise RuntimeError(
                        f"{key}: {len(writes)} writes sized, {counts['writes']} sent"
                    )
                results.append((key, title, lead_id, counts, writes))
    finally:
        wiring.use(None)
    return _report(results, senders, notes)


class _Life:
    """Drives one lead through its life over HTTP and the timer handler."""

    def __init__(self, chalice: Any, container: Any, timers: Any, clock: Any, cost: WriteCost):
        self._chalice = chalice
        self._container = container
        self._timers = timers
        self._clock = clock
        self._cost = cost

    def live(self, n: int, steps: int | None, answer: bool) -> str:
        """Capture a lead, fire `steps` ladder steps (None: all), answer it if asked."""
        self._cost.phase = "capture"
        form = dict(FORM, phone=f"(415) 555-02{n:02d}", email=f"lead{n}.{FORM['email']}")
        seen = len(self._timers.scheduled)
        lead_id = self._capture(form)
        fired = 0
        while steps is None or fired < steps:
            mine = [t for t in self._timers.scheduled[seen:] if t[0] == lead_id]
            seen = len(self._timers.scheduled)
            if not mine:
                break  # the ladder is done
            _, step, due = mine[-1]
            self._clock.advance(seconds=max((due - self._clock.now()).total_seconds(), 0))
            self._cost.phase = f"step {step} ({self._step_name(lead_id, step)})"
            self._fire(lead_id, step, due)
            fired += 1
        if steps is not None and fired < steps:
            raise RuntimeError(f"lead {lead_id}: {fired} step(s) fired, {steps} expected")
        if answer:
            self._clock.advance(seconds=5)
            self._cost.phase = "answer"
            self._answer(lead_id)
        return lead_id

    def _capture(self, form: dict[str, str]) -> str:
        from tests.bench.capture_path import _post_form

        status, lead_id = _post_form(self._chalice.http, form)
        if status != "created" or lead_id is None:
            raise RuntimeError(f"the capture answered {status!r}")
        return lead_id

    def _fire(self, lead_id: str, step: int, due: datetime) -> None:
        from chalicelib.domain.sla import TimerMessage
        from functions.timers import TIMER_QUEUE

        body = TimerMessage(lead_id, step, due).to_json()
        event = self._chalice.events.generate_sqs_event([body], queue_name=TIMER_QUEUE)
        self._chalice.lambda_.invoke("timer", event)

    def _answer(self, lead_id: str) -> None:
        reply = self._chalice.http.post(
            f"/leads/{lead_id}/events",
            headers={"Content-Type": "application/json", "x-api-key": os.environ[ADMIN_KEY_VAR]},
            body=json.dumps({"type": "contacted"}).encode(),
        )
        if reply.status_code != 200:
            raise RuntimeError(f"answering failed: {reply.status_code} {reply.body!r}")

    def _step_name(self, lead_id: str, step: int) -> str:
        from chalicelib.domain.sla import step as rung

        lead = self._container.store.get_lead(lead_id)
        policy = self._container.team.load().sla_policy(lead.sla_policy) if lead else None
        found = rung(policy, step) if policy else None
        return found.name if found else "?"


def _report(
    results: list[tuple[str, str, str, dict[str, Any], list[Write]]],
    senders: dict[str, Any],
    notes: list[str],
) -> list[Figure]:
    figures: list[Figure] = []
    notes.append(
        "lead lifetime: DynamoDB write requests and estimated write units (WCU) per lead, "
        "through the HTTP handlers and the timer handler; units: ceil(max(item before, after) "
        "/ 1 KB) per item, x2 in a transaction; index units (GSI) on top, apart"
    )
    for key, title, _, counts, writes in results:
        units = sum(w.units for w in writes)
        index_units = sum(w.index_units for w in writes)
        prefix = f"lead_life_{key}"
        figures += [
            at_most(f"{prefix}_dynamodb_writes", counts["writes"], MAX_WRITES),
            at_most(f"{prefix}_write_units", units, MAX_WRITES),
            info(f"{prefix}_index_write_units", index_units),
            info(f"{prefix}_dynamodb_reads", counts["reads"]),
            at_most(f"{prefix}_dynamodb_scans", counts["scans"], 0),
        ]
        notes.append(
            f"  {title}: {counts['writes']} write requests, {units} WCU (+{index_units} in "
            f"indexes), {counts['reads']} reads"
        )
        notes += [f"    {line}" for line in _breakdown(writes)]
    sent = {channel: len(s.sent) for channel, s in senders.items()}
    notes += [
        f"  alerts sent over the three lives: {sent}. Where the units go: the capture "
        "transaction alone costs 2 units per item (touchpoint, two identities, lead, event, "
        "rep load; the event, raw body included, is over 1 KB); each fired step is 2 requests "
        "whatever its alerts: the conditional begin on the lead, then one transaction that "
        "logs the step's alerts and moves the lead on (2 units per item), each moving the "
        "lead's entry in the due_steps index (its key, next_step_at, changes: a delete and a "
        "put); sent alerts are not in the alert log's sparse attention index; answering is one "
        "transaction: touchpoint, lead, and the owner's load given back.",
        "  design.md's floor of ~4 units (capture, rotation, fire, response) counts one unit "
        "per operation: the write requests of (a) are near it, its units are not, because a "
        "transaction costs double per item and the capture's writes six items.",
    ]
    return figures


def _breakdown(writes: list[Write]) -> list[str]:
    """One line per phase: each write as operation, tables and units."""
    phases: dict[str, list[Write]] = {}
    for write in writes:
        phases.setdefault(write.phase, []).append(write)
    lines = []
    for phase, group in phases.items():
        units = sum(w.units for w in group)
        index_units = sum(w.index_units for w in group)
        parts = ", ".join(_describe(w) for w in group)
        lines.append(f"{phase}: {len(group)} req, {units} WCU (+{index_units} idx): {parts}")
    return lines


def _describe(write: Write) -> str:
    tables = [_short(i.table) for i in write.items]
    counted = {t: tables.count(t) for t in dict.fromkeys(tables)}
    names = " ".join(f"{t}x{n}" if n > 1 else t for t, n in counted.items())
    failed = " FAILED" if write.failed else ""
    # Items over 1 KB are the ones that cost more than a unit each: say which and how big.
    big = [f"{_short(i.table)} {max(i.before, i.after)} B" for i in write.items if i.units > 1]
    sizes = f" ({', '.join(big)})" if big else ""
    return f"{write.operation}[{names}] {write.units}{sizes}{failed}"


def _short(table: str) -> str:
    return table.removeprefix(TABLE_PREFIX)


def _targets(operation: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(table, item or key) for each item a write request touches."""
    if operation == "TransactWriteItems":
        found = []
        for entry in body.get("TransactItems", []):
            ((kind, op),) = entry.items()
            found.append((op["TableName"], op["Item"] if kind == "Put" else op["Key"]))
        return found
    if operation == "BatchWriteItem":
        return [
            (table, r["PutRequest"]["Item"] if "PutRequest" in r else r["DeleteRequest"]["Key"])
            for table, requests in body.get("RequestItems", {}).items()
            for r in requests
        ]
    return [(body["TableName"], body["Item"] if operation == "PutItem" else body["Key"])]


def _entry(schema: dict[str, Any], index: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """The index entry `item` has in `index` (empty when it lacks the index's keys: sparse)."""
    keys = [k["AttributeName"] for k in index["KeySchema"]]
    if not item or any(k not in item for k in keys):
        return {}
    projection = index["Projection"]
    kind = projection["ProjectionType"]
    if kind == "ALL":
        return dict(item)
    wanted = set(keys) | {k["AttributeName"] for k in schema["KeySchema"]}
    if kind == "INCLUDE":
        wanted |= set(projection.get("NonKeyAttributes", []))
    return {k: v for k, v in item.items() if k in wanted}


def _units(size: int) -> int:
    """Write units for an item of `size` bytes: one per started KB, at least one."""
    return max(1, math.ceil(size / KB))
