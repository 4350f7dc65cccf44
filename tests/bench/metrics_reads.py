"""What GET /metrics reads, at 10,000 leads a day, and what the facts cost the writes.

One day of realistic lead facts (sources, campaigns, reps, queues; ~80 % answered with speeds,
some claimed and reassigned, stages, a few wins with amounts) is written the way the adapter
writes it: every change of every lead, in time order, as the UpdateItem actions of
chalicelib/adapters/dynamo/facts.py, applied to each lead's own item (table facts: hash key the
day, range key the lead id) in DynamoDB's wire format by a small interpreter of those actions.
The interpreter is first checked against the real thing: a sample of leads is written with the
very same actions through UpdateItem on the embedded server, read back raw, and must match
exactly (a mismatch stops the benchmark). Stage changes are written with `facts.staged`, one
write per stage reached, as the stage service writes them.

Sizes follow DynamoDB's item-size rules (tests/bench/item_size.py), keys included. Reads are
priced as DynamoDB prices a Query: a page holds up to 1 MB of items, and each page costs the
total size of its items rounded up to 4 KB, one read unit per 4 KB when strongly consistent
(what `store.facts` asks for), half a unit when eventually consistent. Every day of a window is
taken to be as busy as the generated one. Writes are priced as an update inside
TransactWriteItems: 2 units per started KB of the larger of the item before and after.

Then the whole day is put on the embedded server (BatchWriteItem, 25 items a request) and
`store.facts(day)` + `compute` is timed for real, once (moto alone takes ~13 s to serve the
day): moto's time, botocore's parsing and the adapter's decoding apart.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tests.bench.counting import ProcessTally, RequestCounter
from tests.bench.item_size import item_bytes
from tests.bench.report import Figure, at_most, info

LEADS_PER_DAY = 10_000
DAY = date(2026, 11, 2)
TIMEZONE = "America/New_York"
WINDOW_DAYS = (1, 30)
REGION = "us-east-1"
TABLE_PREFIX = "leadclock-bench-metrics-"
KB = 1024
PAGE_BYTES = 1024 * KB  # a Query page returns at most 1 MB of items
SAMPLE_LEADS = 200  # written for real to check the interpreter
BATCH = 25  # BatchWriteItem's most items a request

SOURCES = {  # first-touch source: weight, campaigns
    "google-ads": (35, ("brand-search", "roof-replacement-spring", "storm-damage", "gutters")),
    "website": (22, ("newsletter-november", "roof-replacement-spring")),
    "facebook": (15, ("fb-leadgen-q4", "fb-retargeting")),
    "typeform": (10, ("free-inspection",)),
    "partner": (8, ("homeadvisor", "angi")),
    "yard-signs": (6, ()),
    "unbounce": (4, ("winter-promo",)),
}
QUEUES = {"inbound": 70, "espanol": 12, "commercial": 10, "after-hours": 8}
REPS = (
    "ana", "ben", "carmen", "dev", "ella-m", "farid", "grace-lee", "hugo", "ines", "jamal",
    "kenji", "lucia-r", "marcus", "nadia", "omar-k", "priya", "quinn", "rosa", "samir", "tanya",
    "uma", "victor-h", "wen", "xavier", "yasmin",
)  # fmt: skip
STAGE_REACHED = {"lead": 52, "mql": 22, "sql": 12, "opportunity": 9, "won": 5}
KINDS = ("capture", "response", "claim", "reassign", "stage")


@dataclass(frozen=True)
class Write:
    """One fact write: when, which lead, and the adapter's actions."""

    at: datetime
    lead_id: str
    actions: list[Any]
    kind: str  # one of KINDS


def run(notes: list[str]) -> list[Figure]:
    """Every metrics-read figure; `notes` collects the lines printed under the table."""
    from tests.bench.capture_path import on_embedded_stack

    return on_embedded_stack(_measure, notes)


