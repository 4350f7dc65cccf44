"""Alert lateness (provider call time - due time) through the local stack, over 1,000 timers.

Run 1, SQS timers: the embedded moto server (DynamoDB + SQS) in this process, with moto's SQS on
the cheap clock EmbeddedAws gives it (same values, chalicelib/cli/embedded.py), the container
`wiring.build` makes (DynamoLeadStore, DynamoAlertLog, DynamoTeamStore, SqsTimers), and the
TimerConsumer that `make run` uses (receiving thread + a pool of 4 handler threads calling
escalation.on_timer), with the 60 s sweeper running beside it as in AWS. Each lead is written
with its SLA clock set, so its due time can be chosen (the first through the store's
apply(LeadChange(clock=ClockStart(...))), the rest as copies of that item: see `_create`); its
one-step policy alerts the owner by SMS at the due time; its timer is scheduled through
SqsTimers as landing schedules it. The SMS sender records the provider call instead of making
it. All leads are written and scheduled before the first falls due.

Run 2, the sweeper alone: the same workload with NoTimers, on a fresh server, fired only by
escalation.sweep as the 1-minute schedule calls it (with its defaults). The minutes between
runs are skipped instead of slept: the worker's clock is the wall clock plus the skipped time,
so each sweep takes its real time but the bench does not wait 60 s for it.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.bench.report import Figure, at_most, info

REGION = "us-east-1"
PUBLIC_BASE_URL = "https://bench.leadclock.test/api"
LEADS = 1000
SEED = 4
# The first due time comes this long after the first lead is written, so that every lead is
# written and every timer sent before (~9 s for 1,000 on the embedded server).
LEAD_IN_S = 15.0
WINDOW_S = 60.0  # due times are spread uniformly over this many seconds
GRACE_S = 15.0  # after the last due time, how long the SQS run waits for stragglers
THREADS = 4  # `make run`'s LEADCLOCK_WORKER_THREADS default
SWEEP_EVERY_S = 60.0  # the schedule's rate(1 minute)
MAX_SWEEPS = 40  # the sweeper-only run gives up after this many (simulated) minutes
MAX_P99_S = 2.0  # the budget, for the SQS path
PHONE_BASE = 14153000000


@dataclass(frozen=True)
class Outcome:
    """What one run saw: lateness per lead that was alerted, duplicates, missed leads."""

    lateness_s: list[float]
    duplicates: int
    missed: int
    stray: int  # provider calls for no lead of this run (must be 0)
    detail: dict[str, Any]


class _CallLog:
    """An SMS sender that records the provider call (when, for which alert) instead of making
    it. The alert is read from the status callback URL, which names the lead and the alert key."""

    def __init__(self, clock: Any) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.calls: list[tuple[str, int, datetime]] = []

    def send(self, delivery: Any) -> Any:
        from chalicelib.ports import Sent

        at = self._clock.now()
        lead_id, step = _alert_of(delivery.status_callback)
        with self._lock:
            self.calls.append((lead_id, step, at))
            count = len(self.calls)
        return Sent(f"bench-{count}")

    def count(self) -> int:
        """Provider calls so far."""
        with self._lock:
            return len(self.calls)


class _SkippingClock:
    """The wall clock plus the time skipped so far: work takes its real time, waits take none."""

    def __init__(self) -> None:
        self._skipped = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._skipped

    def skip_to(self, at: datetime) -> None:
        """Jump forward to `at` (no-op if it has passed)."""
        with self._lock:
            ahead = at - (datetime.now(UTC) + self._skipped)
            if ahead > timedelta():
                self._skipped += ahead


def run(notes: list[str]) -> list[Figure]:
    """Both runs; `notes` collects the lines printed under the table."""
    from tests.bench.capture_path import _environment

    _environment()
    offsets = _due_offsets()
    # moto keeps its state per process, not per server: each run has its own tables and queue.
    with _quiet_escalation():
        sqs = _on_fresh_server(lambda url: _sqs_run(url, offsets, notes))
        sweeper = _on_fresh_server(lambda url: _sweeper_run(url, offsets, notes))
    key = "alert_lateness_sqs"
    figures = [
        *_figures(key, sqs, budget=True),
        info(f"{key}_queue_share_p99_s", round(sqs.detail["queue_p99_s"], 2)),
        info(f"{key}_worker_share_p99_s", round(sqs.detail["worker_p99_s"], 2)),
        info(f"{key}_steps_fired_by_sweeper", sqs.detail["swept"]),
        info(f"{key}_dead_letters", sqs.detail["dead_letters"]),
        *_figures("alert_lateness_sweeper_only", sweeper, budget=False),
        info("alert_lateness_sweeper_only_sweeps_to_drain", sweeper.detail["sweeps"]),
    ]
    notes.append(
        "  the sweeper alone fires a step at its first run after the step falls due, so with a "
        "60 s period lateness is spread over 0-60 s (p50 ~30 s, p99 ~59 s expected) plus the "
        f"sweep's own work; {LEADS} steps due within {WINDOW_S:.0f} s took "
        f"{sweeper.detail['sweeps']} run(s)."
    )
    return figures


@contextmanager
def _quiet_escalation() -> Iterator[None]:
    """Each step the sweeper fires logs a warning ("its timer missed"): 1,000 of them in the
    sweeper-only run. The figures count them; errors still show."""
    from chalicelib.logs import get_logger

    # Through get_logger, so that importing escalation later does not set the level again.
    log = get_logger("chalicelib.services.escalation")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _on_fresh_server(measure: Callable[[str], Outcome]) -> Outcome:
    from chalicelib.cli.embedded import EmbeddedAws

    aws = EmbeddedAws().start()
    try:
        return measure(aws.url)
    finally:
        aws.stop()


def _due_offsets() -> list[float]:
    """Each lead's due time, in seconds from the start of the window, uniform over it, in
    order (leads are written in due order)."""
    rng = random.Random(SEED)
    return sorted(rng.uniform(0, WINDOW_S) for _ in range(LEADS))


def _container(endpoint: str, prefix: str) -> Any:
    from chalicelib import wiring
    from chalicelib.adapters.dynamo.models import create_tables
    from chalicelib.settings import load_settings

    settings = load_settings(
        {
            "AWS_REGION": REGION,
            "LEADCLOCK_TABLE_PREFIX": prefix,
            "LEADCLOCK_AWS_ENDPOINT": endpoint,
            "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "LEADCLOCK_TIMER_QUEUE": f"{prefix}timers",
            "LEADCLOCK_TIMER_DLQ": f"{prefix}timers-dlq",
        }
    )
    container = wiring.build(settings)
    create_tables()
    container.team.save(_team())
    return container


def _team() -> Any:
    from chalicelib.domain.sla import LadderStep, SlaPolicy
    from chalicelib.domain.team import Member, QueueConfig, RepConfig, TeamConfig

    # No quiet hours and no working hours: an alert goes out by SMS whenever the bench runs.
    reps = tuple(
        RepConfig(id=f"rep{i}", name=f"Rep {i}", phone=f"+1415555{i:04d}") for i in range(5)
    )
    policy = SlaPolicy(
        name="bench", target_s=60, steps=(LadderStep("breach", 0, ("owner",), ("sms",)),)
    )
    queue = QueueConfig(name="inbound", members=tuple(Member(r.id) for r in reps))
    return TeamConfig(
        name="bench",
        reps=reps,
        queues=(replace(queue, sla_policy="bench"),),
        default_queue="inbound",
        sla_policies=(policy,),
        default_sla_policy="bench",
    )


def _sqs_run(endpoint: str, offsets: Sequence[float], notes: list[str]) -> Outcome:
    import boto3

    from chalicelib.cli.embedded import create_timer_queues
    from chalicelib.cli.local import TimerConsumer
    from chalicelib.domain.sla import TimerMessage
    from chalicelib.services import escalation

    container = _container(endpoint, "leadclock-bench-late-")
    settings, clock = container.settings, container.clock
    calls = _CallLog(clock)
    container = replace(container, senders=lambda team: {"sms": calls})
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint)
    queue_url = create_timer_queues(
        sqs, queue=settings.timer_queue, dead_letter_queue=settings.timer_dlq
    )
    worker = container.worker()
    handled: dict[str, datetime] = {}  # lead id -> when the handler that fired its step began

    def handle(body: str) -> None:
        began = clock.now()
        fired = escalation.on_timer(body, worker)
        if fired is not None and fired.status == "fired":
            handled[TimerMessage.from_json(body).lead_id] = began

    consumer = TimerConsumer(sqs, queue_url, handle, THREADS)
    stop = threading.Event()
    swept: list[int] = []

    def sweeper() -> None:
        # The local runner's loop, keeping the count: steps the queue had not fired first.
        while not stop.wait(SWEEP_EVERY_S):
            swept.append(escalation.sweep(worker))

    window = clock.now() + timedelta(seconds=LEAD_IN_S)
    dues, created = _create(container, window, offsets, schedule=True)
    # Started once every timer is sent: nothing is due before, and moto's SQS still looks at
    # every message it holds on each request, so a consumer polling during the 1,000 sends
    # would only slow them down.
    threads = [
        threading.Thread(target=consumer.run, args=(stop,), name="bench-timers"),
        threading.Thread(target=sweeper, name="bench-sweeper"),
    ]
    for thread in threads:
        thread.start()
    try:
        last_due = max(dues.values())
        # Wait for every alert, or until the grace period after the last due time has passed.
        while calls.count() < len(dues) and clock.now() < last_due + timedelta(seconds=GRACE_S):
            time.sleep(0.25)
        # A little longer, so a duplicate delivery would have time to show.
        time.sleep(2.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    outcome = _outcome(dues, calls.calls)
    queue_s, worker_s = _split(dues, handled, calls.calls)
    outcome.detail.update(
        swept=sum(swept),
        dead_letters=container.timers.dead_letters() or 0,
        queue_p99_s=percentile(queue_s, 99) if queue_s else math.nan,
        worker_p99_s=percentile(worker_s, 99) if worker_s else math.nan,
        **created,
    )
    notes += [
        f"alert lateness, SQS timers: {LEADS} leads due over {WINDOW_S:.0f} s, "
        f"written in {created['write_s']:.1f} s and their timers sent in "
        f"{created['schedule_s']:.1f} s ({created['earliest_margin_s']:.1f} s before the first "
        "was due); "
        f"{len(outcome.lateness_s)} alerted, {outcome.missed} missed (not alerted "
        f"{GRACE_S:.0f} s after the last due time), {outcome.duplicates} duplicate(s); "
        f"{sum(swept)} step(s) fired by the 60 s sweeper instead of the queue "
        f"({len(swept)} sweep(s) ran); TimerConsumer with {THREADS} handler threads; "
        + _spread(outcome.lateness_s),
        "  where it goes: "
        + _spread(queue_s, "queue share (firing handler's start - due, 0 if early)")
        + "; "
        + _spread(worker_s, "worker share (provider call - the later of start and due)"),
    ]
    return outcome


def _split(
    dues: dict[str, datetime],
    handled: dict[str, datetime],
    calls: list[tuple[str, int, datetime]],
) -> tuple[list[float], list[float]]:
    """Lateness in two parts per alert: the queue's (the firing handler began this long after
    the due time; 0 when it began early and waited) and the worker's (the rest)."""
    queue_s, worker_s = [], []
    for lead_id, _, called in calls:
        began = handled.get(lead_id)
        if began is None:
            continue  # fired by the sweeper
        due = dues[lead_id]
        queue_s.append(max((began - due).total_seconds(), 0.0))
        worker_s.append((called - max(began, due)).total_seconds())
    return sorted(queue_s), sorted(worker_s)


