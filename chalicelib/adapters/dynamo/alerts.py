"""AlertLog on DynamoDB: one item per alert, keyed by lead and alert key; alerts needing
attention, and each rep's SMS alerts, by sparse indexes."""

from __future__ import annotations

from pynamodb.exceptions import UpdateError

from chalicelib.adapters.dynamo.mapping import iso, parse
from chalicelib.adapters.dynamo.models import AlertModel
from chalicelib.ports import ATTENTION_STATUSES, AlertRecord

# The recipient key of a queue's Slack channel (delivery.Recipient); every other is a rep id.
CHANNEL_RECIPIENT = "channel"


class DynamoAlertLog:
    """Every alert: written with its step's finish (DynamoLeadStore.finish_step), read here."""

    def finish(self, record: AlertRecord) -> None:
        """Replace the logged alert with its outcome."""
        alert_row(record).save()

    def get(self, lead_id: str, key: str) -> AlertRecord | None:
        """The alert logged under `key`, read consistently."""
        try:
            return alert_from_row(AlertModel.get(lead_id, key, consistent_read=True))
        except AlertModel.DoesNotExist:
            return None

    def take(self, lead_id: str, key: str, *, expected: str, status: str) -> bool:
        """Move the alert from `expected` to `status` in one conditional UpdateItem; False if
        it was not in `expected` (or was never logged)."""
        attention = AlertModel.attention
        try:
            AlertModel(lead_id, key).update(
                actions=[
                    AlertModel.status.set(status),
                    attention.set(status) if status in ATTENTION_STATUSES else attention.remove(),
                ],
                condition=AlertModel.status == expected,
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def for_lead(self, lead_id: str) -> list[AlertRecord]:
        """The lead's alerts in key order: one Query."""
        return [alert_from_row(r) for r in AlertModel.query(lead_id, consistent_read=True)]

    def by_status(self, status: str, *, limit: int) -> list[AlertRecord]:
        """Alerts with `status`, newest first: one Query of the sparse attention index."""
        if status not in ATTENTION_STATUSES:
            raise ValueError(f"only alerts needing attention are listed by status: {status}")
        rows = AlertModel.needing_attention.query(status, scan_index_forward=False, limit=limit)
        return [alert_from_row(r) for r in rows]

    def recent_sms_for_rep(self, rep_id: str, *, limit: int) -> list[AlertRecord]:
        """The rep's SMS alerts, newest first: one Query of the sparse rep_sms index."""
        rows = AlertModel.sms_by_rep.query(rep_id, scan_index_forward=False, limit=limit)
        return [alert_from_row(r) for r in rows]


def alert_row(record: AlertRecord) -> AlertModel:
    """The item for an alert record."""
    return AlertModel(
        record.lead_id,
        record.key,
        step=record.step,
        step_name=record.step_name,
        recipient=record.recipient,
        channel=record.channel,
        to=record.to,
        status=record.status,
        due_at=iso(record.due_at),
        created_at=iso(record.created_at),
        called_at=iso(record.called_at) if record.called_at else None,
        lateness_s=record.lateness_s,
        provider_id=record.provider_id,
        attempts=record.attempts,
        error=record.error,
        fallback_of=record.fallback_of,
        attention=record.status if record.status in ATTENTION_STATUSES else None,
        rep_sms=rep_sms_key(record),
    )


def rep_sms_key(record: AlertRecord) -> str | None:
    """The rep an SMS alert went to, for the rep_sms index; None keeps other alerts out of it
    (a Slack channel is not a rep, and only an SMS can be answered by SMS)."""
    if record.channel != "sms" or record.recipient == CHANNEL_RECIPIENT:
        return None
    return record.recipient


def alert_from_row(row: AlertModel) -> AlertRecord:
    """The alert record an item holds."""
    return AlertRecord(
        lead_id=row.lead_id,
        key=row.key,
        step=int(row.step),
        step_name=row.step_name,
        recipient=row.recipient,
        channel=row.channel,
        to=row.to,
        status=row.status,
        due_at=parse(row.due_at),
        created_at=parse(row.created_at),
        called_at=parse(row.called_at) if row.called_at else None,
        lateness_s=None if row.lateness_s is None else float(row.lateness_s),
        provider_id=row.provider_id,
        attempts=int(row.attempts or 0),
        error=row.error,
        fallback_of=row.fallback_of,
    )
