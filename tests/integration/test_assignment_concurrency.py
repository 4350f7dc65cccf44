"""Assignment under real concurrency: threads land captures through `accept` with an `Assigner`,
over HTTP to the embedded DynamoDB-compatible server, so the rotation counter, the load counters
and the lead's owner condition are exercised by requests that really interleave."""

from __future__ import annotations

from collections import Counter

import pytest

from chalicelib.adapters.dynamo.models import RoutingModel
from chalicelib.adapters.dynamo.routing import DynamoRoutingStore
from chalicelib.adapters.dynamo.store import DynamoLeadStore
from chalicelib.domain.model import Lead
from chalicelib.domain.team import Member, QueueConfig, RepConfig, TeamConfig
from chalicelib.ports import LeadQuery, LeadStore
from chalicelib.services.assignment import Assigner
from chalicelib.services.landing import accept
from tests.fakes import FakeClock, StaticTeamStore
from tests.integration.builders import PHONE, form
from tests.integration.test_concurrency import race

# Five equal-weight reps, always on, no caps: every rep is eligible for every lead.
REPS = tuple(RepConfig(id=f"rep{i}", name=f"Rep {i}") for i in range(5))
TEAM = TeamConfig(
    name="acme",
    reps=REPS,
    queues=(QueueConfig(name="inbound", members=tuple(Member(r.id) for r in REPS)),),
    default_queue="inbound",
)


@pytest.fixture
def assigner(http_dynamo: DynamoLeadStore, clock: FakeClock) -> Assigner:
    """An Assigner on the embedded server's routing table (fresh with `http_dynamo`)."""
    return Assigner(team=StaticTeamStore(TEAM), routing=DynamoRoutingStore(), clock=clock)


def every_lead(store: LeadStore) -> list[Lead]:
    """All leads, page by page, the way the read API lists them."""
    leads: list[Lead] = []
    cursor: str | None = None
    while True:
        page = store.list_leads(LeadQuery(limit=100, cursor=cursor))
        leads += page.leads
        if page.cursor is None:
            return leads
        cursor = page.cursor


def open_loads() -> dict[str, int]:
    """Each rep's `open` on their `load#<rep>` item (0 for a rep never counted)."""
    loads = {}
    for rep in REPS:
        try:
            item = RoutingModel.get(f"load#{rep.id}", consistent_read=True)
        except RoutingModel.DoesNotExist:
            loads[rep.id] = 0
        else:
            loads[rep.id] = int(item.open or 0)
    return loads


def test_200_concurrent_new_leads_into_one_queue_get_one_owner_each_and_counts_within_one(
    http_dynamo: DynamoLeadStore, clock: FakeClock, assigner: Assigner
) -> None:
    n = 200
    captures = [form(f"sub-{i}", phone=f"+1415201{1000 + i:04d}") for i in range(n)]

    results = race(
        n, lambda i: accept(captures[i], store=http_dynamo, clock=clock, assigner=assigner)
    )

    assert Counter(r.status for r in results) == {"created": n}
    leads = every_lead(http_dynamo)
    assert len(leads) == n
    assert {x.lead_id for x in leads} == {r.lead_id for r in results}
    owners = Counter(x.owner for x in leads)
    assert None not in owners and set(owners) <= {r.id for r in REPS}
    assert max(owners.values()) - min(owners.values()) <= 1
    assert sum(owners.values()) == n
    # Each lead drew its own counter position, and each rep's load counts exactly their leads.
    positions = sorted(x.assignment["position"] for x in leads if x.assignment)
    assert positions == list(range(n))
    assert open_loads() == {r.id: owners[r.id] for r in REPS}
    assert Counter(r.owner for r in results) == owners


def test_30_concurrent_deliveries_from_one_new_person_give_one_owner_counted_once(
    http_dynamo: DynamoLeadStore, clock: FakeClock, assigner: Assigner
) -> None:
    n = 30
    captures = [form(f"same-person-{i}", phone=PHONE) for i in range(n)]

    results = race(
        n, lambda i: accept(captures[i], store=http_dynamo, clock=clock, assigner=assigner)
    )

    assert Counter(r.status for r in results) == {"created": 1, "updated": n - 1}
    (lead,) = every_lead(http_dynamo)
    assert lead.touch_count == n
    assert lead.owner is not None
    # Every delivery saw the same owner; the losers of the identity race gave their load back.
    assert {r.owner for r in results} == {lead.owner}
    assert open_loads() == {r.id: int(r.id == lead.owner) for r in REPS}
