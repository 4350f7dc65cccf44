"""The sales funnel's rules: which stage moves are allowed, and what each move must carry.

A lead starts at "lead" and moves forward only (a CRM may skip stages: lead → sql is fine).
"lost" ends it from any open stage; "won" and "lost" are final. Repeating the move that put
the lead where it is changes nothing, so a CRM's retry or a double click is harmless.

Pure: no storage, no clock (times are passed in).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.domain.errors import ConflictError, InvalidPayloadError
from chalicelib.domain.facts import LOST, STAGES
from chalicelib.domain.model import Lead
from chalicelib.domain.team import TeamConfig

WON = STAGES[-1]
FINAL = (WON, LOST)
ALL_STAGES = (*STAGES, LOST)
# The fields a move may carry, by target stage; any other field on that stage is refused.
FIELDS = {WON: ("amount", "currency"), LOST: ("reason",)}
OPTIONAL_FIELDS = ("amount", "currency", "reason")
MAX_REASON = 200
MAX_BY = 64
# A CRM may log a stage change late (a rep updating a deal after a trade show), not by months.
MAX_BACKDATE = timedelta(days=90)
# A CRM's clock may run a little ahead of ours; more than this is a wrong "at".
CLOCK_SKEW = timedelta(seconds=5)
# Up to a trillion: keeps every accepted amount exact as a float's shortest repr too (15
# significant digits), so a JSON number means what it says.
_AMOUNT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")
_CURRENCY = re.compile(r"[A-Za-z]{3}")


@dataclass(frozen=True)
class Move:
    """A requested stage change, validated: the target and what the target needs."""

    stage: str
    amount: Decimal | None = None  # won only
    currency: str | None = None  # won only; ISO 4217, upper case
    reason: str | None = None  # lost only


@dataclass(frozen=True)
class Transition:
    """What a move does to a lead: from which stage to which, and the furthest stage after."""

    from_stage: str
    to: str
    furthest: str


def read_move(stage: Any, fields: Mapping[str, Any]) -> Move:
    """The move asked for: `stage` and the optional fields (amount, currency, reason; None or
    absent when not given). InvalidPayloadError names the first bad field."""
    if not isinstance(stage, str) or stage.strip().lower() not in ALL_STAGES:
        raise InvalidPayloadError(f"must be one of: {', '.join(ALL_STAGES)}", field="stage")
    stage = stage.strip().lower()
    allowed = FIELDS.get(stage, ())
    for name in OPTIONAL_FIELDS:
        if fields.get(name) is not None and name not in allowed:
            raise InvalidPayloadError(f"is not taken by stage '{stage}'", field=name)
    if stage == WON:
        return Move(stage, amount=read_amount(fields.get("amount")), currency=read_currency(fields))
    if stage == LOST:
        return Move(stage, reason=_reason(fields.get("reason")))
    return Move(stage)


def read_amount(value: Any) -> Decimal:
    """A positive amount with at most 2 decimal places, from a string or a JSON number; never
    through float arithmetic (a float is read by its shortest repr, which is what was sent)."""
    problem = 'must be a positive amount with at most 2 decimal places, e.g. "1200.50"'
    if value is None:
        raise InvalidPayloadError(f"is required for 'won' and {problem}", field="amount")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidPayloadError(problem, field="amount")
    text = value.strip() if isinstance(value, str) else repr(value)
    if not _AMOUNT.fullmatch(text):
        raise InvalidPayloadError(problem, field="amount")
    amount = Decimal(text)
    if amount <= 0:
        raise InvalidPayloadError(problem, field="amount")
    return amount


def read_currency(fields: Mapping[str, Any]) -> str:
    """An ISO 4217 code, upper-cased."""
    value = fields.get("currency")
    if value is None:
        raise InvalidPayloadError("is required for 'won', e.g. \"USD\"", field="currency")
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value.strip()):
        raise InvalidPayloadError(
            'must be an ISO 4217 code of 3 letters, e.g. "USD"', field="currency"
        )
    return value.strip().upper()


def _reason(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value.strip()) > MAX_REASON:
        raise InvalidPayloadError(
            f"must be text of at most {MAX_REASON} characters", field="reason"
        )
    return value.strip() or None


def read_at(value: Any, *, now: datetime) -> datetime | None:
    """When the change happened: ISO 8601 with an offset, not in the future and not more
    than MAX_BACKDATE ago; None when not given."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidPayloadError("must be an ISO 8601 date-time string", field="at")
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidPayloadError("not an ISO 8601 date-time", field="at") from None
    if at.tzinfo is None:
        raise InvalidPayloadError("needs a UTC offset, e.g. 2026-11-01T09:30:00Z", field="at")
    if at > now + CLOCK_SKEW:
        raise InvalidPayloadError("is in the future", field="at")
    if at < now - MAX_BACKDATE:
        raise InvalidPayloadError(f"is more than {MAX_BACKDATE.days} days ago", field="at")
    return at


def read_by(value: Any, team: TeamConfig) -> str | None:
    """Who made the change: a rep's id (given as the id or the rep's email), else the text as
    given (a CRM user leadclock does not know); None when not given."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_BY:
        raise InvalidPayloadError(
            f"must be a rep id or text of 1 to {MAX_BY} characters", field="by"
        )
    text = value.strip()
    if team.rep(text) is not None:
        return text
    wanted = text.lower()
    rep = next((r for r in team.reps if r.email and r.email.lower() == wanted), None)
    return rep.id if rep is not None else text


def decide(lead: Lead, move: Move) -> Transition | None:
    """The transition `move` makes on `lead`, or None when it is already done (the same move
    repeated). ConflictError when the rules forbid it."""
    current = lead.stage
    if current in FINAL:
        if move.stage != current:
            raise ConflictError(
                f"the lead is {current}, which is final; a deal re-opened in the CRM must come "
                "in as a new lead for now",
                field="stage",
            )
        if current == WON and (move.amount, move.currency) != (lead.won_amount, lead.currency):
            raise ConflictError(
                f"the lead was won with {lead.won_amount} {lead.currency}; a won amount cannot "
                "be changed",
                field="amount",
            )
        return None
    if move.stage == current:
        return None
    if move.stage == LOST:
        return Transition(current, LOST, lead.furthest_stage)
    if STAGES.index(move.stage) < STAGES.index(current):
        raise ConflictError(
            f"the lead is at '{current}'; stages move forward only "
            f"({' → '.join(STAGES)}, or {LOST})",
            field="stage",
        )
    return Transition(current, move.stage, _further(lead.furthest_stage, move.stage))


def _further(a: str, b: str) -> str:
    return a if STAGES.index(a) >= STAGES.index(b) else b
