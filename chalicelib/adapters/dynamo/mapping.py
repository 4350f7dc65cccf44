"""Between PynamoDB rows and domain records, and the time format every table uses."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from chalicelib.adapters.dynamo.models import AttributionAttr, LeadModel, TouchpointModel
from chalicelib.domain.model import Attribution, Lead, Touchpoint
from chalicelib.domain.routing import Assignment


def compact_assignment(assignment: Assignment) -> dict[str, Any]:
    """The explanation as kept on the lead item: empty parts left out, skipped as a map."""
    # On the lead item: empty optional parts left out, skipped reps as {rep: reason}.
    optional = ("reason", "eligible", "skipped", "weights", "position", "slot")
    full = assignment.to_dict() | {"skipped": dict(assignment.skipped)}
    return {k: v for k, v in full.items() if k not in optional or v not in (None, [], {})}


def explanation(stored: dict[str, Any]) -> dict[str, Any]:
    """The explanation in the API's full shape, from its compact stored form."""
    skipped = stored.get("skipped") or {}
    pairs = [{"rep": rep, "reason": why} for rep, why in skipped.items()]
    return Assignment.from_dict({**stored, "skipped": pairs}).to_dict()


def touch_item(touch: Touchpoint) -> TouchpointModel:
    """The row for a touchpoint; its range key orders by time and is unique per event."""
    at = iso(touch.at)
    return TouchpointModel(
        touch.lead_id,
        f"{at}#{touch.event_key}",
        event_key=touch.event_key,
        at=at,
        channel=touch.channel,
        kind=touch.kind,
        attribution=attribution_attr(touch.attribution),
        detail=dict(touch.detail) or None,
    )


def attribution_attr(a: Attribution) -> AttributionAttr:
    """The map attribute for an attribution, without empty fields."""
    values = {k: v for k, v in asdict(a).items() if v not in (None, {}, "")}
    return AttributionAttr(**values)  # type: ignore[no-untyped-call]


def attribution_of(m: AttributionAttr) -> Attribution:
    """The attribution a map attribute holds."""
    data = m.as_dict()  # type: ignore[no-untyped-call]
    for key in ("utm", "utm_raw", "click_ids"):
        data[key] = dict(data.get(key) or {})
    return Attribution(**data)


def lead_from_row(row: LeadModel) -> Lead:
    """The lead a row holds; fields a new lead does not store are read from created_at."""
    created_at = parse(row.created_at)
    has_clock = row.sla_due_at is not None
    return Lead(
        lead_id=row.lead_id,
        created_at=created_at,
        updated_at=parse(row.updated_at) if row.updated_at else created_at,
        first_touch=attribution_of(row.first_touch),
        last_touch=attribution_of(row.last_touch or row.first_touch),
        phone=row.phone,
        email=row.email,
        name=row.name,
        company=row.company,
        status=row.status,
        sms_opt_out=bool(row.sms_opt_out),
        touch_count=int(row.touch_count or 0),
        linked_lead_ids=frozenset(row.linked_lead_ids or ()),
        last_touch_at=parse(row.last_touch_at) if row.last_touch_at else created_at,
        owner=row.owner,
        queue=row.queue,
        owner_assigned_at=parse(row.owner_assigned_at or row.created_at) if row.owner else None,
        assignment=explanation(row.assignment) if row.assignment else None,
        previous_owners=tuple(row.previous_owners or ()),
        first_response_at=parse(row.first_response_at) if row.first_response_at else None,
        first_response_by=row.first_response_by,
        sla_policy=row.sla_policy,
        clock_started_at=row.clock_started_at or (created_at if has_clock else None),
        sla_due_at=row.sla_due_at,
        next_step=_int_or_none(row.next_step),
        next_step_at=row.next_step_at,
        step_attempts=int(row.step_attempts or 0),
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
        paused_until=row.paused_until,
        speed_wall_s=_float_or_none(row.speed_wall_s),
        speed_business_s=_float_or_none(row.speed_business_s),
        sla_met=row.sla_met,
        fact_day=date.fromisoformat(row.fact_day) if row.fact_day else None,
        first_attempt_at=row.first_attempt_at,
        first_connect_at=row.first_connect_at,
        bridge_by=row.bridge_by,
        bridge_at=row.bridge_at,
        stage=row.stage or "lead",
        stage_at=row.stage_at,
        furthest_stage=row.furthest_stage or row.stage or "lead",
        lost_reason=row.lost_reason,
        won_amount=Decimal(row.won_amount) if row.won_amount else None,
        currency=row.currency,
        won_last_source=row.won_last_source,
    )


def _int_or_none(value: float | None) -> int | None:
    return None if value is None else int(value)


def _float_or_none(value: float | None) -> float | None:
    return None if value is None else float(value)


def touch_from_row(row: TouchpointModel) -> Touchpoint:
    """The touchpoint a row holds."""
    return Touchpoint(
        event_key=row.event_key,
        lead_id=row.lead_id,
        at=parse(row.at),
        channel=row.channel,
        kind=row.kind,
        attribution=attribution_of(row.attribution),
        detail=row.detail or {},
    )


def iso(value: datetime) -> str:
    """The stored form of a time: UTC, ISO 8601 to the microsecond (sorts as text)."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def parse(value: str) -> datetime:
    """The time a stored string holds."""
    return datetime.fromisoformat(value)
