"""Team configuration as code: read the team file, check all of it, and write it back out."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from chalicelib.domain.errors import ConfigError
from chalicelib.domain.team import (
    AUTH_SCHEMES,
    QueueConfig,
    SourceConfig,
    TeamConfig,
    TrackingNumber,
)

Fields = Mapping[str, object]

# Source names appear in URLs (/webhooks/forms/{name}), so names are kept to a DNS-label-like slug.
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
SLUG_RULE = "must be a lower-case slug: a-z, 0-9 and '-', at most 63 characters"
E164 = re.compile(r"\+[1-9][0-9]{1,14}")
ENV_REF = re.compile(r"env:[A-Z_][A-Z0-9_]*")
SSM_REF = re.compile(r"ssm:(/[A-Za-z0-9_.-]+)+")
LITERAL_SECRET = "looks like a literal secret; use env:NAME or ssm:/path"
# Drafts start from the dataclass defaults, so the defaults live in one place: domain/team.py.
DEFAULT_QUEUE = QueueConfig(name="")


def load_team_file(path: str | os.PathLike[str]) -> TeamConfig:
    """Read a team file (.yaml, .yml or .json) and return it validated."""
    file = os.fspath(path)
    suffix = Path(file).suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        raise ConfigError(file, [("(file)", "must end in .yaml, .yml or .json")])
    parse: Callable[[str], object]
    error: type[Exception]
    if suffix == ".json":
        parse, error, kind = json.loads, json.JSONDecodeError, "JSON"
    else:
        # PyYAML is an admin-time dependency; importing it here keeps it off the Lambda hot path.
        import yaml

        parse, error, kind = yaml.safe_load, yaml.YAMLError, "YAML"
    try:
        data = parse(Path(file).read_text(encoding="utf-8"))
    except error as exc:
        # PyYAML's message quotes the bad lines; its mark and problem say the same more briefly.
        # JSON's message already names the line and column.
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        reason = f"not valid {kind}: {getattr(exc, 'problem', None) or exc}"
        raise ConfigError(file, [(where, reason)]) from exc
    return team_from_dict(data, file=file)


def team_from_dict(data: object, *, file: str = "<config>") -> TeamConfig:
    """Validate parsed file contents, raising one ConfigError that lists every problem."""
    check, team = _Check(), TeamConfig(name="")
    root = check.mapping(data, "", tuple(SECTIONS), required=True)
    if root is not None:
        for section in SECTIONS.values():
            team = section(root, team, check)
    if check.problems:
        raise ConfigError(file, check.problems)
    return team


def team_to_dict(team: TeamConfig) -> dict[str, object]:
    """The file shape of `team`, JSON-serialisable; team_from_dict reads it back unchanged."""
    data: dict[str, object] = {
        "team": {
            "name": team.name,
            "timezone": team.timezone,
            "default_phone_region": team.default_phone_region,
        }
    }
    if team.twilio_auth_token_ref is not None:
        data["twilio"] = {"auth_token": team.twilio_auth_token_ref}
    data["queues"] = [_compact(dataclasses.asdict(q)) for q in team.queues]
    if team.default_queue is not None:
        data["default_queue"] = team.default_queue
    data["sources"] = [
        _compact({"name": s.name, "auth": _auth(s), "queue": s.queue}) for s in team.sources
    ]
    data["tracking_numbers"] = [_compact(dataclasses.asdict(n)) for n in team.tracking_numbers]
    return data


def _team(root: Fields, team: TeamConfig, check: _Check) -> TeamConfig:
    m = check.mapping(root.get("team"), "team", ("name", "timezone", "default_phone_region"))
    if m is None:
        return team
    name = check.text(m, "team", "name", required=True)
    timezone = check.text(m, "team", "timezone")
    if timezone is not None and not _is_time_zone(timezone):
        check.add("team.timezone", "must be an IANA time zone")
    region = check.text(m, "team", "default_phone_region")
    if region is not None and region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        check.add("team.default_phone_region", "must be a 2-letter region code")
    zone, region = timezone or team.timezone, (region or team.default_phone_region).upper()
    return dataclasses.replace(team, name=name or "", timezone=zone, default_phone_region=region)


def _twilio(root: Fields, team: TeamConfig, check: _Check) -> TeamConfig:
    m = check.mapping(root.get("twilio"), "twilio", ("auth_token",), required=False)
    if m is None:
        return team
    return dataclasses.replace(team, twilio_auth_token_ref=check.secret(m, "twilio", "auth_token"))


def _queues(root: Fields, team: TeamConfig, check: _Check) -> TeamConfig:
    queues: list[QueueConfig] = []
    names: set[str] = set()
    for at, m in check.items(
        root, "queues", ("name", "fallback_number", "ring_timeout_s", "voicemail")
    ):
        name = check.slug(m, at, "name", unique=(names, "queue name"))
        fallback = check.phone(m, at, "fallback_number", required=False)
        timeout = m.get("ring_timeout_s", DEFAULT_QUEUE.ring_timeout_s)
        # Twilio's <Dial timeout> takes 5 to 600 seconds; bool is refused because it is an int.
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not 5 <= timeout <= 600:
            check.add(f"{at}.ring_timeout_s", "must be whole seconds from 5 to 600")
            timeout = DEFAULT_QUEUE.ring_timeout_s
        voicemail = m.get("voicemail", DEFAULT_QUEUE.voicemail)
        if not isinstance(voicemail, bool):
            check.add(f"{at}.voicemail", "must be true or false")
            voicemail = DEFAULT_QUEUE.voicemail
        if name is not None:
            queues.append(QueueConfig(name, fallback, timeout, voicemail))
    return dataclasses.replace(team, queues=tuple(queues))


def _default_queue(root: Fields, team: TeamConfig, check: _Check) -> TeamConfig:
    return dataclasses.replace(team, default_queue=check.queue(root, "", "default_queue", team))


def _sources(root: Fields, team: TeamConfig, check: _Check) -> TeamConfig:
    sources: list[SourceConfig] = []
    names: set[str] = set()
    for at, m in check.items(root, "sources", ("name", "auth", "queue")):
        name = check.slug(m, at, "name", unique=(names, "source name"))
        queue = check.queue(m, at, "queue", team)
        auth = check.mapping(m.get("auth"), f"{at}.auth", ("scheme", "secret"))
        if auth is None:
            continue
        scheme = check.text(auth, f"{at}.auth", "scheme", required=True)
        if scheme is not None and scheme not in AUTH_SCHEMES:
            check.add(f"{at}.auth.scheme", f"must be one of {', '.join(AUTH_SCHEMES)}")
        secret = check.secret(auth, f"{at}.auth", "secret")
        if name is not None and scheme is not None and secret is not None:
            sources.append(SourceConfig(name, scheme, secret, queue))
    return dataclasses.replace(team, sources=tuple(sources))


def _tracking_numbers(root: Fields, team: TeamConfig, check: _Check) -> TeamConfig:
    numbers: list[TrackingNumber] = []
    seen: set[str] = set()
    for at, m in check.items(root, "tracking_numbers", ("number", "source", "campaign", "queue")):
        number = check.phone(m, at, "number", required=True)
        if number is not None:
            check.unique(number, seen, f"{at}.number", "tracking number")
        # The source of a call is a free label such as "google-ads", not a configured form source.
        source = check.slug(m, at, "source")
        campaign = check.text(m, at, "campaign")
        queue = check.queue(m, at, "queue", team)
        if number is not None and source is not None:
            numbers.append(TrackingNumber(number, source, campaign, queue))
    return dataclasses.replace(team, tracking_numbers=tuple(numbers))


# One validator per top-level key: a new section is a function and a row here. Queues come
# before the sections that name them, because each validator sees the draft built so far.
SECTIONS: dict[str, Callable[[Fields, TeamConfig, _Check], TeamConfig]] = {
    "team": _team,
    "twilio": _twilio,
    "queues": _queues,
    "default_queue": _default_queue,
    "sources": _sources,
    "tracking_numbers": _tracking_numbers,
}


class _Check:
    """Reads values out of untrusted data, noting every (path, reason) problem on the way."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def add(self, path: str, reason: str) -> None:
        self.problems.append((path or "(top level)", reason))

    def mapping(
        self, value: object, path: str, keys: tuple[str, ...], required: bool = True
    ) -> Fields | None:
        if not isinstance(value, Mapping):
            if value is not None or required:
                self.add(path, "required" if value is None else "must be a mapping")
            return None
        for key in value:
            if key not in keys:
                self.add(_at(path, str(key)), f"unknown key {str(key)!r}")
        return value

    def items(self, root: Fields, key: str, keys: tuple[str, ...]) -> Iterator[tuple[str, Fields]]:
        value = root.get(key)
        if value is not None and not isinstance(value, list):
            self.add(key, "must be a list")
        elif value is not None:
            for index, item in enumerate(value):
                if (m := self.mapping(item, f"{key}[{index}]", keys)) is not None:
                    yield f"{key}[{index}]", m

    def present(self, m: Fields, path: str, key: str, required: bool) -> object:
        if m.get(key) is None and required:
            self.add(_at(path, key), "required")
        return m.get(key)

    def text(self, m: Fields, path: str, key: str, required: bool = False) -> str | None:
        value = self.present(m, path, key, required)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            self.add(_at(path, key), "must be a non-empty string")
            return None
        return value.strip() if isinstance(value, str) else None

    def slug(
        self, m: Fields, path: str, key: str, unique: tuple[set[str], str] | None = None
    ) -> str | None:
        value = self.text(m, path, key, required=True)
        if value is not None and not SLUG.fullmatch(value):
            self.add(_at(path, key), SLUG_RULE)
        if value is not None and unique is not None:
            self.unique(value, unique[0], _at(path, key), unique[1])
        return value

    def unique(self, value: str, seen: set[str], path: str, what: str) -> None:
        if value in seen:
            self.add(path, f"duplicate {what} {value!r}")
        seen.add(value)

    def phone(self, m: Fields, path: str, key: str, required: bool) -> str | None:
        value = self.present(m, path, key, required)
        # Unquoted, YAML reads +14155550100 as the integer 14155550100 and the plus sign is lost.
        if value is not None and not isinstance(value, str):
            self.add(_at(path, key), 'must be a quoted string such as "+14155550100"')
        elif isinstance(value, str):
            number = phonenumbers.parse(value) if E164.fullmatch(value) else None
            if number is not None and phonenumbers.is_valid_number(number):
                return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            self.add(_at(path, key), "not a valid E.164 phone number")
        return None

    def secret(self, m: Fields, path: str, key: str) -> str | None:
        value = self.present(m, path, key, required=True)
        if isinstance(value, str) and (ENV_REF.fullmatch(value) or SSM_REF.fullmatch(value)):
            return value
        # Reasons never quote the value: if it is a real secret, the error would leak it into logs.
        if isinstance(value, str) and value.startswith("env:"):
            self.add(_at(path, key), "must be env:NAME, where NAME is capitals, digits and _")
        elif isinstance(value, str) and value.startswith("ssm:"):
            self.add(_at(path, key), "must be ssm:/path/to/parameter")
        elif value is not None:
            self.add(_at(path, key), LITERAL_SECRET)
        return None

    def queue(self, m: Fields, path: str, key: str, team: TeamConfig) -> str | None:
        name = self.text(m, path, key)
        if name is not None and all(q.name != name for q in team.queues):
            self.add(_at(path, key), f"unknown queue {name!r}")
        return name


def _is_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _auth(source: SourceConfig) -> dict[str, object]:
    return {"scheme": source.auth_scheme, "secret": source.secret_ref}


def _compact(fields: Fields) -> dict[str, object]:
    return {key: value for key, value in fields.items() if value is not None}


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