def _measure(endpoint: str, tally: ProcessTally, notes: list[str]) -> list[Figure]:
    from chalicelib.adapters.dynamo.models import MODELS, bind, create_tables
    from chalicelib.adapters.dynamo.store import DynamoLeadStore
    from tests.bench.capture_path import _dynamo_clients

    rng = random.Random(20261102)
    writes = day_of_writes(DAY, LEADS_PER_DAY, rng)
    connection = bind(table_prefix=TABLE_PREFIX, region=REGION, host=endpoint)
    create_tables()
    _check_interpreter(writes, notes)

    items, costs = replay(writes)
    figures = _sizes(items, notes)
    figures += _reads(items, notes)
    figures += _write_units(writes, costs, notes)

    store = DynamoLeadStore(region=REGION, host=endpoint, connection=connection)
    counter = RequestCounter()
    for client in _dynamo_clients(MODELS.values(), store):
        counter.attach(client)
    figures += _timed(store, items, counter, notes)
    return figures


# --- the day --------------------------------------------------------------------------------


def day_of_writes(day: date, count: int, rng: random.Random) -> list[Write]:
    """Every fact write of `count` leads arriving on `day` (the team's wall clock), in time
    order, as the adapter's actions."""
    from chalicelib.adapters.dynamo import facts

    zone = ZoneInfo(TIMEZONE)
    start = datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
    span_us = int((end - start).total_seconds() * 1e6)
    writes: list[Write] = []
    for _ in range(count):
        lead_id = f"ld_{rng.getrandbits(64):016x}"
        # Busier in office hours: two arrivals in three between 08:00 and 20:00 local.
        if rng.random() < 2 / 3:
            offset = rng.randrange(int(span_us / 3), int(span_us * 5 / 6))
        else:
            offset = rng.randrange(span_us)
        arrived = start + timedelta(microseconds=offset)
        source = _weighted(rng, {s: w for s, (w, _) in SOURCES.items()})
        campaigns = SOURCES[source][1]
        campaign = rng.choice(campaigns) if campaigns and rng.random() < 0.75 else None
        owner = rng.choice(REPS) if rng.random() < 0.97 else None
        due = arrived + timedelta(minutes=5) if rng.random() < 0.92 else None
        fact = _lead_fact(lead_id, arrived, source, campaign, owner, due, rng)
        writes.append(Write(arrived, lead_id, facts.created(fact), "capture"))
        writes += _later_writes(lead_id, arrived, owner, due, rng)
    writes.sort(key=lambda w: w.at)
    return writes


def _lead_fact(
    lead_id: str,
    arrived: datetime,
    source: str,
    campaign: str | None,
    owner: str | None,
    due: datetime | None,
    rng: random.Random,
) -> Any:
    from chalicelib.domain.facts import LeadFact

    return LeadFact(
        lead_id=lead_id,
        created_at=arrived,
        source=source,
        campaign=campaign,
        queue=_weighted(rng, QUEUES),
        owner=owner,
        due_at=due,
    )


def _later_writes(
    lead_id: str,
    arrived: datetime,
    owner: str | None,
    due: datetime | None,
    rng: random.Random,
) -> list[Write]:
    from chalicelib.adapters.dynamo import facts
    from chalicelib.domain.facts import STAGES
    from chalicelib.domain.sla import Speed

    later: list[Write] = []
    if rng.random() < 0.3:
        claimer = owner or rng.choice(REPS)
        at = arrived + timedelta(seconds=rng.uniform(5, 90))
        later.append(Write(at, lead_id, facts.claimed(claimer), "claim"))
    if rng.random() < 0.05:
        at = arrived + timedelta(minutes=rng.uniform(3, 30))
        later.append(Write(at, lead_id, facts.owned(rng.choice(REPS)), "reassign"))
    if rng.random() < 0.8:
        # Speeds to the microsecond, as the clock gives them: median about 2 minutes.
        wall = timedelta(microseconds=int(rng.lognormvariate(math.log(120e6), 1.1)))
        at = arrived + wall
        speed = None
        if due is not None:
            business = wall * rng.choice((1, 1, 1, 0.5, 0.1))
            speed = Speed(
                wall_s=wall.total_seconds(),
                business_s=business.total_seconds(),
                met=arrived + business <= due,
            )
        by = owner if rng.random() < 0.9 else rng.choice(REPS)
        later.append(Write(at, lead_id, facts.responded(at, by=by, speed=speed), "response"))
        reached = _weighted(rng, STAGE_REACHED)
        hours = 0.0
        for rank in range(1, STAGES.index(reached) + 1):
            hours += rng.uniform(1, 72)
            stage = STAGES[rank]
            won = stage == "won"
            amount = Decimal(rng.randrange(250_000, 4_500_000)) / 100 if won else None
            actions = facts.staged(
                furthest=stage,
                lost=False,
                amount=amount,
                currency="USD" if won else None,
                last_source=rng.choice(list(SOURCES)) if won else None,
            )
            later.append(Write(at + timedelta(hours=hours), lead_id, actions, "stage"))
        if reached != "won" and rng.random() < 0.25:
            actions = facts.staged(furthest=reached, lost=True)
            later.append(Write(at + timedelta(hours=hours + 24), lead_id, actions, "stage"))
    return later


