"""Which digests went out, on the routing table (its hash key `key` is a free string, so no new
table is needed): one small item per digest and period, and one per digest for when it was
first seen.

    digest#<name>#<period>   status, attempts, taken_at, lease_until (µs since 1970), done (a
                             string set of "<channel>:<address>"), finished_at, error
    digest#<name>#since      since (µs)

Every change is one conditional UpdateItem, so two runs at once never both take a period.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.connection import TableConnection
from pynamodb.constants import ALL_NEW
from pynamodb.exceptions import UpdateError
from pynamodb.expressions.operand import Path

from chalicelib.adapters.dynamo.models import RoutingModel
from chalicelib.ports import DigestRun

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class DynamoDigestLog:
    """DigestLog on the routing table, through RoutingModel's table connection (which `bind`
    points at this stage's table and the shared botocore client)."""

    def first_seen(self, digest: str, now: datetime) -> datetime:
        """One read once the digest is known; the first time, one write that keeps whichever
        run got there first."""
        key = _since_key(digest)
        item = self._get(key)
        if item is None or "since" not in item:
            since = Path("since")
            item = self._update(key, [since.set(since | _micros(now))])
        assert item is not None  # an update without a condition always applies
        return _time(item["since"])

    def get(self, digest: str, period: str) -> DigestRun | None:
        """One consistent read."""
        item = self._get(_key(digest, period))
        return None if item is None or "status" not in item else _run(digest, period, item)

    def take(
        self, digest: str, period: str, *, now: datetime, lease_until: datetime, max_attempts: int
    ) -> DigestRun | None:
        """One conditional UpdateItem; the record comes back from the update itself."""
        status, attempts, lease = Path("status"), Path("attempts"), Path("lease_until")
        fewer = attempts < {"N": str(max_attempts)}
        condition = (
            status.does_not_exist()
            | ((status == {"S": "failed"}) & fewer)
            | ((status == {"S": "sending"}) & (lease < _micros(now)) & fewer)
        )
        actions = [
            status.set({"S": "sending"}),
            attempts.set((attempts | {"N": "0"}) + {"N": "1"}),
            Path("taken_at").set(_micros(now)),
            lease.set(_micros(lease_until)),
            Path("finished_at").remove(),
        ]
        item = self._update(_key(digest, period), actions, condition)
        return None if item is None else _run(digest, period, item)

    def delivered(self, digest: str, period: str, address: str) -> None:
        """ADD to a string set: a repeat adds nothing."""
        self._update(_key(digest, period), [Path("done").add({"SS": [address]})])

    def finish(
        self, digest: str, period: str, *, status: str, at: datetime, error: str | None = None
    ) -> None:
        """One UpdateItem."""
        actions: list[Any] = [
            Path("status").set({"S": status}),
            Path("finished_at").set(_micros(at)),
        ]
        actions.append(Path("error").set({"S": error}) if error else Path("error").remove())
        self._update(_key(digest, period), actions)

    def _get(self, key: str) -> Mapping[str, Any] | None:
        reply = _table().get_item(key, consistent_read=True)
        item: Mapping[str, Any] | None = reply.get("Item")
        return item

    def _update(
        self, key: str, actions: list[Any], condition: Any = None
    ) -> Mapping[str, Any] | None:
        """The item after the update; None when the condition failed."""
        try:
            reply = _table().update_item(
                key, actions=actions, condition=condition, return_values=ALL_NEW
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return None
            raise
        attributes: Mapping[str, Any] = reply["Attributes"]
        return attributes


def _table() -> TableConnection:
    # Undeclared attributes (status, done…) are read and written raw: a Model would drop them.
    return RoutingModel._get_connection()


def _key(digest: str, period: str) -> str:
    return f"digest#{digest}#{period}"


def _since_key(digest: str) -> str:
    # Digest names are slugs and periods start with their kind, so this never names a period.
    return f"digest#{digest}#since"


def _run(digest: str, period: str, item: Mapping[str, Any]) -> DigestRun:
    finished = item.get("finished_at")
    return DigestRun(
        digest=digest,
        period=period,
        status=item["status"]["S"],
        attempts=int(item["attempts"]["N"]),
        taken_at=_time(item["taken_at"]),
        lease_until=_time(item["lease_until"]),
        done=frozenset(item.get("done", {}).get("SS", ())),
        finished_at=None if finished is None else _time(finished),
        error=item["error"]["S"] if "error" in item else None,
    )


def _micros(at: datetime) -> dict[str, str]:
    # The same exact integer arithmetic as MicrosAttribute.
    delta = at.astimezone(UTC) - _EPOCH
    return {"N": str((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)}


def _time(value: Mapping[str, str]) -> datetime:
    return _EPOCH + timedelta(microseconds=int(value["N"]))