def _sweeper_run(endpoint: str, offsets: Sequence[float], notes: list[str]) -> Outcome:
    from chalicelib.services import escalation
    from chalicelib.wiring import NoTimers

    container = _container(endpoint, "leadclock-bench-sweep-")
    clock = _SkippingClock()
    calls = _CallLog(clock)
    container = replace(
        container, clock=clock, timers=NoTimers(), senders=lambda team: {"sms": calls}
    )
    worker = container.worker()
    start = clock.now()
    # The sweeper reads only the clock, so the leads may as well fall due after they are all
    # written; the first scheduled run lands at a random point of the first minute.
    base = start + timedelta(seconds=120)
    dues, created = _create(container, base, offsets, schedule=False)
    tick = base + timedelta(seconds=random.Random(SEED).uniform(0, SWEEP_EVERY_S))
    sweeps, sweep_s = 0, []
    while calls.count() < len(dues) and sweeps < MAX_SWEEPS:
        clock.skip_to(tick)
        began = time.perf_counter()
        escalation.sweep(worker)
        sweep_s.append(time.perf_counter() - began)
        sweeps += 1
        tick += timedelta(seconds=SWEEP_EVERY_S)
    outcome = _outcome(dues, calls.calls)
    outcome.detail.update(sweeps=sweeps, **created)
    notes.append(
        f"alert lateness, sweeper alone (NoTimers, sweep() every {SWEEP_EVERY_S:.0f} s, the "
        f"minutes between runs skipped, not slept): {sweeps} sweep(s), each "
        f"{min(sweep_s):.1f}-{max(sweep_s):.1f} s of real work; {len(outcome.lateness_s)} "
        f"alerted, {outcome.missed} missed after {sweeps} min, {outcome.duplicates} "
        f"duplicate(s); {_spread(outcome.lateness_s)}"
    )
    return outcome


