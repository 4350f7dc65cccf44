"""The team file's SLA sections: calendars, policies and their ladders, alert channels and quiet
hours are read, written back unchanged, and every mistake is named with its path."""

from __future__ import annotations

import copy
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest

from chalicelib.domain.calendar import Calendar
from chalicelib.domain.errors import ConfigError
from chalicelib.domain.sla import LadderStep, SlaPolicy
from chalicelib.domain.team import AlertChannels, TeamConfig
from chalicelib.team_checks import (
    DURATION_RULE,
    LITERAL_SECRET,
    QUIET_RULE,
    SLUG_RULE,
    duration_text,
    parse_duration,
)
from chalicelib.team_file import load_team_file, team_from_dict, team_to_dict

DEMO = Path(__file__).resolve().parents[2] / "infra" / "team.demo.yaml"

WEEKDAYS_9_TO_5 = {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
STEPS: list[dict[str, Any]] = [
    {"name": "warn", "at": "-2m", "notify": ["owner"], "channels": ["sms", "slack"]},
    {"name": "breach", "at": 0, "notify": ["owner", "channel"], "channels": ["slack"]},
    {"name": "reassign", "at": "3m", "reassign": True, "notify": ["owner"]},
    {"name": "manager", "at": "10m", "notify": ["manager", "rep:ben"], "channels": ["email"]},
]
BASE: dict[str, Any] = {
    "team": {"name": "Acme Roofing", "timezone": "America/New_York"},
    "twilio": {"auth_token": "env:TWILIO_AUTH_TOKEN"},
    "reps": [{"id": "ana", "name": "Ana Ruiz"}, {"id": "ben", "name": "Ben Okafor"}],
    "calendars": [{"name": "office", "hours": WEEKDAYS_9_TO_5}],
    "sla_policies": [
        {
            "name": "standard",
            "target": "5m",
            "calendar": "office",
            "steps": STEPS,
            "repeat": {"every": "15m", "times": 3},
        }
    ],
    "default_sla_policy": "standard",
    "queues": [{"name": "inbound", "sla_policy": "standard", "slack_channel": "C012LEADS"}],
    "sources": [{"name": "web", "auth": {"scheme": "token", "secret": "env:WEB"}}],
}


def data_with(**sections: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data.update(sections)
    return data


def with_policy(**fields: Any) -> dict[str, Any]:
    """BASE with the standard policy carrying `fields` (None removes a key)."""
    data = copy.deepcopy(BASE)
    policy = data["sla_policies"][0] | fields
    data["sla_policies"] = [{k: v for k, v in policy.items() if v is not None}]
    return data


def with_step(index: int, **fields: Any) -> dict[str, Any]:
    """BASE with step `index` of the standard policy carrying `fields` (None removes a key)."""
    steps = copy.deepcopy(STEPS)
    steps[index] = {k: v for k, v in (steps[index] | fields).items() if v is not None}
    return with_policy(steps=steps)


def with_calendar(**fields: Any) -> dict[str, Any]:
    return data_with(calendars=[{"name": "office", "hours": WEEKDAYS_9_TO_5} | fields])


def with_ana(**fields: Any) -> dict[str, Any]:
    """BASE with rep ana carrying `fields`."""
    data = copy.deepcopy(BASE)
    data["reps"][0] |= fields
    return data


def with_alerts(**alerts: Any) -> dict[str, Any]:
    return data_with(alerts=alerts)


def problems_of(data: object, **options: Any) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        team_from_dict(data, **options)
    return caught.value.problems


def section(team: TeamConfig, key: str) -> list[dict[str, Any]]:
    """One list of the team's stored document."""
    return cast(list[dict[str, Any]], team_to_dict(team)[key])


def us_holidays(code: str, first_year: int, last_year: int) -> frozenset[date]:
    """A stand-in for the holidays library: Independence Day (observed) in each year."""
    assert code == "US"
    return frozenset(date(year, 7, 4) for year in range(first_year, last_year + 1))


def no_library(code: str, first_year: int, last_year: int) -> frozenset[date]:
    raise AssertionError("the holidays library was asked for")


# The demo file.


def test_demo_inbound_queue_runs_the_seconds_long_demo_ladder_at_any_hour() -> None:
    team = load_team_file(DEMO)
    inbound = team.queue("inbound")
    assert inbound is not None and inbound.sla_policy == "demo"
    demo = team.sla_policy("demo")
    assert demo == SlaPolicy(
        name="demo",
        target_s=30,
        calendar=None,
        steps=(
            LadderStep("warn", -10, ("owner",), ("sms", "slack")),
            LadderStep("breach", 0, ("owner", "channel"), ("slack",)),
            LadderStep("reassign", 10, ("owner",), ("sms", "slack"), reassign=True),
            LadderStep("manager", 20, ("manager",), ("sms", "email")),
        ),
        repeat_every_s=15,
        repeat_times=2,
        claim_grace_s=60,
    )
    # The last alert of the ladder: 20s + 2 x 15s after a due time 30s after capture.
    assert demo.target_s + demo.steps[-1].offset_s + 2 * 15 == 80


def test_demo_standard_policy_is_five_business_minutes_on_the_east_coast_calendar() -> None:
    team = load_team_file(DEMO, year=2026)
    standard = team.sla_policy("standard")
    assert standard is not None and (standard.target_s, standard.calendar) == (300, "east-coast")
    assert [s.offset_s for s in standard.steps] == [-120, 0, 180, 600]
    assert (standard.repeat_every_s, standard.repeat_times) == (900, 3)
    assert team.default_sla_policy == "standard"
    calendar = team.calendar("east-coast")
    assert calendar is not None and calendar.hours is not None
    assert calendar.hours["mon"] == ((540, 720), (780, 1020))  # a lunch break
    assert (calendar.holidays, calendar.holiday_years) == ("US", (2025, 2028))
    assert {date(2026, 7, 3), date(2026, 12, 25), date(2026, 12, 24)} <= calendar.closed


def test_demo_queues_name_backup_manager_and_slack_channel_and_a_source_overrides() -> None:
    team = load_team_file(DEMO)
    for queue in team.queues:
        assert queue.backup and queue.slack_channel and team.rep(queue.backup)
    assert team.manager is not None and team.rep(team.manager) is not None
    partner = team.source("partner")
    assert partner is not None and partner.sla_policy == "standard"


def test_demo_alert_secrets_are_env_references_the_local_runner_leaves_unset() -> None:
    alerts = load_team_file(DEMO).alerts
    assert alerts.twilio_account_sid_ref == "env:TWILIO_ACCOUNT_SID"
    assert alerts.slack_bot_token_ref == "env:SLACK_BOT_TOKEN"
    assert alerts.slack_signing_secret_ref == "env:SLACK_SIGNING_SECRET"
    assert (alerts.sms_from, alerts.email_from) == ("+14155550190", "alerts@example.com")


def test_demo_reps_show_both_quiet_hours_choices() -> None:
    reps = load_team_file(DEMO).reps
    assert {(r.quiet_hours is not None, r.quiet_sms) for r in reps} >= {
        (True, "email"),
        (True, "hold"),
    }


# Holidays: resolved on reading a file, carried in the stored document.


def test_a_us_holiday_closes_the_calendar_next_to_custom_closed_dates() -> None:
    data = with_calendar(holidays="us", closed=["2026-12-24", date(2026, 12, 31)])
    [calendar] = team_from_dict(data, holidays=us_holidays, year=2026).calendars
    assert calendar.holidays == "US" and calendar.holiday_years == (2025, 2028)
    assert calendar.closed == {date(2026, 12, 24), date(2026, 12, 31)} | {
        date(year, 7, 4) for year in range(2025, 2029)
    }


def test_the_holidays_library_resolves_a_country_and_subdivision() -> None:
    [california] = team_from_dict(with_calendar(holidays="US-CA"), year=2026).calendars
    [us] = team_from_dict(with_calendar(holidays="US"), year=2026).calendars
    # Independence Day 2026 is a Saturday, observed on Friday; Cesar Chavez Day is California's.
    assert {date(2026, 7, 3), date(2026, 3, 31)} <= california.closed
    assert date(2026, 7, 3) in us.closed and date(2026, 3, 31) not in us.closed


def test_the_stored_document_keeps_holidays_apart_from_custom_closed_dates() -> None:
    data = with_calendar(holidays="US", closed=["2026-12-24"])
    team = team_from_dict(data, holidays=us_holidays, year=2026)
    [stored] = section(team, "calendars")
    assert stored["holidays"] == "US"
    assert stored["holiday_years"] == [2025, 2028]
    assert stored["holiday_dates"] == ["2025-07-04", "2026-07-04", "2027-07-04", "2028-07-04"]
    assert stored["closed"] == ["2026-12-24"]


def test_a_stored_document_is_read_and_written_without_the_holidays_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    team = load_team_file(DEMO)
    stored = json.loads(json.dumps(team_to_dict(team)))
    # The capture path reads the stored document: importing the library there would fail.
    monkeypatch.setitem(sys.modules, "holidays", None)
    monkeypatch.delitem(sys.modules, "chalicelib.holiday_dates", raising=False)
    assert team_from_dict(stored) == team
    assert team_from_dict(stored, holidays=no_library) == team
    assert team_to_dict(team_from_dict(stored)) == stored


def test_a_stored_document_keeps_its_holidays_in_a_later_year() -> None:
    team = team_from_dict(with_calendar(holidays="US"), holidays=us_holidays, year=2026)
    later = team_from_dict(team_to_dict(team), holidays=no_library, year=2031)
    assert later == team


def test_an_unknown_holidays_code_is_named_at_its_path() -> None:
    reason = "unknown holidays code 'XX'; use a country such as US, or US-CA for a state"
    assert problems_of(with_calendar(holidays="XX"), year=2026) == [
        ("calendars[0].holidays", reason)
    ]
    assert problems_of(with_calendar(holidays="US-ZZ"), year=2026) == [
        ("calendars[0].holidays", reason.replace("'XX'", "'US-ZZ'"))
    ]


@pytest.mark.parametrize("code", ["U S", "USA-California", "1", "US_CA"])
def test_a_malformed_holidays_code_is_refused_without_asking_the_library(code: str) -> None:
    assert problems_of(with_calendar(holidays=code), holidays=no_library) == [
        ("calendars[0].holidays", "must be a country code such as US, or one with a subdivision")
    ]


def test_an_unquoted_yaml_no_for_norway_gets_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(
        "team: {name: Acme}\ncalendars:\n  - {name: oslo, holidays: NO}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_team_file(path, holidays=no_library)
    assert caught.value.problems == [
        ("calendars[0].holidays", 'must be a string; quote country codes such as "NO"')
    ]


@pytest.mark.parametrize(
    ("fields", "path", "reason"),
    [
        ({"holiday_years": [2025, 2028]}, "holiday_years", "only allowed with holidays"),
        ({"holiday_dates": ["2026-07-04"]}, "holiday_dates", "only allowed with holidays"),
        (
            {"holidays": "US", "holiday_dates": ["2026-07-04"]},
            "holiday_dates",
            "only allowed with holiday_years",
        ),
        (
            {"holidays": "US", "holiday_years": [2028, 2025]},
            "holiday_years",
            "must be [first year, last year], such as [2025, 2028]",
        ),
        (
            {"holidays": "US", "holiday_years": 2026},
            "holiday_years",
            "must be [first year, last year], such as [2025, 2028]",
        ),
        (
            {"holidays": "US", "holiday_years": [2025, 2028], "holiday_dates": ["July 4"]},
            "holiday_dates[0]",
            "must be a date such as 2026-12-24",
        ),
    ],
)
def test_stored_holiday_fields_are_checked(fields: Any, path: str, reason: str) -> None:
    assert problems_of(with_calendar(**fields), holidays=us_holidays) == [
        (f"calendars[0].{path}", reason)
    ]


# Calendars.


def test_calendar_takes_the_team_time_zone_and_no_hours_means_around_the_clock() -> None:
    data = with_policy(calendar="always")
    data["calendars"] = [{"name": "always"}]
    [calendar] = team_from_dict(data).calendars
    assert calendar == Calendar(name="always", timezone="America/New_York")
    assert team_from_dict(team_to_dict(team_from_dict(BASE))) == team_from_dict(BASE)


@pytest.mark.parametrize("hours", [{}, {"sat": [], "sun": []}])
def test_a_calendar_with_no_open_hours_is_refused(hours: Any) -> None:
    assert problems_of(with_calendar(hours=hours)) == [
        ("calendars[0].hours", "has no open hours; leave hours out to be open around the clock")
    ]


@pytest.mark.parametrize(
    ("fields", "path", "reason"),
    [
        ({"timezone": "Eastern"}, "timezone", "must be an IANA time zone"),
        ({"hours": {"mon": ["17:00-09:00"]}}, "hours.mon[0]", "must be HH:MM-HH:MM"),
        ({"closed": "2026-12-24"}, "closed", "must be a list of dates"),
        ({"closed": ["2026-12-24", "24/12/2026"]}, "closed[1]", "must be a date"),
        ({"closed": ["2026-02-30"]}, "closed[0]", "must be a date"),
        ({"open": True}, "open", "unknown key 'open'"),
    ],
)
def test_bad_calendar_field_is_named_with_its_path(fields: Any, path: str, reason: str) -> None:
    [(where, why)] = problems_of(with_calendar(**fields))
    assert where == f"calendars[0].{path}" and why.startswith(reason)


def test_calendar_names_are_unique_slugs() -> None:
    calendars = [{"name": "office"}, {"name": "Office Hours"}, {"name": "office"}]
    assert problems_of(data_with(calendars=calendars)) == [
        ("calendars[1].name", SLUG_RULE),
        ("calendars[2].name", "duplicate calendar name 'office'"),
    ]


# Durations.


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (90, 90),
        (0, 0),
        ("90s", 90),
        ("5m", 300),
        ("1h", 3600),
        ("1h30m", 5400),
        ("1h0m5s", 3605),
        ("-2m", -120),
        ("+3m", 180),
        (" 10s ", 10),
        ("45", 45),
        ("-10", -10),
    ],
)
def test_durations_read_as_seconds(value: object, seconds: int) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value", ["", "5 minutes", "5M", "1.5h", "h", "-", "30m1h", "--5", "²", True, 2.5, None, [5]]
)
def test_things_that_are_not_durations(value: object) -> None:
    assert parse_duration(value) is None


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (30, "30s"), (90, "1m30s"), (-120, "-2m"), (5400, "1h30m")]
)
def test_durations_are_written_in_their_shortest_spelling(seconds: int, text: str) -> None:
    assert duration_text(seconds) == text
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("5 minutes", DURATION_RULE),
        (True, DURATION_RULE),
        (0, "must be longer than 0s"),
        ("-5m", "must be longer than 0s"),
        ("721h", "must be within 720h (30 days)"),
    ],
)
def test_a_bad_target_is_named_with_its_path(target: object, reason: str) -> None:
    assert problems_of(with_policy(target=target)) == [("sla_policies[0].target", reason)]


