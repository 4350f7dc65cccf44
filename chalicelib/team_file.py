"""Team configuration as code: read the team file, check all of it, and write it back out."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import phonenumbers

from chalicelib.domain.attribution import normalise_utm
from chalicelib.domain.calendar import Calendar, Span
from chalicelib.domain.errors import ConfigError
from chalicelib.domain.sla import CHANNELS, RECIPIENTS, LadderStep, SlaPolicy
from chalicelib.domain.team import (
    AUTH_SCHEMES,
    QUIET_SMS,
    REP_STATUSES,
    AlertChannels,
    Member,
    QueueConfig,
    RepConfig,
    RuleConfig,
    SourceConfig,
    TeamConfig,
    TrackingNumber,
)
from chalicelib.team_checks import (
    CALENDAR_NO_HOURS,
    CAP,
    CONFIGURATION_SET,
    HOLIDAY_CODE,
    INSTANT_RULE,
    MESSAGING_SERVICE,
    QUIET_RULE,
    QUOTE_IT,
    REPEAT_TIMES,
    RING_TIMEOUT,
    SLACK_CHANNEL,
    SLACK_USER,
    STICKY_DAYS,
    WEIGHT,
    Check,
    Fields,
    at_path,
    duration_text,
    parse_dates,
    parse_hours,
    parse_quiet_hours,
    span_text,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


DEFAULT_QUEUE = QueueConfig(name="")
DEFAULT_REP = RepConfig(id="", name="")
DEFAULT_MEMBER = Member(rep="")
DEFAULT_POLICY = SlaPolicy(name="", target_s=1)
DEFAULT_STEP = LadderStep(name="", offset_s=0)

# Resolves a holidays code ("US-CA") into its public holidays over a span of years, raising
# ValueError for a code the holidays library does not know.
HolidayResolver = Callable[[str, int, int], frozenset[date]]

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
CALENDAR_KEYS = (
    "name",
    "timezone",
    "hours",
    "holidays",
    "closed",
    "holiday_years",
    "holiday_dates",
)
POLICY_KEYS = ("name", "target", "calendar", "claim_grace", "steps", "repeat")
STEP_KEYS = ("name", "at", "notify", "channels", "reassign")
RECIPIENT_RULE = "must be owner, backup, manager, channel or rep:<id>"
CHANNEL_RULE = f"must be one of {', '.join(CHANNELS)}"
MESSAGING_SERVICE_RULE = "must be a Messaging Service SID: MG and 32 hex digits"
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
        calendars = functools.partial(_calendars, resolve=holidays, years=_holiday_years(year))
        for key, section in SECTIONS.items():
            team = (calendars if key == "calendars" else section)(root, team, check)
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
    if alerts := _alerts_dict(team.alerts):
        data["alerts"] = alerts
    data["reps"] = [_rep_dict(r) for r in team.reps]
    data["calendars"] = [_calendar_dict(c) for c in team.calendars]
    data["sla_policies"] = [_policy_dict(p) for p in team.sla_policies]
    data |= _compact({"default_sla_policy": team.default_sla_policy, "manager": team.manager})
    data["queues"] = [_queue_dict(q) for q in team.queues]
    if team.default_queue is not None:
        data["default_queue"] = team.default_queue
    data["rules"] = [_rule_dict(r) for r in team.rules]
    data["sources"] = [
        _compact({"name": s.name, "auth": _auth(s), "queue": s.queue, "sla_policy": s.sla_policy})
        for s in team.sources
    ]
    data["tracking_numbers"] = [_compact(_fields_of(n)) for n in team.tracking_numbers]
    return data


def _team(root: Fields, team: TeamConfig, check: Check) -> TeamConfig:
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


def _twilio(root: Fields, team: TeamConfig, check: Check) -> TeamConfig:
    m = check.mapping(root.get("twilio"), "twilio", ("auth_token",), required=False)
    if m is None:
        return team
    return dataclasses.replace(team, twilio_auth_token_ref=check.secret(m, "twilio", "auth_token"))


def _alerts(root: Fields, team: TeamConfig, check: Check) -> TeamConfig:
    m = check.mapping(root.get("alerts"), "alerts", ("sms", "slack", "email"), required=False)
    if m is None:
        return team
    alerts = AlertChannels()
    sms = check.mapping(
        m.get("sms"), "alerts.sms", ("account_sid", "from", "messaging_service_sid"), required=False
    )
    if sms is not None:
        at = "alerts.sms"
        sid = check.secret(sms, at, "account_sid")
        sender = check.phone(sms, at, "from", required=False)
        service = check.text(sms, at, "messaging_service_sid")
        if service is not None and not MESSAGING_SERVICE.fullmatch(service):
            check.add(f"{at}.messaging_service_sid", MESSAGING_SERVICE_RULE)
            service = None
        _one_of(sms, at, ("from", "messaging_service_sid"), check)
        # Twilio's REST API takes the account's auth token, the one webhooks are checked with.
        if root.get("twilio") is None:
            check.add(at, "needs twilio.auth_token as well: SMS is sent with it")
        alerts = dataclasses.replace(
            alerts, twilio_account_sid_ref=sid, sms_from=sender, messaging_service_sid=service
        )
    slack = check.mapping(
        m.get("slack"), "alerts.slack", ("bot_token", "webhook_url"), required=False
    )
    if slack is not None:
        bot = check.secret(slack, "alerts.slack", "bot_token", required=False)
        hook = check.secret(slack, "alerts.slack", "webhook_url", required=False)
        _one_of(slack, "alerts.slack", ("bot_token", "webhook_url"), check)
        alerts = dataclasses.replace(alerts, slack_bot_token_ref=bot, slack_webhook_url_ref=hook)
    email = check.mapping(
        m.get("email"), "alerts.email", ("from", "configuration_set"), required=False
    )
    if email is not None:
        at = "alerts.email"
        check.present(email, at, "from", required=True)
        sender = check.email(email, at, "from")
        config_set = check.text(email, at, "configuration_set")
        if config_set is not None and not CONFIGURATION_SET.fullmatch(config_set):
            check.add(f"{at}.configuration_set", "must be an SES configuration set name")
            config_set = None
        alerts = dataclasses.replace(alerts, email_from=sender, email_configuration_set=config_set)
    return dataclasses.replace(team, alerts=alerts)


def _one_of(m: Fields, at: str, keys: tuple[str, str], check: Check) -> None:
    """Exactly one of the two keys is given (judged on what was written)."""
    given = [key for key in keys if m.get(key) is not None]
    if not given:
        check.add(at, f"needs {keys[0]} or {keys[1]}")
    elif len(given) == 2:
        check.add(at, f"give {keys[0]} or {keys[1]}, not both")


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
        policy = _policy_name(m, at, "sla_policy", team, check)
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
        policy = _policy_name(m, at, "sla_policy", team, check)
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


def _calendars(
    root: Fields,
    team: TeamConfig,
    check: Check,
    resolve: HolidayResolver | None = None,
    years: tuple[int, int] | None = None,
) -> TeamConfig:
    calendars: list[Calendar] = []
    names: set[str] = set()
    for at, m in check.items(root, "", "calendars", CALENDAR_KEYS):
        name = check.slug(m, at, "name", unique=(names, "calendar name"))
        zone = check.time_zone(m, at, "timezone") or team.timezone
        hours = parse_hours(m.get("hours"), f"{at}.hours", check, CALENDAR_NO_HOURS)
        closed = parse_dates(m.get("closed"), f"{at}.closed", check)
        code, resolved, holidays = _holidays(
            m, at, check, resolve or _library_holidays, years or _holiday_years(None)
        )
        # A calendar with other mistakes is still drafted, so policies naming it get no echoes.
        if name is not None:
            calendar = Calendar(name, zone, hours, closed | holidays, code, resolved)
            _remember_holidays(calendar, holidays)
            calendars.append(calendar)
    return dataclasses.replace(team, calendars=tuple(calendars))


def _holiday_years(year: int | None) -> tuple[int, int]:
    """The years a holidays code is resolved for: last year to two years ahead."""
    this_year = date.today().year if year is None else year
    return this_year - 1, this_year + 2


def _holidays(
    m: Fields, at: str, check: Check, resolve: HolidayResolver, years: tuple[int, int]
) -> tuple[str | None, tuple[int, int] | None, frozenset[date]]:
    """The holidays code, the years covered and the holiday dates: as the document carries
    them (holiday_years, holiday_dates), else resolved now."""
    if isinstance(m.get("holidays"), bool):
        # YAML reads an unquoted NO (Norway) as false.
        check.add(f"{at}.holidays", 'must be a string; quote country codes such as "NO"')
        return None, None, frozenset()
    code = check.text(m, at, "holidays")
    if code is not None and not HOLIDAY_CODE.fullmatch(code):
        check.add(f"{at}.holidays", "must be a country code such as US, or one with a subdivision")
        return None, None, frozenset()
    if code is None:
        for key in ("holiday_years", "holiday_dates"):
            if m.get(key) is not None:
                check.add(f"{at}.{key}", "only allowed with holidays")
        return None, None, frozenset()
    code = code.upper()
    if m.get("holiday_years") is not None:
        stored = _year_span(m.get("holiday_years"), f"{at}.holiday_years", check)
        dates = parse_dates(m.get("holiday_dates"), f"{at}.holiday_dates", check)
        return code, stored, dates
    if m.get("holiday_dates") is not None:
        check.add(f"{at}.holiday_dates", "only allowed with holiday_years")
    try:
        dates = resolve(code, *years)
    except ValueError:
        check.add(
            f"{at}.holidays",
            f"unknown holidays code {code!r}; use a country such as US, or US-CA for a state",
        )
        return None, None, frozenset()
    return code, years, dates


def _year_span(value: object, path: str, check: Check) -> tuple[int, int] | None:
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(y, int) and not isinstance(y, bool) and 1 <= y <= 9999 for y in value)
        and value[0] <= value[1]
    ):
        return value[0], value[1]
    check.add(path, "must be [first year, last year], such as [2025, 2028]")
    return None


def _sla_policies(root: Fields, team: TeamConfig, check: Check) -> TeamConfig:
    policies: list[SlaPolicy] = []
    names: set[str] = set()
    for at, m in check.items(root, "", "sla_policies", POLICY_KEYS):
        name = check.slug(m, at, "name", unique=(names, "SLA policy name"))
        target = check.duration(m, at, "target", required=True)
        calendar = check.text(m, at, "calendar")
        if calendar is not None and team.calendar(calendar) is None:
            check.add(f"{at}.calendar", f"unknown calendar {calendar!r}")
        grace = check.duration(m, at, "claim_grace", low=0)
        steps = _steps(m, at, team, check)
        every, times = _repeat(m, at, check)
        # Drafted even with a bad target, so queues naming the policy get no echo errors.
        if name is not None:
            policy = SlaPolicy(
                name=name,
                target_s=target or DEFAULT_POLICY.target_s,
                calendar=calendar,
                steps=steps,
                repeat_every_s=every,
                repeat_times=times,
                claim_grace_s=DEFAULT_POLICY.claim_grace_s if grace is None else grace,
            )
            policies.append(policy)
    return dataclasses.replace(team, sla_policies=tuple(policies))


def _steps(m: Fields, at: str, team: TeamConfig, check: Check) -> tuple[LadderStep, ...]:
    steps: list[LadderStep] = []
    names: set[str] = set()
    before: int | None = None
    for where, item in check.items(m, at, "steps", STEP_KEYS):
        name = check.slug(item, where, "name", unique=(names, "step name"))
        offset = check.duration(item, where, "at", low=None, required=True)
        # Steps fire in file order, so the file must read in time order too.
        if offset is not None and before is not None and offset <= before:
            later = f"must be later than the step before it ({duration_text(before)})"
            check.add(f"{where}.at", later)
        before = offset if offset is not None else before
        reassign = check.flag(item, where, "reassign", DEFAULT_STEP.reassign)
        notify = _recipients(item, where, team, reassign, check)
        channels = _channels(item, where, check)
        if "channel" in notify and "slack" not in channels:
            check.add(
                f"{where}.notify[{notify.index('channel')}]",
                "is the queue's Slack channel; add slack to this step's channels",
            )
        if name is not None and offset is not None:
            steps.append(LadderStep(name, offset, notify, channels, reassign))
    return tuple(steps)


def _recipients(
    item: Fields, where: str, team: TeamConfig, reassign: bool, check: Check
) -> tuple[str, ...]:
    """Who a step alerts; a missing backup, manager or Slack channel is skipped when it fires."""
    value, path = item.get("notify"), f"{where}.notify"
    if value is None:
        return DEFAULT_STEP.notify
    if not isinstance(value, list):
        check.add(path, "must be a list of recipients")
        return ()
    if not value and not reassign:
        check.add(path, "must name a recipient; only a reassign step may alert nobody")
    recipients: list[str] = []
    for index, name in enumerate(value):
        at = f"{path}[{index}]"
        text = name.strip() if isinstance(name, str) else ""
        rep_id = text.removeprefix("rep:").strip() if text.startswith("rep:") else None
        if rep_id is not None and team.rep(rep_id) is None:
            check.add(at, f"unknown rep {rep_id!r}")
        elif rep_id is None and text not in RECIPIENTS:
            check.add(at, RECIPIENT_RULE)
        else:
            recipient = text if rep_id is None else f"rep:{rep_id}"
            if recipient in recipients:
                check.add(at, f"duplicate recipient {recipient!r}")
            else:
                recipients.append(recipient)
    return tuple(recipients)


def _channels(item: Fields, where: str, check: Check) -> tuple[str, ...]:
    """The channels a step's alerts go out on, in the order they are sent."""
    value, path = item.get("channels"), f"{where}.channels"
    if value is None:
        return DEFAULT_STEP.channels
    if not isinstance(value, list) or not value:
        check.add(path, "must be a list of one or more of " + ", ".join(CHANNELS))
        return ()
    channels: list[str] = []
    for index, channel in enumerate(value):
        if channel not in CHANNELS:
            check.add(f"{path}[{index}]", CHANNEL_RULE)
        elif channel in channels:
            check.add(f"{path}[{index}]", f"duplicate channel {channel!r}")
        else:
            channels.append(channel)
    return tuple(channels)


