"""The SLA half of the team file: alert channels, calendars and their public holidays, and SLA
policies with their escalation ladders; read and checked, and written back out."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date

from chalicelib.domain.calendar import Calendar
from chalicelib.domain.sla import CHANNELS, RECIPIENTS, LadderStep, SlaPolicy
from chalicelib.domain.team import AlertChannels, TeamConfig
from chalicelib.team_checks import (
    CALENDAR_NO_HOURS,
    CONFIGURATION_SET,
    HOLIDAY_CODE,
    MESSAGING_SERVICE,
    REPEAT_TIMES,
    Check,
    Fields,
    compact,
    duration_text,
    hours_dict,
    parse_dates,
    parse_hours,
)

DEFAULT_POLICY = SlaPolicy(name="", target_s=1)
DEFAULT_STEP = LadderStep(name="", offset_s=0)

# Resolves a holidays code ("US-CA") into its public holidays over a span of years, raising
# ValueError for a code the holidays library does not know.
HolidayResolver = Callable[[str, int, int], frozenset[date]]

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


def read_alerts(root: Fields, team: TeamConfig, check: Check) -> TeamConfig:
    """The alerts section: who SMS, Slack messages and email are sent as."""
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
        m.get("slack"),
        "alerts.slack",
        ("bot_token", "webhook_url", "signing_secret"),
        required=False,
    )
    if slack is not None:
        bot = check.secret(slack, "alerts.slack", "bot_token", required=False)
        hook = check.secret(slack, "alerts.slack", "webhook_url", required=False)
        signing = check.secret(slack, "alerts.slack", "signing_secret", required=False)
        _one_of(slack, "alerts.slack", ("bot_token", "webhook_url"), check)
        alerts = dataclasses.replace(
            alerts,
            slack_bot_token_ref=bot,
            slack_webhook_url_ref=hook,
            slack_signing_secret_ref=signing,
        )
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


def read_calendars(
    root: Fields,
    team: TeamConfig,
    check: Check,
    resolve: HolidayResolver | None = None,
    years: tuple[int, int] | None = None,
) -> TeamConfig:
    """The calendars section; a holidays code is resolved by `resolve` for `years`."""
    calendars: list[Calendar] = []
    names: set[str] = set()
    for at, m in check.items(root, "", "calendars", CALENDAR_KEYS):
        name = check.slug(m, at, "name", unique=(names, "calendar name"))
        zone = check.time_zone(m, at, "timezone") or team.timezone
        hours = parse_hours(m.get("hours"), f"{at}.hours", check, CALENDAR_NO_HOURS)
        closed = parse_dates(m.get("closed"), f"{at}.closed", check)
        code, resolved, holidays = _holidays(
            m, at, check, resolve or _library_holidays, years or holiday_years(None)
        )
        # A calendar with other mistakes is still drafted, so policies naming it get no echoes.
        if name is not None:
            calendar = Calendar(name, zone, hours, closed | holidays, code, resolved)
            _remember_holidays(calendar, holidays)
            calendars.append(calendar)
    return dataclasses.replace(team, calendars=tuple(calendars))


def holiday_years(year: int | None) -> tuple[int, int]:
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


def read_sla_policies(root: Fields, team: TeamConfig, check: Check) -> TeamConfig:
    """The sla_policies section: targets, calendars and escalation ladders."""
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


def alerts_dict(alerts: AlertChannels) -> dict[str, object]:
    """The file shape of the alert channels; empty when none is set up."""
    sms = {
        "account_sid": alerts.twilio_account_sid_ref,
        "from": alerts.sms_from,
        "messaging_service_sid": alerts.messaging_service_sid,
    }
    slack = {
        "bot_token": alerts.slack_bot_token_ref,
        "webhook_url": alerts.slack_webhook_url_ref,
        "signing_secret": alerts.slack_signing_secret_ref,
    }
    email = {"from": alerts.email_from, "configuration_set": alerts.email_configuration_set}
    channels = {"sms": compact(sms), "slack": compact(slack), "email": compact(email)}
    return {name: fields for name, fields in channels.items() if fields}


def calendar_dict(calendar: Calendar) -> dict[str, object]:
    """The file shape of `calendar`, its holidays written out as dates."""
    # Holidays go out as the dates they were resolved to, apart from the custom closed dates,
    # so reading the document back needs no library and a new holidays code replaces only them.
    holidays = _holiday_part(calendar)
    years = calendar.holiday_years
    data: dict[str, object] = {
        "name": calendar.name,
        "timezone": calendar.timezone,
        "hours": None if calendar.hours is None else hours_dict(calendar.hours),
        "holidays": calendar.holidays,
        "holiday_years": None if years is None else list(years),
        "holiday_dates": None if years is None else _date_list(holidays),
        "closed": _date_list(calendar.closed - holidays) or None,
    }
    return compact(data)


def _date_list(dates: frozenset[date]) -> list[str]:
    return [day.isoformat() for day in sorted(dates)]


def policy_dict(policy: SlaPolicy) -> dict[str, object]:
    """The file shape of `policy`, durations spelled as in the file ("5m")."""
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
    return compact(data)


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