def test_claim_grace_may_be_zero_but_not_negative() -> None:
    [policy] = team_from_dict(with_policy(claim_grace=0)).sla_policies
    assert policy.claim_grace_s == 0
    assert team_from_dict(BASE).sla_policies[0].claim_grace_s == 600
    assert problems_of(with_policy(claim_grace="-1m")) == [
        ("sla_policies[0].claim_grace", "must not be negative")
    ]


# Policies and their ladders.


def test_a_policy_is_read_with_its_ladder_and_repeats() -> None:
    [policy] = team_from_dict(BASE).sla_policies
    assert policy == SlaPolicy(
        name="standard",
        target_s=300,
        calendar="office",
        steps=(
            LadderStep("warn", -120, ("owner",), ("sms", "slack")),
            LadderStep("breach", 0, ("owner", "channel"), ("slack",)),
            LadderStep("reassign", 180, ("owner",), ("sms",), reassign=True),
            LadderStep("manager", 600, ("manager", "rep:ben"), ("email",)),
        ),
        repeat_every_s=900,
        repeat_times=3,
        claim_grace_s=600,
    )


def test_a_policy_without_steps_or_calendar_is_a_24_7_clock_with_no_alerts() -> None:
    data = data_with(sla_policies=[{"name": "measure", "target": 300}], default_sla_policy=None)
    data["queues"] = [{"name": "inbound"}]
    [policy] = team_from_dict(data).sla_policies
    assert policy == SlaPolicy(name="measure", target_s=300)