def _repeat(m: Fields, at: str, check: Check) -> tuple[int | None, int]:
    """How often and how many more times the last step repeats; (None, 0) for no repeats."""
    where = f"{at}.repeat"
    repeat = check.mapping(m.get("repeat"), where, ("every", "times"), required=False)
    if repeat is None:
        return DEFAULT_POLICY.repeat_every_s, DEFAULT_POLICY.repeat_times
    if not m.get("steps"):  # judged on what was written, so a bad step is not echoed here
        check.add(where, "needs a step to repeat")
    every = check.duration(repeat, where, "every", required=True)
    check.present(repeat, where, "times", required=True)
    times = check.whole_or_none(repeat, where, "times", REPEAT_TIMES)
    if every is None or times is None:
        return DEFAULT_POLICY.repeat_every_s, DEFAULT_POLICY.repeat_times
    return every, times


def _default_sla_policy(root: Fields, team: TeamConfig, check: Check) -> TeamConfig:
    policy = _policy_name(root, "", "default_sla_policy", team, check)
    return dataclasses.replace(team, default_sla_policy=policy)


def _manager(root: Fields, team: TeamConfig, check: Check) -> TeamConfig:
    return dataclasses.replace(team, manager=check.rep(root, "", "manager", team))


def _policy_name(m: Fields, at: str, key: str, team: TeamConfig, check: Check) -> str | None:
    name = check.text(m, at, key)
    if name is not None and team.sla_policy(name) is None:
        check.add(at_path(at, key), f"unknown SLA policy {name!r}")
    return name


