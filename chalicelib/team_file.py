"""Team configuration as code: read the team file, check all of it, and write it back out."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from chalicelib.domain.attribution import normalise_utm
from chalicelib.domain.errors import ConfigError, InvalidPayloadError
from chalicelib.domain.identity import normalise_email
from chalicelib.domain.team import (
    AUTH_SCHEMES,
    REP_STATUSES,
    WEEKDAYS,
    Member,
    QueueConfig,
    RepConfig,
    RuleConfig,
    SourceConfig,
    Span,
    TeamConfig,
    TrackingNumber,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Fields = Mapping[str, object]

# Source names appear in URLs (/webhooks/forms/{name}), so names are kept to a DNS-label-like slug.
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
SLUG_RULE = "must be a lower-case slug: a-z, 0-9 and '-', at most 63 characters"
E164 = re.compile(r"\+[1-9][0-9]{1,14}")
ENV_REF = re.compile(r"env:[A-Z_][A-Z0-9_]*")
SSM_REF = re.compile(r"ssm:(/[A-Za-z0-9_.-]+)+")
LITERAL_SECRET = "looks like a literal secret; use env:NAME or ssm:/path"
# Slack member ids: U… for ordinary workspaces, W… for Enterprise Grid.
SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,}")
# A working span on the wall clock, "09:00-17:30"; the end may be 24:00 so a day can run to
# midnight (a night shift is two spans: "22:00-24:00" one day, "00:00-06:00" the next).
_CLOCK = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]"
SPAN = re.compile(rf"({_CLOCK})\s*-\s*({_CLOCK}|24:00)")
SPAN_RULE = "must be HH:MM-HH:MM with start before end"
INSTANT_RULE = "must be an ISO 8601 date-time with a UTC offset, such as 2026-12-01T09:00:00-08:00"
# YAML reads yes/no/on/off as booleans and bare digits as numbers, so a value meant as text
# arrives as something else unless it is quoted.
QUOTE_IT = 'must be a string; quote values such as "yes", "no" or "10"'


class Bounds(NamedTuple):
    """The range a whole-number setting may take, and the reason given when it is outside."""

    low: int
    high: int | None
    rule: str


RING_TIMEOUT = Bounds(5, 600, "must be whole seconds from 5 to 600")  # Twilio's <Dial timeout>
STICKY_DAYS = Bounds(1, 3650, "must be whole days from 1 to 3650")
WEIGHT = Bounds(1, 100, "must be a whole number from 1 to 100")
CAP = Bounds(1, None, "must be a whole number, 1 or more")

# Drafts start from the dataclass defaults, so the defaults live in one place: domain/team.py.
DEFAULT_QUEUE = QueueConfig(name="")
DEFAULT_REP = RepConfig(id="", name="")
DEFAULT_MEMBER = Member(rep="")

REP_KEYS = (
    "id",
    "name",
    "phone",
    "email",
    "slack_user_id",
    "timezone",
    "hours",
    "status",
    "out_of_office_until",
    "caps",
)
QUEUE_KEYS = (
    "name",
    "members",
    "fallback_owner",
    "fallback_number",
    "ring_timeout_s",
    "voicemail",
    "sticky",
    "sticky_days",
)
CAP_KEYS = ("max_open", "max_per_day")
MATCH_KEYS = ("source", "campaign", "tracking_number", "fields")


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
    data["reps"] = [_rep_dict(r) for r in team.reps]
    data["queues"] = [_queue_dict(q) for q in team.queues]
    if team.default_queue is not None:
        data["default_queue"] = team.default_queue
    data["rules"] = [_rule_dict(r) for r in team.rules]
    data["sources"] = [
        _compact({"name": s.name, "auth": _auth(s), "queue": s.queue}) for s in team.sources
    ]
    data["tracking_numbers"] = [_compact(_fields_of(n)) for n in team.tracking_numbers]
    return data


def _team(root: Fields, team: TeamConfig, check: _Check) -> TeamConfig:
    m = check.mapping(root.get("team"), "team", ("name", "timezone", "default_phone_region"))
    if m is None:
        return team
    name = check.text(m, "team", "name", required=True)
    timezone = check.time_zone(m, "team", "timezone")
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


def _reps(root: Fields, team: TeamConfig, check: _Check) -> TeamConfig:
    reps: list[RepConfig] = []
    ids: set[str] = set()
    for at, m in check.items(root, "", "reps", REP_KEYS):
        rep_id = check.slug(m, at, "id", unique=(ids, "rep id"))
        name = check.text(m, at, "name", required=True)
        phone = check.phone(m, at, "phone", required=False)
        email = check.email(m, at, "email")
        slack = check.text(m, at, "slack_user_id")
        if slack is not None and not SLACK_USER.fullmatch(slack):
            check.add(f"{at}.slack_user_id", "must be a Slack user id such as U012ABCDEF")
        zone = check.time_zone(m, at, "timezone") or team.timezone
        hours = _hours(m.get("hours"), f"{at}.hours", check)
        status, until = _status(m, at, check)
        caps = check.mapping(m.get("caps"), f"{at}.caps", CAP_KEYS, required=False) or {}
        max_open = check.whole_or_none(caps, f"{at}.caps", "max_open", CAP)
        max_per_day = check.whole_or_none(caps, f"{at}.caps", "max_per_day", CAP)
        # A rep with other mistakes is still drafted, so queues naming them get no echo errors.
        if rep_id is not None:
            rep = RepConfig(
                id=rep_id,
                name=name or "",
                phone=phone,
                email=email,
                slack_user_id=slack,
                timezone=zone,
                hours=hours,
                status=status,
                out_of_office_until=until,
                max_open=max_open,
                max_per_day=max_per_day,
            )
            reps.append(rep)
    return dataclasses.replace(team, reps=tuple(reps))


def _queues(root: Fields, team: TeamConfig, check: _Check) -> TeamConfig:
    queues: list[QueueConfig] = []
    names: set[str] = set()
    for at, m in check.items(root, "", "queues", QUEUE_KEYS):
        name = check.slug(m, at, "name", unique=(names, "queue name"))
        members = _members(m, at, team, check)
        fallback_owner = check.rep(m, at, "fallback_owner", team)
        fallback = check.phone(m, at, "fallback_number", required=False)
        timeout = check.whole(m, at, "ring_timeout_s", RING_TIMEOUT, DEFAULT_QUEUE.ring_timeout_s)
        voicemail = check.flag(m, at, "voicemail", DEFAULT_QUEUE.voicemail)
        sticky = check.flag(m, at, "sticky", DEFAULT_QUEUE.sticky)
        sticky_days = check.whole(m, at, "sticky_days", STICKY_DAYS, DEFAULT_QUEUE.sticky_days)
        if name is not None:
            queue = QueueConfig(
                name=name,
                members=members,
                fallback_owner=fallback_owner,
                fallback_number=fallback,
                ring_timeout_s=timeout,
                voicemail=voicemail,
                sticky=sticky,
                sticky_days=sticky_days,
            )
            queues.append(queue)
    return dataclasses.replace(team, queues=tuple(queues))


def _default_queue(root: Fields, team: TeamConfig, check: _Check) -> TeamConfig:
    return dataclasses.replace(team, default_queue=check.queue(root, "", "default_queue", team))


def _rules(root: Fields, team: TeamConfig, check: _Check) -> TeamConfig:
    rules: list[RuleConfig] = []
    names: set[str] = set()
    for at, m in check.items(root, "", "rules", ("name", "queue", "match")):
        name = check.slug(m, at, "name", unique=(names, "rule name"))
        queue = check.queue(m, at, "queue", team, required=True)
        where = f"{at}.match"
        match = check.mapping(m.get("match"), where, MATCH_KEYS)
        if match is None:
            continue
        # Judged on what was written, so a condition that is given but wrong is reported once.
        if all(match.get(key) is None for key in MATCH_KEYS[:3]) and not match.get("fields"):
            check.add(where, "needs at least one condition")
        source = check.slug(match, where, "source", required=False)
        campaign = _campaign(match, where, check)
        number = check.phone(match, where, "tracking_number", required=False)
        fields = _form_fields(match.get("fields"), f"{where}.fields", check)
        if name is not None and queue is not None:
            rules.append(RuleConfig(name, queue, source, campaign, number, fields))
    return dataclasses.replace(team, rules=tuple(rules))


def _sources(root: Fields, team: TeamConfig, check: _Check) -> TeamConfig:
    sources: list[SourceConfig] = []
    names: set[str] = set()
    for at, m in check.items(root, "", "sources", ("name", "auth", "queue")):
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
    # Numbers leadclock dials. A call to a tracking number comes back in as a new inbound call,
    # so dialling one would ring leadclock itself, again and again.
    dialled = {q.fallback_number: f"queue {q.name!r}'s fallback_number" for q in team.queues}
    dialled |= {r.phone: f"rep {r.id!r}'s phone" for r in team.reps}
    dialled.pop(None, None)
    keys = ("number", "source", "campaign", "queue")
    for at, m in check.items(root, "", "tracking_numbers", keys):
        number = check.phone(m, at, "number", required=True)
        if number is not None:
            check.unique(number, seen, f"{at}.number", "tracking number")
            if number in dialled:
                check.add(f"{at}.number", f"is also {dialled[number]}; calls to it would loop")
        # The source of a call is a free label such as "google-ads", not a configured form source.
        source = check.slug(m, at, "source")
        campaign = check.text(m, at, "campaign")
        queue = check.queue(m, at, "queue", team)
        if number is not None and source is not None:
            numbers.append(TrackingNumber(number, source, campaign, queue))
    return dataclasses.replace(team, tracking_numbers=tuple(numbers))


# One validator per top-level key: a new section is a function and a row here. Each validator
# sees the draft built so far, so a section comes after the ones it names: reps before the
# queues that list them, queues before the rules, sources and numbers that send leads to them.
# Problems are reported in this order.
SECTIONS: dict[str, Callable[[Fields, TeamConfig, _Check], TeamConfig]] = {
    "team": _team,
    "twilio": _twilio,
    "reps": _reps,
    "queues": _queues,
    "default_queue": _default_queue,
    "rules": _rules,
    "sources": _sources,
    "tracking_numbers": _tracking_numbers,
}


def _hours(value: object, path: str, check: _Check) -> dict[str, tuple[Span, ...]] | None:
    """Weekday -> sorted, non-overlapping spans in minutes; None (always on) when not given."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        check.add(path, 'must map days (mon..sun) to lists of "HH:MM-HH:MM" spans')
        return None
    hours: dict[str, tuple[Span, ...]] = {}
    problems = len(check.problems)
    for day, spans in value.items():
        where = _at(path, str(day))
        if day not in WEEKDAYS:
            check.add(where, f"unknown day {day!r}; days are {', '.join(WEEKDAYS)}")
            continue
        if not isinstance(spans, list):
            check.add(where, 'must be a list of "HH:MM-HH:MM" spans')
            continue
        parsed: list[Span] = []
        for index, text in enumerate(spans):
            span = _span(text)
            if span is None:
                check.add(f"{where}[{index}]", SPAN_RULE)
            elif parsed and span[0] < parsed[-1][1]:
                check.add(
                    f"{where}[{index}]", "must start at or after the end of the span before it"
                )
            else:
                parsed.append(span)
        # A day with no spans is a day off, the same as leaving the day out; it is not stored,
        # so two spellings of one week compare equal.
        if parsed:
            hours[day] = tuple(parsed)
    if not hours and len(check.problems) == problems:
        check.add(path, "has no working time; leave hours out for always on, or pause the rep")
    return {day: hours[day] for day in WEEKDAYS if day in hours}


