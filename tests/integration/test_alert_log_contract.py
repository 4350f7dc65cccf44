"""The AlertLog contract: every claim here holds for MemoryAlertLog and for DynamoAlertLog."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta, timezone

import pytest

from chalicelib.ports import AlertLog, AlertRecord
from tests.fakes import T0

DUE = T0 + timedelta(minutes=5)


def alert(
    lead_id: str = "ld_a",
    *,
    step: int = 1,
    recipient: str = "ana",
    channel: str = "sms",
    created_after_s: float = 0.0,
) -> AlertRecord:
    """An alert just logged as sending, a little after its step was due."""
    return AlertRecord(
        lead_id=lead_id,
        key=f"{step}:{recipient}:{channel}",
        step=step,
        step_name="breach",
        recipient=recipient,
        channel=channel,
        to="+14155550134",
        status="sending",
        due_at=DUE,
        created_at=DUE + timedelta(seconds=created_after_s),
    )


def sent(record: AlertRecord) -> AlertRecord:
    """The same alert once the provider took it."""
    called = record.created_at + timedelta(milliseconds=40)
    return replace(
        record,
        status="sent",
        called_at=called,
        lateness_s=(called - record.due_at).total_seconds(),
        provider_id="SM0123",
        attempts=1,
    )


def failed(record: AlertRecord) -> AlertRecord:
    """The same alert after the provider refused it for good."""
    return replace(record, status="failed", attempts=3, error="21610: opted out")


def test_finish_records_the_outcome_over_what_was_logged(alert_log: AlertLog) -> None:
    record = replace(alert(), status="held")
    alert_log.finish(record)
    alert_log.finish(sent(record))
    got = alert_log.get("ld_a", record.key)
    assert got == sent(record)
    assert got is not None and got.lateness_s == 0.04


def test_times_come_back_in_utc_to_the_microsecond(alert_log: AlertLog) -> None:
    local = timezone(timedelta(hours=-5))
    record = replace(alert(), created_at=(DUE + timedelta(microseconds=7)).astimezone(local))
    alert_log.finish(record)
    got = alert_log.get("ld_a", record.key)
    assert got is not None
    assert got.created_at == DUE + timedelta(microseconds=7)
    assert got.created_at.utcoffset() == timedelta(0)


def test_take_moves_an_alert_from_the_expected_status_once(alert_log: AlertLog) -> None:
    record = replace(alert(), status="held")
    alert_log.finish(record)
    assert alert_log.take("ld_a", record.key, expected="held", status="sending")
    assert not alert_log.take("ld_a", record.key, expected="held", status="sending")
    assert alert_log.get("ld_a", record.key) == replace(record, status="sending")
    assert not alert_log.take("ld_a", "9:nobody:sms", expected="held", status="sending")
    assert alert_log.get("ld_a", "9:nobody:sms") is None


def test_an_unknown_alert_is_none(alert_log: AlertLog) -> None:
    assert alert_log.get("ld_a", "0:ana:sms") is None
    assert alert_log.for_lead("ld_a") == []
    assert alert_log.by_status("failed", limit=10) == []


def test_for_lead_lists_only_that_leads_alerts_in_key_order(alert_log: AlertLog) -> None:
    records = [
        alert(step=1, channel="slack"),
        alert(step=0, recipient="ben"),
        alert(step=1, channel="email"),
        alert("ld_b"),
    ]
    for record in records:
        alert_log.finish(record)
    assert [r.key for r in alert_log.for_lead("ld_a")] == [
        "0:ben:sms",
        "1:ana:email",
        "1:ana:slack",
    ]


def test_by_status_lists_failed_alerts_newest_first(alert_log: AlertLog) -> None:
    for i, lead_id in enumerate(("ld_a", "ld_b", "ld_c", "ld_d")):
        record = alert(lead_id, created_after_s=10 * i)
        alert_log.finish(record)
        alert_log.finish(failed(record) if lead_id != "ld_b" else sent(record))
    failures = alert_log.by_status("failed", limit=10)
    assert [r.lead_id for r in failures] == ["ld_d", "ld_c", "ld_a"]
    assert failures[0] == failed(alert("ld_d", created_after_s=30))
    assert [r.lead_id for r in alert_log.by_status("failed", limit=2)] == ["ld_d", "ld_c"]
    assert alert_log.by_status("unconfirmed", limit=10) == []


def test_alerts_that_went_fine_are_not_listed_by_status(alert_log: AlertLog) -> None:
    record = alert()
    alert_log.finish(sent(record))
    for status in ("sent", "sending", "delivered"):
        with pytest.raises(ValueError):
            alert_log.by_status(status, limit=10)
    assert [r.status for r in alert_log.for_lead("ld_a")] == ["sent"]


def test_a_held_alert_leaves_the_list_once_taken_and_joins_it_again_if_it_fails(
    alert_log: AlertLog,
) -> None:
    record = replace(alert(), status="held")
    alert_log.finish(record)
    assert [r.key for r in alert_log.by_status("held", limit=10)] == [record.key]
    assert alert_log.take("ld_a", record.key, expected="held", status="sending")
    assert alert_log.by_status("held", limit=10) == []
    alert_log.finish(failed(record))
    assert [r.key for r in alert_log.by_status("failed", limit=10)] == [record.key]
