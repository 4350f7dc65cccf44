"""Rotation counters and rep load on DynamoDB: atomic conditional updates, no read-then-write."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.operand import Path

from chalicelib.adapters.dynamo.models import RoutingModel
from chalicelib.ports import LoadClaim

# Daily counts live in one attribute per day on the rep's load item ("d2026-11-22"); the days
# before are removed as the rep takes leads, so an item holds at most a week of them.
_KEEP_DAYS = 7


class DynamoRoutingStore:
    """One item per queue (`queue#name`: the rotation counter) and per rep (`load#id`)."""

    def next_position(self, queue: str) -> int:
        """Atomically take the queue's next rotation position: 0, 1, 2, … One UpdateItem;
        concurrent callers always get distinct positions."""
        item = RoutingModel(f"queue#{queue}")
        reply = item.update(actions=[RoutingModel.position.add(1)])
        return int(reply["Attributes"]["position"]["N"]) - 1

    def take_load(
        self, rep: str, day: date, *, max_open: int | None, max_per_day: int | None
    ) -> bool:
        """Count one more open lead and one more lead on `day` for `rep`, unless that would pass
        a cap; False (and nothing written) at a cap. One conditional UpdateItem."""
        claim = LoadClaim(rep, day, max_open, max_per_day)
        actions, condition = load_update(claim)
        try:
            load_item(claim).update(actions=actions, condition=condition)
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release_load(self, rep: str, *, day: date | None = None) -> None:
        """One open lead fewer for `rep` (and on `day`, when given); never below 0."""
        actions, condition = load_release(rep, day=day)
        try:
            RoutingModel(f"load#{rep}").update(actions=actions, condition=condition)
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise


def load_release(rep: str, *, day: date | None = None) -> tuple[list[Any], Any]:
    """The actions and condition that give back one open lead (and one on `day`), never
    below 0: for an UpdateItem or a transaction."""
    actions: list[Any] = [RoutingModel.open.add(-1)]
    condition: Any = RoutingModel.open > 0
    if day is not None:
        actions.append(_day(day).add(-1))
        condition = condition & (_day(day) > 0)
    return actions, condition


def load_item(claim: LoadClaim) -> RoutingModel:
    """The rep's load item a claim updates."""
    return RoutingModel(f"load#{claim.rep}")


def load_update(claim: LoadClaim) -> tuple[list[Any], Any]:
    """The update actions and cap condition of a claim, for an UpdateItem or a transaction."""
    today = _day(claim.day)
    stale = [_day(claim.day - timedelta(days=n)) for n in range(1, _KEEP_DAYS + 1)]
    actions: list[Any] = [RoutingModel.open.add(1), today.add(1)]
    actions += [d.remove() for d in stale]
    condition = None
    if claim.max_open is not None:
        condition = RoutingModel.open.does_not_exist() | (RoutingModel.open < claim.max_open)
    if claim.max_per_day is not None:
        daily = today.does_not_exist() | (today < claim.max_per_day)
        condition = daily if condition is None else condition & daily
    return actions, condition


def _day(day: date) -> Path:
    return Path(f"d{day.isoformat()}")
