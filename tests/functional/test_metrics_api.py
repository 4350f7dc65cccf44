"""GET /metrics through the app: leads captured by form and by phone, answered through the
events route and Twilio's callbacks, then counted from their facts alone: leads in, contacted,
speeds, within-SLA %, breaches, every grouping, the window on the team's wall clock, the errors,
and no read of the leads table. Two cases run on the DynamoDB adapters (moto) as well."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from moto import mock_aws

from chalicelib import wiring
from chalicelib.adapters.dynamo.alerts import DynamoAlertLog
from chalicelib.adapters.dynamo.models import MODELS, bind, create_tables
from chalicelib.adapters.dynamo.routing import DynamoRoutingStore
from chalicelib.adapters.dynamo.store import DynamoLeadStore
from chalicelib.domain.facts import LeadFact
from chalicelib.domain.metrics import MAX_WINDOW_DAYS
from chalicelib.domain.team import TeamConfig
from chalicelib.ports import LeadQuery
from tests.fakes import T0
from tests.functional.conftest import (
    ADMIN_KEY,
    DIAL_DONE_PREFIX,
    JSON,
    TEAM,
    VOICE,
    Stack,
    body_of,
    call,
)

TODAY = "2026-11-02"  # T0 is 09:00 on Monday 2 November in New York, the demo team's zone


def form_lead(stack: Stack, phone: str, **fields: str) -> str:
    """A website form lead (queue inbound, the demo policy: 30 s, around the clock)."""
    reply = stack.website({"name": "Kai Moss", "phone": phone, **fields})
    assert reply.status_code == 201, reply.body
    lead_id: str = body_of(reply)["lead_id"]
    return lead_id


def call_lead(stack: Stack, call_sid: str, caller: str) -> str:
    """A call to the Google Ads tracking number (campaign Brand_Search)."""
    assert stack.twilio(VOICE, call(call_sid, From=caller, Caller=caller)).status_code == 200
    # Listed through the port, so it finds the lead on either store.
    leads = stack.store.list_leads(LeadQuery(limit=100)).leads
    [lead_id] = [lead.lead_id for lead in leads if lead.phone == caller]
    return lead_id


def post(stack: Stack, path: str, body: Any = None) -> Any:
    raw = b"" if body is None else json.dumps(body).encode()
    headers = {"Content-Type": JSON, "x-api-key": ADMIN_KEY}
    return stack.client.http.post(path, headers=headers, body=raw)


def contacted(stack: Stack, lead_id: str, by: str | None = None) -> None:
    """A rep reports the first response through POST /leads/{id}/events."""
    body = {"type": "contacted"} if by is None else {"type": "contacted", "by": by}
    reply = post(stack, f"/leads/{lead_id}/events", body)
    assert reply.status_code == 200, reply.body


def metrics(stack: Stack, query: str = "") -> dict[str, Any]:
    reply = stack.api("/metrics" + (f"?{query}" if query else ""))
    assert reply.status_code == 200, reply.body
    body: dict[str, Any] = body_of(reply)
    return body


def rows(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in body["groups"]}


def summary(row: dict[str, Any]) -> tuple[Any, ...]:
    """Leads, contacted, wall-clock median and p90, within-SLA %, breaches."""
    speed = row["speed_wall_s"] or {}
    return (
        row["leads"],
        row["contacted"],
        speed.get("median"),
        speed.get("p90"),
        row["within_sla_pct"],
        row["breaches"],
    )


@pytest.fixture
def morning(stack: Stack) -> dict[str, str]:
    """Five leads between 09:00 and 09:02 in New York, judged at 09:03. Ben is the one inbound
    rep at work; the Spanish form goes to the espanol queue (the standard policy: 5 business
    minutes), whose reps are off, so to its fallback owner, Carmen.

      a  form, campaign Roof_Spring   answered by Ben after 12 s        met
      b  form                         answered after 45 s (due at 30 s) missed
      c  call (google-ads)            Ben picks up the forwarded call after 20 s: met
      d  form in Spanish              not answered, due 09:06           undecided
      e  form                         not answered, due 09:02:30        breached
    """
    leads = {"a": form_lead(stack, "+14155550141", utm_campaign="Roof_Spring")}
    stack.clock.advance(seconds=12)
    contacted(stack, leads["a"], "ben")
    stack.clock.advance(seconds=48)  # 09:01
    leads["b"] = form_lead(stack, "+14155550142")
    leads["c"] = call_lead(stack, "CA" + "1" * 32, "+14155550143")
    leads["d"] = form_lead(stack, "+14155550144", language="es")
    stack.clock.advance(seconds=20)
    answered = call("CA" + "1" * 32, From="+14155550143", CallStatus="in-progress")
    reply = stack.twilio(f"{DIAL_DONE_PREFIX}/ben", answered | {"DialCallStatus": "completed"})
    assert reply.status_code == 200, reply.body
    stack.clock.advance(seconds=25)
    contacted(stack, leads["b"])
    stack.clock.advance(seconds=15)  # 09:02
    leads["e"] = form_lead(stack, "+14155550145")
    stack.clock.advance(seconds=60)  # 09:03
    return leads


# --- what is counted ----------------------------------------------------------------------


def test_metrics_count_leads_responses_speeds_sla_and_breaches(
    stack: Stack, morning: dict[str, str]
) -> None:
    body = metrics(stack)

    assert (body["from"], body["to"], body["timezone"]) == (TODAY, TODAY, "America/New_York")
    assert body["as_of"] == (T0 + timedelta(minutes=3)).isoformat()
    assert (body["leads_read"], body["group_by"], body["groups"]) == (5, None, [])
    total = body["total"]
    # Speeds 12, 20, 45: the median is the middle one, p90 the 3rd of 3 (nearest rank).
    assert summary(total) == (5, 3, 20.0, 45.0, 50.0, 2)
    assert (total["sla_met"], total["sla_decided"]) == (2, 4)
    assert total["speed_business_s"] == {"median": 20.0, "p90": 45.0}  # 24/7: the same
    assert total["funnel"]["lead"] == 5


def test_a_response_or_a_step_later_moves_the_counts(stack: Stack, morning: dict[str, str]) -> None:
    stack.clock.advance(minutes=4)  # 09:07: the Spanish lead is overdue now
    assert summary(metrics(stack)["total"]) == (5, 3, 20.0, 45.0, 40.0, 3)

    contacted(stack, morning["d"], "carmen")  # answered at last, 6 minutes late

    total = metrics(stack)["total"]
    assert (total["contacted"], total["breaches"], total["sla_decided"]) == (4, 3, 5)
    assert total["speed_wall_s"]["p90"] == 360.0


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [
        (
            "source",
            {
                "website": (4, 2, 28.5, 45.0, 33.3, 2),
                "google-ads": (1, 1, 20.0, 20.0, 100.0, 0),
            },
        ),
        (
            "campaign",
            {
                "(none)": (3, 1, 45.0, 45.0, 0.0, 2),
                "brand-search": (1, 1, 20.0, 20.0, 100.0, 0),
                "roof-spring": (1, 1, 12.0, 12.0, 100.0, 0),
            },
        ),
        ("rep", {"ben": (4, 3, 20.0, 45.0, 50.0, 2), "carmen": (1, 0, None, None, None, 0)}),
        ("queue", {"inbound": (4, 3, 20.0, 45.0, 50.0, 2), "espanol": (1, 0, None, None, None, 0)}),
    ],
)
def test_metrics_group_by_each_dimension(
    stack: Stack,
    morning: dict[str, str],
    group_by: str,
    expected: dict[str, tuple[Any, ...]],
) -> None:
    body = metrics(stack, f"group_by={group_by}")

    assert body["group_by"] == group_by
    assert {key: summary(row) for key, row in rows(body).items()} == expected
    assert [row["key"] for row in body["groups"]] == list(expected)  # most leads first
    assert summary(body["total"]) == (5, 3, 20.0, 45.0, 50.0, 2)


def test_the_rep_rows_follow_a_reassignment(stack: Stack, morning: dict[str, str]) -> None:
    reply = post(stack, f"/leads/{morning['e']}/reassign")
    assert reply.status_code == 200, reply.body
    new_owner = body_of(reply)["owner"]
    assert new_owner not in (None, "ben")

    by_rep = rows(metrics(stack, "group_by=rep"))

    assert by_rep["ben"]["leads"] == 3
    assert (by_rep[new_owner]["leads"], by_rep[new_owner]["breaches"]) == (1, 1)


def test_a_lead_with_no_clock_counts_as_contacted_but_in_no_sla(make_stack: Any) -> None:
    stack = make_stack(_without_sla(TEAM))
    lead_id = form_lead(stack, "+14155550141")
    form_lead(stack, "+14155550142")
    stack.clock.advance(minutes=20)
    contacted(stack, lead_id, "ben")

    total = metrics(stack)["total"]

    assert (total["leads"], total["contacted"], total["speed_wall_s"]) == (2, 1, None)
    assert (total["sla_decided"], total["within_sla_pct"], total["breaches"]) == (0, None, 0)


@pytest.mark.parametrize("stores", ["memory", "dynamodb"])
def test_a_forwarded_call_answered_on_a_lead_with_no_clock_counts_as_contacted(
    make_stack: Any, stores: str
) -> None:
    stack = make_stack(_without_sla(TEAM))
    with on_dynamodb(stack) if stores == "dynamodb" else nullcontext():
        lead_id = call_lead(stack, "CA" + "2" * 32, "+14155550146")
        stack.clock.advance(seconds=8)
        answered = call("CA" + "2" * 32, From="+14155550146", CallStatus="in-progress")
        reply = stack.twilio(f"{DIAL_DONE_PREFIX}/ben", answered | {"DialCallStatus": "completed"})
        assert reply.status_code == 200, reply.body
        assert stack.lead(lead_id).first_response_at == T0 + timedelta(seconds=8)

        total = metrics(stack)["total"]

    assert (total["leads"], total["contacted"], total["sla_decided"]) == (1, 1, 0)


def _without_sla(team: TeamConfig) -> TeamConfig:
    return replace(
        team,
        default_sla_policy=None,
        queues=tuple(replace(q, sla_policy=None) for q in team.queues),
        sources=tuple(replace(s, sla_policy=None) for s in team.sources),
    )


# --- the window -----------------------------------------------------------------------------


def test_a_lead_counts_on_its_local_day_not_its_utc_day(stack: Stack) -> None:
    # 23:30 on 2 November in New York is 04:30 on 3 November in UTC.
    stack.clock.current = datetime(2026, 11, 3, 4, 30, tzinfo=UTC)
    form_lead(stack, "+14155550141")
    stack.clock.current = datetime(2026, 11, 3, 5, 30, tzinfo=UTC)  # 00:30 on the 3rd
    form_lead(stack, "+14155550142")

    assert metrics(stack, "from=2026-11-02&to=2026-11-02")["total"]["leads"] == 1
    assert metrics(stack, "from=2026-11-03&to=2026-11-03")["total"]["leads"] == 1
    today = metrics(stack)
    assert (today["from"], today["to"], today["total"]["leads"]) == ("2026-11-03",) * 2 + (1,)


def test_the_default_window_is_today_and_either_end_may_be_given_alone(stack: Stack) -> None:
    stack.clock.current = T0 - timedelta(days=1)
    form_lead(stack, "+14155550141")
    stack.clock.current = T0
    form_lead(stack, "+14155550142")
    form_lead(stack, "+14155550143")

    def window(query: str) -> tuple[str, str, int]:
        body = metrics(stack, query)
        return body["from"], body["to"], body["total"]["leads"]

    assert window("") == (TODAY, TODAY, 2)
    assert window("from=2026-11-01") == ("2026-11-01", TODAY, 3)
    assert window("to=2026-11-01") == ("2026-11-01", "2026-11-01", 1)
    assert window("from=&to=&group_by=") == (TODAY, TODAY, 2)  # empty means not given
    assert window("from=2026-10-31&to=2026-10-31") == ("2026-10-31", "2026-10-31", 0)


# --- refused --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-13-01", "from"),
        ("from=yesterday", "from"),
        ("to=02/11/2026", "to"),
        ("from=2026-11-03&to=2026-11-02", "to"),
        ("group_by=owner&from=2026-11-02", "group_by"),
        ("group_by=SOURCE", "group_by"),
        ("since=2026-11-01", "since"),
        ("from=2025-11-01&to=2026-11-02", "to"),  # 367 days
    ],
)
def test_a_bad_query_is_400_naming_the_field(stack: Stack, query: str, field: str) -> None:
    reply = stack.api(f"/metrics?{query}")

    assert reply.status_code == 400, reply.body
    assert body_of(reply)["Field"] == field


@pytest.mark.parametrize(
    "query",
    ["from=2026-13-01", "from=2026-11-02&to=2026-11-01", "since=x", "from=2025-11-01"],
)
def test_a_bad_window_or_parameter_reads_nothing(
    stack: Stack, reads: list[str], query: str
) -> None:
    assert stack.api(f"/metrics?{query}").status_code == 400
    assert reads == []


def test_a_bad_group_by_is_refused_before_any_read(stack: Stack, reads: list[str]) -> None:
    reply = stack.api("/metrics?from=2025-11-02&to=2026-11-02&group_by=owner")

    assert reply.status_code == 400
    assert reads == []


def test_a_window_of_the_maximum_length_is_read_day_by_day(stack: Stack, reads: list[str]) -> None:
    body = metrics(stack, "from=2025-11-02&to=2026-11-02")

    assert (body["from"], body["to"]) == ("2025-11-02", TODAY)
    assert len(reads) == MAX_WINDOW_DAYS == 366
    assert reads == [
        f"facts({date(2025, 11, 2) + timedelta(days=n)})" for n in range(MAX_WINDOW_DAYS)
    ]


@pytest.mark.parametrize("key", [None, "", "wrong-key"])
def test_metrics_need_the_admin_key(stack: Stack, reads: list[str], key: str | None) -> None:
    reply = stack.api("/metrics", key=key)

    assert reply.status_code == 401
    assert reads == []


# --- what is read -----------------------------------------------------------------------------


class ReadLog:
    """The stack's store, logging every method called on it; reading a lead fails the test."""

    FORBIDDEN = frozenset({"get_lead", "list_leads", "touchpoints", "find_leads"})

    def __init__(self, store: Any, log: list[str]) -> None:
        self._store = store
        self._log = log

    def __getattr__(self, name: str) -> Any:
        if name in self.FORBIDDEN:
            raise AssertionError(f"metrics read the leads table: {name}")
        method = getattr(self._store, name)

        def logged(*args: Any, **kwargs: Any) -> Any:
            self._log.append(f"{name}({', '.join(str(a) for a in args)})")
            return method(*args, **kwargs)

        return logged

    def facts(self, day: date) -> list[LeadFact]:
        self._log.append(f"facts({day})")
        found: list[LeadFact] = self._store.facts(day)
        return found