def _span(text: object) -> Span | None:
    match = SPAN.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    start, end = _minutes(match[1]), _minutes(match[2])
    return (start, end) if start < end else None


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _span_text(span: Span) -> str:
    (start_h, start_m), (end_h, end_m) = divmod(span[0], 60), divmod(span[1], 60)
    return f"{start_h:02d}:{start_m:02d}-{end_h:02d}:{end_m:02d}"


def _status(m: Fields, at: str, check: _Check) -> tuple[str, datetime | None]:
    """The rep's status and, for out_of_office, the aware instant they are back."""
    status = m.get("status", DEFAULT_REP.status)
    if status not in REP_STATUSES:
        check.add(f"{at}.status", f"must be one of {', '.join(REP_STATUSES)}")
        status = None  # unknown, so whether an until belongs can't be judged
    value, where = m.get("out_of_office_until"), f"{at}.out_of_office_until"
    until = None if value is None else _instant(value)
    if value is None and status == "out_of_office":
        check.add(where, "required when status is out_of_office")
    elif value is not None and status not in (None, "out_of_office"):
        check.add(where, "only allowed when status is out_of_office")
    elif value is not None and until is None:
        check.add(where, INSTANT_RULE)
    return str(status or DEFAULT_REP.status), until


def _instant(value: object) -> datetime | None:
    # YAML reads an unquoted 2026-12-01T09:00:00-08:00 as a datetime already; JSON gives text.
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return value
    return None


