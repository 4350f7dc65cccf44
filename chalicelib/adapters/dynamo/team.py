"""The team configuration in DynamoDB, cached in the container for a short while."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from chalicelib.adapters.dynamo.models import TeamModel
from chalicelib.domain.errors import NotConfiguredError
from chalicelib.domain.team import TeamConfig
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
            try:
                # Consistent, so a container that starts just after a save sees that save.
                row = TeamModel.get(_KEY, consistent_read=True)
            except TeamModel.DoesNotExist:
                raise NoTeamConfigError("no team configuration loaded") from None
            team = team_from_dict(row.document, file="dynamodb:team")
            self._cached = (time.monotonic(), team)
            return team

    def save(self, team: TeamConfig) -> None:
        """Replace the configuration and this container's cached copy."""
        now = datetime.now(UTC).isoformat()
        TeamModel(_KEY, document=team_to_dict(team), updated_at=now).save()
        with self._lock:
            self._cached = (time.monotonic(), team)
