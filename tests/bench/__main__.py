"""`make bench`: measure the budgets in design.md, print a table, write .bench/results.json.

Exit status is 0 whatever the figures say (a figure over budget is news, not a test failure);
it is 1 only when a benchmark itself could not run.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from tests.bench import (
    alert_lateness,
    assignment,
    capture_path,
    cold_import,
    latency,
    lead_lifetime,
    metrics_reads,
)
from tests.bench.report import Figure, table, write_json

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / ".bench" / "results.json"

HEADER = """\
leadclock benchmarks: the budgets in design.md ("Budgets to measure"). Figures, not tests.

  capture_*_dynamodb_writes/reads/scans
      DynamoDB API calls made while one webhook is captured through the real Chalice handler
      (chalice.test.Client), the real PynamoDB adapters and the embedded moto server, counted
      with botocore `before-call` hooks on every client the capture path uses (cross-checked
      against a hook on every botocore session in the process, so a missed client is an error).
      writes = PutItem/UpdateItem/DeleteItem/TransactWriteItems/BatchWriteItem (a transaction
      is one request however many items it holds); reads = GetItem/BatchGetItem/Query/
      TransactGetItems; scans = Scan. Scenarios: a new lead by form, the same person's second
      form (returning), an SMS from a new number and one from the form lead's phone, each in a
      warm container (team configuration cached); then a new form lead in a cold container.
      Budget per capture: <= 3 writes, <= 1 read, no Scan. Captures go through owner
      assignment, and the demo team's reps keep working hours read on the wall clock, so how a
      lead is assigned (rotation, fallback owner, sticky, unassigned) depends on when the bench
      runs; the notes say how it went. capture_*_assignment_writes/reads: assignment's share of
      those totals (routing-table UpdateItems, plus the GetItem of a returning person's lead).
  assign_*_extra_*
      what owner assignment adds to a capture: the landing service (accept) with the real
      adapters against the embedded server, on a fixed clock and five always-on uncapped reps,
      run with and without an assigner; the difference, cross-checked against the routing
      table's and the lead read's own counts. Budgets: a new lead <= 2 writes, <= 1 read; a
      returning lead whose owner is still eligible (sticky) <= 1 read, 0 writes. A returning
      lead whose owner is unavailable rotates again (reported, no budget).
  assignments_per_second_one_queue, rotation_counter_*, captures_with_assignment_per_second_*
      8 threads over HTTP to the embedded server: 400 assignments (a decision with its counter
      update, then its load claim on its own) into one queue of five equal reps, with the
      per-rep spread (must stay <= 1); 400 bare counter updates; 100 full captures with
      assignment. Local figures measure moto (one request at a time), not DynamoDB.
      rotation_counter_ceiling_writes_per_second_dynamodb is DynamoDB's documented
      per-partition write ceiling (1,000 units/s): one queue's counter is one item, so about
      1,000 assignments/s; the notes say how to shard it.
  *_item_bytes_*
      DynamoDB's size of the stored item, read raw back from the table: attribute names plus
      values (numbers ~ digits/2 + 1, maps and lists 3 B + 1 B per element). Budget: the lead
      item of a typical form lead <= 1024 B; touchpoint and inbox items are informative.
  cold_import_*, capture_imports_*
      `import app` (all blueprints: what the API Lambda imports on a cold start) plus building the
      adapters the first request needs (`wiring.build`), against a bare `import boto3`, each in
      fresh interpreters, medians. Budget: ratio <= 1.5x, and neither
      twilio.rest nor slack_sdk imported (yaml, jinja2 and boto3 reported for context).
  capture_cold_first_request_ms, capture_warm_request_ms_median
      a form capture through chalice.test.Client in a fresh interpreter against the embedded
      server: the first request (a cold container) and the median of 30 after it. Informative;
      moto's own time is included.
  alert_lateness_*
      provider call time - due time of SMS alerts, over 1,000 leads whose one-step ladder falls
      due spread over 60 s, through the embedded server (DynamoDB + SQS, moto's SQS on the
      cheap clock `make run` gives it), the real adapters and `make run`'s TimerConsumer (4
      handler threads) with the 60 s sweeper beside it; the SMS sender records the call
      instead of making it. p50/p99/max, duplicate alerts (same lead and step sent twice) and
      missed alerts (never sent by the end): budget p99 <= 2 s, 0 duplicates, 0 missed;
      lateness split into the queue's share (handler start - due) and the worker's.
      sweeper_only: the same workload with no timers, fired by sweep() every 60 s alone (the
      minutes between sweeps skipped, not slept); informative.
  lead_life_*
      DynamoDB writes per lead over its life, through the HTTP handlers and the SQS timer
      handler on a movable clock with the demo team: (a) answered before any step, (b) warned
      then answered, (c) the whole demo ladder. Write requests, and write units estimated from
      item sizes read around each request (moto does not report consumed capacity): per item
      ceil(max(before, after) / 1 KB), x2 in a transaction; index (GSI) units apart. Budget:
      <= 6 per lead (design.md: write units per lead over its life).
  metrics_*
      GET /metrics at 10,000 leads a day: a realistic day of lead facts (one item per lead,
      keyed by day and lead id) written as the adapter writes them (its UpdateItem actions,
      checked against real UpdateItems on the embedded server), sized by DynamoDB's rules, keys
      included. Bytes per fact item (budget: under 1 KB, so an update costs 2 units), items,
      Query pages and read units for 1 and 30 days (ceil(page bytes / 4 KB) per page of <= 1 MB,
      strongly consistent as store.facts reads, and half that eventually consistent; every day
      as busy); the write units a fact adds (2 per transactional update: budget <= 2); and the
      whole day put on the embedded server and store.facts(day) + compute timed once, split
      into moto's time, botocore's parsing and the adapter's decoding. Otherwise informative.
"""


def main() -> int:
    """Run every benchmark, print the table, write the JSON; 1 if a benchmark crashed."""
    print(HEADER, flush=True)
    started = time.perf_counter()
    figures: list[Figure] = []
    notes: list[str] = []
    crashed: list[str] = []
    sections: list[tuple[str, Callable[[list[str]], list[Figure]]]] = [
        ("capture path (DynamoDB requests, item sizes)", capture_path.run),
        ("owner assignment (extra requests, assignments per second)", assignment.run),
        ("cold import", cold_import.run),
        ("capture latency", latency.run),
        ("alert lateness (1,000 timers: SQS, then the sweeper alone)", alert_lateness.run),
        ("lead lifetime (DynamoDB writes per lead)", lead_lifetime.run),
        ("metrics reads (10,000 leads a day)", metrics_reads.run),
    ]
    for title, bench in sections:
        t = time.perf_counter()
        print(f"running: {title} ...", flush=True)
        try:
            figures += bench(notes)
        except Exception:
            traceback.print_exc()
            crashed.append(title)
        print(f"  done in {time.perf_counter() - t:.1f} s", flush=True)

    print()
    for note in notes:
        print(note)
    print()
    print(table(figures))
    over = [f.key for f in figures if f.ok is False]
    print()
    print(f"{len(over)} figure(s) over budget" + (f": {', '.join(over)}" if over else ""))
    write_json(figures, RESULTS)
    print(f"wrote {RESULTS.relative_to(ROOT)} in {time.perf_counter() - started:.0f} s")
    if crashed:
        print(f"benchmark(s) that could not run: {', '.join(crashed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