@pytest.fixture
def reads(stack: Stack) -> Iterator[list[str]]:
    """Every store call made from here on, through the app's container."""
    log: list[str] = []
    container = wiring.container()
    wiring.use(replace(container, store=ReadLog(container.store, log)))
    yield log
    wiring.use(container)


def test_metrics_read_each_day_of_the_window_once_and_never_a_lead(
    stack: Stack, morning: dict[str, str], reads: list[str]
) -> None:
    body = metrics(stack, "from=2026-10-04&to=2026-11-02&group_by=rep")

    assert reads == [f"facts({date(2026, 10, 4) + timedelta(days=n)})" for n in range(30)]
    assert body["total"]["leads"] == body["leads_read"] == 5


# --- on the DynamoDB adapters ------------------------------------------------------------------


@contextmanager
def on_dynamodb(stack: Stack) -> Iterator[Stack]:
    """`stack`'s app on the DynamoDB adapters (moto in this process, empty tables), wired as
    chalicelib/wiring.py wires them; the models' old binding comes back after."""
    saved = {name: (m.Meta.table_name, m.Meta.region, m.Meta.host) for name, m in MODELS.items()}
    try:
        with mock_aws():
            connection = bind(table_prefix="metrics-", region="us-east-1", host=None)
            create_tables()
            store = DynamoLeadStore(
                region="us-east-1", host=None, clock=stack.clock, connection=connection
            )
            container = wiring.container()
            wiring.use(
                replace(
                    container,
                    store=store,
                    routing=DynamoRoutingStore(),
                    alert_log=DynamoAlertLog(),
                )
            )
            stack.store = store  # type: ignore[assignment]
            yield stack
    finally:
        for name, model in MODELS.items():
            model.Meta.table_name, model.Meta.region, model.Meta.host = saved[name]
            model._connection = None