def test_the_target_and_a_steps_at_are_required() -> None:
    assert problems_of(with_policy(target=None)) == [("sla_policies[0].target", "required")]
    assert problems_of(with_step(1, at=None)) == [("sla_policies[0].steps[1].at", "required")]


@pytest.mark.parametrize("at", ["-2m", "-3m", "-1h"])
def test_steps_must_be_in_strictly_increasing_time_order(at: str) -> None:
    assert problems_of(with_step(1, at=at)) == [
        ("sla_policies[0].steps[1].at", "must be later than the step before it (-2m)")
    ]


def test_one_step_out_of_order_is_reported_once() -> None:
    steps = copy.deepcopy(STEPS)
    steps[1]["at"] = "20m"
    assert problems_of(with_policy(steps=steps)) == [
        ("sla_policies[0].steps[2].at", "must be later than the step before it (20m)")
    ]


@pytest.mark.parametrize(
    ("notify", "index", "reason"),
    [
        (["owner", "boss"], 1, "must be owner, backup, manager, channel or rep:<id>"),
        (["owner", "rep:zed"], 1, "unknown rep 'zed'"),
        (["rep:"], 0, "unknown rep ''"),
        (["Owner"], 0, "must be owner, backup, manager, channel or rep:<id>"),
        ([7], 0, "must be owner, backup, manager, channel or rep:<id>"),
        (["owner", "manager", "owner"], 2, "duplicate recipient 'owner'"),
        (["rep:ben", "rep: ben"], 1, "duplicate recipient 'rep:ben'"),
    ],
)
def test_a_bad_recipient_is_named_with_its_path(notify: Any, index: int, reason: str) -> None:
    assert problems_of(with_step(3, notify=notify)) == [
        (f"sla_policies[0].steps[3].notify[{index}]", reason)
    ]


