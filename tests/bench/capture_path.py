"""DynamoDB and SQS requests and item sizes on the capture path, through the real HTTP handlers,
the real adapters and the embedded DynamoDB- and SQS-compatible server (moto over HTTP)."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests.bench.counting import ProcessTally, RequestCounter, describe, share
from tests.bench.item_size import item_bytes, largest_attributes
from tests.bench.report import Figure, at_most, info

ROOT = Path(__file__).resolve().parents[2]
TEAM_FILE = ROOT / "infra" / "team.demo.yaml"
PUBLIC_BASE_URL = "https://bench.leadclock.test/api"
TABLE_PREFIX = "leadclock-bench-"

# Budgets from design.md: capture + assign + schedule a new lead.
MAX_WRITES, MAX_READS, MAX_SCANS = 3, 1, 0
ASSIGN_WRITES, ASSIGN_READS = 2, 1
MAX_LEAD_ITEM_BYTES = 1024
KINDS = ("writes", "reads", "scans")
FORM_PHONE = "+14155550142"  # TYPICAL_FORM's phone, normalised

# A typical form lead: contact, a message, UTM source/medium/campaign, a gclid and the landing
# page with its query string, as a website form posts it.
GCLID = "Cj0KCQiA4NWrBhD-ARIsAFCKwWt7Xq3ZpGk5Jd2mVbYxR1sLq8uN0pHc7eTfW9aEALw_wcB"
TYPICAL_FORM = {
    "name": "Maria Gonzalez",
    "email": "maria.gonzalez@example.com",
    "phone": "(415) 555-0142",
    "message": "Hi, we'd like a quote to replace the roof on our two-storey house. "
    "There is a small leak above the kitchen. Mornings are best for a call.",
    "utm_source": "google",
    "utm_medium": "cpc",
    "utm_campaign": "Roof_Replacement_Spring",
    "gclid": GCLID,
    "landing_page": "https://www.acmeroofing.example/roof-replacement?utm_source=google"
    f"&utm_medium=cpc&utm_campaign=Roof_Replacement_Spring&gclid={GCLID}",
}


def run(notes: list[str]) -> list[Figure]:
    """Every capture-path figure; `notes` collects the lines printed under the table."""
    return on_embedded_stack(_measure, notes)


def on_embedded_stack(
    measure: Callable[[str, ProcessTally, list[str]], list[Figure]], notes: list[str]
) -> list[Figure]:
    """Run `measure(endpoint, tally, notes)` against a fresh embedded server, every DynamoDB
    call in the process tallied, and stop both after."""
    _environment()
    from chalicelib.cli.embedded import EmbeddedAws

    aws = EmbeddedAws().start()
    tally = ProcessTally()
    tally.install()
    try:
        return measure(aws.url, tally, notes)
    finally:
        tally.uninstall()
        aws.stop()


def _environment() -> None:
    # Dummy credentials: the embedded server accepts any, and nothing can reach a real account.
    os.environ.pop("AWS_PROFILE", None)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LEADCLOCK_SECRET_WEBSITE": "bench-" + secrets.token_hex(16),
        "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        # One JSON line per captured lead would bury the table; errors still show.
        "LOG_LEVEL": "WARNING",
    }.items():
        os.environ[name] = value


class SqsTally:
    """SQS API calls, by operation, from every botocore session created while it is installed
    (as ProcessTally counts DynamoDB's): the timers adapter's client shares a session with the
    DynamoDB connection, so whichever client sends, it is counted."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._spec = ("before-call.sqs.*", self._on_call)

    def install(self) -> None:
        """Count calls from sessions created from now on."""
        from botocore import handlers

        handlers.BUILTIN_HANDLERS.append(self._spec)

    def uninstall(self) -> None:
        """Stop adding the hook to new sessions."""
        from botocore import handlers

        if self._spec in handlers.BUILTIN_HANDLERS:
            handlers.BUILTIN_HANDLERS.remove(self._spec)

    def _on_call(self, event_name: str, **_: Any) -> None:
        self.calls.append(event_name.rsplit(".", 1)[-1])


def _measure(endpoint: str, tally: ProcessTally, notes: list[str]) -> list[Figure]:
    sqs = SqsTally()
    sqs.install()
    try:
        return _measure_counting_sqs(endpoint, tally, sqs, notes)
    finally:
        sqs.uninstall()


def _measure_counting_sqs(
    endpoint: str, tally: ProcessTally, sqs: SqsTally, notes: list[str]
) -> list[Figure]:
    from chalice.test import Client

    from chalicelib import wiring
    from chalicelib.adapters.dynamo.models import MODELS, create_tables
    from chalicelib.adapters.dynamo.team import DynamoTeamStore
    from chalicelib.adapters.sqs_timers import SqsTimers
    from chalicelib.cli.embedded import create_timer_queues
    from chalicelib.settings import load_settings
    from chalicelib.team_file import load_team_file

    settings = load_settings(
        {
            "AWS_REGION": "us-east-1",
            "LEADCLOCK_TABLE_PREFIX": TABLE_PREFIX,
            "LEADCLOCK_AWS_ENDPOINT": endpoint,
            "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            # moto's state is per process: the bench's other sections name their own queues.
            "LEADCLOCK_TIMER_QUEUE": f"{TABLE_PREFIX}timers",
            "LEADCLOCK_TIMER_DLQ": f"{TABLE_PREFIX}timers-dlq",
        }
    )
    container = wiring.build(settings)
    wiring.use(container)
    create_tables()
    container.team.save(load_team_file(TEAM_FILE))
    # As deployed: landing sends a new lead's first ladder step to the timers queue.
    create_timer_queues(
        _raw_client(endpoint, settings.region, "sqs"),
        queue=settings.timer_queue,
        dead_letter_queue=settings.timer_dlq,
    )
    # A warm container has looked the queue URL up already (once per container).
    if not isinstance(container.timers, SqsTimers):
        raise RuntimeError(f"the capture path schedules through {container.timers!r}, not SQS")
    container.timers.queue_url()

    from app import app

    counter = RequestCounter()
    clients = _dynamo_clients(MODELS.values(), container.store)
    for client in clients:
        counter.attach(client)
    raw = _raw_client(endpoint, settings.region)
    http = Client(app, project_dir=str(ROOT)).http

    # A warm container has the team configuration cached (save() caches it; load() proves it).
    counter.reset()
    container.team.load()
    if counter.snapshot()["reads"]:
        raise RuntimeError("the team configuration was not cached after save()")

    figures: list[Figure] = []
    # Assignment's share of a capture: the rotation counter update on the routing table (the
    # rep's load is claimed inside the lead's transaction, so it costs no request of its own),
    # an old owner's load given back, and the read of a returning person's lead for stickiness
    # (its only GetItem on the leads table; a cancelled transaction's re-read is rare).
    assignment_ops = {
        settings.table("routing"): frozenset({"UpdateItem"}),
        settings.table("leads"): frozenset({"GetItem"}),
    }

    def scenario(key: str, post: Any, expected: str, budgeted: bool = True) -> dict[str, Any]:
        counter.reset()
        before = tally.calls
        sqs_before = len(sqs.calls)
        status, lead_id = post()
        sqs_calls = sqs.calls[sqs_before:]
        if status != expected:
            raise RuntimeError(f"{key}: the capture answered {status!r}, expected {expected!r}")
        counts = counter.snapshot()
        if tally.calls - before != len(counts["calls"]):
            raise RuntimeError(
                f"{key}: {tally.calls - before} DynamoDB calls in the process but "
                f"{len(counts['calls'])} on the hooked clients; hook the missing client in "
                "_dynamo_clients"
            )
        if not any(op == "TransactWriteItems" for op, _ in counts["calls"]):
            # An SMS reply says nothing about the lead; a missing transaction means the landing
            # was deferred to the replayer, so these counts would not describe a capture.
            raise RuntimeError(f"{key}: the event was recorded but not landed on a lead")
        assigning = share(counts["tables"], assignment_ops)
        figures.extend(_budgeted(key, counts, assigning) if budgeted else _informative(key, counts))
        figures.extend(info(f"{key}_assignment_{kind}", assigning[kind]) for kind in KINDS[:2])
        figures.append(info(f"{key}_sqs_requests", len(sqs_calls)))
        notes.append(
            f"{key}: {describe(counts['calls'])}; SQS: {', '.join(sqs_calls) or 'none'}"
            + _retries(counts)
        )
        return {
            "lead_id": lead_id,
            "assignment": assigning,
            "sqs_requests": len(sqs_calls),
            **counts,
        }

    def assigned(key: str, counts: dict[str, Any], phone: str) -> None:
        # The demo team's reps keep working hours and the bench runs on the wall clock, so how
        # a lead is assigned (and so the share) depends on when it runs: say how it went.
        how = _how(raw, settings, phone)
        a = counts["assignment"]
        notes.append(
            f"  assignment share of {key}: {a['writes']} of {counts['writes']} writes, "
            f"{a['reads']} of {counts['reads']} reads; the lead is now {how}"
        )

    form = dict(TYPICAL_FORM)
    new = scenario("capture_new_lead", lambda: _post_form(http, form), "created")
    assigned("capture_new_lead", new, FORM_PHONE)
    lead_item = _get(raw, settings.table("leads"), {"lead_id": {"S": new["lead_id"]}})
    touches = _query(raw, settings.table("touchpoints"), new["lead_id"])
    event_item = _get(raw, settings.table("events"), {"event_key": touches[0]["event_key"]})

    again = dict(form, message="Following up: could someone call me back this afternoon?")
    returning = scenario("capture_returning_lead", lambda: _post_form(http, again), "updated")
    assigned("capture_returning_lead", returning, FORM_PHONE)
    lead_after = _get(raw, settings.table("leads"), {"lead_id": {"S": new["lead_id"]}})

    sms = _sms_params("+14155550177")
    sms_new = scenario("capture_sms_new_lead", lambda: _post_sms(http, sms), "ok")
    assigned("capture_sms_new_lead", sms_new, "+14155550177")
    sms_again = _sms_params(FORM_PHONE)  # the form lead's phone
    sms_back = scenario("capture_sms_returning_lead", lambda: _post_sms(http, sms_again), "ok")
    assigned("capture_sms_returning_lead", sms_back, FORM_PHONE)

    # A cold container has no cached team configuration: one more GetItem, then none for 30 s;
    # nor the timers queue's URL: one GetQueueUrl before its first SendMessage.
    cold_sqs = _new_session_client("sqs", endpoint, settings.region)
    cold_timers = SqsTimers(
        lambda: cold_sqs,
        queue=settings.timer_queue,
        dead_letter_queue=settings.timer_dlq,
        clock=container.clock,
    )
    wiring.use(dataclasses.replace(container, team=DynamoTeamStore(), timers=cold_timers))
    try:
        cold_form = dict(form, email="j.okafor@example.com", phone="(415) 555-0163")
        cold = scenario(
            "capture_new_lead_cold_container",
            lambda: _post_form(http, cold_form),
            "created",
            budgeted=False,
        )
    finally:
        wiring.use(container)

    stale = [
        c for c in _dynamo_clients(MODELS.values(), container.store) if not counter.attached(c)
    ]
    if stale:
        raise RuntimeError(
            f"{len(stale)} DynamoDB client(s) were rebuilt mid-run; counts incomplete"
        )

    figures += _sizes(lead_item, lead_after, touches[0], event_item, notes)
    notes.append(
        "cold container: the first request pays one extra GetItem for the team configuration "
        f"(cached 30 s): {cold['reads']} reads there vs {new['reads']} warm. The figures above "
        "are for a warm container. SQS: a new lead's first ladder step is one SendMessage "
        "(delayed until due); a cold container first looks the timers queue's URL up "
        f"({cold['sqs_requests']} SQS requests there vs {new['sqs_requests']} warm)."
    )
    notes.append(
        "the capture figures include assignment (the handler always assigns); its share is "
        "reported apart as capture_*_assignment_writes/reads, and measured against a capture "
        "without assignment, on a fixed clock, in the assignment section."
    )
    return figures


def _how(raw: Any, settings: Any, phone: str) -> str:
    """'owned by ana (rotation)', 'unassigned (<reason>)', … for the lead holding `phone`."""
    key = {"key": {"S": f"phone:{phone}"}}
    identity = _get(raw, settings.table("identities"), key)
    lead = _get(raw, settings.table("leads"), {"lead_id": identity["lead_id"]})
    explained = json.loads(lead.get("assignment", {}).get("S", "{}"))
    owner, how = explained.get("owner"), explained.get("how", "never assigned")
    if owner is None:
        return f"unassigned ({explained.get('reason') or how})"
    return f"owned by {owner} ({how})"


def _dynamo_clients(models: Any, store: Any) -> list[Any]:
    """The botocore clients the capture path sends through: one per model's connection (reads
    and single-item writes), and the store's own Connection (TransactWriteItems)."""
    clients = [model._get_connection().connection.client for model in models]
    conn = getattr(store, "_conn", None)
    if conn is None:
        raise RuntimeError("the lead store has no _conn(): transactions would not be counted")
    clients.append(conn().client)
    return clients


def _budgeted(key: str, counts: dict[str, Any], assigning: dict[str, int]) -> list[Figure]:
    # Issue budgets: capture itself <= 3 writes, <= 1 read; assignment adds <= 2 writes, <= 1
    # read. The totals are held to the sum; the capture's own share to its budget.
    own = {kind: counts[kind] - assigning.get(kind, 0) for kind in ("writes", "reads")}
    return [
        at_most(f"{key}_capture_only_dynamodb_writes", own["writes"], MAX_WRITES),
        at_most(f"{key}_capture_only_dynamodb_reads", own["reads"], MAX_READS),
        at_most(f"{key}_dynamodb_writes", counts["writes"], MAX_WRITES + ASSIGN_WRITES),
        at_most(f"{key}_dynamodb_reads", counts["reads"], MAX_READS + ASSIGN_READS),
        at_most(f"{key}_dynamodb_scans", counts["scans"], MAX_SCANS),
    ]


def _informative(key: str, counts: dict[str, Any]) -> list[Figure]:
    return [info(f"{key}_dynamodb_{kind}", counts[kind]) for kind in KINDS]


def _retries(counts: dict[str, Any]) -> str:
    extra = counts["sends"] - len(counts["calls"])
    return f"  ({extra} retried HTTP attempts)" if extra else ""


def _sizes(
    lead: dict[str, Any],
    lead_after: dict[str, Any],
    touch: dict[str, Any],
    event: dict[str, Any],
    notes: list[str],
) -> list[Figure]:
    top = largest_attributes(lead)
    notes.append("lead item, largest attributes (bytes): " + _sizes_text(top))
    biggest = lead[top[0][0]]
    if "M" in biggest:
        notes.append(f"  inside {top[0][0]}: " + _sizes_text(largest_attributes(biggest["M"], 8)))
    raw_body = event.get("raw_body", {}).get("S", "")
    notes.append(
        "the inbox event item keeps the raw body apart from the lead "
        f"({len(raw_body.encode())} B of it)"
    )
    return [
        at_most("lead_item_bytes_typical_form", item_bytes(lead), MAX_LEAD_ITEM_BYTES, " B"),
        info("lead_item_bytes_after_second_form", item_bytes(lead_after)),
        info("touchpoint_item_bytes_typical_form", item_bytes(touch)),
        info("inbox_event_item_bytes_typical_form", item_bytes(event)),
    ]


def _sizes_text(sizes: list[tuple[str, int]]) -> str:
    return ", ".join(f"{name} {size}" for name, size in sizes)


def _post_form(http: Any, form: dict[str, str]) -> tuple[str, str | None]:
    headers = {
        "Content-Type": "application/json",
        "X-Leadclock-Token": os.environ["LEADCLOCK_SECRET_WEBSITE"],
    }
    reply = http.post("/webhooks/forms/website", headers=headers, body=json.dumps(form).encode())
    body = json.loads(reply.body or b"{}")
    if reply.status_code >= 300:
        raise RuntimeError(f"form capture failed: {reply.status_code} {body}")
    return body.get("status"), body.get("lead_id")


def _sms_params(sender: str) -> dict[str, str]:
    return {
        "MessageSid": "SM" + secrets.token_hex(16),
        "AccountSid": "AC" + secrets.token_hex(16),
        "From": sender,
        "To": "+14155550111",
        "Body": "Hi, is anyone free to look at a roof leak today?",
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }


def _post_sms(http: Any, params: dict[str, str]) -> tuple[str, None]:
    from twilio.request_validator import RequestValidator

    url = PUBLIC_BASE_URL + "/webhooks/twilio/sms"
    signature = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"]).compute_signature(url, params)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
    }
    reply = http.post("/webhooks/twilio/sms", headers=headers, body=urlencode(params).encode())
    if reply.status_code != 200:
        raise RuntimeError(f"SMS capture failed: {reply.status_code} {reply.body!r}")
    return "ok", None


def _raw_client(endpoint: str, region: str, service: str = "dynamodb") -> Any:
    import boto3

    return boto3.client(service, region_name=region, endpoint_url=endpoint)


def _new_session_client(service: str, endpoint: str, region: str) -> Any:
    """A client on a botocore session of its own, made now (so SqsTally counts its calls)."""
    from botocore.session import get_session

    return get_session().create_client(service, region_name=region, endpoint_url=endpoint)


def _get(raw: Any, table: str, key: dict[str, Any]) -> dict[str, Any]:
    item = raw.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    if item is None:
        raise RuntimeError(f"no item {key} in {table}")
    return dict(item)


def _query(raw: Any, table: str, lead_id: str) -> list[dict[str, Any]]:
    reply = raw.query(
        TableName=table,
        KeyConditionExpression="lead_id = :l",
        ExpressionAttributeValues={":l": {"S": lead_id}},
        ConsistentRead=True,
    )
    if not reply["Items"]:
        raise RuntimeError(f"no touchpoint for {lead_id}")
    return list(reply["Items"])
