"""The team file: the demo loads, the dict form round-trips, and every mistake is named."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.errors import ConfigError
from chalicelib.domain.team import TeamConfig
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