def test_backup_manager_and_named_reps_are_allowed_without_a_queue_naming_them() -> None:
    # The queue has no backup or manager and the team no manager: the ladder skips them.
    [policy] = team_from_dict(with_step(0, notify=["backup", "manager", "rep:ana"])).sla_policies
    assert policy.steps[0].notify == ("backup", "manager", "rep:ana")


def test_the_channel_recipient_needs_slack_among_the_steps_channels() -> None:
    assert problems_of(with_step(1, channels=["sms", "email"])) == [
        (
            "sla_policies[0].steps[1].notify[1]",
            "is the queue's Slack channel; add slack to this step's channels",
        )
    ]


def test_a_queue_without_a_slack_channel_may_use_a_policy_that_alerts_the_channel() -> None:
    data = copy.deepcopy(BASE)
    del data["queues"][0]["slack_channel"]
    assert team_from_dict(data).queues[0].slack_channel is None


def test_only_a_reassign_step_may_alert_nobody() -> None:
    [policy] = team_from_dict(with_step(2, notify=[])).sla_policies
    assert policy.steps[2] == LadderStep("reassign", 180, (), ("sms",), reassign=True)
    assert problems_of(with_step(1, notify=[])) == [
        (
            "sla_policies[0].steps[1].notify",
            "must name a recipient; only a reassign step may alert nobody",
        )
    ]