def _create(
    container: Any, base: datetime, offsets: Sequence[float], *, schedule: bool
) -> tuple[dict[str, datetime], dict[str, float]]:
    """Write one lead per offset, due at base + offset with its one step pending, and schedule
    its timer when asked (as landing does). Returns lead id -> due time, and timings.

    The first lead goes through the store: its event recorded, then apply(LeadChange(clock=
    ClockStart(...))), the capture path's own writes. The others are copies of that lead's
    stored item, each with its own id, contact, owner and due time, written 25 to a
    BatchWriteItem: moto's TransactWriteItems deep-copies every table it touches, so 1,000
    applies would take minutes and grow with the tables; the copies are the same item shape."""
    import boto3

    from chalicelib.adapters.dynamo.models import MicrosAttribute

    settings, clock = container.settings, container.clock
    began = time.perf_counter()
    first_id = _apply_one(container, 0, base + timedelta(seconds=offsets[0]))
    raw = boto3.client("dynamodb", region_name=settings.region, endpoint_url=settings.endpoint_url)
    table = settings.table("leads")
    template = raw.get_item(TableName=table, Key={"lead_id": {"S": first_id}}, ConsistentRead=True)
    dues = {first_id: base + timedelta(seconds=offsets[0])}
    copies = []
    for i, offset in enumerate(offsets[1:], start=1):
        due = base + timedelta(seconds=offset)
        lead_id = _lead_id(i)
        copies.append(_copy(template["Item"], lead_id, i, MicrosAttribute().serialize(due)))
        dues[lead_id] = due
    for n in range(0, len(copies), 25):
        batch = [{"PutRequest": {"Item": item}} for item in copies[n : n + 25]]
        left = raw.batch_write_item(RequestItems={table: batch}).get("UnprocessedItems")
        if left:
            raise RuntimeError(f"the embedded server left {len(left[table])} lead(s) unwritten")
    written_s = time.perf_counter() - began
    if schedule:
        for lead_id, due in dues.items():
            container.timers.schedule(lead_id, 0, due)
    margin = min(dues.values()) - clock.now()
    timings = {
        "write_s": written_s,
        "schedule_s": time.perf_counter() - began - written_s,
        "earliest_margin_s": margin.total_seconds(),
    }
    return dues, timings