def _weighted(rng: random.Random, weights: Mapping[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


# --- the adapter's actions, applied as DynamoDB applies them --------------------------------


def replay(writes: list[Write]) -> tuple[dict[str, dict[str, Any]], list[tuple[str, int]]]:
    """Each lead's fact item after every write (by lead id), and each write's (kind, write
    units)."""
    items: dict[str, dict[str, Any]] = {}
    costs: list[tuple[str, int]] = []
    for write in writes:
        # An update of an absent item starts from its key alone, as DynamoDB's does.
        item = items.setdefault(
            write.lead_id, {"day": {"S": DAY.isoformat()}, "lead_id": {"S": write.lead_id}}
        )
        before = item_bytes(item) if len(item) > 2 else 0
        apply(item, write.actions)
        # An update in a transaction: 2 units per KB of the larger of the item before and after.
        costs.append((write.kind, 2 * _units(max(before, item_bytes(item)), KB)))
    return items, costs


def apply(item: dict[str, Any], actions: list[Any]) -> None:
    """Apply PynamoDB update actions (SET path = value | if_not_exists(path, value), REMOVE
    path) to a wire-format item."""
    from pynamodb.expressions.update import RemoveAction, SetAction

    for action in actions:
        path: list[str] = action.values[0].values[0]
        if len(path) != 1:
            raise ValueError(f"a fact attribute is top-level, not {'.'.join(path)}")
        if isinstance(action, RemoveAction):
            item.pop(path[0], None)
        elif isinstance(action, SetAction):
            item[path[0]] = _value(item, action.values[1])
        else:
            raise TypeError(f"no interpreter for {type(action).__name__}")


def _value(item: dict[str, Any], operand: Any) -> Any:
    from pynamodb.expressions.operand import Value

    if isinstance(operand, Value):
        return operand.values[0]
    if type(operand).__name__ == "_IfNotExists":
        path, default = operand.values
        current = item.get(path.values[0][0])
        return current if current is not None else _value(item, default)
    raise TypeError(f"no interpreter for {type(operand).__name__}")


def _check_interpreter(writes: list[Write], notes: list[str]) -> None:
    """Write a sample of leads with the same actions through real UpdateItems and compare."""
    from chalicelib.adapters.dynamo import facts
    from chalicelib.adapters.dynamo.models import FactModel

    sample = {w.lead_id for w in writes[: SAMPLE_LEADS * 3] if w.kind == "capture"}
    sample = set(sorted(sample)[:SAMPLE_LEADS])
    mine = [w for w in writes if w.lead_id in sample]
    for write in mine:
        facts.item(DAY, write.lead_id).update(actions=write.actions)
    expected, _ = replay(mine)
    client = FactModel._get_connection().connection.client
    stored = _raw_day(client, FactModel.Meta.table_name)
    if {raw["lead_id"]["S"]: raw for raw in stored} != expected:
        raise RuntimeError("the interpreter disagrees with DynamoDB on the sample's items")
    for raw in stored:
        FactModel(raw["day"]["S"], raw["lead_id"]["S"]).delete()
    kinds = sorted({w.kind for w in mine})
    notes.append(
        f"metrics: {len(mine)} writes of {len(sample)} leads ({', '.join(kinds)}) sent as real "
        "UpdateItems match the interpreter's items exactly"
    )


def _raw_day(client: Any, table: str) -> list[dict[str, Any]]:
    pages = client.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="#d = :d",
        ExpressionAttributeNames={"#d": "day"},
        ExpressionAttributeValues={":d": {"S": DAY.isoformat()}},
        ConsistentRead=True,
    )
    return [item for page in pages for item in page["Items"]]


# --- figures --------------------------------------------------------------------------------


def _sizes(items: dict[str, dict[str, Any]], notes: list[str]) -> list[Figure]:
    sizes = sorted(item_bytes(item) for item in items.values())
    notes.append(
        f"metrics: {len(sizes):,} fact items of {sizes[0]}-{sizes[-1]} B (keys included; "
        f"median {statistics.median(sizes):.0f} B): one update in a transaction costs "
        f"2 units while an item stays under 1 KB"
    )
    return [
        info("metrics_fact_item_bytes_mean", round(statistics.fmean(sizes), 1)),
        info("metrics_fact_item_bytes_p99", sizes[int(len(sizes) * 0.99)]),
        # Under 1 KB, every transactional update of a fact costs 2 units.
        at_most("metrics_fact_item_bytes_max", sizes[-1], KB - 1, " B"),
        info("metrics_day_bytes_10000_leads", sum(sizes)),
    ]


def query_pages(sizes: list[int]) -> list[int]:
    """The bytes of each page a Query returns for items of `sizes` (in key order): a page ends
    before the item that would take it past 1 MB."""
    pages = [0]
    for size in sizes:
        if pages[-1] and pages[-1] + size > PAGE_BYTES:
            pages.append(0)
        pages[-1] += size
    return pages


def read_units(pages: list[int], *, consistent: bool = True) -> float:
    """Each page's total rounded up to 4 KB, one unit per 4 KB (half when eventually
    consistent)."""
    units = sum(_units(page, 4 * KB) for page in pages)
    return units if consistent else units / 2


def _reads(items: dict[str, dict[str, Any]], notes: list[str]) -> list[Figure]:
    day = [item_bytes(items[lead_id]) for lead_id in sorted(items)]  # the range key's order
    figures: list[Figure] = []
    for days in WINDOW_DAYS:
        pages = [page for _ in range(days) for page in query_pages(day)]
        figures += [
            info(f"metrics_{days}d_items_read", len(day) * days),
            info(f"metrics_{days}d_query_pages", len(pages)),
            info(f"metrics_{days}d_read_units_consistent", read_units(pages)),
            info(
                f"metrics_{days}d_read_units_if_eventually_consistent",
                read_units(pages, consistent=False),
            ),
        ]
    pages = query_pages(day)
    per_day = read_units(pages)
    notes.append(
        f"metrics: a day of {LEADS_PER_DAY:,} leads is {sum(day):,} B: {len(day):,} items in "
        f"{len(pages)} Query page(s) ({', '.join(f'{p:,} B' for p in pages)}), {per_day:.0f} read "
        "units strongly consistent (store.facts reads so), "
        f"{read_units(pages, consistent=False):.0f} eventually consistent. A window costs that "
        f"per day: linear in days and in leads a day, about leads x {sum(day) / len(day):.0f} B "
        "/ 4 KB units a day (at least 1)"
    )
    return figures


def _write_units(
    writes: list[Write], costs: list[tuple[str, int]], notes: list[str]
) -> list[Figure]:
    capture = [units for kind, units in costs if kind == "capture"]
    per_lead = sum(units for _, units in costs) / LEADS_PER_DAY
    by_kind = {kind: sum(u for k, u in costs if k == kind) / LEADS_PER_DAY for kind in KINDS}
    notes.append(
        "metrics: each fact write is one small item's update in its change's transaction: "
        f"{min(u for _, u in costs)}-{max(u for _, u in costs)} units a write. Per lead, "
        + ", ".join(f"{k} {v:.2f}" for k, v in by_kind.items())
        + f" units: {per_lead:.1f} over a lead's life, on top of the lead's own writes "
        "(design.md budgets <= 6 for the whole life)"
    )
    return [
        info("metrics_capture_fact_write_units_max", max(capture)),
        at_most("metrics_fact_update_write_units_max", max(u for _, u in costs), 2),
        info("metrics_fact_writes_per_lead_mean", round(len(writes) / LEADS_PER_DAY, 2)),
        info("metrics_fact_write_units_per_lead_life_mean", round(per_lead, 1)),
    ]


def _timed(
    store: Any, items: dict[str, dict[str, Any]], counter: RequestCounter, notes: list[str]
) -> list[Figure]:
    """Put the day's items once; time `store.facts(day)` (split into the server's time,
    botocore's parsing and the adapter's decoding) and `compute`."""
    from chalicelib.adapters.dynamo.models import FactModel
    from chalicelib.domain.metrics import compute

    client = store._conn().client
    table = FactModel.Meta.table_name
    rows = list(items.values())
    started = time.perf_counter()
    for n in range(0, len(rows), BATCH):
        requests = [{"PutRequest": {"Item": item}} for item in rows[n : n + BATCH]]
        unprocessed = client.batch_write_item(RequestItems={table: requests})["UnprocessedItems"]
        if unprocessed:
            raise RuntimeError("the embedded server left items unwritten")
    put_s = time.perf_counter() - started
    now = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), UTC)
    times = _QueryTimes(client)
    counter.reset()
    started = time.perf_counter()
    facts = store.facts(DAY)
    read = time.perf_counter() - started
    metrics = compute(facts, group_by="rep", now=now)
    total = time.perf_counter() - started
    times.remove()
    if len(facts) != len(rows) or metrics.total.leads != len(rows):
        raise RuntimeError(f"read {len(facts)} facts of {len(rows)}")
    calls = counter.snapshot()["calls"]
    decode = read - times.server - times.parse
    lambda_s = read - times.server + (total - read)
    notes.append(
        f"metrics: {len(rows):,} items put on the embedded server in {put_s:.1f} s "
        f"(BatchWriteItem); store.facts(day) sent {len(calls)} Query page(s) (moto pages at "
        f"1,000,000 B by its own sizes) and took {read:.1f} s, {times.server:.1f} s of it "
        "moto's: one timed run, as moto alone takes that long to serve the day. What a Lambda "
        "pays on DynamoDB "
        f"besides DynamoDB's own latency: botocore's parsing {times.parse:.2f} s, the adapter's "
        f"decoding {decode:.2f} s, compute {total - read:.2f} s: ~{lambda_s:.1f} s a day, so "
        f"~{30 * lambda_s:.0f} s for 30 days at this volume on this machine (API Gateway gives "
        "up at 29 s)"
    )
    return [
        info("metrics_1d_query_pages_moto", len(calls)),
        info("metrics_1d_facts_and_compute_ms_moto_1_run", round(total * 1000)),
        info("metrics_1d_facts_read_ms_moto_1_run", round(read * 1000)),
        info("metrics_1d_facts_read_server_ms_moto_1_run", round(times.server * 1000)),
        info("metrics_1d_facts_read_botocore_parse_ms", round(times.parse * 1000)),
        info("metrics_1d_facts_read_decode_ms", round(decode * 1000)),
        info("metrics_1d_compute_ms", round((total - read) * 1000)),
        info("metrics_30d_client_and_compute_s_estimate", round(30 * lambda_s, 1)),
        at_most("metrics_1d_scans", sum(op == "Scan" for op, _ in calls), 0),
    ]


class _QueryTimes:
    """Seconds of each Query between sending it and its reply starting to be parsed (the
    server's time, and the loopback's) and of botocore's parsing of the reply."""

    def __init__(self, client: Any) -> None:
        self.server = 0.0
        self.parse = 0.0
        self._mark = 0.0
        self._events = client.meta.events
        for event, handler in self._hooks():
            self._events.register(event, handler, unique_id=f"bench-m-{event}")

    def remove(self) -> None:
        """Stop timing."""
        for event, _ in self._hooks():
            self._events.unregister(event, unique_id=f"bench-m-{event}")

    def _hooks(self) -> list[tuple[str, Any]]:
        return [
            ("before-send.dynamodb.Query", self._sent),
            ("before-parse.dynamodb.Query", self._parsing),
            ("after-call.dynamodb.Query", self._parsed),
        ]

    def _sent(self, **_: Any) -> None:
        self._mark = time.perf_counter()

    def _parsing(self, **_: Any) -> None:
        now = time.perf_counter()
        self.server += now - self._mark
        self._mark = now

    def _parsed(self, **_: Any) -> None:
        self.parse += time.perf_counter() - self._mark


def _units(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit))