@pytest.mark.parametrize(
    ("channels", "path", "reason"),
    [
        (["sms", "pager"], "channels[1]", "must be one of sms, slack, email"),
        (["email", "email"], "channels[1]", "duplicate channel 'email'"),
        ([], "channels", "must be a list of one or more of sms, slack, email"),
        ("sms", "channels", "must be a list of one or more of sms, slack, email"),
    ],
)
def test_a_bad_channel_is_named_with_its_path(channels: Any, path: str, reason: str) -> None:
    assert problems_of(with_step(3, channels=channels)) == [
        (f"sla_policies[0].steps[3].{path}", reason)
    ]


@pytest.mark.parametrize(
    ("fields", "path", "reason"),
    [
        ({"name": "warn"}, "name", "duplicate step name 'warn'"),
        ({"name": None}, "name", "required"),
        ({"at": "soon"}, "at", DURATION_RULE),
        ({"reassign": "yes"}, "reassign", "must be true or false"),
        ({"notify": "owner"}, "notify", "must be a list of recipients"),
        ({"when": "3m"}, "when", "unknown key 'when'"),
    ],
)
def test_a_bad_step_field_is_named_with_its_path(fields: Any, path: str, reason: str) -> None:
    assert problems_of(with_step(3, **fields)) == [(f"sla_policies[0].steps[3].{path}", reason)]


