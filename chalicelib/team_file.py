"""Team configuration as code: read the team file, check all of it, and write it back out.

The team, reps, queues and routing are read here; alert channels, calendars and SLA policies in
team_file_sla.py; the field rules and the checker they share, in team_checks.py."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import phonenumbers

from chalicelib.domain.attribution import normalise_utm
from chalicelib.domain.errors import ConfigError
from chalicelib.domain.team import (
    AUTH_SCHEMES,
    QUIET_SMS,
    REP_STATUSES,
    Member,
    QueueConfig,
    RepConfig,
    RuleConfig,
    SourceConfig,
    TeamConfig,
    TrackingNumber,
)
from chalicelib.team_checks import (
    CAP,
    INSTANT_RULE,
    QUIET_RULE,
    QUOTE_IT,
    RING_TIMEOUT,
    SLACK_CHANNEL,
    SLACK_USER,
    STICKY_DAYS,
    WEIGHT,
    Check,
    Fields,
    at_path,
    compact,
    hours_dict,
    parse_hours,
    parse_quiet_hours,
    parse_span,
    span_text,
)
from chalicelib.team_file_digests import digest_dict, read_digests
from chalicelib.team_file_sla import (
    HolidayResolver,
    alerts_dict,
    calendar_dict,
    holiday_years,
    policy_dict,
    read_alerts,
    read_calendars,
    read_sla_policies,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


DEFAULT_TEAM = TeamConfig(name="")
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
    "quiet_hours",
    "quiet_sms",
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
    "sla_policy",
    "backup",
    "manager",
    "slack_channel",
)
CAP_KEYS = ("max_open", "max_per_day")
MATCH_KEYS = ("source", "campaign", "tracking_number", "fields")


def load_team_file(
    path: str | os.PathLike[str],
    *,
    holidays: HolidayResolver | None = None,
    year: int | None = None,
) -> TeamConfig:
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
    return team_from_dict(data, file=file, holidays=holidays, year=year)


def team_from_dict(
    data: object,
    *,
    file: str = "<config>",
    holidays: HolidayResolver | None = None,
    year: int | None = None,
) -> TeamConfig:
    """Validate parsed file contents, raising one ConfigError that lists every problem."""
    # A calendar's holidays code is resolved into dates, by `holidays` (default: the holidays
    # library), from the year before `year` (default: this one) to two years after it; unless
    # the document already carries the dates, as every document team_to_dict writes does, so a
    # stored configuration is read without the library (the capture path never imports it).
    check, team = Check(), TeamConfig(name="")
    root = check.mapping(data, "", tuple(SECTIONS), required=True)
    if root is not None:
        calendars = functools.partial(read_calendars, resolve=holidays, years=holiday_years(year))
        for key, section in SECTIONS.items():
            team = (calendars if key == "calendars" else section)(root, team, check)
    if check.problems:
        raise ConfigError(file, check.problems)
    return team


def team_to_dict(team: TeamConfig) -> dict[str, object]:
    """The file shape of `team`, JSON-serialisable; team_from_dict reads it back unchanged."""
    head = {
        "name": team.name,
        "timezone": team.timezone,
        "default_phone_region": team.default_phone_region,
    }
    if team.lead_sms_hours != DEFAULT_TEAM.lead_sms_hours:
        head["lead_sms_hours"] = span_text(team.lead_sms_hours)
    data: dict[str, object] = {"team": head}
    if team.twilio_auth_token_ref is not None:
        data["twilio"] = {"auth_token": team.twilio_auth_token_ref}
    if alerts := alerts_dict(team.alerts):
        data["alerts"] = alerts
    data["reps"] = [_rep_dict(r) for r in team.reps]
    data["calendars"] = [calendar_dict(c) for c in team.calendars]
    data["sla_policies"] = [policy_dict(p) for p in team.sla_policies]
    data |= compact({"default_sla_policy": team.default_sla_policy, "manager": team.manager})
    data["queues"] = [_queue_dict(q) for q in team.queues]
    if team.default_queue is not None:
        data["default_queue"] = team.default_queue
    data["rules"] = [_rule_dict(r) for r in team.rules]
    data["sources"] = [
        compact({"name": s.name, "auth": _auth(s), "queue": s.queue, "sla_policy": s.sla_policy})
        for s in team.sources
    ]
    data["tracking_numbers"] = [compact(_fields_of(n)) for n in team.tracking_numbers]
    if team.digests:
        data["digests"] = [digest_dict(d) for d in team.digests]
    return data


def _team(root: Fields, team: TeamConfig, check: Check) -> TeamConfig:
    keys = ("name", "timezone", "default_phone_region", "lead_sms_hours")
    m = check.mapping(root.get("team"), "team", keys)
    if m is None:
        return team
    name = check.text(m, "team", "name", required=True)
    timezone = check.time_zone(m, "team", "timezone")
    region = check.text(m, "team", "default_phone_region")
    if region is not None and region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        check.add("team.default_phone_region", "must be a 2-letter region code")
    sms_hours = team.lead_sms_hours
    if "lead_sms_hours" in m:
        parsed = parse_span(m["lead_sms_hours"])
        if parsed is None:
            check.add("team.lead_sms_hours", 'must be "HH:MM-HH:MM" in one day, e.g. "08:00-21:00"')
        sms_hours = parsed or sms_hours
    zone, region = timezone or team.timezone, (region or team.default_phone_region).upper()
    return dataclasses.replace(
        team, name=name or "", timezone=zone, default_phone_region=region, lead_sms_hours=sms_hours
    )


def _twilio(root: Fields, team: TeamConfig, check: Check) -> TeamConfig:
    m = check.mapping(root.get("twilio"), "twilio", ("auth_token",), required=False)
    if m is None:
        return team
    return dataclasses.replace(team, twilio_auth_token_ref=check.secret(m, "twilio", "auth_token"))


def _reps(root: Fields, team: TeamConfig, check: Check) -> TeamConfig:
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
        hours = parse_hours(m.get("hours"), f"{at}.hours", check)
        status, until = _status(m, at, check)
        caps = check.mapping(m.get("caps"), f"{at}.caps", CAP_KEYS, required=False) or {}
        max_open = check.whole_or_none(caps, f"{at}.caps", "max_open", CAP)
        max_per_day = check.whole_or_none(caps, f"{at}.caps", "max_per_day", CAP)
        quiet_hours = None
        if m.get("quiet_hours") is not None:
            quiet_hours = parse_quiet_hours(m.get("quiet_hours"))
            if quiet_hours is None:
                check.add(f"{at}.quiet_hours", QUIET_RULE)
        quiet_sms = m.get("quiet_sms", DEFAULT_REP.quiet_sms)
        if quiet_sms not in QUIET_SMS:
            check.add(f"{at}.quiet_sms", f"must be one of {', '.join(QUIET_SMS)}")
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
                quiet_hours=quiet_hours,
                quiet_sms=str(quiet_sms),
            )
            reps.append(rep)
    return dataclasses.replace(team, reps=tuple(reps))


def _queues(root: Fields, team: TeamConfig, check: Check) -> TeamConfig:
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
        policy = check.sla_policy(m, at, "sla_policy", team)
        # A missing backup or manager is skipped when the ladder alerts, so neither is required.
        backup = check.rep(m, at, "backup", team)
        manager = check.rep(m, at, "manager", team)
        channel = check.text(m, at, "slack_channel")
        if channel is not None and not SLACK_CHANNEL.fullmatch(channel):
            check.add(f"{at}.slack_channel", "must be a Slack channel id such as C012ABCDEF")
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
                sla_policy=policy,
                backup=backup,
                manager=manager,
                slack_channel=channel,
            )
            queues.append(queue)
    return dataclasses.replace(team, queues=tuple(queues))


def _default_queue(root: Fields, team: TeamConfig, check: Check) -> TeamConfig:
    return dataclasses.replace(team, default_queue=check.queue(root, "", "default_queue", team))


def _rules(root: Fields, team: TeamConfig, check: Check) -> TeamConfig:
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


def _sources(root: Fields, team: TeamConfig, check: Check) -> TeamConfig:
    sources: list[SourceConfig] = []
    names: set[str] = set()
    for at, m in check.items(root, "", "sources", ("name", "auth", "queue", "sla_policy")):
        name = check.slug(m, at, "name", unique=(names, "source name"))
        queue = check.queue(m, at, "queue", team)
        policy = check.sla_policy(m, at, "sla_policy", team)
        auth = check.mapping(m.get("auth"), f"{at}.auth", ("scheme", "secret"))
        if auth is None:
            continue
        scheme = check.text(auth, f"{at}.auth", "scheme", required=True)
        if scheme is not None and scheme not in AUTH_SCHEMES:
            check.add(f"{at}.auth.scheme", f"must be one of {', '.join(AUTH_SCHEMES)}")
        secret = check.secret(auth, f"{at}.auth", "secret")
        if name is not None and scheme is not None and secret is not None:
            sources.append(SourceConfig(name, scheme, secret, queue, policy))
    return dataclasses.replace(team, sources=tuple(sources))


def _tracking_numbers(root: Fields, team: TeamConfig, check: Check) -> TeamConfig:
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


def _default_sla_policy(root: Fields, team: TeamConfig, check: Check) -> TeamConfig:
    policy = check.sla_policy(root, "", "default_sla_policy", team)
    return dataclasses.replace(team, default_sla_policy=policy)


def _manager(root: Fields, team: TeamConfig, check: Check) -> TeamConfig:
    return dataclasses.replace(team, manager=check.rep(root, "", "manager", team))


# One validator per top-level key: a new section is a function and a row here. Each validator
# sees the draft built so far, so a section comes after the ones it names: reps before the
# calendars, policies and queues that name them, calendars before the policies counted in them,
# policies before the queues and sources that use them, queues before the rules, sources and
# numbers that send leads to them.
# Problems are reported in this order.
SECTIONS: dict[str, Callable[[Fields, TeamConfig, Check], TeamConfig]] = {
    "team": _team,
    "twilio": _twilio,
    "alerts": read_alerts,
    "reps": _reps,
    "calendars": read_calendars,
    "sla_policies": read_sla_policies,
    "default_sla_policy": _default_sla_policy,
    "manager": _manager,
    "queues": _queues,
    "default_queue": _default_queue,
    "rules": _rules,
    "sources": _sources,
    "tracking_numbers": _tracking_numbers,
    "digests": read_digests,  # names reps and queues
}


def _status(m: Fields, at: str, check: Check) -> tuple[str, datetime | None]:
    """The rep's status and, for out_of_office, the aware instant they are back."""
    status = m.get("status", DEFAULT_REP.status)
    if status not in REP_STATUSES:
        check.add(f"{at}.status", f"must be one of {', '.join(REP_STATUSES)}")
        status = None  # unknown, so whether an until belongs can't be judged
    value, where = m.get("out_of_office_until"), f"{at}.out_of_office_until"
    until = None if value is None else parse_instant(value)
    if value is None and status == "out_of_office":
        check.add(where, "required when status is out_of_office")
    elif value is not None and status not in (None, "out_of_office"):
        check.add(where, "only allowed when status is out_of_office")
    elif value is not None and until is None:
        check.add(where, INSTANT_RULE)
    return str(status or DEFAULT_REP.status), until