@pytest.fixture
def dynamo_stack(stack: Stack) -> Iterator[Stack]:
    """The demo team's app on the DynamoDB adapters (see on_dynamodb)."""
    with on_dynamodb(stack):
        yield stack


def test_metrics_on_dynamodb_count_each_lead_on_its_local_day_with_its_response(
    dynamo_stack: Stack,
) -> None:
    stack = dynamo_stack
    first = form_lead(stack, "+14155550141", utm_campaign="Roof_Spring")
    second = form_lead(stack, "+14155550142")
    reply = post(stack, f"/leads/{second}/claim", {"by": "ben"})
    assert reply.status_code == 200, reply.body
    stack.clock.advance(seconds=12)
    contacted(stack, first, "ben")
    stack.clock.current = datetime(2026, 11, 3, 4, 30, tzinfo=UTC)  # 23:30 in New York
    late = form_lead(stack, "+14155550143")
    stack.clock.advance(seconds=40)
    contacted(stack, late)

    body = metrics(stack, "group_by=campaign")

    assert (body["from"], body["to"]) == (TODAY, TODAY)
    assert summary(body["total"]) == (3, 2, 26.0, 40.0, 33.3, 2)
    assert {key: row["leads"] for key, row in rows(body).items()} == {
        "(none)": 2,
        "roof-spring": 1,
    }
    assert metrics(stack, "from=2026-11-03&to=2026-11-03")["total"]["leads"] == 0
