"""Reading untrusted team-file values: the rules each field follows, and a checker that notes
every (path, reason) problem instead of stopping at the first; and the written forms of the
values that are not written as they are stored."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from chalicelib.domain.errors import InvalidPayloadError
from chalicelib.domain.identity import e164_or_none, normalise_email
from chalicelib.domain.team import WEEKDAYS, Span, TeamConfig

Fields = Mapping[str, object]

# Source names appear in URLs (/webhooks/forms/{name}), so names are kept to a DNS-label-like slug.
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
SLUG_RULE = "must be a lower-case slug: a-z, 0-9 and '-', at most 63 characters"
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
# Durations: "90s", "5m", "1h30m", "-2m" (ladder offsets may be negative), or whole seconds.
DURATION = re.compile(r"([+-]?)(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")
SECONDS = re.compile(r"[+-]?[0-9]+")
DURATION_RULE = 'must be a duration such as "90s", "5m" or "1h30m", or whole seconds'
# A bound on every duration, so a typo such as "5000000h" is an error, not a lead due in 570 years.
MAX_DURATION_S = 30 * 24 * 3600
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DATE_RULE = "must be a date such as 2026-12-24"
# Slack conversation ids: C… for channels, G… for older private channels.
SLACK_CHANNEL = re.compile(r"[CG][A-Z0-9]{2,}")
MESSAGING_SERVICE = re.compile(r"MG[0-9a-f]{32}")
# SES configuration set names.
CONFIGURATION_SET = re.compile(r"[A-Za-z0-9_-]{1,64}")
# A holidays-library code: a country ("US") or a country and subdivision ("US-CA", "GB-SCT").
HOLIDAY_CODE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,5})?")
QUIET_RULE = 'must be HH:MM-HH:MM such as "22:00-07:00" (it may run past midnight), not all day'


class Bounds(NamedTuple):
    """The range a whole-number setting may take, and the reason given when it is outside."""

    low: int
    high: int | None
    rule: str


RING_TIMEOUT = Bounds(5, 600, "must be whole seconds from 5 to 600")  # Twilio's <Dial timeout>
STICKY_DAYS = Bounds(1, 3650, "must be whole days from 1 to 3650")
WEIGHT = Bounds(1, 100, "must be a whole number from 1 to 100")
CAP = Bounds(1, None, "must be a whole number, 1 or more")
REPEAT_TIMES = Bounds(1, 100, "must be a whole number from 1 to 100")

# Drafts start from the dataclass defaults, so the defaults live in one place: domain/team.py.


REP_NO_HOURS = "has no working time; leave hours out for always on, or pause the rep"
CALENDAR_NO_HOURS = "has no open hours; leave hours out to be open around the clock"


def parse_hours(
    value: object, path: str, check: Check, empty: str = REP_NO_HOURS
) -> dict[str, tuple[Span, ...]] | None:
    """Weekday -> sorted, non-overlapping spans in minutes; None (always on) when not given."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        check.add(path, 'must map days (mon..sun) to lists of "HH:MM-HH:MM" spans')
        return None
    hours: dict[str, tuple[Span, ...]] = {}
    problems = len(check.problems)
    for day, spans in value.items():
        where = at_path(path, str(day))
        if day not in WEEKDAYS:
            check.add(where, f"unknown day {day!r}; days are {', '.join(WEEKDAYS)}")
            continue
        if not isinstance(spans, list):
            check.add(where, 'must be a list of "HH:MM-HH:MM" spans')
            continue
        parsed: list[Span] = []
        for index, text in enumerate(spans):
            span = parse_span(text)
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
        check.add(path, empty)
    return {day: hours[day] for day in WEEKDAYS if day in hours}


def parse_span(text: object) -> Span | None:
    match = SPAN.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    start, end = minutes(match[1]), minutes(match[2])
    return (start, end) if start < end else None


