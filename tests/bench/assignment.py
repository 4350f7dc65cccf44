"""What owner assignment costs: the DynamoDB requests it adds to a capture, how many assignments
one queue takes per second on the local stack, and the ceiling of one rotation counter on
DynamoDB with the way past it.

Everything runs through the landing service (`accept`) and the real adapters (DynamoLeadStore,
DynamoRoutingStore) against the embedded server over HTTP, on a fixed clock and a team whose
reps are always on and uncapped, so the figures do not depend on the time of day the bench runs
(the capture-path section uses the demo team on the wall clock, where they do).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.bench.counting import ProcessTally, RequestCounter, describe, share
from tests.bench.report import Figure, at_most, info

REGION = "us-east-1"
TABLE_PREFIX = "leadclock-bench-assign-"
# A Monday noon: any fixed instant would do, the reps have no hours.
AT = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)

# Budgets from the owner assignment issue: extra requests per new lead.
MAX_EXTRA_WRITES, MAX_EXTRA_READS = 2, 1
# A sticky returning lead: one read (who owns them now), nothing written.
MAX_RETURNING_EXTRA_WRITES, MAX_RETURNING_EXTRA_READS = 0, 1

THREADS = 8
ASSIGNMENTS = 400
COUNTER_UPDATES = 400
CAPTURES = 100  # full captures are dearer locally (see the note on moto's transactions)

# DynamoDB: one partition serves at most 1,000 write units per second, and one item lives in
# one partition; an UpdateItem of an item under 1 KB is one write unit.
DYNAMODB_PARTITION_WRITES_PER_SECOND = 1000


class _FixedClock:
    def now(self) -> datetime:
        return AT


def run(notes: list[str]) -> list[Figure]:
    """Every assignment figure; `notes` collects the lines printed under the table."""
    from tests.bench.capture_path import on_embedded_stack

    return on_embedded_stack(_measure, notes)


def _team(reps: int = 5, *, paused: frozenset[str] = frozenset()) -> Any:
    from chalicelib.domain.team import Member, QueueConfig, RepConfig, TeamConfig

    people = tuple(
        RepConfig(
            id=f"rep{i}", name=f"Rep {i}", status="paused" if f"rep{i}" in paused else "active"
        )
        for i in range(reps)
    )
    queue = QueueConfig(name="inbound", members=tuple(Member(r.id) for r in people))
    return TeamConfig(name="bench", reps=people, queues=(queue,), default_queue="inbound")


def _form(event: str, phone: str) -> Any:
    from chalicelib.domain.inbound import form_capture
    from chalicelib.domain.model import Contact, FormSubmission
    from chalicelib.domain.team import SourceConfig

    website = SourceConfig(name="website", auth_scheme="token", secret_ref="env:X")
    sub = FormSubmission(contact=Contact(phone=phone, name="Bench Lead"))
    capture, _ = form_capture(website, sub, provider_id=event, default_region="US")
    return capture


def _measure(endpoint: str, tally: ProcessTally, notes: list[str]) -> list[Figure]:
    from chalicelib.adapters.dynamo.models import MODELS, bind, create_tables
    from chalicelib.adapters.dynamo.routing import DynamoRoutingStore
    from chalicelib.adapters.dynamo.store import DynamoLeadStore
    from chalicelib.services.assignment import Assigner
    from chalicelib.services.landing import accept
    from tests.bench.capture_path import _dynamo_clients
    from tests.fakes import StaticTeamStore

    # Bound exactly as wiring.build binds them: one shared connection for every table.
    connection = bind(table_prefix=TABLE_PREFIX, region=REGION, host=endpoint)
    create_tables()
    clock = _FixedClock()
    store = DynamoLeadStore(region=REGION, host=endpoint, clock=clock, connection=connection)
    routing = DynamoRoutingStore()
    team = StaticTeamStore(_team())
    assigner = Assigner(team=team, routing=routing, clock=clock)
    counter = RequestCounter()
    for client in _dynamo_clients(MODELS.values(), store):
        counter.attach(client)

    phones = iter(f"+1415201{n:04d}" for n in range(1000, 10000))

    def count(key: str, capture: Any, with_assigner: bool, expected: str) -> dict[str, Any]:
        counter.reset()
        before = tally.calls
        landed = accept(
            capture, store=store, clock=clock, assigner=assigner if with_assigner else None
        )
        if landed.status != expected:
            raise RuntimeError(f"{key}: landed {landed.status!r}, expected {expected!r}")
        counts = counter.snapshot()
        if tally.calls - before != len(counts["calls"]):
            raise RuntimeError(
                f"{key}: a DynamoDB client the benchmark does not hook sent requests"
            )
        notes.append(f"  {key}: {describe(counts['calls'])}")
        return {"owner": landed.owner, **counts}

    # (a) The same capture path with and without an assigner, for a new person and for the same
    # person coming back (their owner still eligible: sticky). The difference is what assignment
    # adds; the routing table's calls and the lead read, counted directly, must agree with it.
    notes.append("assignment: requests per capture, without and with an assigner (accept())")
    plain_phone, assigned_phone = next(phones), next(phones)
    base_new = count("new lead, no assigner", _form("b-new", plain_phone), False, "created")
    with_new = count("new lead, assigner", _form("a-new", assigned_phone), True, "created")
    base_back = count("returning, no assigner", _form("b-back", plain_phone), False, "updated")
    with_back = count("returning, assigner", _form("a-back", assigned_phone), True, "updated")
    if with_back["owner"] != with_new["owner"]:
        raise RuntimeError("the returning lead was not sticky: the comparison would be wrong")

    # A returning person whose owner went away (paused): rotation again, on top of the read.
    team.save(_team(paused=frozenset({with_new["owner"]})))
    away = count("returning, owner paused", _form("a-away", assigned_phone), True, "updated")
    team.save(_team())

    routing_table, leads_table = MODELS["routing"].Meta.table_name, MODELS["leads"].Meta.table_name
    direct = {routing_table: frozenset({"UpdateItem"}), leads_table: frozenset({"GetItem"})}
    extra_new, extra_back = _minus(with_new, base_new), _minus(with_back, base_back)
    for label, extra, counts in (
        ("new", extra_new, with_new),
        ("returning", extra_back, with_back),
    ):
        seen = share(counts["tables"], direct)
        if (seen["writes"], seen["reads"]) != (extra["writes"], extra["reads"]):
            raise RuntimeError(
                f"{label}: the difference {extra} disagrees with the direct count {seen}"
            )
    extra_away = _minus(away, base_back)
    notes.append(
        f"  a returning person whose owner is unavailable costs {extra_away['writes']} extra "
        f"write(s) and {extra_away['reads']} read(s) (rotation again); each rep refused at a cap "
        "adds one conditional UpdateItem; an unassigned lead costs the counter's UpdateItem only."
    )
    figures = [
        at_most("assign_new_lead_extra_writes", extra_new["writes"], MAX_EXTRA_WRITES),
        at_most("assign_new_lead_extra_reads", extra_new["reads"], MAX_EXTRA_READS),
        at_most("assign_new_lead_extra_scans", extra_new["scans"], 0),
        at_most(
            "assign_returning_lead_extra_reads", extra_back["reads"], MAX_RETURNING_EXTRA_READS
        ),
        at_most(
            "assign_returning_lead_extra_writes", extra_back["writes"], MAX_RETURNING_EXTRA_WRITES
        ),
        info("assign_returning_lead_owner_unavailable_extra_writes", extra_away["writes"]),
        info("assign_returning_lead_owner_unavailable_extra_reads", extra_away["reads"]),
    ]

    # (b) Throughput into one queue: threads drawing assignments at once, over HTTP.
    figures += _throughput(assigner, routing, store, clock, accept, phones, notes)

    # (c) The ceiling of one counter item on DynamoDB, and the way past it.
    figures.append(
        info(
            "rotation_counter_ceiling_writes_per_second_dynamodb",
            DYNAMODB_PARTITION_WRITES_PER_SECOND,
        )
    )
    notes += [
        "rotation counter ceiling: each queue's counter is one item (`queue#<name>`), so one "
        "partition: DynamoDB serves about 1,000 write units/s per partition and a counter "
        "UpdateItem is 1 unit, so about 1,000 assignments/s per queue (3.6 million an hour; "
        "the rep load items are spread over the reps, one per rep).",
        "  past it: shard the counter. k items `queue#<name>#<s>` (s = 0..k-1); a request picks "
        "s at random, takes n from that item and uses position = k*n + s. Positions stay "
        "distinct and the ceiling becomes k*1,000/s. Choose k coprime with the cycle length W "
        "(the sum of the weights): then each shard walks every slot once per W draws, so the "
        "weights still hold per shard and equal-weight counts stay within k (one per shard) "
        "instead of within 1. With gcd(k, W) > 1 a shard would only ever visit some slots.",
    ]
    return figures


def _throughput(
    assigner: Any,
    routing: Any,
    store: Any,
    clock: Any,
    accept: Callable[..., Any],
    phones: Any,
    notes: list[str],
) -> list[Figure]:
    from chalicelib.adapters.dynamo.models import MODELS, RoutingModel

    # Fresh counters, so the spread below counts this run's assignments alone.
    MODELS["routing"].delete_table()
    MODELS["routing"].create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    capture = _form("throughput", next(phones))  # a new person each time: previous=None

    owners: list[str | None] = []
    lock = threading.Lock()

    def assign_one(_: int) -> None:
        # A decision, then its load claim (which capture makes inside the lead's transaction).
        decision = assigner.assign(capture, None)
        while decision.claim and not routing.take_load(
            decision.claim.rep,
            decision.claim.day,
            max_open=decision.claim.max_open,
            max_per_day=decision.claim.max_per_day,
        ):
            decision = decision.without(decision.claim.rep)
        with lock:
            owners.append(decision.assignment.owner)

    assign_s = _in_threads(ASSIGNMENTS, assign_one)
    counts = Counter(owners)
    loads = {r: int(RoutingModel.get(f"load#{r}", consistent_read=True).open) for r in counts}
    if None in counts or sum(counts.values()) != ASSIGNMENTS or loads != dict(counts):
        raise RuntimeError(f"assignments went wrong under load: {counts}, loads {loads}")
    spread = max(counts.values()) - min(counts.values())

    counter_s = _in_threads(COUNTER_UPDATES, lambda _: routing.next_position("counter-only"))

    captures = [_form(f"tp-{i}", next(phones)) for i in range(CAPTURES)]

    def capture_one(i: int) -> None:
        landed = accept(captures[i], store=store, clock=clock, assigner=assigner)
        if landed.status != "created" or landed.owner is None:
            raise RuntimeError(f"a capture under load landed {landed}")

    capture_s = _in_threads(CAPTURES, capture_one)

    notes += [
        f"assignments into one queue of {len(counts)} equal reps, {THREADS} threads over HTTP to "
        f"the embedded server: {ASSIGNMENTS} in {assign_s:.2f} s (2 UpdateItems each: counter "
        f"and load); per rep {dict(sorted(counts.items()))}. The counter alone: "
        f"{COUNTER_UPDATES} updates in {counter_s:.2f} s. Full captures with assignment: "
        f"{CAPTURES} in {capture_s:.2f} s.",
        "  local figures measure moto, not DynamoDB: the embedded server handles one request at "
        "a time, and moto copies every table a TransactWriteItems touches (its rollback), so "
        "captures slow down as the tables grow.",
    ]
    return [
        info("assignments_per_second_one_queue", round(ASSIGNMENTS / assign_s, 1)),
        at_most("assignments_one_queue_rep_spread", spread, 1),
        info("rotation_counter_updates_per_second_local", round(COUNTER_UPDATES / counter_s, 1)),
        info("captures_with_assignment_per_second_one_queue", round(CAPTURES / capture_s, 1)),
    ]


def _in_threads(total: int, work: Callable[[int], object]) -> float:
    """Seconds for THREADS threads to run work(0) … work(total-1) between them."""
    jobs = iter(range(total))
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        while True:
            with lock:
                job = next(jobs, None)
            if job is None:
                return
            try:
                work(job)
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed


def _minus(a: dict[str, Any], b: dict[str, Any]) -> dict[str, int]:
    return {kind: a[kind] - b[kind] for kind in ("writes", "reads", "scans")}