def test_a_step_leaving_out_notify_and_channels_texts_the_owner() -> None:
    [policy] = team_from_dict(with_step(3, notify=None, channels=None)).sla_policies
    assert policy.steps[3] == LadderStep("manager", 600, ("owner",), ("sms",))


@pytest.mark.parametrize(
    ("repeat", "problems"),
    [
        ({"every": 0, "times": 2}, [("every", "must be longer than 0s")]),
        ({"every": "15m", "times": 0}, [("times", "must be a whole number from 1 to 100")]),
        ({"every": "15m", "times": 101}, [("times", "must be a whole number from 1 to 100")]),
        ({"every": "15m"}, [("times", "required")]),
        ({"times": 2}, [("every", "required")]),
        ({"every": "15m", "times": 2, "until": "1h"}, [("until", "unknown key 'until'")]),
    ],
)
def test_repeat_needs_a_positive_every_and_times_from_1(
    repeat: Any, problems: list[tuple[str, str]]
) -> None:
    assert problems_of(with_policy(repeat=repeat)) == [
        (f"sla_policies[0].repeat.{key}", reason) for key, reason in problems
    ]


def test_repeat_needs_a_step_to_repeat() -> None:
    data = with_policy(steps=None)
    assert problems_of(data) == [("sla_policies[0].repeat", "needs a step to repeat")]


def test_policy_names_are_unique_slugs() -> None:
    policy = copy.deepcopy(BASE["sla_policies"][0])
    data = data_with(sla_policies=[policy, policy | {"name": "Fast"}, policy])
    assert problems_of(data) == [
        (
            "sla_policies[1].name",
            "must be a lower-case slug: a-z, 0-9 and '-', at most 63 characters",
        ),
        ("sla_policies[2].name", "duplicate SLA policy name 'standard'"),
    ]


# References between sections.


def test_references_to_unknown_policies_calendars_and_reps_are_named() -> None:
    data = with_policy(calendar="weekends")
    data["default_sla_policy"] = "gold"
    data["manager"] = "zed"
    data["queues"][0] |= {"sla_policy": "fast", "backup": "yan", "manager": "xi"}
    data["sources"][0]["sla_policy"] = "slow"
    assert problems_of(data) == [
        ("sla_policies[0].calendar", "unknown calendar 'weekends'"),
        ("default_sla_policy", "unknown SLA policy 'gold'"),
        ("manager", "unknown rep 'zed'"),
        ("queues[0].sla_policy", "unknown SLA policy 'fast'"),
        ("queues[0].backup", "unknown rep 'yan'"),
        ("queues[0].manager", "unknown rep 'xi'"),
        ("sources[0].sla_policy", "unknown SLA policy 'slow'"),
    ]


def test_a_policy_with_a_bad_target_is_still_known_to_queues() -> None:
    assert problems_of(with_policy(target="soon")) == [("sla_policies[0].target", DURATION_RULE)]


@pytest.mark.parametrize("channel", ["#leads", "c012leads", "U012ABCDEF", "C"])
def test_a_queue_slack_channel_is_a_channel_id(channel: str) -> None:
    data = copy.deepcopy(BASE)
    data["queues"][0]["slack_channel"] = channel
    assert problems_of(data) == [
        ("queues[0].slack_channel", "must be a Slack channel id such as C012ABCDEF")
    ]


def test_queue_source_and_team_sla_fields_are_read() -> None:
    data = copy.deepcopy(BASE)
    data["manager"] = "ana"
    data["queues"][0] |= {"backup": "ben", "manager": "ana"}
    data["sources"][0]["sla_policy"] = "standard"
    team = team_from_dict(data)
    [queue] = team.queues
    assert (queue.sla_policy, queue.backup, queue.manager, queue.slack_channel) == (
        "standard",
        "ben",
        "ana",
        "C012LEADS",
    )
    assert (team.manager, team.default_sla_policy) == ("ana", "standard")
    assert team.sources[0].sla_policy == "standard"


