"""The speedups the embedded stack installs in moto (chalicelib.cli.moto_speedups): SQS's cheap
clock gives moto's own values, installs are counted per user, and DynamoDB transactions rolled
back item by item leave the tables as a whole-table backup would."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

import boto3
import moto.core.utils
import moto.sqs.models
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.cli.embedded import EmbeddedAws
from chalicelib.cli.moto_speedups import Speedups, unix_seconds

REGION = "us-east-1"

LAST_NS = 253_402_300_799_999_999_999  # 9999-12-31T23:59:59.999999999, as far as datetime goes


@given(st.integers(min_value=0, max_value=LAST_NS))
def test_cheap_sqs_clock_gives_moto_s_value_for_the_same_clock_reading(ns: int) -> None:
    # moto's unix_time() is unix_time(utcnow()), and utcnow() keeps the reading's whole
    # microseconds: the same reading as a naive datetime, through moto's own function.
    reading = datetime(1970, 1, 1) + timedelta(microseconds=ns // 1000)
    assert unix_seconds(ns) == moto.core.utils.unix_time(reading)


def test_cheap_sqs_clock_reads_between_two_readings_of_moto_s_own(
    embedded_aws: EmbeddedAws,
) -> None:
    # Microseconds rounded instead of dropped would put it after the second reading at times.
    own = moto.core.utils
    for _ in range(2000):
        assert own.unix_time() <= _sqs("unix_time")() <= own.unix_time()
        assert own.unix_time_millis() <= _sqs("unix_time_millis")() <= own.unix_time_millis()


def test_cheap_sqs_clock_passes_a_given_datetime_to_moto_s_function(
    embedded_aws: EmbeddedAws,
) -> None:
    at = datetime(2026, 3, 8, 9, 59, 59, 999999)
    assert _sqs("unix_time")(at) == moto.core.utils.unix_time(at)
    assert _sqs("unix_time_millis")(at) == moto.core.utils.unix_time_millis(at)


def test_stopping_a_second_server_leaves_the_first_one_s_sqs_on_the_cheap_clock(
    embedded_aws: EmbeddedAws,
) -> None:
    cheap = _sqs("unix_time")
    assert cheap is not moto.core.utils.unix_time
    EmbeddedAws().start().stop()
    assert _sqs("unix_time") is cheap


def test_speedups_give_moto_s_functions_back_when_their_last_user_leaves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As before any server started (the session's server may be running); a Speedups of the
    # test's own, so the count the session's server holds is left alone.
    own = moto.core.utils.unix_time, moto.core.utils.unix_time_millis
    monkeypatch.setattr(moto.sqs.models, "unix_time", own[0])
    monkeypatch.setattr(moto.sqs.models, "unix_time_millis", own[1])
    speedups = Speedups()
    speedups.install()
    speedups.install()
    speedups.uninstall()
    assert _sqs("unix_time") is not own[0]
    speedups.uninstall()
    assert (_sqs("unix_time"), _sqs("unix_time_millis")) == own


def _sqs(name: str) -> Any:
    """A name in moto's SQS models module, as its code looks it up (an import, not an export)."""
    return vars(moto.sqs.models)[name]


# DynamoDB transactions on the embedded server: moto's backup of whole tables is replaced by
# copies of the items a transaction names, so a refused transaction must still change nothing.


@pytest.fixture(scope="module")
def dynamodb(embedded_aws: EmbeddedAws) -> Any:
    return boto3.client("dynamodb", region_name=REGION, endpoint_url=embedded_aws.url)


@pytest.fixture
def table(dynamodb: Any) -> str:
    """A fresh table keyed by pk and sk, holding a, b and d (each x=1)."""
    name = f"txn-{secrets.token_hex(4)}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for pk in ("a", "b", "d"):
        dynamodb.put_item(
            TableName=name,
            Item={"pk": {"S": pk}, "sk": {"S": "0"}, "x": {"N": "1"}, "tags": {"SS": ["t"]}},
        )
    return name


def _items(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    return sorted(
        dynamodb.scan(TableName=table, ConsistentRead=True)["Items"],
        key=lambda item: (item["pk"]["S"], item["sk"]["S"]),
    )


def _writes(table: str, *, check: str) -> list[dict[str, Any]]:
    """Update a, put a new c, delete b, then check that d's x is `check`."""
    key = {"pk": {"S": "a"}, "sk": {"S": "0"}}
    return [
        {
            "Update": {
                "TableName": table,
                "Key": key,
                "UpdateExpression": "SET x = :two REMOVE tags",
                "ExpressionAttributeValues": {":two": {"N": "2"}},
            }
        },
        {"Put": {"TableName": table, "Item": {"pk": {"S": "c"}, "sk": {"S": "0"}}}},
        {"Delete": {"TableName": table, "Key": {"pk": {"S": "b"}, "sk": {"S": "0"}}}},
        {
            "ConditionCheck": {
                "TableName": table,
                "Key": {"pk": {"S": "d"}, "sk": {"S": "0"}},
                "ConditionExpression": "x = :x",
                "ExpressionAttributeValues": {":x": {"N": check}},
            }
        },
    ]


def test_refused_transaction_leaves_every_item_it_named_as_it_was(
    dynamodb: Any, table: str
) -> None:
    before = _items(dynamodb, table)
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=_writes(table, check="9"))
    assert _items(dynamodb, table) == before


def test_transaction_naming_one_item_twice_changes_nothing(dynamodb: Any, table: str) -> None:
    before = _items(dynamodb, table)
    again = {"Put": {"TableName": table, "Item": {"pk": {"S": "a"}, "sk": {"S": "0"}}}}
    twice = [*_writes(table, check="1")[:2], again]
    with pytest.raises(dynamodb.exceptions.ClientError):
        dynamodb.transact_write_items(TransactItems=twice)
    assert _items(dynamodb, table) == before


def test_accepted_transaction_makes_every_write(dynamodb: Any, table: str) -> None:
    dynamodb.transact_write_items(TransactItems=_writes(table, check="1"))
    assert _items(dynamodb, table) == [
        {"pk": {"S": "a"}, "sk": {"S": "0"}, "x": {"N": "2"}},
        {"pk": {"S": "c"}, "sk": {"S": "0"}},
        {"pk": {"S": "d"}, "sk": {"S": "0"}, "x": {"N": "1"}, "tags": {"SS": ["t"]}},
    ]
