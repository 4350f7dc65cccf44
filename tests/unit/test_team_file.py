"""The team file: the demo loads, the dict form round-trips, and every mistake is named."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from chalicelib.domain.errors import ConfigError
from chalicelib.domain.team import Member, QueueConfig, RepConfig, RuleConfig, TeamConfig
from chalicelib.team_checks import QUOTE_IT, SLUG_RULE
from chalicelib.team_file import load_team_file, team_from_dict, team_to_dict

DEMO = Path(__file__).resolve().parents[2] / "infra" / "team.demo.yaml"

MINIMAL: dict[str, Any] = {
    "team": {"name": "Acme Roofing", "timezone": "America/New_York"},
    "twilio": {"auth_token": "ssm:/leadclock/twilio/auth-token"},
    "queues": [{"name": "inbound", "fallback_number": "+14155550100"}],
    "default_queue": "inbound",
    "sources": [{"name": "web", "auth": {"scheme": "token", "secret": "env:WEB_SECRET"}}],
    "tracking_numbers": [{"number": "+14155550111", "source": "google-ads", "queue": "inbound"}],
}


def problems_of(data: object) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        team_from_dict(data)
    return caught.value.problems


def changed(**sections: Any) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    data.update(sections)
    return data


def test_demo_file_loads_with_every_section() -> None:
    team = load_team_file(DEMO)
    assert team.name == "Acme Roofing"
    assert team.timezone == "America/New_York"
    assert team.twilio_auth_token_ref == "env:TWILIO_AUTH_TOKEN"
    assert [s.name for s in team.sources] == [
        "website",
        "typeform",
        "webflow",
        "partner",
        "unbounce",
    ]
    partner = team.source("partner")
    assert partner is not None and partner.auth_scheme == "standard_webhooks"
    number = team.tracking_number("+14155550111")
    assert number is not None and number.campaign == "Brand_Search"
    assert team.queue(None) == team.queue("inbound") is not None


def test_demo_file_round_trips_through_the_dict_form() -> None:
    team = load_team_file(DEMO)
    assert team_from_dict(team_to_dict(team)) == team


def test_dict_form_is_json_serialisable() -> None:
    team = load_team_file(DEMO)
    assert team_from_dict(json.loads(json.dumps(team_to_dict(team)))) == team


def test_minimal_team_needs_only_a_name_and_takes_defaults() -> None:
    team = team_from_dict({"team": {"name": "Solo"}})
    assert team == TeamConfig(name="Solo")
    assert team_from_dict(team_to_dict(team)) == team


def test_json_file_loads_like_yaml(tmp_path: Path) -> None:
    path = tmp_path / "team.json"
    path.write_text(json.dumps(MINIMAL), encoding="utf-8")
    team = load_team_file(path)
    assert team == team_from_dict(MINIMAL)
    assert team.queues[0].ring_timeout_s == 20 and team.queues[0].voicemail is True


def test_yml_extension_loads_and_str_paths_work(tmp_path: Path) -> None:
    path = tmp_path / "team.yml"
    path.write_text(DEMO.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_team_file(str(path)) == load_team_file(DEMO)


def test_other_extensions_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "team.toml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_team_file(path)
    assert caught.value.file == str(path)
    assert caught.value.problems == [("(file)", "must end in .yaml, .yml or .json")]


def test_broken_yaml_is_a_config_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text("team:\n  name: [Acme\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_team_file(path)
    [(where, reason)] = caught.value.problems
    assert (where, reason) == (
        "line 3, column 1",
        "not valid YAML: expected ',' or ']', but got '<stream end>'",
    )


def test_broken_json_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "team.json"
    path.write_text('{"team": ', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_team_file(path)
    assert caught.value.problems == [
        ("(file)", "not valid JSON: Expecting value: line 1 column 10 (char 9)")
    ]


def test_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text("team: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_team_file(path)
    assert caught.value.file == str(path)
    assert str(caught.value) == f"{path}: team.name: required"


def test_literal_secret_is_refused_with_its_path() -> None:
    sources = [
        {"name": "web", "auth": {"scheme": "token", "secret": "env:WEB"}},
        {"name": "forms", "auth": {"scheme": "token", "secret": "env:FORMS"}},
        {"name": "partner", "auth": {"scheme": "standard_webhooks", "secret": "whsec_c2VjcmV0"}},
    ]
    problems = problems_of(changed(sources=sources))
    assert problems == [
        ("sources[2].auth.secret", "looks like a literal secret; use env:NAME or ssm:/path")
    ]


def test_refused_secret_is_not_echoed_in_the_message() -> None:
    with pytest.raises(ConfigError) as caught:
        team_from_dict(changed(twilio={"auth_token": "0123456789abcdef0123456789abcdef"}))
    assert "0123456789abcdef" not in str(caught.value)
    assert caught.value.problems == [
        ("twilio.auth_token", "looks like a literal secret; use env:NAME or ssm:/path")
    ]


@pytest.mark.parametrize("secret", [123456, True, "", "hunter2", "ENV:TOKEN", "ssm-/x"])
def test_anything_but_a_reference_counts_as_a_literal_secret(secret: object) -> None:
    problems = problems_of(changed(twilio={"auth_token": secret}))
    assert problems == [
        ("twilio.auth_token", "looks like a literal secret; use env:NAME or ssm:/path")
    ]


@pytest.mark.parametrize(
    "secret", ["env:lower_case", "env:1ST", "env:", "ssm:no/leading/slash", "ssm:/"]
)
def test_malformed_references_say_what_shape_is_expected(secret: str) -> None:
    [(where, reason)] = problems_of(changed(twilio={"auth_token": secret}))
    assert where == "twilio.auth_token"
    assert reason.startswith("must be env:NAME" if secret.startswith("env:") else "must be ssm:/")


def test_env_and_ssm_references_are_accepted() -> None:
    team = team_from_dict(changed(twilio={"auth_token": "ssm:/leadclock/prod/twilio_token.v2"}))
    assert team.twilio_auth_token_ref == "ssm:/leadclock/prod/twilio_token.v2"
    assert team.sources[0].secret_ref == "env:WEB_SECRET"


def test_missing_required_fields_are_reported_as_required() -> None:
    problems = problems_of(
        {
            "team": {},
            "twilio": {},
            "queues": [{}],
            "sources": [{"name": "web"}, {"auth": {}}],
            "tracking_numbers": [{}],
        }
    )
    assert problems == [
        ("team.name", "required"),
        ("twilio.auth_token", "required"),
        ("queues[0].name", "required"),
        ("sources[0].auth", "required"),
        ("sources[1].name", "required"),
        ("sources[1].auth.scheme", "required"),
        ("sources[1].auth.secret", "required"),
        ("tracking_numbers[0].number", "required"),
        ("tracking_numbers[0].source", "required"),
    ]


def test_missing_team_section_is_required() -> None:
    assert problems_of({}) == [("team", "required")]


def test_file_that_is_not_a_mapping_is_refused() -> None:
    assert problems_of(None) == [("(top level)", "required")]
    assert problems_of(["team"]) == [("(top level)", "must be a mapping")]


def test_unknown_auth_scheme_lists_the_known_ones() -> None:
    sources = [{"name": "web", "auth": {"scheme": "hmac", "secret": "env:WEB"}}]
    assert problems_of(changed(sources=sources)) == [
        ("sources[0].auth.scheme", "must be one of standard_webhooks, typeform, webflow, token")
    ]


@pytest.mark.parametrize("number", ["4155550111", "+1 415 555 0111", "+15555550100", "+1415555011"])
def test_tracking_number_must_be_valid_e164(number: str) -> None:
    numbers = [{"number": number, "source": "google-ads"}]
    assert problems_of(changed(tracking_numbers=numbers)) == [
        ("tracking_numbers[0].number", "not a valid E.164 phone number")
    ]


def test_fallback_number_must_be_valid_e164() -> None:
    queues = [{"name": "inbound", "fallback_number": "555-0100"}]
    assert problems_of(changed(queues=queues)) == [
        ("queues[0].fallback_number", "not a valid E.164 phone number")
    ]


def test_unquoted_yaml_number_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(
        "team: {name: Acme}\nqueues:\n  - {name: inbound, fallback_number: +14155550100}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_team_file(path)
    assert caught.value.problems == [
        ("queues[0].fallback_number", 'must be a quoted string such as "+14155550100"')
    ]


def test_phone_numbers_are_stored_in_e164() -> None:
    team = team_from_dict(MINIMAL)
    assert team.tracking_numbers[0].number == "+14155550111"
    assert team.queues[0].fallback_number == "+14155550100"


def test_references_to_undefined_queues_are_reported() -> None:
    data = changed(default_queue="sales")
    data["sources"][0]["queue"] = "x"
    data["tracking_numbers"][0]["queue"] = "support"
    assert problems_of(data) == [
        ("default_queue", "unknown queue 'sales'"),
        ("sources[0].queue", "unknown queue 'x'"),
        ("tracking_numbers[0].queue", "unknown queue 'support'"),
    ]


def test_duplicate_names_and_numbers_are_reported_at_the_repeat() -> None:
    auth = {"scheme": "token", "secret": "env:WEB"}
    data = changed(
        queues=[{"name": "inbound"}, {"name": "inbound"}],
        sources=[
            {"name": "web", "auth": auth},
            {"name": "forms", "auth": auth},
            {"name": "web", "auth": auth},
        ],
        tracking_numbers=[
            {"number": "+14155550111", "source": "google-ads"},
            {"number": "+14155550111", "source": "yard-signs"},
        ],
    )
    assert problems_of(data) == [
        ("queues[1].name", "duplicate queue name 'inbound'"),
        ("sources[2].name", "duplicate source name 'web'"),
        ("tracking_numbers[1].number", "duplicate tracking number '+14155550111'"),
    ]


def test_unknown_keys_are_errors_to_catch_typos() -> None:
    data = changed(sorces=[])
    data["sources"][0]["auth"]["secert"] = "env:X"
    data["queues"][0]["ring_timout_s"] = 30
    assert problems_of(data) == [
        ("sorces", "unknown key 'sorces'"),
        ("queues[0].ring_timout_s", "unknown key 'ring_timout_s'"),
        ("sources[0].auth.secert", "unknown key 'secert'"),
    ]


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "America", "EST5EDT/../x", ""])
def test_time_zone_must_be_iana(zone: str) -> None:
    [(where, reason)] = problems_of(changed(team={"name": "Acme", "timezone": zone}))
    assert where == "team.timezone"
    assert reason in ("must be an IANA time zone", "must be a non-empty string")


def test_phone_region_must_be_a_supported_region_code() -> None:
    problems = problems_of(changed(team={"name": "Acme", "default_phone_region": "USA"}))
    assert problems == [("team.default_phone_region", "must be a 2-letter region code")]


def test_phone_region_is_upper_cased() -> None:
    team = team_from_dict(changed(team={"name": "Acme", "default_phone_region": "gb"}))
    assert team.default_phone_region == "GB"


@pytest.mark.parametrize("name", ["Web", "web form", "-web", "a" * 64, "web_form"])
def test_source_name_must_be_a_url_slug(name: str) -> None:
    sources = [{"name": name, "auth": {"scheme": "token", "secret": "env:WEB"}}]
    [(where, reason)] = problems_of(changed(sources=sources))
    assert where == "sources[0].name" and reason.startswith("must be a lower-case slug")


def test_tracking_source_label_follows_slug_rules() -> None:
    numbers = [{"number": "+14155550111", "source": "Google Ads"}]
    [(where, reason)] = problems_of(changed(tracking_numbers=numbers))
    assert where == "tracking_numbers[0].source" and reason.startswith("must be a lower-case slug")


@pytest.mark.parametrize("timeout", [0, 4, 601, "20", 20.5, True])
def test_ring_timeout_must_be_whole_seconds_in_twilios_range(timeout: object) -> None:
    queues = [{"name": "inbound", "ring_timeout_s": timeout}]
    assert problems_of(changed(queues=queues)) == [
        ("queues[0].ring_timeout_s", "must be whole seconds from 5 to 600")
    ]


def test_wrong_container_types_are_reported() -> None:
    data = changed(queues={"name": "inbound"}, sources=["web"], tracking_numbers=[])
    problems = problems_of(data | {"default_queue": None})
    assert problems == [("queues", "must be a list"), ("sources[0]", "must be a mapping")]


def test_several_problems_are_reported_together() -> None:
    data = {
        "team": {"name": "Acme", "timezone": "Nowhere/City", "default_phone_region": "ZZ"},
        "twilio": {"auth_token": "abc123"},
        "queues": [{"name": "inbound", "voicemail": "sometimes"}],
        "default_queue": "inbound",
        "sources": [{"name": "Web", "auth": {"scheme": "token", "secret": "env:WEB"}}],
        "tracking_numbers": [{"number": "+1", "source": "ads", "queue": "outbound"}],
    }
    with pytest.raises(ConfigError) as caught:
        team_from_dict(data, file="team.yaml")
    assert [path for path, _ in caught.value.problems] == [
        "team.timezone",
        "team.default_phone_region",
        "twilio.auth_token",
        "queues[0].voicemail",
        "sources[0].name",
        "tracking_numbers[0].number",
        "tracking_numbers[0].queue",
    ]
    assert (
        str(caught.value).splitlines()[0] == "team.yaml: team.timezone: must be an IANA time zone"
    )


# Reps, queue members and routing rules.

ANA: dict[str, Any] = {"id": "ana", "name": "Ana Ruiz"}
BEN: dict[str, Any] = {"id": "ben", "name": "Ben Okafor"}
# Callers the functional and e2e tests dial in from; a rep with one of these phones would turn
# those tests' inbound calls into calls from a rep.
TEST_CALLERS = {
    "+14155550123",
    "+14155550177",
    "+14155550188",
    "+14155550134",
    "+14155550142",
    "+14155550128",
    "+14155550144",
} | {f"+1415555016{digit}" for digit in range(10)}


def with_rep(**fields: Any) -> dict[str, Any]:
    """MINIMAL with one rep, ana, carrying `fields`."""
    return changed(reps=[ANA | fields])


def with_hours(hours: object) -> dict[str, Any]:
    return with_rep(hours=hours)


def with_queue(**fields: Any) -> dict[str, Any]:
    """MINIMAL with reps ana and ben and the inbound queue carrying `fields`."""
    return changed(reps=[ANA, BEN], queues=[{"name": "inbound"} | fields])


def with_rule(**fields: Any) -> dict[str, Any]:
    """MINIMAL with one rule sending leads to inbound, carrying `fields`."""
    return changed(rules=[{"name": "spanish", "queue": "inbound"} | fields])


def test_demo_file_has_reps_in_several_time_zones_with_hours() -> None:
    team = load_team_file(DEMO)
    assert 3 <= len(team.reps) <= 4
    assert len({rep.timezone for rep in team.reps}) >= 3
    assert all(rep.hours for rep in team.reps)
    assert {rep.status for rep in team.reps} >= {"active", "out_of_office"}
    assert any(rep.max_open and rep.max_per_day for rep in team.reps)


def test_demo_file_routes_spanish_speakers_to_their_own_queue() -> None:
    team = load_team_file(DEMO)
    inbound, espanol = team.queue("inbound"), team.queue("espanol")
    assert inbound is not None and espanol is not None
    assert inbound.fallback_number == "+14155550100" and inbound.fallback_owner == "ana"
    assert 2 in {member.weight for member in inbound.members}
    assert team.rules[0].queue == "espanol" and team.rules[0].fields == {"language": "es"}


def test_demo_rep_phones_stay_clear_of_tracking_and_test_caller_numbers() -> None:
    team = load_team_file(DEMO)
    phones = [rep.phone for rep in team.reps]
    assert None not in phones and len(set(phones)) == len(phones)
    taken = TEST_CALLERS | {n.number for n in team.tracking_numbers} | {"+14155550100"}
    assert not taken & set(phones)


def test_rep_takes_defaults_and_the_team_time_zone() -> None:
    team = team_from_dict(with_rep())
    assert team.reps == (RepConfig(id="ana", name="Ana Ruiz", timezone="America/New_York"),)
    assert team.rep("ana") is team.reps[0]


def test_rep_fields_are_normalised() -> None:
    team = team_from_dict(
        with_rep(
            name="  Ana Ruiz ",
            phone="+14155550131",
            email=" Ana.Ruiz@Example.COM ",
            slack_user_id="W0ABC123",
            timezone="America/Los_Angeles",
            caps={"max_open": 10, "max_per_day": 25},
        )
    )
    [rep] = team.reps
    assert (rep.name, rep.email, rep.slack_user_id) == (
        "Ana Ruiz",
        "ana.ruiz@example.com",
        "W0ABC123",
    )
    assert (rep.phone, rep.timezone) == ("+14155550131", "America/Los_Angeles")
    assert (rep.max_open, rep.max_per_day) == (10, 25)


def test_rep_id_and_name_are_required() -> None:
    assert problems_of(changed(reps=[{}])) == [
        ("reps[0].id", "required"),
        ("reps[0].name", "required"),
    ]


def test_rep_ids_are_unique_slugs() -> None:
    reps = [ANA, {"id": "Ben", "name": "Ben"}, ANA | {"name": "Ana Two"}]
    assert problems_of(changed(reps=reps)) == [
        ("reps[1].id", "must be a lower-case slug: a-z, 0-9 and '-', at most 63 characters"),
        ("reps[2].id", "duplicate rep id 'ana'"),
    ]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("phone", "4155550131", "not a valid E.164 phone number"),
        ("phone", 14155550131, 'must be a quoted string such as "+14155550100"'),
        ("email", "ana.example.com", "not an email address"),
        ("slack_user_id", "ana", "must be a Slack user id such as U012ABCDEF"),
        ("slack_user_id", "u012abcdef", "must be a Slack user id such as U012ABCDEF"),
        ("timezone", "Pacific Time", "must be an IANA time zone"),
        ("status", "away", "must be one of active, paused, out_of_office"),
        ("hours", ["09:00-17:00"], 'must map days (mon..sun) to lists of "HH:MM-HH:MM" spans'),
        ("caps", 10, "must be a mapping"),
        ("nickname", "Anita", "unknown key 'nickname'"),
    ],
)
def test_bad_rep_field_is_named_with_its_path(field: str, value: object, reason: str) -> None:
    assert problems_of(with_rep(**{field: value})) == [(f"reps[0].{field}", reason)]


@pytest.mark.parametrize("cap", [0, -1, True, "10", 2.5])
def test_caps_must_be_positive_whole_numbers(cap: object) -> None:
    problems = problems_of(with_rep(caps={"max_open": cap, "max_per_day": cap}))
    assert problems == [
        ("reps[0].caps.max_open", "must be a whole number, 1 or more"),
        ("reps[0].caps.max_per_day", "must be a whole number, 1 or more"),
    ]


def test_caps_are_each_optional_and_unknown_caps_are_refused() -> None:
    [rep] = team_from_dict(with_rep(caps={"max_per_day": 25})).reps
    assert (rep.max_open, rep.max_per_day) == (None, 25)
    assert problems_of(with_rep(caps={"max_daily": 5})) == [
        ("reps[0].caps.max_daily", "unknown key 'max_daily'")
    ]


# Working hours.


def test_absent_hours_mean_always_on() -> None:
    assert team_from_dict(with_rep()).reps[0].hours is None


def test_hours_become_minutes_since_midnight_per_day() -> None:
    hours = {"mon": ["09:00-12:00", "13:00-17:30"], "tue": ["09:00-17:30"]}
    [rep] = team_from_dict(with_hours(hours)).reps
    assert rep.hours == {"mon": ((540, 720), (780, 1050)), "tue": ((540, 1050),)}


def test_hours_may_run_to_midnight_and_on_past_it_the_next_day() -> None:
    hours = {"fri": ["18:00-24:00"], "sat": ["00:00-02:00"]}
    [rep] = team_from_dict(with_hours(hours)).reps
    assert rep.hours == {"fri": ((1080, 1440),), "sat": ((0, 120),)}
    assert team_from_dict(with_hours({"sun": ["00:00-24:00"]})).reps[0].hours == {
        "sun": ((0, 1440),)
    }


def test_touching_spans_are_allowed() -> None:
    [rep] = team_from_dict(with_hours({"mon": ["09:00-12:00", "12:00-17:00"]})).reps
    assert rep.hours == {"mon": ((540, 720), (720, 1020))}


def test_days_off_are_left_out_and_days_are_kept_in_week_order() -> None:
    hours = {"sun": ["10:00-14:00"], "sat": [], "mon": ["09:00-17:00"]}
    [rep] = team_from_dict(with_hours(hours)).reps
    assert rep.hours is not None and list(rep.hours) == ["mon", "sun"]


@pytest.mark.parametrize(
    "span",
    [
        "9:00-12:00",
        "09:00",
        "09:00-09:00",
        "17:00-09:00",
        "09:00-24:30",
        "24:00-24:00",
        "09:60-12:00",
        "25:00-26:00",
        "09:00–12:00",  # noqa: RUF001  an en dash, as word processors write it
        900,
        None,
    ],
)
def test_malformed_or_backwards_span_is_refused(span: object) -> None:
    assert problems_of(with_hours({"mon": ["08:00-08:30", span]})) == [
        ("reps[0].hours.mon[1]", "must be HH:MM-HH:MM with start before end")
    ]


def test_backwards_span_is_reported_at_its_own_rep_day_and_index() -> None:
    data = changed(reps=[ANA, BEN | {"hours": {"mon": ["12:00-09:00"]}}])
    assert problems_of(data) == [
        ("reps[1].hours.mon[0]", "must be HH:MM-HH:MM with start before end")
    ]


@pytest.mark.parametrize("spans", [["13:00-17:00", "09:00-12:00"], ["09:00-12:00", "11:30-13:00"]])
def test_spans_must_be_sorted_and_not_overlap(spans: list[str]) -> None:
    assert problems_of(with_hours({"tue": spans})) == [
        ("reps[0].hours.tue[1]", "must start at or after the end of the span before it")
    ]


def test_unknown_days_and_non_list_days_are_refused() -> None:
    problems = problems_of(with_hours({"monday": ["09:00-17:00"], "tue": "09:00-17:00"}))
    assert problems == [
        (
            "reps[0].hours.monday",
            "unknown day 'monday'; days are mon, tue, wed, thu, fri, sat, sun",
        ),
        ("reps[0].hours.tue", 'must be a list of "HH:MM-HH:MM" spans'),
    ]


@pytest.mark.parametrize("hours", [{}, {"mon": [], "tue": []}])
def test_hours_with_no_working_time_are_refused(hours: object) -> None:
    assert problems_of(with_hours(hours)) == [
        ("reps[0].hours", "has no working time; leave hours out for always on, or pause the rep")
    ]


# Status and out of office.


def test_out_of_office_until_becomes_an_aware_datetime() -> None:
    until = "2026-12-01T09:00:00-08:00"
    [rep] = team_from_dict(with_rep(status="out_of_office", out_of_office_until=until)).reps
    assert rep.status == "out_of_office"
    assert rep.out_of_office_until == datetime(2026, 12, 1, 17, tzinfo=UTC)
    assert rep.out_of_office_until is not None
    assert rep.out_of_office_until.utcoffset() == timedelta(hours=-8)


def test_out_of_office_until_accepts_z_for_utc() -> None:
    data = with_rep(status="out_of_office", out_of_office_until="2026-12-01T17:00:00Z")
    assert team_from_dict(data).reps[0].out_of_office_until == datetime(2026, 12, 1, 17, tzinfo=UTC)


def test_unquoted_yaml_timestamp_with_offset_is_read_as_the_same_instant(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(
        "team: {name: Acme}\nreps:\n  - id: ana\n    name: Ana\n    status: out_of_office\n"
        "    out_of_office_until: 2026-12-01T09:00:00-08:00\n",
        encoding="utf-8",
    )
    [rep] = load_team_file(path).reps
    assert rep.out_of_office_until == datetime(2026, 12, 1, 17, tzinfo=UTC)


@pytest.mark.parametrize(
    "until",
    [
        "2026-12-01T09:00:00",
        "2026-12-01",
        date(2026, 12, 1),
        datetime(2026, 12, 1, 9),
        "next monday",
        "2026-13-01T09:00:00-08:00",
        1796144400,
    ],
)
def test_out_of_office_until_needs_a_date_time_with_an_offset(until: object) -> None:
    assert problems_of(with_rep(status="out_of_office", out_of_office_until=until)) == [
        (
            "reps[0].out_of_office_until",
            "must be an ISO 8601 date-time with a UTC offset, such as 2026-12-01T09:00:00-08:00",
        )
    ]


def test_out_of_office_needs_an_until() -> None:
    assert problems_of(with_rep(status="out_of_office")) == [
        ("reps[0].out_of_office_until", "required when status is out_of_office")
    ]


@pytest.mark.parametrize("status", ["active", "paused", None])
def test_out_of_office_until_only_goes_with_out_of_office(status: str | None) -> None:
    data = with_rep(out_of_office_until="2026-12-01T09:00:00-08:00")
    if status is not None:
        data["reps"][0]["status"] = status
    assert problems_of(data) == [
        ("reps[0].out_of_office_until", "only allowed when status is out_of_office")
    ]


def test_paused_rep_keeps_the_paused_status() -> None:
    assert team_from_dict(with_rep(status="paused")).reps[0].status == "paused"


# Queue members, fallback owner and stickiness.


def test_queue_members_fallback_owner_and_stickiness_are_read() -> None:
    team = team_from_dict(
        with_queue(
            members=[{"rep": "ana", "weight": 2}, {"rep": "ben"}],
            fallback_owner="ben",
            sticky=False,
            sticky_days=7,
        )
    )
    [queue] = team.queues
    assert queue.members == (Member("ana", 2), Member("ben", 1))
    assert (queue.fallback_owner, queue.sticky, queue.sticky_days) == ("ben", False, 7)


def test_queue_without_members_takes_the_defaults() -> None:
    [queue] = team_from_dict(with_queue()).queues
    assert queue == QueueConfig(name="inbound")
    assert (queue.members, queue.fallback_owner, queue.sticky, queue.sticky_days) == (
        (),
        None,
        True,
        30,
    )


def test_members_and_fallback_owner_must_be_known_reps() -> None:
    members = [{"rep": "ana"}, {"rep": "ben"}, {"rep": "zed"}]
    assert problems_of(with_queue(members=members, fallback_owner="yan")) == [
        ("queues[0].members[2].rep", "unknown rep 'zed'"),
        ("queues[0].fallback_owner", "unknown rep 'yan'"),
    ]


def test_a_rep_is_a_member_of_a_queue_once() -> None:
    members = [{"rep": "ana"}, {"rep": "ben"}, {"rep": "ana", "weight": 3}]
    assert problems_of(with_queue(members=members)) == [
        ("queues[0].members[2].rep", "duplicate member 'ana'")
    ]


@pytest.mark.parametrize("weight", [0, 101, -1, 1.5, "2", True, None])
def test_member_weight_is_a_whole_number_from_1_to_100(weight: object) -> None:
    assert problems_of(with_queue(members=[{"rep": "ana", "weight": weight}])) == [
        ("queues[0].members[0].weight", "must be a whole number from 1 to 100")
    ]


def test_member_rep_is_required_and_members_must_be_a_list() -> None:
    assert problems_of(with_queue(members=[{"weight": 2}, "ben"])) == [
        ("queues[0].members[0].rep", "required"),
        ("queues[0].members[1]", "must be a mapping"),
    ]
    assert problems_of(with_queue(members={"rep": "ana"})) == [
        ("queues[0].members", "must be a list")
    ]


@pytest.mark.parametrize("days", [0, 3651, "30", True, 1.5])
def test_sticky_days_is_whole_days_from_1_to_3650(days: object) -> None:
    assert problems_of(with_queue(sticky_days=days)) == [
        ("queues[0].sticky_days", "must be whole days from 1 to 3650")
    ]


def test_sticky_is_true_or_false() -> None:
    assert problems_of(with_queue(sticky="yes")) == [("queues[0].sticky", "must be true or false")]


def test_rep_with_other_mistakes_is_still_known_to_queues() -> None:
    data = with_queue(members=[{"rep": "ana"}], fallback_owner="ana")
    data["reps"][0] = ANA | {"phone": "555-0131"}
    assert problems_of(data) == [("reps[0].phone", "not a valid E.164 phone number")]


def test_tracking_number_that_leadclock_dials_is_refused() -> None:
    data = changed(
        reps=[ANA | {"phone": "+14155550111"}],
        tracking_numbers=[
            {"number": "+14155550111", "source": "google-ads"},
            {"number": "+14155550100", "source": "yard-signs"},
        ],
    )
    assert problems_of(data) == [
        ("tracking_numbers[0].number", "is also rep 'ana''s phone; calls to it would loop"),
        (
            "tracking_numbers[1].number",
            "is also queue 'inbound''s fallback_number; calls to it would loop",
        ),
    ]


# Routing rules.


def test_rule_reads_every_condition_and_normalises_the_campaign() -> None:
    match = {
        "source": "website",
        "campaign": "LinkedIn_Q3",
        "tracking_number": "+14155550111",
        "fields": {" language ": " es "},
    }
    [rule] = team_from_dict(with_rule(match=match)).rules
    assert rule == RuleConfig(
        name="spanish",
        queue="inbound",
        source="website",
        campaign="linkedin-q3",
        tracking_number="+14155550111",
        fields={"language": "es"},
    )


@pytest.mark.parametrize("match", [{}, {"fields": {}}, {"source": None}])
def test_rule_needs_at_least_one_condition(match: object) -> None:
    assert problems_of(with_rule(match=match)) == [
        ("rules[0].match", "needs at least one condition")
    ]


def test_rule_name_queue_and_match_are_required() -> None:
    assert problems_of(changed(rules=[{}])) == [
        ("rules[0].name", "required"),
        ("rules[0].queue", "required"),
        ("rules[0].match", "required"),
    ]


def test_rule_must_send_to_a_known_queue() -> None:
    assert problems_of(with_rule(queue="espanol", match={"source": "web"})) == [
        ("rules[0].queue", "unknown queue 'espanol'")
    ]


def test_rule_names_are_unique_slugs() -> None:
    rule = {"name": "spanish", "queue": "inbound", "match": {"source": "web"}}
    data = changed(rules=[rule, rule | {"name": "Spanish Leads"}, rule])
    assert problems_of(data) == [
        ("rules[1].name", "must be a lower-case slug: a-z, 0-9 and '-', at most 63 characters"),
        ("rules[2].name", "duplicate rule name 'spanish'"),
    ]


@pytest.mark.parametrize(
    ("match", "where", "reason"),
    [
        ({"source": "Web Site"}, "source", SLUG_RULE),
        ({"campaign": " -_- "}, "campaign", "must contain letters or digits"),
        ({"campaign": "q3%2541"}, "campaign", "must not hold a %-escape that decodes to another"),
        ({"tracking_number": "415-555-0111"}, "tracking_number", "not a valid E.164 phone number"),
        ({"fields": ["language"]}, "fields", "must map form field names to values"),
        ({"fields": {"consent": True}}, "fields.consent", QUOTE_IT),
        ({"fields": {"employees": 10}}, "fields.employees", QUOTE_IT),
        ({"fields": {"language": " "}}, "fields.language", QUOTE_IT),
        ({"fields": {True: "es"}}, "fields", f"field name True {QUOTE_IT}"),
        ({"utm_campaign": "q3"}, "utm_campaign", "unknown key 'utm_campaign'"),
    ],
)
def test_bad_rule_condition_is_named_with_its_path(match: Any, where: str, reason: str) -> None:
    problems = problems_of(with_rule(match={"source": "website"} | match))
    assert problems == [(f"rules[0].match.{where}", reason)]


def test_rule_with_only_a_bad_condition_is_not_also_called_empty() -> None:
    assert problems_of(with_rule(match={"campaign": 3})) == [
        ("rules[0].match.campaign", "must be a non-empty string")
    ]


# Many problems at once, and the round trip.


def test_problems_in_reps_queues_and_rules_are_reported_together_in_file_order() -> None:
    data = changed(
        reps=[
            ANA | {"hours": {"mon": ["17:00-09:00"]}},
            BEN | {"status": "out_of_office"},
        ],
        queues=[
            {"name": "inbound", "members": [{"rep": "ana"}, {"rep": "zed", "weight": 0}]},
        ],
        rules=[{"name": "spanish", "queue": "inbound", "match": {}}],
    )
    assert problems_of(data) == [
        ("reps[0].hours.mon[0]", "must be HH:MM-HH:MM with start before end"),
        ("reps[1].out_of_office_until", "required when status is out_of_office"),
        ("queues[0].members[1].rep", "unknown rep 'zed'"),
        ("queues[0].members[1].weight", "must be a whole number from 1 to 100"),
        ("rules[0].match", "needs at least one condition"),
    ]


def test_dict_form_writes_hours_caps_and_out_of_office_in_file_shapes() -> None:
    team = load_team_file(DEMO)
    data = team_to_dict(team)
    reps = {rep["id"]: rep for rep in cast(list[dict[str, Any]], data["reps"])}
    assert reps["ana"]["hours"]["mon"] == ["09:00-12:00", "13:00-17:30"]
    assert reps["carmen"]["hours"]["fri"] == ["12:00-24:00"]
    assert reps["dev"]["out_of_office_until"] == "2027-01-04T09:00:00+00:00"
    assert reps["ben"]["caps"] == {"max_open": 10, "max_per_day": 25}
    assert "caps" not in reps["ana"] and "hours" not in team_to_dict(team_from_dict(with_rep()))
    [inbound, _] = cast(list[dict[str, Any]], data["queues"])
    assert inbound["members"][0] == {"rep": "ana", "weight": 2}
    assert cast(list[Any], data["rules"]) == [
        {"name": "spanish", "queue": "espanol", "match": {"fields": {"language": "es"}}}
    ]


def test_everything_round_trips_through_json() -> None:
    data = changed(
        reps=[
            ANA
            | {
                "phone": "+14155550131",
                "email": "ana@example.com",
                "slack_user_id": "U012ABCDEF",
                "timezone": "Asia/Kolkata",
                "hours": {"mon": ["09:00-12:00", "13:00-17:30"], "sun": ["18:00-24:00"]},
                "status": "out_of_office",
                "out_of_office_until": "2026-12-01T09:00:00.250000+05:30",
                "caps": {"max_open": 3},
            },
            BEN | {"status": "paused"},
        ],
        queues=[
            {
                "name": "inbound",
                "members": [{"rep": "ana", "weight": 100}, {"rep": "ben"}],
                "fallback_owner": "ben",
                "fallback_number": "+14155550100",
                "sticky": False,
                "sticky_days": 3650,
            }
        ],
        rules=[
            {
                "name": "linkedin",
                "queue": "inbound",
                "match": {
                    "source": "website",
                    "campaign": "LinkedIn Q3",
                    "tracking_number": "+14155550111",
                    "fields": {"Language": "ES", "region": "West"},
                },
            }
        ],
    )
    team = team_from_dict(data)
    assert team_from_dict(json.loads(json.dumps(team_to_dict(team)))) == team


def test_texting_hours_are_read_from_the_team_section_and_round_trip() -> None:
    team = team_from_dict({"team": {"name": "Solo", "lead_sms_hours": "09:30-18:00"}})

    assert team.lead_sms_hours == (570, 1080)
    assert team_from_dict(team_to_dict(team)) == team
    assert team_from_dict({"team": {"name": "Solo"}}).lead_sms_hours == (480, 1260)


@pytest.mark.parametrize("hours", ["21:00-08:00", "9-5", "", 930])
def test_texting_hours_must_be_one_span_within_a_day(hours: object) -> None:
    with pytest.raises(ConfigError) as caught:
        team_from_dict({"team": {"name": "Solo", "lead_sms_hours": hours}})

    assert any(path == "team.lead_sms_hours" for path, _ in caught.value.problems)