def _members(m: Fields, at: str, team: TeamConfig, check: _Check) -> tuple[Member, ...]:
    members: list[Member] = []
    seen: set[str] = set()
    for where, item in check.items(m, at, "members", ("rep", "weight")):
        rep = check.rep(item, where, "rep", team, required=True)
        if rep is not None:
            check.unique(rep, seen, f"{where}.rep", "member")
        weight = check.whole(item, where, "weight", WEIGHT, DEFAULT_MEMBER.weight)
        if rep is not None:
            members.append(Member(rep, weight))
    return tuple(members)


def _campaign(match: Fields, where: str, check: _Check) -> str | None:
    """The campaign as leads carry it, normalised so "LinkedIn_Q3" matches "linkedin-q3"."""
    text = check.text(match, where, "campaign")
    if text is None:
        return None
    campaign = normalise_utm(text)
    if not campaign:
        check.add(f"{where}.campaign", "must contain letters or digits")
        return None
    # The stored form is normalised again when it is loaded back; it must come out the same.
    if normalise_utm(campaign) != campaign:
        check.add(f"{where}.campaign", "must not hold a %-escape that decodes to another")
        return None
    return campaign


def _form_fields(value: object, path: str, check: _Check) -> dict[str, str]:
    """Form field name -> wanted value, both trimmed; compared loosely when routing."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        check.add(path, "must map form field names to values")
        return {}
    fields: dict[str, str] = {}
    for name, wanted in value.items():
        if not isinstance(name, str) or not name.strip():
            check.add(path, f"field name {name!r} {QUOTE_IT}")
            continue
        if not isinstance(wanted, str) or not wanted.strip():
            check.add(_at(path, name.strip()), QUOTE_IT)
            continue
        fields[name.strip()] = wanted.strip()
    return fields


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

    def items(
        self, m: Fields, path: str, key: str, keys: tuple[str, ...]
    ) -> Iterator[tuple[str, Fields]]:
        value, at = m.get(key), _at(path, key)
        if value is not None and not isinstance(value, list):
            self.add(at, "must be a list")
        elif value is not None:
            for index, item in enumerate(value):
                if (found := self.mapping(item, f"{at}[{index}]", keys)) is not None:
                    yield f"{at}[{index}]", found

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
        self,
        m: Fields,
        path: str,
        key: str,
        unique: tuple[set[str], str] | None = None,
        required: bool = True,
    ) -> str | None:
        value = self.text(m, path, key, required)
        if value is not None and not SLUG.fullmatch(value):
            self.add(_at(path, key), SLUG_RULE)
        if value is not None and unique is not None:
            self.unique(value, unique[0], _at(path, key), unique[1])
        return value

    def unique(self, value: str, seen: set[str], path: str, what: str) -> None:
        if value in seen:
            self.add(path, f"duplicate {what} {value!r}")
        seen.add(value)

    def whole(self, m: Fields, path: str, key: str, bounds: Bounds, default: int) -> int:
        value = self._whole(m.get(key, default), _at(path, key), bounds)
        return default if value is None else value

    def whole_or_none(self, m: Fields, path: str, key: str, bounds: Bounds) -> int | None:
        value = m.get(key)
        return None if value is None else self._whole(value, _at(path, key), bounds)

    def _whole(self, value: object, path: str, bounds: Bounds) -> int | None:
        # bool is refused although it is an int: `weight: yes` is a slip, not the number 1.
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(path, bounds.rule)
            return None
        if value < bounds.low or (bounds.high is not None and value > bounds.high):
            self.add(path, bounds.rule)
            return None
        return value

    def flag(self, m: Fields, path: str, key: str, default: bool) -> bool:
        value = m.get(key, default)
        if not isinstance(value, bool):
            self.add(_at(path, key), "must be true or false")
            return default
        return value

    def time_zone(self, m: Fields, path: str, key: str) -> str | None:
        name = self.text(m, path, key)
        if name is not None and not _is_time_zone(name):
            self.add(_at(path, key), "must be an IANA time zone")
        return name

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

    def email(self, m: Fields, path: str, key: str) -> str | None:
        value = self.text(m, path, key)
        if value is None:
            return None
        try:
            # The same rule leads' addresses follow, so a rep's address matches theirs.
            return normalise_email(value)
        except InvalidPayloadError:
            self.add(_at(path, key), "not an email address")
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

    def queue(
        self, m: Fields, path: str, key: str, team: TeamConfig, required: bool = False
    ) -> str | None:
        name = self.text(m, path, key, required)
        if name is not None and all(q.name != name for q in team.queues):
            self.add(_at(path, key), f"unknown queue {name!r}")
        return name

    def rep(
        self, m: Fields, path: str, key: str, team: TeamConfig, required: bool = False
    ) -> str | None:
        rep_id = self.text(m, path, key, required)
        if rep_id is not None and team.rep(rep_id) is None:
            self.add(_at(path, key), f"unknown rep {rep_id!r}")
        return rep_id


def _is_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _rep_dict(rep: RepConfig) -> dict[str, object]:
    data = _fields_of(rep)
    caps = {"max_open": data.pop("max_open"), "max_per_day": data.pop("max_per_day")}
    if rep.hours is not None:
        data["hours"] = {day: [_span_text(s) for s in spans] for day, spans in rep.hours.items()}
    if rep.out_of_office_until is not None:
        data["out_of_office_until"] = rep.out_of_office_until.isoformat()
    data["caps"] = _compact(caps) or None
    return _compact(data)


def _queue_dict(queue: QueueConfig) -> dict[str, object]:
    data = _fields_of(queue)
    data["members"] = [_fields_of(member) for member in queue.members]
    return _compact(data)


def _rule_dict(rule: RuleConfig) -> dict[str, object]:
    match = {
        "source": rule.source,
        "campaign": rule.campaign,
        "tracking_number": rule.tracking_number,
        "fields": dict(rule.fields) or None,
    }
    return {"name": rule.name, "queue": rule.queue, "match": _compact(match)}


def _auth(source: SourceConfig) -> dict[str, object]:
    return {"scheme": source.auth_scheme, "secret": source.secret_ref}


def _fields_of(record: DataclassInstance) -> dict[str, object]:
    # Shallow, unlike dataclasses.asdict: nested values are converted by the caller, into lists
    # and strings that JSON and the validator both read. A field added to a record then shows up
    # here, and the validator refuses it as an unknown key until the file format learns it.
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}


def _compact(fields: Fields) -> dict[str, object]:
    return {key: value for key, value in fields.items() if value is not None}


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
