"""The digests section of the team file: who gets a breach digest, and when; read and checked,
and written back out (chalicelib/domain/digest_periods.py says what the times mean)."""

from __future__ import annotations

import dataclasses
import re

from chalicelib.domain.errors import InvalidPayloadError
from chalicelib.domain.identity import normalise_email
from chalicelib.domain.team import WEEKDAYS, DigestConfig, TeamConfig
from chalicelib.team_checks import (
    SLACK_CHANNEL,
    Check,
    Fields,
    at_path,
    compact,
    minutes,
)

DIGEST_KEYS = ("name", "to", "slack_channel", "daily_at", "weekly_on", "weekly_at", "queues")
# A time of day on the team's wall clock. YAML reads an unquoted 8:30 as the number 510
# (base 60), so only quoted text is taken.
CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
CLOCK_RULE = 'must be a quoted time of day "HH:MM", such as "08:00"'


def read_digests(root: Fields, team: TeamConfig, check: Check) -> TeamConfig:
    """The digests section: a list of digests, each with recipients and a schedule."""
    digests: list[DigestConfig] = []
    names: set[str] = set()
    for at, m in check.items(root, "", "digests", DIGEST_KEYS):
        name = check.slug(m, at, "name", unique=(names, "digest name"))
        to = _recipients(m, at, team, check)
        channel = check.text(m, at, "slack_channel")
        if channel is not None and not SLACK_CHANNEL.fullmatch(channel):
            check.add(f"{at}.slack_channel", "must be a Slack channel id such as C012ABCDEF")
        if not to and m.get("to") is None and channel is None:
            check.add(at, "needs recipients: to, slack_channel or both")
        daily_at = _clock(m, at, "daily_at", check)
        weekly_on = m.get("weekly_on")
        if weekly_on is not None and weekly_on not in WEEKDAYS:
            check.add(f"{at}.weekly_on", f"must be one of {', '.join(WEEKDAYS)}")
            weekly_on = None
        weekly_at = _clock(m, at, "weekly_at", check)
        if m.get("weekly_at") is not None and m.get("weekly_on") is None:
            check.add(f"{at}.weekly_at", "only allowed with weekly_on")
        if m.get("daily_at") is None and m.get("weekly_on") is None:
            check.add(at, "needs a schedule: daily_at, weekly_on or both")
        queues = _queues(m, at, team, check)
        if name is not None:
            digest = DigestConfig(
                name=name,
                to=to,
                slack_channel=channel,
                daily_at=daily_at,
                weekly_on=str(weekly_on) if weekly_on is not None else None,
                weekly_at=weekly_at,
                queues=queues,
            )
            digests.append(digest)
    return dataclasses.replace(team, digests=tuple(digests))


def digest_dict(digest: DigestConfig) -> dict[str, object]:
    """The file spelling of one digest, which read_digests reads back unchanged."""
    return compact(
        {
            "name": digest.name,
            "to": list(digest.to) or None,
            "slack_channel": digest.slack_channel,
            "daily_at": _clock_text(digest.daily_at),
            "weekly_on": digest.weekly_on,
            "weekly_at": _clock_text(digest.weekly_at),
            "queues": list(digest.queues) or None,
        }
    )


def _recipients(m: Fields, at: str, team: TeamConfig, check: Check) -> tuple[str, ...]:
    """Rep ids (a rep needs an email) and email addresses, each once; emails lower-cased."""
    value, where = m.get("to"), at_path(at, "to")
    if value is None:
        return ()
    if not isinstance(value, list):
        check.add(where, "must be a list of rep ids or email addresses")
        return ()
    found: list[str] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        path = f"{where}[{index}]"
        if not isinstance(item, str) or not item.strip():
            check.add(path, "must be a rep id or an email address")
            continue
        if "@" in item:
            try:
                # The rule reps' and leads' addresses follow.
                entry = normalise_email(item.strip())
            except InvalidPayloadError:
                check.add(path, "not an email address")
                continue
        else:
            rep = team.rep(item.strip())
            if rep is None:
                check.add(path, f"unknown rep {item.strip()!r}")
                continue
            if rep.email is None:
                check.add(path, f"rep {rep.id!r} has no email; give them one or an address")
                continue
            entry = rep.id
        if entry in seen:
            check.add(path, f"duplicate recipient {entry!r}")
            continue
        seen.add(entry)
        found.append(entry)
    return tuple(found)


def _queues(m: Fields, at: str, team: TeamConfig, check: Check) -> tuple[str, ...]:
    value, where = m.get("queues"), at_path(at, "queues")
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        check.add(where, "must be a list of queue names (leave it out for every queue)")
        return ()
    queues: list[str] = []
    for index, item in enumerate(value):
        name = item.strip() if isinstance(item, str) else None
        # Exact names: TeamConfig.queue falls back to the default queue.
        if name is None or all(q.name != name for q in team.queues):
            check.add(f"{where}[{index}]", f"unknown queue {item!r}")
        elif name not in queues:
            queues.append(name)
    return tuple(queues)


def _clock(m: Fields, at: str, key: str, check: Check) -> int | None:
    value = m.get(key)
    if value is None:
        return None
    match = CLOCK.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        check.add(at_path(at, key), CLOCK_RULE)
        return None
    return minutes(match[0])


def _clock_text(minute: int | None) -> str | None:
    return None if minute is None else f"{minute // 60:02d}:{minute % 60:02d}"