# One validator per top-level key: a new section is a function and a row here. Each validator
# sees the draft built so far, so a section comes after the ones it names: reps before the
# calendars, policies and queues that name them, calendars before the policies counted in them,
# policies before the queues and sources that use them, queues before the rules, sources and
# numbers that send leads to them.
# Problems are reported in this order.
SECTIONS: dict[str, Callable[[Fields, TeamConfig, Check], TeamConfig]] = {
    "team": _team,
    "twilio": _twilio,
    "alerts": _alerts,
    "reps": _reps,
    "calendars": _calendars,
    "sla_policies": _sla_policies,
    "default_sla_policy": _default_sla_policy,
    "manager": _manager,
    "queues": _queues,
    "default_queue": _default_queue,
    "rules": _rules,
    "sources": _sources,
    "tracking_numbers": _tracking_numbers,
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


def _hours_dict(hours: Mapping[str, tuple[Span, ...]]) -> dict[str, list[str]]:
    return {day: [span_text(s) for s in spans] for day, spans in hours.items()}


def _calendar_dict(calendar: Calendar) -> dict[str, object]:
    # Holidays go out as the dates they were resolved to, apart from the custom closed dates,
    # so reading the document back needs no library and a new holidays code replaces only them.
    holidays = _holiday_part(calendar)
    years = calendar.holiday_years
    data: dict[str, object] = {
        "name": calendar.name,
        "timezone": calendar.timezone,
        "hours": None if calendar.hours is None else _hours_dict(calendar.hours),
        "holidays": calendar.holidays,
        "holiday_years": None if years is None else list(years),
        "holiday_dates": None if years is None else _date_list(holidays),
        "closed": _date_list(calendar.closed - holidays) or None,
    }
    return _compact(data)


def _date_list(dates: frozenset[date]) -> list[str]:
    return [day.isoformat() for day in sorted(dates)]


def _policy_dict(policy: SlaPolicy) -> dict[str, object]:
    repeat = None
    if policy.repeat_every_s is not None:
        repeat = {"every": duration_text(policy.repeat_every_s), "times": policy.repeat_times}
    data: dict[str, object] = {
        "name": policy.name,
        "target": duration_text(policy.target_s),
        "calendar": policy.calendar,
        "claim_grace": duration_text(policy.claim_grace_s),
        "steps": [_step_dict(step) for step in policy.steps],
        "repeat": repeat,
    }
    return _compact(data)


def _step_dict(step: LadderStep) -> dict[str, object]:
    data: dict[str, object] = {
        "name": step.name,
        "at": duration_text(step.offset_s),
        "notify": list(step.notify),
        "channels": list(step.channels),
    }
    if step.reassign:
        data["reassign"] = True
    return data


def _alerts_dict(alerts: AlertChannels) -> dict[str, object]:
    sms = {
        "account_sid": alerts.twilio_account_sid_ref,
        "from": alerts.sms_from,
        "messaging_service_sid": alerts.messaging_service_sid,
    }
    slack = {"bot_token": alerts.slack_bot_token_ref, "webhook_url": alerts.slack_webhook_url_ref}
    email = {"from": alerts.email_from, "configuration_set": alerts.email_configuration_set}
    channels = {"sms": _compact(sms), "slack": _compact(slack), "email": _compact(email)}
    return {name: fields for name, fields in channels.items() if fields}


def _rep_dict(rep: RepConfig) -> dict[str, object]:
    data = _fields_of(rep)
    caps = {"max_open": data.pop("max_open"), "max_per_day": data.pop("max_per_day")}
    if rep.hours is not None:
        data["hours"] = _hours_dict(rep.hours)
    if rep.out_of_office_until is not None:
        data["out_of_office_until"] = rep.out_of_office_until.isoformat()
    data["caps"] = _compact(caps) or None
    data["quiet_hours"] = None if rep.quiet_hours is None else span_text(rep.quiet_hours)
    # The default is written only beside the quiet hours it applies to.
    if rep.quiet_hours is None and rep.quiet_sms == DEFAULT_REP.quiet_sms:
        data["quiet_sms"] = None
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


# What team_from_dict read or resolved as each calendar's public holidays, by (holidays code,
# years, every closed date): team_to_dict splits the calendar's closed dates back into holidays
# and custom dates with it, without the library. Kept small; a miss asks the library again.
_HOLIDAY_SPLITS: dict[tuple[str, tuple[int, int], frozenset[date]], frozenset[date]] = {}
_MAX_SPLITS = 64


def _remember_holidays(calendar: Calendar, holidays: frozenset[date]) -> None:
    if calendar.holidays is None or calendar.holiday_years is None:
        return
    if len(_HOLIDAY_SPLITS) >= _MAX_SPLITS:
        _HOLIDAY_SPLITS.clear()
    _HOLIDAY_SPLITS[(calendar.holidays, calendar.holiday_years, calendar.closed)] = holidays


def _library_holidays(code: str, first_year: int, last_year: int) -> frozenset[date]:
    # Imported here: the library is large, and only configuration loading needs it.
    from chalicelib.holiday_dates import holiday_dates

    return holiday_dates(code, first_year, last_year)


def _holiday_part(calendar: Calendar) -> frozenset[date]:
    """Which of the calendar's closed dates are its public holidays."""
    if calendar.holidays is None or calendar.holiday_years is None:
        return frozenset()
    split = _HOLIDAY_SPLITS.get((calendar.holidays, calendar.holiday_years, calendar.closed))
    if split is None:
        # A calendar built in code rather than read from a document: ask the library.
        try:
            split = calendar.closed & _library_holidays(calendar.holidays, *calendar.holiday_years)
        except ValueError:
            split = frozenset()
        _remember_holidays(calendar, split)
    return split