# Alert channels.


def test_alert_channels_are_read() -> None:
    data = with_alerts(
        sms={"account_sid": "ssm:/leadclock/twilio/sid", "messaging_service_sid": "MG" + "a" * 32},
        slack={"webhook_url": "env:SLACK_WEBHOOK_URL"},
        email={"from": "Alerts@Example.com"},
    )
    assert team_from_dict(data).alerts == AlertChannels(
        twilio_account_sid_ref="ssm:/leadclock/twilio/sid",
        messaging_service_sid="MG" + "a" * 32,
        slack_webhook_url_ref="env:SLACK_WEBHOOK_URL",
        email_from="alerts@example.com",
    )


def test_the_slack_signing_secret_is_read_and_written_back() -> None:
    slack = {"bot_token": "env:SLACK_BOT_TOKEN", "signing_secret": "ssm:/leadclock/slack/signing"}
    team = team_from_dict(with_alerts(slack=slack))
    assert team.alerts.slack_signing_secret_ref == "ssm:/leadclock/slack/signing"
    written = json.loads(json.dumps(team_to_dict(team)))
    assert written["alerts"]["slack"] == slack
    assert team_from_dict(written) == team


def test_the_slack_signing_secret_is_optional() -> None:
    team = team_from_dict(with_alerts(slack={"bot_token": "env:SLACK_BOT_TOKEN"}))
    assert team.alerts.slack_signing_secret_ref is None
    written = json.loads(json.dumps(team_to_dict(team)))
    assert "signing_secret" not in written["alerts"]["slack"]


def test_no_alerts_section_means_no_channel_configured() -> None:
    assert team_from_dict(BASE).alerts == AlertChannels()
    assert "alerts" not in team_to_dict(team_from_dict(BASE))


SID = "env:TWILIO_ACCOUNT_SID"
FROM = "+14155550190"
SERVICE = "MG" + "0" * 32
ACCOUNT_SID = "AC" + "0" * 32


@pytest.mark.parametrize(
    ("alerts", "path", "reason"),
    [
        (
            {"sms": {"account_sid": SID, "from": FROM, "messaging_service_sid": SERVICE}},
            "sms",
            "give from or messaging_service_sid, not both",
        ),
        ({"sms": {"account_sid": SID}}, "sms", "needs from or messaging_service_sid"),
        (
            {"sms": {"account_sid": SID, "messaging_service_sid": "MG123"}},
            "sms.messaging_service_sid",
            "must be a Messaging Service SID: MG and 32 hex digits",
        ),
        (
            {"sms": {"account_sid": SID, "from": "415-555-0190"}},
            "sms.from",
            "not a valid E.164 phone number",
        ),
        (
            {"sms": {"account_sid": "AC" + "0" * 32, "from": FROM}},
            "sms.account_sid",
            LITERAL_SECRET,
        ),
        ({"sms": {"from": FROM}}, "sms.account_sid", "required"),
        ({"slack": {"bot_token": "xoxb-123-456-abc"}}, "slack.bot_token", LITERAL_SECRET),
        (
            {"slack": {"webhook_url": "https://hooks.slack.com/services/T/B/x"}},
            "slack.webhook_url",
            LITERAL_SECRET,
        ),
        (
            {"slack": {"bot_token": "env:A", "signing_secret": "8f742231b10e8888abcd99yyyzzz85a5"}},
            "slack.signing_secret",
            LITERAL_SECRET,
        ),
        (
            {"slack": {"bot_token": "env:A", "signing_secret": "env:slack"}},
            "slack.signing_secret",
            "must be env:NAME, where NAME is capitals, digits and _",
        ),
        ({"slack": {}}, "slack", "needs bot_token or webhook_url"),
        (
            {"slack": {"bot_token": "env:A", "webhook_url": "env:B"}},
            "slack",
            "give bot_token or webhook_url, not both",
        ),
        ({"email": {"configuration_set": "leadclock"}}, "email.from", "required"),
        ({"email": {"from": "alerts"}}, "email.from", "not an email address"),
        (
            {"email": {"from": "a@example.com", "configuration_set": "lead clock"}},
            "email.configuration_set",
            "must be an SES configuration set name",
        ),
        ({"pager": {}}, "pager", "unknown key 'pager'"),
        ({"sms": "on"}, "sms", "must be a mapping"),
    ],
)
def test_a_bad_alert_setting_is_named_with_its_path(alerts: Any, path: str, reason: str) -> None:
    assert problems_of(with_alerts(**alerts)) == [(f"alerts.{path}", reason)]