def _apply_one(container: Any, i: int, due: datetime) -> str:
    """One lead through the store, its SLA clock set in the same write; returns its id."""
    from chalicelib.domain.inbound import form_capture
    from chalicelib.domain.model import Contact, FormSubmission, Touchpoint
    from chalicelib.domain.routing import Assignment
    from chalicelib.domain.sla import ClockStart
    from chalicelib.domain.team import SourceConfig
    from chalicelib.ports import InboundEvent, LeadChange

    store, now = container.store, container.clock.now()
    website = SourceConfig(name="website", auth_scheme="token", secret_ref="env:X")
    sub = FormSubmission(contact=Contact(phone=f"+{PHONE_BASE + i}", name=f"Bench Lead {i}"))
    capture, _ = form_capture(website, sub, provider_id=f"late-{i}", default_region="US")
    lead_id = _lead_id(i)
    store.record_event(InboundEvent(capture.event_key, now, capture), replace_before=None)
    touch = Touchpoint(
        capture.event_key,
        lead_id,
        now,
        capture.channel,
        capture.kind,
        capture.attribution,
        capture.detail,
    )
    store.apply(
        LeadChange(
            lead_id=lead_id,
            touchpoint=touch,
            capture=capture,
            claims=capture.claims,
            is_new=True,
            assignment=Assignment(queue="inbound", rule=None, owner=_owner(i), how="rotation"),
            clock=ClockStart("bench", now, due, 0, due),
        )
    )
    return lead_id