def parse_quiet_hours(text: object) -> Span | None:
    """A span that may wrap midnight: "22:00-07:00" is (1320, 420); never the whole day."""
    match = SPAN.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    start, end = minutes(match[1]), minutes(match[2])
    # "00:00-24:00" and "22:00-22:00" leave no time to deliver a held SMS in.
    return (start, end) if start != end % 1440 else None


def parse_duration(value: object) -> int | None:
    """Seconds, from whole seconds or text such as "1h30m" or "-2m"; None if it is neither."""
    # bool is an int, but `at: yes` is a slip, not one second.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    if SECONDS.fullmatch(text):
        return int(text)
    match = DURATION.fullmatch(text)
    if match is None or not any(match.groups()[1:]):
        return None
    hours, mins, secs = (int(part or 0) for part in match.groups()[1:])
    seconds = hours * 3600 + mins * 60 + secs
    return -seconds if match[1] == "-" else seconds


def duration_text(seconds: int) -> str:
    """The shortest file spelling of `seconds`: 90 is "1m30s", -120 is "-2m", 0 is "0s"."""
    sign, rest = ("-" if seconds < 0 else ""), abs(seconds)
    hours, rest = divmod(rest, 3600)
    mins, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (mins, "m"), (secs, "s")) if n]
    return sign + ("".join(parts) or "0s")


def parse_date(value: object) -> date | None:
    """A calendar date from YAML's date or ISO text "2026-12-24"; None otherwise."""
    # A datetime is a date too, but a closed day is a whole day; refuse it rather than truncate.
    if isinstance(value, date) and type(value) is date:
        return value
    if isinstance(value, str) and DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def parse_dates(value: object, path: str, check: Check) -> frozenset[date]:
    """A list of dates, each reported by its index when it is not one."""
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        check.add(path, "must be a list of dates such as 2026-12-24")
        return frozenset()
    dates: set[date] = set()
    for index, item in enumerate(value):
        day = parse_date(item)
        if day is None:
            check.add(f"{path}[{index}]", DATE_RULE)
        else:
            dates.add(day)
    return frozenset(dates)


def minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def span_text(span: Span) -> str:
    (start_h, start_m), (end_h, end_m) = divmod(span[0], 60), divmod(span[1], 60)
    return f"{start_h:02d}:{start_m:02d}-{end_h:02d}:{end_m:02d}"


def hours_dict(hours: Mapping[str, tuple[Span, ...]]) -> dict[str, list[str]]:
    """The file spelling of weekly hours, which parse_hours reads back unchanged."""
    return {day: [span_text(s) for s in spans] for day, spans in hours.items()}


def compact(fields: Fields) -> dict[str, object]:
    """`fields` without the unset (None) ones, which the written file leaves out."""
    return {key: value for key, value in fields.items() if value is not None}


