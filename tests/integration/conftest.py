"""Integration fixtures: a fresh LeadStore of each kind, so one contract suite runs on both.

`memory` is the in-memory fake; `dynamo` is DynamoLeadStore on moto in this process; `store`
is each of them in turn; `alert_log` is MemoryAlertLog, then DynamoAlertLog on moto.
`http_dynamo` is DynamoLeadStore over HTTP against the embedded server, for tests where threads
really race (moto's in-process backends have no locks).

Every botocore client costs about 0.2 s to build (each PynamoDB connection loads the service
model afresh), so the Dynamo fixtures bind the models and build the store once per module and
give each test fresh tables by dropping and re-creating them under the same names.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from chalicelib.adapters.dynamo.alerts import DynamoAlertLog
from chalicelib.adapters.dynamo.models import MODELS, bind, create_tables
from chalicelib.adapters.dynamo.store import DynamoLeadStore
from chalicelib.cli.embedded import EmbeddedAws
from chalicelib.ports import AlertLog, LeadStore
from tests.fakes import T0, FakeClock, MemoryAlertLog, MemoryLeadStore

REGION = "us-east-1"


@pytest.fixture(scope="module")
def module_clock() -> FakeClock:
    """The clock the module's stores read; `clock` puts it back to T0 for every test."""
    return FakeClock()


@pytest.fixture
def clock(module_clock: FakeClock) -> FakeClock:
    """The test's clock at T0, also read by the Dynamo stores (listing starts at its month)."""
    module_clock.current = T0
    return module_clock


@pytest.fixture
def memory() -> MemoryLeadStore:
    """An empty in-memory store."""
    return MemoryLeadStore()


@pytest.fixture(params=["memory", "dynamo"])
def store(request: pytest.FixtureRequest) -> LeadStore:
    """Each implementation of LeadStore in turn, empty."""
    made: LeadStore = request.getfixturevalue(request.param)
    return made


def fresh_tables() -> None:
    """Drop and re-create every table (same names, so the models keep their connections)."""
    for model in MODELS.values():
        if model.exists():
            model.delete_table()
    create_tables()


@pytest.fixture(scope="module")
def bound_tables() -> Iterator[None]:
    """Lets a module bind the models to its own tables and endpoint, and puts the old binding
    back after, so no other test inherits a table prefix or an endpoint that has gone away."""
    saved = {name: (m.Meta.table_name, m.Meta.region, m.Meta.host) for name, m in MODELS.items()}
    yield
    for name, model in MODELS.items():
        model.Meta.table_name, model.Meta.region, model.Meta.host = saved[name]
        # The cached connection may point at an endpoint that has gone away.
        model._connection = None
        model._connection = None


@pytest.fixture(scope="module")
def module_dynamo(bound_tables: None, module_clock: FakeClock) -> Iterator[DynamoLeadStore]:
    """DynamoLeadStore on moto in this process, for the whole module."""
    with mock_aws():
        bind(table_prefix="contract-", region=REGION, host=None)
        yield DynamoLeadStore(region=REGION, host=None, clock=module_clock)


@pytest.fixture
def dynamo(module_dynamo: DynamoLeadStore, clock: FakeClock) -> DynamoLeadStore:
    """An empty DynamoLeadStore on moto."""
    fresh_tables()
    return module_dynamo


@pytest.fixture
def memory_alerts() -> MemoryAlertLog:
    """An empty in-memory alert log."""
    return MemoryAlertLog()


@pytest.fixture
def dynamo_alerts(module_dynamo: DynamoLeadStore) -> DynamoAlertLog:
    """An empty DynamoAlertLog on moto (the same tables and binding as `dynamo`)."""
    fresh_tables()
    return DynamoAlertLog()


@pytest.fixture(params=["memory_alerts", "dynamo_alerts"])
def alert_log(request: pytest.FixtureRequest) -> AlertLog:
    """Each implementation of AlertLog in turn, empty."""
    made: AlertLog = request.getfixturevalue(request.param)
    return made


@pytest.fixture(scope="session")
def embedded_aws() -> Iterator[EmbeddedAws]:
    """The embedded DynamoDB-compatible server (moto's, over HTTP), shared by the session."""
    aws = EmbeddedAws().start()
    try:
        yield aws
    finally:
        aws.stop()


@pytest.fixture(scope="module")
def module_http_dynamo(
    embedded_aws: EmbeddedAws, bound_tables: None, module_clock: FakeClock
) -> DynamoLeadStore:
    """DynamoLeadStore talking HTTP to the embedded server, for the whole module."""
    bind(table_prefix="http-", region=REGION, host=embedded_aws.url)
    return DynamoLeadStore(region=REGION, host=embedded_aws.url, clock=module_clock)


@pytest.fixture
def http_dynamo(module_http_dynamo: DynamoLeadStore, clock: FakeClock) -> DynamoLeadStore:
    """An empty DynamoLeadStore over HTTP."""
    fresh_tables()
    return module_http_dynamo