def _copy(template: dict[str, Any], lead_id: str, i: int, due: str) -> dict[str, Any]:
    """The template lead item (wire format) as lead number `i`, due at `due` (micros)."""
    owner = _owner(i)
    explained = json.loads(template["assignment"]["S"]) | {"owner": owner}
    return template | {
        "lead_id": {"S": lead_id},
        "created_key": {"S": f"{template['created_at']['S']}#{lead_id}"},
        "phone": {"S": f"+{PHONE_BASE + i}"},
        "name": {"S": f"Bench Lead {i}"},
        "owner": {"S": owner},
        "assignment": {"S": json.dumps(explained, separators=(",", ":"))},
        "sla_due_at": {"N": due},
        "next_step_at": {"N": due},
    }


def _lead_id(i: int) -> str:
    return f"ld_bench{i:08x}"


def _owner(i: int) -> str:
    return f"rep{i % 5}"


def _outcome(dues: dict[str, datetime], calls: list[tuple[str, int, datetime]]) -> Outcome:
    per_alert = Counter((lead_id, step) for lead_id, step, _ in calls)
    first: dict[str, datetime] = {}
    for lead_id, _, at in sorted(calls, key=lambda call: call[2]):
        first.setdefault(lead_id, at)
    lateness = sorted((first[k] - due).total_seconds() for k, due in dues.items() if k in first)
    return Outcome(
        lateness_s=lateness,
        duplicates=sum(n - 1 for n in per_alert.values()),
        missed=sum(1 for k in dues if k not in first),
        stray=sum(1 for lead_id, _ in per_alert if lead_id not in dues),
        detail={},
    )


def _figures(key: str, outcome: Outcome, *, budget: bool) -> list[Figure]:
    if outcome.stray:
        raise RuntimeError(f"{key}: {outcome.stray} alert(s) for leads this run never wrote")
    lateness = outcome.lateness_s or [math.nan]
    p50, p99, worst = (
        round(percentile(lateness, 50), 2),
        round(percentile(lateness, 99), 2),
        round(lateness[-1], 2),
    )
    return [
        info(f"{key}_p50_s", p50),
        at_most(f"{key}_p99_s", p99, MAX_P99_S, " s") if budget else info(f"{key}_p99_s", p99),
        info(f"{key}_max_s", worst),
        at_most(f"{key}_duplicate_alerts", outcome.duplicates, 0),
        at_most(f"{key}_missed_alerts", outcome.missed, 0),
    ]


def percentile(ordered: Sequence[float], p: float) -> float:
    """The nearest-rank percentile of an ascending list: the value at rank ceil(p/100 * n)."""
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def _spread(values: Sequence[float], what: str = "lateness") -> str:
    if not values:
        return f"{what}: none"
    ordered = sorted(values)
    marks = [("min", ordered[0])] + [(f"p{p}", percentile(ordered, p)) for p in (50, 90, 99)]
    text = ", ".join(f"{name} {value:.2f} s" for name, value in marks)
    return f"{what}: {text}, max {ordered[-1]:.2f} s"


def _alert_of(callback: str | None) -> tuple[str, int]:
    """(lead id, step) from ".../webhooks/twilio/alert-status/<lead id>/<step>:<who>:<channel>"."""
    from chalicelib.services.worker import ALERT_STATUS_PATH

    if not callback or ALERT_STATUS_PATH not in callback:
        raise RuntimeError(f"an SMS alert without the status callback the bench reads: {callback}")
    lead_id, key = callback.split(ALERT_STATUS_PATH + "/", 1)[1].split("/", 1)
    return lead_id, int(key.split(":", 1)[0])
