"""The AlertLog contract: every claim here holds for MemoryAlertLog and for DynamoAlertLog."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta, timezone

import pytest

from chalicelib.ports import AlertLog, AlertRecord, ClockStop, LeadStore
from tests.fakes import T0
from tests.integration.test_store_contract import LEASE, WARN, _alert_log, land_new

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


def test_recent_sms_for_rep_lists_that_reps_sms_alerts_newest_first(alert_log: AlertLog) -> None:
    logged = [
        alert("ld_a", step=0, created_after_s=0),
        alert("ld_b", step=0, created_after_s=10),
        alert("ld_a", step=1, created_after_s=20),
        alert("ld_c", step=0, recipient="ben", created_after_s=30),
    ]
    for record in logged:
        alert_log.finish(sent(record))

    recent = alert_log.recent_sms_for_rep("ana", limit=10)

    assert [(r.lead_id, r.key) for r in recent] == [
        ("ld_a", "1:ana:sms"),
        ("ld_b", "0:ana:sms"),
        ("ld_a", "0:ana:sms"),
    ]
    assert recent[0] == sent(logged[2])
    assert [r.lead_id for r in alert_log.recent_sms_for_rep("ana", limit=2)] == ["ld_a", "ld_b"]
    assert [r.lead_id for r in alert_log.recent_sms_for_rep("ben", limit=10)] == ["ld_c"]
    assert alert_log.recent_sms_for_rep("carmen", limit=10) == []


def test_recent_sms_for_rep_leaves_out_slack_email_and_channel_alerts(
    alert_log: AlertLog,
) -> None:
    for record in (
        alert(channel="slack"),
        alert(channel="email", created_after_s=1),
        alert(recipient="channel", channel="slack", created_after_s=2),
    ):
        alert_log.finish(sent(record))

    assert alert_log.recent_sms_for_rep("ana", limit=10) == []
    assert alert_log.recent_sms_for_rep("channel", limit=10) == []


def test_recent_sms_for_rep_lists_every_status_and_follows_an_alerts_outcome(
    alert_log: AlertLog,
) -> None:
    held = replace(alert("ld_a"), status="held")
    alert_log.finish(held)
    alert_log.finish(failed(alert("ld_b", created_after_s=5)))
    assert [r.status for r in alert_log.recent_sms_for_rep("ana", limit=10)] == [
        "failed",
        "held",
    ]

    assert alert_log.take("ld_a", held.key, expected="held", status="sending")
    alert_log.finish(sent(held))

    assert [(r.lead_id, r.status) for r in alert_log.recent_sms_for_rep("ana", limit=10)] == [
        ("ld_b", "failed"),
        ("ld_a", "sent"),
    ]


def test_sms_alerts_logged_with_a_steps_finish_are_listed_for_their_rep(store: LeadStore) -> None:
    """Both ways a step's alerts are written: with the step's finish, and on their own when the
    step was answered meanwhile."""
    for lead_id in ("ld_a", "ld_b"):
        land_new(store, lead_id)
        store.begin_step(lead_id, 0, now=WARN, lease_until=WARN + LEASE)
    store.stop_clock(ClockStop("ld_b", WARN, "ben", None))
    step_alerts = {
        lead_id: [
            replace(sent(alert(lead_id, step=0, created_after_s=i)), step_name="warn"),
            replace(sent(alert(lead_id, step=0, channel="slack")), step_name="warn"),
        ]
        for i, lead_id in enumerate(("ld_a", "ld_b"))
    }

    assert store.finish_step("ld_a", 0, next_step=None, next_at=None, alerts=step_alerts["ld_a"])
    assert not store.finish_step(
        "ld_b", 0, next_step=None, next_at=None, alerts=step_alerts["ld_b"]
    )

    recent = _alert_log(store).recent_sms_for_rep("ana", limit=10)
    assert [(r.lead_id, r.key) for r in recent] == [("ld_b", "0:ana:sms"), ("ld_a", "0:ana:sms")]