class Check:
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
                self.add(at_path(path, str(key)), f"unknown key {str(key)!r}")
        return value

    def items(
        self, m: Fields, path: str, key: str, keys: tuple[str, ...]
    ) -> Iterator[tuple[str, Fields]]:
        value, at = m.get(key), at_path(path, key)
        if value is not None and not isinstance(value, list):
            self.add(at, "must be a list")
        elif value is not None:
            for index, item in enumerate(value):
                if (found := self.mapping(item, f"{at}[{index}]", keys)) is not None:
                    yield f"{at}[{index}]", found

    def present(self, m: Fields, path: str, key: str, required: bool) -> object:
        if m.get(key) is None and required:
            self.add(at_path(path, key), "required")
        return m.get(key)

    def text(self, m: Fields, path: str, key: str, required: bool = False) -> str | None:
        value = self.present(m, path, key, required)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            self.add(at_path(path, key), "must be a non-empty string")
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
            self.add(at_path(path, key), SLUG_RULE)
        if value is not None and unique is not None:
            self.unique(value, unique[0], at_path(path, key), unique[1])
        return value

    def unique(self, value: str, seen: set[str], path: str, what: str) -> None:
        if value in seen:
            self.add(path, f"duplicate {what} {value!r}")
        seen.add(value)

    def whole(self, m: Fields, path: str, key: str, bounds: Bounds, default: int) -> int:
        value = self._whole(m.get(key, default), at_path(path, key), bounds)
        return default if value is None else value

    def whole_or_none(self, m: Fields, path: str, key: str, bounds: Bounds) -> int | None:
        value = m.get(key)
        return None if value is None else self._whole(value, at_path(path, key), bounds)

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
            self.add(at_path(path, key), "must be true or false")
            return default
        return value

    def time_zone(self, m: Fields, path: str, key: str) -> str | None:
        name = self.text(m, path, key)
        if name is not None and not is_time_zone(name):
            self.add(at_path(path, key), "must be an IANA time zone")
        return name

    def phone(self, m: Fields, path: str, key: str, required: bool) -> str | None:
        value = self.present(m, path, key, required)
        # Unquoted, YAML reads +14155550100 as the integer 14155550100 and the plus sign is lost.
        if value is not None and not isinstance(value, str):
            self.add(at_path(path, key), 'must be a quoted string such as "+14155550100"')
        elif isinstance(value, str):
            number = phonenumbers.parse(value) if e164_or_none(value) else None
            if number is not None and phonenumbers.is_valid_number(number):
                return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            self.add(at_path(path, key), "not a valid E.164 phone number")
        return None

    def email(self, m: Fields, path: str, key: str) -> str | None:
        value = self.text(m, path, key)
        if value is None:
            return None
        try:
            # The same rule leads' addresses follow, so a rep's address matches theirs.
            return normalise_email(value)
        except InvalidPayloadError:
            self.add(at_path(path, key), "not an email address")
            return None

    def duration(
        self, m: Fields, path: str, key: str, low: int | None = 1, required: bool = False
    ) -> int | None:
        """Seconds from a duration; `low` is the least allowed (None: negative is fine too)."""
        value = self.present(m, path, key, required)
        if value is None:
            return None
        seconds, where = parse_duration(value), at_path(path, key)
        if seconds is None:
            self.add(where, DURATION_RULE)
        elif abs(seconds) > MAX_DURATION_S:
            self.add(where, f"must be within {duration_text(MAX_DURATION_S)} (30 days)")
        elif low is not None and seconds < low:
            self.add(where, "must not be negative" if low == 0 else "must be longer than 0s")
        else:
            return seconds
        return None

    def secret(self, m: Fields, path: str, key: str, required: bool = True) -> str | None:
        value = self.present(m, path, key, required)
        if isinstance(value, str) and (ENV_REF.fullmatch(value) or SSM_REF.fullmatch(value)):
            return value
        # Reasons never quote the value: if it is a real secret, the error would leak it into logs.
        if isinstance(value, str) and value.startswith("env:"):
            self.add(at_path(path, key), "must be env:NAME, where NAME is capitals, digits and _")
        elif isinstance(value, str) and value.startswith("ssm:"):
            self.add(at_path(path, key), "must be ssm:/path/to/parameter")
        elif value is not None:
            self.add(at_path(path, key), LITERAL_SECRET)
        return None

    def queue(
        self, m: Fields, path: str, key: str, team: TeamConfig, required: bool = False
    ) -> str | None:
        name = self.text(m, path, key, required)
        if name is not None and all(q.name != name for q in team.queues):
            self.add(at_path(path, key), f"unknown queue {name!r}")
        return name

    def sla_policy(self, m: Fields, path: str, key: str, team: TeamConfig) -> str | None:
        name = self.text(m, path, key)
        if name is not None and team.sla_policy(name) is None:
            self.add(at_path(path, key), f"unknown SLA policy {name!r}")
        return name

    def rep(
        self, m: Fields, path: str, key: str, team: TeamConfig, required: bool = False
    ) -> str | None:
        rep_id = self.text(m, path, key, required)
        if rep_id is not None and team.rep(rep_id) is None:
            self.add(at_path(path, key), f"unknown rep {rep_id!r}")
        return rep_id


def is_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def at_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
