"""The team file's digests section: read, checked with a path for every mistake, and written back
out unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from chalicelib.domain.team import DigestConfig
from chalicelib.team_file import load_team_file, team_from_dict, team_to_dict
from chalicelib.team_file_digests import CLOCK_RULE
from tests.unit.test_team_file import MINIMAL, changed, problems_of

DEMO = Path(__file__).resolve().parents[2] / "infra" / "team.demo.yaml"
REPS = [
    {"id": "ana", "name": "Ana Ruiz", "email": "Ana@Example.com"},
    {"id": "ben", "name": "Ben Okafor"},  # no email
]


def with_digests(*digests: dict[str, Any]) -> dict[str, Any]:
    return changed(reps=REPS, digests=list(digests))


def test_the_demo_file_has_a_team_digest_and_a_queue_managers_digest() -> None:
    team = load_team_file(DEMO)
    assert team.digests == (
        DigestConfig(
            name="team",
            to=("carmen",),
            slack_channel="C012LEADS",
            daily_at=8 * 60,
            weekly_on="mon",
            weekly_at=8 * 60 + 30,
        ),
        DigestConfig(
            name="espanol", to=("gerente@example.com",), daily_at=7 * 60 + 30, queues=("espanol",)
        ),
    )
    assert team_from_dict(json.loads(json.dumps(team_to_dict(team)))) == team


def test_a_digest_reads_reps_addresses_times_and_queues() -> None:
    team = team_from_dict(
        with_digests(
            {
                "name": "mine",
                "to": ["ana", " Boss@Example.COM "],
                "slack_channel": "C0DIGEST",
                "daily_at": "06:45",
                "weekly_on": "fri",
                "queues": ["inbound"],
            }
        )
    )
    assert team.digest("mine") == DigestConfig(
        name="mine",
        to=("ana", "boss@example.com"),
        slack_channel="C0DIGEST",
        daily_at=6 * 60 + 45,
        weekly_on="fri",
        queues=("inbound",),
    )
    assert team.digest("other") is None


@pytest.mark.parametrize(
    "digest",
    [
        {"name": "weekly-only", "slack_channel": "C0DIGEST", "weekly_on": "sun"},
        {"name": "daily", "to": ["ana"], "daily_at": "00:00"},
        {
            "name": "late",
            "to": ["ana"],
            "daily_at": "23:59",
            "weekly_on": "mon",
            "weekly_at": "07:00",
        },
    ],
)
def test_digests_round_trip_through_the_dict_form(digest: dict[str, Any]) -> None:
    team = team_from_dict(with_digests(digest))
    assert team_from_dict(json.loads(json.dumps(team_to_dict(team)))) == team
    assert team_to_dict(team)["digests"] == [digest]


def test_a_team_without_digests_writes_no_digests_section() -> None:
    assert "digests" not in team_to_dict(team_from_dict(MINIMAL))


def test_every_mistake_in_a_digest_is_named_by_its_path() -> None:
    problems = problems_of(
        with_digests(
            {
                "name": "Bad Name",
                "to": ["zed", "ben", "not-an-address@", 7, "ana", "ana"],
                "slack_channel": "#sales",
                "daily_at": "8am",
                "weekly_at": "09:00",
                "queues": ["nowhere", "inbound"],
                "colour": "red",
            },
            {"name": "empty"},
            {"name": "days", "to": ["ana"], "weekly_on": "monday", "queues": []},
        )
    )
    assert problems == [
        ("digests[0].colour", "unknown key 'colour'"),
        ("digests[0].name", "must be a lower-case slug: a-z, 0-9 and '-', at most 63 characters"),
        ("digests[0].to[0]", "unknown rep 'zed'"),
        ("digests[0].to[1]", "rep 'ben' has no email; give them one or an address"),
        ("digests[0].to[2]", "not an email address"),
        ("digests[0].to[3]", "must be a rep id or an email address"),
        ("digests[0].to[5]", "duplicate recipient 'ana'"),
        ("digests[0].slack_channel", "must be a Slack channel id such as C012ABCDEF"),
        ("digests[0].daily_at", 'must be a quoted time of day "HH:MM", such as "08:00"'),
        ("digests[0].weekly_at", "only allowed with weekly_on"),
        ("digests[0].queues[0]", "unknown queue 'nowhere'"),
        ("digests[1]", "needs recipients: to, slack_channel or both"),
        ("digests[1]", "needs a schedule: daily_at, weekly_on or both"),
        ("digests[2].weekly_on", "must be one of mon, tue, wed, thu, fri, sat, sun"),
        ("digests[2].queues", "must be a list of queue names (leave it out for every queue)"),
    ]


def test_an_unquoted_time_that_yaml_read_as_a_number_is_refused_with_a_hint() -> None:
    # YAML 1.1 reads 8:30 as 510 (base 60): quoting is the fix, and the reason says so.
    data = yaml.safe_load("digests:\n  - {name: d, to: [ana], daily_at: 8:30}\n")
    assert data["digests"][0]["daily_at"] == 510
    problems = problems_of(with_digests(*data["digests"]))
    assert problems == [("digests[0].daily_at", CLOCK_RULE)]


def test_digest_names_are_unique() -> None:
    one = {"name": "same", "to": ["ana"], "daily_at": "08:00"}
    duplicate = ("digests[1].name", "duplicate digest name 'same'")
    assert problems_of(with_digests(one, one)) == [duplicate]
