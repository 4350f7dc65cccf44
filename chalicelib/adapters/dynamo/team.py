"""The team configuration in DynamoDB, cached in the container for a short while."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from pynamodb.exceptions import UpdateError

from chalicelib.adapters.dynamo.models import TeamModel
from chalicelib.domain.errors import NotConfiguredError
from chalicelib.domain.team import TeamConfig
from chalicelib.ports import TeamChangedError
from chalicelib.team_file import team_from_dict, team_to_dict

_KEY = "team"


class NoTeamConfigError(NotConfiguredError):
    """No configuration has been loaded into this stage yet (run the admin load command)."""


class DynamoTeamStore:
    """One document item; read at most once per `ttl_s` per container (a cold start pays one
    GetItem, later requests none), so a config change is live everywhere within `ttl_s`."""

    def __init__(self, *, ttl_s: float = 30.0) -> None:
        self._ttl_s = ttl_s
        self._cached: tuple[float, TeamConfig] | None = None
        self._lock = threading.Lock()

    def load(self) -> TeamConfig:
        """The current configuration."""
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < self._ttl_s:
                return self._cached[1]
        return self.load_latest()[0]

    def load_latest(self) -> tuple[TeamConfig, int]:
        """The configuration and its version, read consistently past the cache."""
        try:
            # Consistent, so a container that starts just after a save sees that save.
            row = TeamModel.get(_KEY, consistent_read=True)
        except TeamModel.DoesNotExist:
            raise NoTeamConfigError("no team configuration loaded") from None
        team = team_from_dict(row.document, file="dynamodb:team")
        with self._lock:
            self._cached = (time.monotonic(), team)
        return team, int(row.version or 0)

    def save(self, team: TeamConfig, *, expected_version: int | None = None) -> int:
        """Replace the configuration (only over `expected_version` when given) and this
        container's cached copy; one UpdateItem that also counts the version up."""
        now = datetime.now(UTC).isoformat()
        condition = None
        if expected_version is not None:
            version = TeamModel.version
            # Items written before versions existed count as version 0.
            unversioned = version.does_not_exist() if expected_version == 0 else None
            same = version == expected_version
            condition = same if unversioned is None else unversioned | same
        try:
            reply = TeamModel(_KEY).update(
                actions=[
                    TeamModel.document.set(team_to_dict(team)),
                    TeamModel.updated_at.set(now),
                    TeamModel.version.add(1),
                ],
                condition=condition,
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise TeamChangedError("the team configuration was saved meanwhile") from None
            raise
        with self._lock:
            self._cached = (time.monotonic(), team)
        return int(reply["Attributes"]["version"]["N"])