def parse_instant(value: object) -> datetime | None:
    # YAML reads an unquoted 2026-12-01T09:00:00-08:00 as a datetime already; JSON gives text.
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return value
    return None


def _members(m: Fields, at: str, team: TeamConfig, check: Check) -> tuple[Member, ...]:
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


def _campaign(match: Fields, where: str, check: Check) -> str | None:
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


def _form_fields(value: object, path: str, check: Check) -> dict[str, str]:
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
            check.add(at_path(path, name.strip()), QUOTE_IT)
            continue
        fields[name.strip()] = wanted.strip()
    return fields


def _rep_dict(rep: RepConfig) -> dict[str, object]:
    data = _fields_of(rep)
    caps = {"max_open": data.pop("max_open"), "max_per_day": data.pop("max_per_day")}
    if rep.hours is not None:
        data["hours"] = hours_dict(rep.hours)
    if rep.out_of_office_until is not None:
        data["out_of_office_until"] = rep.out_of_office_until.isoformat()
    data["caps"] = compact(caps) or None
    data["quiet_hours"] = None if rep.quiet_hours is None else span_text(rep.quiet_hours)
    # The default is written only beside the quiet hours it applies to.
    if rep.quiet_hours is None and rep.quiet_sms == DEFAULT_REP.quiet_sms:
        data["quiet_sms"] = None
    return compact(data)


def _queue_dict(queue: QueueConfig) -> dict[str, object]:
    data = _fields_of(queue)
    data["members"] = [_fields_of(member) for member in queue.members]
    return compact(data)


def _rule_dict(rule: RuleConfig) -> dict[str, object]:
    match = {
        "source": rule.source,
        "campaign": rule.campaign,
        "tracking_number": rule.tracking_number,
        "fields": dict(rule.fields) or None,
    }
    return {"name": rule.name, "queue": rule.queue, "match": compact(match)}


def _auth(source: SourceConfig) -> dict[str, object]:
    return {"scheme": source.auth_scheme, "secret": source.secret_ref}


def _fields_of(record: DataclassInstance) -> dict[str, object]:
    # Shallow, unlike dataclasses.asdict: nested values are converted by the caller, into lists
    # and strings that JSON and the validator both read. A field added to a record then shows up
    # here, and the validator refuses it as an unknown key until the file format learns it.
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
