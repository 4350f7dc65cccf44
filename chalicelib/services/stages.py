"""Moving a lead along the sales funnel: lead → mql → sql → opportunity → won, or lost.

Two ways in: the admin API (a person or a tool with the admin key) and a CRM's signed
webhook (a source with the standard_webhooks scheme, like CRM activity). Both end in
`change_stage`, which decides with the rules of chalicelib/domain/stages.py and writes the new
stage and its timeline entry in one conditional write.

Repeated deliveries: the same move again changes nothing (the rules say so); a CRM's retry
carries the same webhook-id and is found on the timeline first, so it is answered as a
duplicate even after the lead has moved on.

CRM body (JSON):
    lead_id | phone | email   at least one; tried in that order to find the lead
    stage                     one of facts.STAGES, or "lost"
    amount, currency          won only (both required)
    reason                    lost only (optional)
    at                        ISO 8601 with an offset, within the last 90 days (default: now)
    by                        a rep id or a rep's email, or the CRM user's name (optional)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain.errors import ConflictError, NotFoundError
from chalicelib.domain.model import Attribution, Lead, Touchpoint
from chalicelib.domain.stages import (
    WON,
    Move,
    Transition,
    decide,
    read_at,
    read_by,
    read_move,
)
from chalicelib.ports import FormVerifier, Secrets, StageChange
from chalicelib.services.activity import (
    ACTIVITY_TYPES,
    Activity,
    find_lead,
    json_body,
    parse_activity,
    verified_crm,
)
from chalicelib.services.worker import Worker

# Each try re-reads the lead; only a lead moved by someone else between the read and the
# write takes another one, so a few are plenty.
ATTEMPTS = 5
# The API's actor when the request names none (as reassign's).
API_ACTOR = "api"


@dataclass(frozen=True)
class StageResult:
    """The lead after the request, and what the request did."""

    lead: Lead
    status: str  # "changed" | "unchanged" (already there) | "duplicate" (this delivery landed)


def change_stage(
    lead_id: str,
    *,
    stage: Any,
    by: Any = None,
    at: Any = None,
    amount: Any = None,
    currency: Any = None,
    reason: Any = None,
    source_event_id: str | None = None,
    source: str | None = None,
    worker: Worker,
) -> StageResult:
    """Move lead `lead_id` to `stage` (values as received; InvalidPayloadError names the
    first bad one). `source` is the CRM source it came from (None: the admin API), and
    `source_event_id` the delivery's id there: a delivery seen before changes nothing.
    NotFoundError for an unknown lead, ConflictError for a move the rules forbid."""
    fields = {"amount": amount, "currency": currency, "reason": reason}
    request = _read({"stage": stage, "by": by, "at": at, **fields}, source=source, worker=worker)
    return _apply(lead_id, request, source_event_id=source_event_id, worker=worker)


def record_crm_stage(
    source_name: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    secrets: Secrets,
    verify: FormVerifier,
    worker: Worker,
) -> StageResult:
    """Authenticate a CRM's stage change (Standard Webhooks), find its lead as CRM activity
    does, and apply it; the webhook-id makes a repeated delivery land once."""
    webhook_id = verified_crm(
        source_name, body, headers, secrets=secrets, verify=verify, worker=worker
    )
    data = json_body(body)
    # The whole body is read before the lead is looked for: a bad field is named even when
    # the lead is unknown too.
    request = _read(data, source=source_name, worker=worker)
    lead = find_lead(_lead_ref(data, worker), worker)
    event_id = f"{source_name}:{webhook_id}" if webhook_id else None
    return _apply(lead.lead_id, request, source_event_id=event_id, worker=worker)


@dataclass(frozen=True)
class _Request:
    move: Move
    at: datetime
    by: str
    source: str | None


def _read(data: Mapping[str, Any], *, source: str | None, worker: Worker) -> _Request:
    """The move, its time and its actor, validated (the actor defaults to the CRM source, or
    to "api")."""
    move = read_move(data.get("stage"), data)
    now = worker.clock.now()
    by = read_by(data.get("by"), worker.team.load()) or source or API_ACTOR
    return _Request(move, read_at(data.get("at"), now=now) or now, by, source)


def _apply(
    lead_id: str, request: _Request, *, source_event_id: str | None, worker: Worker
) -> StageResult:
    """Decide on the lead as it is now and write; decide again if it moved meanwhile."""
    move = request.move
    key = f"stage:{source_event_id}" if source_event_id else None
    for _ in range(ATTEMPTS):
        lead = _lead(lead_id, worker)
        if key is not None and any(t.event_key == key for t in worker.store.touchpoints(lead_id)):
            return StageResult(lead, "duplicate")
        transition = decide(lead, move)
        if transition is None:
            return StageResult(lead, "unchanged")
        change = StageChange(
            lead_id=lead_id,
            expected_stage=transition.from_stage,
            stage=transition.to,
            at=request.at,
            by=request.by,
            furthest=transition.furthest,
            touchpoint=_touch(lead_id, transition, request, key=key),
            amount=move.amount,
            currency=move.currency,
            reason=move.reason,
            # Revenue is credited to the source of the lead's last touch when it was won.
            last_source=lead.last_touch.source if transition.to == WON else None,
            fact_day=lead.fact_day,
        )
        if worker.store.change_stage(change):
            return StageResult(_lead(lead_id, worker), "changed")
        # Someone else moved the lead (or this delivery landed) since it was read: decide again.
    raise ConflictError("the lead's stage kept changing meanwhile; try again", field="stage")


def _lead_ref(data: Mapping[str, Any], worker: Worker) -> Activity:
    """The lead reference in `data` (lead_id, phone, email), read and normalised exactly as
    CRM activity reads it; the activity's own fields are not part of a stage change."""
    ref = {k: data.get(k) for k in ("lead_id", "phone", "email")}
    team, now = worker.team.load(), worker.clock.now()
    return parse_activity({"type": ACTIVITY_TYPES[0], **ref}, team, now=now)


def _lead(lead_id: str, worker: Worker) -> Lead:
    lead = worker.store.get_lead(lead_id)
    if lead is None:
        raise NotFoundError(f"no lead {lead_id[:64]}", field="lead_id")
    return lead


def _touch(
    lead_id: str, transition: Transition, request: _Request, *, key: str | None
) -> Touchpoint:
    """The timeline entry: from, to and who, with the won amount or the lost reason."""
    move = request.move
    detail = {"from": transition.from_stage, "to": transition.to, "by": request.by}
    if move.amount is not None and move.currency is not None:
        detail |= {"amount": str(move.amount), "currency": move.currency}
    if move.reason:
        detail["reason"] = move.reason
    channel = "crm" if request.source else "rep"
    return Touchpoint(
        # A lead enters each stage at most once (forward only, won and lost final), so without
        # a delivery id the target stage alone makes a repeated request land once.
        event_key=key or f"stage:{transition.to}",
        lead_id=lead_id,
        at=request.at,
        channel=channel,
        kind="stage_changed",
        attribution=Attribution(source=request.source or "leadclock", channel=channel),
        detail=detail,
    )