def test_sms_alerts_need_the_twilio_auth_token() -> None:
    data = with_alerts(sms={"account_sid": "env:SID", "from": "+14155550190"})
    del data["twilio"]
    assert problems_of(data) == [
        ("alerts.sms", "needs twilio.auth_token as well: SMS is sent with it")
    ]


def test_refused_alert_secrets_are_not_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        team_from_dict(with_alerts(slack={"bot_token": "xoxb-1234-5678-secretvalue"}))
    assert "secretvalue" not in str(caught.value)


# Quiet hours.


@pytest.mark.parametrize(
    ("text", "span"),
    [("22:00-07:00", (1320, 420)), ("12:30-13:30", (750, 810)), ("21:00-24:00", (1260, 1440))],
)
def test_quiet_hours_may_wrap_midnight(text: str, span: tuple[int, int]) -> None:
    data = with_ana(quiet_hours=text, quiet_sms="hold")
    ana = team_from_dict(data).reps[0]
    assert (ana.quiet_hours, ana.quiet_sms) == (span, "hold")
    [stored, _] = section(team_from_dict(data), "reps")
    assert (stored["quiet_hours"], stored["quiet_sms"]) == (text, "hold")


@pytest.mark.parametrize("text", ["22:00-22:00", "00:00-24:00", "22:00", "10pm-7am", 2200])
def test_quiet_hours_that_are_not_a_span_or_last_all_day_are_refused(text: object) -> None:
    assert problems_of(with_ana(quiet_hours=text)) == [("reps[0].quiet_hours", QUIET_RULE)]


def test_quiet_sms_is_email_or_hold_and_defaults_to_email() -> None:
    data = with_ana(quiet_hours="22:00-07:00")
    assert team_from_dict(data).reps[0].quiet_sms == "email"
    data["reps"][0]["quiet_sms"] = "drop"
    assert problems_of(data) == [("reps[0].quiet_sms", "must be one of email, hold")]


# Round trips.


def test_an_sla_configuration_round_trips_through_json() -> None:
    data = data_with(
        alerts={
            "sms": {"account_sid": "env:SID", "from": "+14155550190"},
            "slack": {"bot_token": "ssm:/leadclock/slack/bot"},
            "email": {"from": "alerts@example.com", "configuration_set": "leadclock"},
        },
        calendars=[
            {
                "name": "office",
                "timezone": "America/Chicago",
                "hours": WEEKDAYS_9_TO_5 | {"sat": ["10:00-12:00", "12:30-14:00"]},
                "holidays": "US",
                "closed": ["2026-12-24", "2026-07-04"],  # one custom date is a holiday too
            },
            {"name": "always"},
        ],
        manager="ben",
    )
    data["sla_policies"].append(
        {"name": "night", "target": "1h1s", "calendar": "always", "claim_grace": 0, "steps": []}
    )
    data["reps"][0] |= {"quiet_hours": "23:00-06:00"}
    data["queues"][0] |= {"backup": "ana", "manager": "ben"}
    data["sources"][0]["sla_policy"] = "night"
    team = team_from_dict(data, holidays=us_holidays, year=2026)
    document = json.loads(json.dumps(team_to_dict(team)))
    assert team_from_dict(document, holidays=no_library) == team
    assert team_to_dict(team_from_dict(document)) == document


def test_a_team_built_in_code_writes_its_holidays_apart() -> None:
    calendar = Calendar(
        "office",
        hours={"mon": ((540, 1020),)},
        closed=frozenset({date(2026, 7, 3), date(2026, 12, 24)}),
        holidays="US",
        holiday_years=(2026, 2026),
    )
    team = TeamConfig(name="Acme", calendars=(calendar,))
    [stored] = section(team, "calendars")
    assert (stored["holiday_dates"], stored["closed"]) == (["2026-07-03"], ["2026-12-24"])
    assert team_from_dict(team_to_dict(team), holidays=no_library) == team
