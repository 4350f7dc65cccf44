"""Reading the alert log back: failed (or any status) alerts, a lead's alerts, the DLQ depth."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.errors import InvalidPayloadError
from chalicelib.ports import ATTENTION_STATUSES, AlertLog, AlertRecord, Timers
from chalicelib.services.leads import page_limit

STATUSES = (
    "sending",
    "sent",
    "failed",
    "held",
    "unconfirmed",
    "cancelled",
    "delivered",
    "undelivered",
)
MAX_PAGE = 200


@dataclass(frozen=True)
class AlertPage:
    """Alerts asked for, and how many timer messages sit in the dead-letter queue."""

    alerts: list[AlertRecord]
    dead_letters: int | None


def list_alerts(
    *,
    status: str | None,
    lead_id: str | None,
    limit: str | None,
    alerts: AlertLog,
    timers: Timers,
) -> AlertPage:
    """A lead's alerts (lead_id), or alerts with a status (default: failed), newest first."""
    if status is not None and status not in STATUSES:
        raise InvalidPayloadError(f"must be one of: {', '.join(STATUSES)}", field="status")
    size = page_limit(limit, MAX_PAGE)
    if lead_id:
        found = [a for a in alerts.for_lead(lead_id) if status is None or a.status == status]
        found = found[:size]
    elif status is not None and status not in ATTENTION_STATUSES:
        # Sent and delivered alerts are the bulk: kept out of the index, read per lead.
        raise InvalidPayloadError(
            f"across leads, one of: {', '.join(ATTENTION_STATUSES)}; "
            "for other statuses give lead_id",
            field="status",
        )
    else:
        found = alerts.by_status(status or "failed", limit=size)
    try:
        depth = timers.dead_letters()
    except Exception:
        depth = None  # the count is a convenience; the alarm on the queue is the real watch
    return AlertPage(found, depth)
