"""Lead facts on DynamoDB (chalicelib/domain/facts.py): one small item per lead in the facts
table, keyed by the day it arrived (the team's local date) and its lead id.

The item is created with the lead, in the capture transaction; later changes set its attributes
one by one in the same transaction as the change they record, so concurrent changes never undo
each other and a repeated delivery writes the same values again. Items stay near 120 B, so each
transactional write costs 2 write units. A lead from before facts existed has no `fact_day` and
gets no fact: its changes write none (an update would create a partial item).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chalicelib.adapters.dynamo.models import FactModel
from chalicelib.domain.facts import LeadFact
from chalicelib.domain.sla import Speed


def item(day: date, lead_id: str) -> FactModel:
    """The lead's fact item (for an update in a transaction)."""
    return FactModel(day.isoformat(), lead_id)


def created(fact: LeadFact) -> list[Any]:
    """Actions that write a new lead's fact."""
    actions: list[Any] = [
        FactModel.created_at.set(fact.created_at),
        FactModel.source.set(fact.source),
    ]
    for attr, text in (
        (FactModel.campaign, fact.campaign),
        (FactModel.queue, fact.queue),
        (FactModel.owner, fact.owner),
    ):
        if text:
            actions.append(attr.set(text))
    if fact.due_at is not None:
        actions.append(FactModel.due_at.set(fact.due_at))
    return actions


def responded(at: datetime, *, by: str | None, speed: Speed | None) -> list[Any]:
    """Actions that record the lead's first response, kept from the first report."""
    actions: list[Any] = [FactModel.responded_at.set(FactModel.responded_at | at)]
    if by:
        actions.append(FactModel.responded_by.set(FactModel.responded_by | by))
    if speed is not None:
        actions += [
            FactModel.speed_wall_s.set(float(speed.wall_s)),
            FactModel.speed_business_s.set(float(speed.business_s)),
            FactModel.sla_met.set(bool(speed.met)),
        ]
    return actions


def first_response(at: datetime, *, by: str | None) -> list[Any]:
    """Actions that set a response as the first (the caller's condition: there was none)."""
    actions: list[Any] = [FactModel.responded_at.set(at)]
    actions.append(FactModel.responded_by.set(by) if by else FactModel.responded_by.remove())
    return actions


def claimed(by: str) -> list[Any]:
    """Actions that record the lead's first claimer."""
    return [FactModel.claimed_by.set(FactModel.claimed_by | by)]


def owned(owner: str | None) -> list[Any]:
    """Actions that record the lead's owner now."""
    return [FactModel.owner.set(owner) if owner else FactModel.owner.remove()]


def staged(
    *,
    furthest: str,
    lost: bool,
    amount: Decimal | None = None,
    currency: str | None = None,
    last_source: str | None = None,
) -> list[Any]:
    """Actions that record a stage change: the furthest stage, lost, and a win's revenue."""
    actions: list[Any] = [FactModel.stage.set(furthest), FactModel.lost.set(lost)]
    if amount is not None and currency:
        actions += [FactModel.won_amount.set(str(amount)), FactModel.currency.set(currency)]
        if last_source:
            actions.append(FactModel.last_source.set(last_source))
    return actions


def fact_of(row: FactModel) -> LeadFact:
    """The fact an item holds."""
    return LeadFact(
        lead_id=row.lead_id,
        created_at=row.created_at,
        source=row.source,
        campaign=row.campaign,
        queue=row.queue,
        owner=row.owner,
        due_at=row.due_at,
        responded_at=row.responded_at,
        responded_by=row.responded_by,
        speed_wall_s=None if row.speed_wall_s is None else float(row.speed_wall_s),
        speed_business_s=None if row.speed_business_s is None else float(row.speed_business_s),
        sla_met=row.sla_met,
        claimed_by=row.claimed_by,
        stage=row.stage or "lead",
        lost=bool(row.lost),
        won_amount=Decimal(row.won_amount) if row.won_amount else None,
        currency=row.currency,
        last_source=row.last_source,
    )
